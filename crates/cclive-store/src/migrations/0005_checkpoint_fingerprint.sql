-- A checkpoint remembers a fingerprint of the bytes it vouches for (the file's head and the
-- bytes just before its offset), so a file truncated in place and grown past the old offset is
-- told from the same file grown (issue 12). NULL: written before this column, not checked.
ALTER TABLE checkpoints ADD COLUMN fingerprint INTEGER;
