-- 0006_usage_pricing: what Claude Code's prices depend on beyond the four token kinds, per
-- response, so history is priced as Claude Code priced it: the 1-hour share of the cache write,
-- web searches, and whether the response was served in fast mode or in the US only (0 or 1).
-- Rows written before this version read as 0 (priced as standard 5-minute writes, as then).
ALTER TABLE usage ADD COLUMN cache_creation_1h INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN fast INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN us_only INTEGER NOT NULL DEFAULT 0;
