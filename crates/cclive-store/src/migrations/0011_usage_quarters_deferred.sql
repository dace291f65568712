-- A writer storing many new responses at once (a first import: tens of thousands in one
-- transaction) sums them itself, in one pass, instead of the insert trigger's one upsert per
-- row, which was more than half of that write. While `usage_quarters_deferred` holds a row —
-- only ever inside such a writer's own transaction, which removes it before it commits, so no
-- other connection sees it — the insert trigger leaves the sums to the writer. The sums are
-- the same either way (`sqlite/first_usage.rs` and a test that compares the two).
CREATE TABLE usage_quarters_deferred (writer INTEGER NOT NULL) STRICT;

DROP TRIGGER usage_quarters_insert;

-- 0010's insert trigger, unchanged but for its WHEN.
CREATE TRIGGER usage_quarters_insert AFTER INSERT ON usage
WHEN NOT EXISTS (SELECT 1 FROM usage_quarters_deferred)
BEGIN
    INSERT INTO usage_quarters VALUES (
        (NEW.at_ms - ((NEW.at_ms % 900000) + 900000) % 900000) / 900000,
        NEW.session_id, coalesce(NEW.model, ''), NEW.model IS NOT NULL, NEW.fast != 0,
        NEW.us_only != 0, (max(NEW.input + NEW.cache_read + NEW.cache_creation, 1) - 1) / 100000,
        1, NEW.at_ms, NEW.at_ms, NEW.input, NEW.output, NEW.cache_read,
        NEW.cache_creation, NEW.cache_creation_1h, NEW.web_search_requests, NEW.fast,
        NEW.us_only, NEW.input + NEW.cache_read + NEW.cache_creation,
        NEW.input + NEW.cache_read + NEW.cache_creation,
        (NEW.input < 0 OR NEW.output < 0 OR NEW.cache_read < 0 OR NEW.cache_creation < 0
            OR NEW.cache_creation_1h < 0 OR NEW.web_search_requests < 0 OR NEW.fast < 0
            OR NEW.us_only < 0)
    )
    ON CONFLICT (quarter, session_id, model, model_known, fast, us_only, prompt_band) DO UPDATE SET
        responses = responses + 1,
        first_ms = min(first_ms, excluded.first_ms),
        last_ms = max(last_ms, excluded.last_ms),
        input = input + excluded.input,
        output = output + excluded.output,
        cache_read = cache_read + excluded.cache_read,
        cache_creation = cache_creation + excluded.cache_creation,
        cache_creation_1h = cache_creation_1h + excluded.cache_creation_1h,
        web_search_requests = web_search_requests + excluded.web_search_requests,
        fast_responses = fast_responses + excluded.fast_responses,
        us_only_responses = us_only_responses + excluded.us_only_responses,
        min_prompt = min(min_prompt, excluded.min_prompt),
        max_prompt = max(max_prompt, excluded.max_prompt),
        negative = negative + excluded.negative;
END;
