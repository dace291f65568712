-- 0004_usage_pricing: what prices a response besides its four token counts, as the local
-- history keeps it since its own 0006_usage_pricing: 1-hour cache writes (of cache_creation),
-- web searches, and whether fast mode or US-only inference served it (0 or 1 per response).
-- Rows pushed before this version have zeros: they were priced without these.
ALTER TABLE usage
    ADD COLUMN cache_creation_1h   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN web_search_requests BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN fast_responses      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN us_only_responses   BIGINT NOT NULL DEFAULT 0;
