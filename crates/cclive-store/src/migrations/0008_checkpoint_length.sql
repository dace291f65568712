-- A checkpoint remembers the file's length when it was last read: its offset plus an unfinished
-- last line (a crashed writer leaves one for good). An import compares it with the file's length
-- from the directory walk, so such a file, unchanged, is not opened and read again every time
-- (issue 16). NULL: written before this column, the offset is compared as before.
ALTER TABLE checkpoints ADD COLUMN length INTEGER;
