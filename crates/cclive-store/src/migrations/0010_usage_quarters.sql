-- 0010_usage_quarters: the usage table summed per quarter hour, session, model, fast mode and
-- US-only serving, kept by triggers in the same transaction as every write of `usage`, so
-- reports and the dashboard's charts (`Store::usage_buckets`) read a few thousand sums instead
-- of every response. A quarter hour because no local midnight of any zone in use falls inside
-- one: a day's report is whole quarters.
--
-- The long-prompt price class cannot be part of the key (its thresholds come from the price
-- table at read time). Instead, sums are kept apart by `prompt_band`, the prompt (input + cache
-- read + cache write, `pricing::prompt_size`) in stretches of 100,000 tokens cut just above each
-- multiple (1–100,000 is band 0, 100,001–200,000 band 1, …), so no sum straddles a threshold
-- that is a multiple of 100,000 (the built-in price table's is 100,000). Each sum also keeps the
-- smallest and largest prompt it holds, and one whose prompts straddle a threshold asked for is
-- read from its rows instead. So is one with a negative count (`negative`), which only a damaged
-- database holds, so the read reports it as the rows' read would.
--
-- `quarter` is `at_ms` divided by 900,000 rounded down (also below zero). `model` is '' with
-- `model_known` 0 for a response of no known model (a primary key column cannot be NULL).
-- Not STRICT: a sum past the integer range becomes a REAL, which the read takes as "read the
-- rows", rather than failing the write that caused it.
CREATE TABLE usage_quarters (
    quarter             INTEGER NOT NULL,
    session_id          TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    model_known         INTEGER NOT NULL,
    fast                INTEGER NOT NULL,
    us_only             INTEGER NOT NULL,
    prompt_band         INTEGER NOT NULL,
    responses           INTEGER NOT NULL,
    first_ms            INTEGER NOT NULL,
    last_ms             INTEGER NOT NULL,
    input               INTEGER NOT NULL,
    output              INTEGER NOT NULL,
    cache_read          INTEGER NOT NULL,
    cache_creation      INTEGER NOT NULL,
    cache_creation_1h   INTEGER NOT NULL,
    web_search_requests INTEGER NOT NULL,
    fast_responses      INTEGER NOT NULL,
    us_only_responses   INTEGER NOT NULL,
    min_prompt          INTEGER NOT NULL,
    max_prompt          INTEGER NOT NULL,
    negative            INTEGER NOT NULL,
    PRIMARY KEY (quarter, session_id, model, model_known, fast, us_only, prompt_band)
) WITHOUT ROWID;

-- "Sum this session's quarter hour again from its rows": the one place the sums are computed
-- from scratch (after an update or a delete, which cannot be undone from a sum exactly: the
-- first and last times, the smallest and largest prompt). Inserting (quarter, session) here
-- does it. It reads the quarter hour's rows from the covering time index (the unary `+` keeps
-- `SQLite` from choosing `usage_by_session`, which reads every row of a long session).
CREATE VIEW usage_quarters_refresh (quarter, session_id) AS
    SELECT quarter, session_id FROM usage_quarters;

CREATE TRIGGER usage_quarters_refresh INSTEAD OF INSERT ON usage_quarters_refresh
BEGIN
    DELETE FROM usage_quarters
    WHERE quarter = NEW.quarter AND session_id = NEW.session_id;
    -- total() never fails on overflow (sum() would, failing the write); CAST keeps integers.
    INSERT INTO usage_quarters
    SELECT NEW.quarter, NEW.session_id, coalesce(model, ''), model IS NOT NULL, fast != 0,
        us_only != 0, (max(input + cache_read + cache_creation, 1) - 1) / 100000 AS band,
        count(*), min(at_ms), max(at_ms),
        CAST(total(input) AS INTEGER), CAST(total(output) AS INTEGER),
        CAST(total(cache_read) AS INTEGER), CAST(total(cache_creation) AS INTEGER),
        CAST(total(cache_creation_1h) AS INTEGER), CAST(total(web_search_requests) AS INTEGER),
        CAST(total(fast) AS INTEGER), CAST(total(us_only) AS INTEGER),
        min(input + cache_read + cache_creation), max(input + cache_read + cache_creation),
        total(input < 0 OR output < 0 OR cache_read < 0 OR cache_creation < 0
            OR cache_creation_1h < 0 OR web_search_requests < 0 OR fast < 0 OR us_only < 0)
    FROM usage
    WHERE at_ms >= NEW.quarter * 900000 AND at_ms < (NEW.quarter + 1) * 900000
        AND +session_id = NEW.session_id
    GROUP BY coalesce(model, ''), model IS NOT NULL, fast != 0, us_only != 0, band;
END;

-- A new response adds to its sum: the common write (an import, a live response) costs one
-- upsert. The quarter expression is the floor of at_ms / 900000 for negative times too.
CREATE TRIGGER usage_quarters_insert AFTER INSERT ON usage
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

-- A changed response (an upsert that raised a count, moved it to an earlier report's session
-- or time): both the quarter it left and the one it is in are summed again. An upsert that
-- changed nothing summed costs nothing.
CREATE TRIGGER usage_quarters_update AFTER UPDATE ON usage
WHEN NEW.at_ms IS NOT OLD.at_ms OR NEW.session_id IS NOT OLD.session_id
    OR NEW.model IS NOT OLD.model OR NEW.input IS NOT OLD.input OR NEW.output IS NOT OLD.output
    OR NEW.cache_read IS NOT OLD.cache_read OR NEW.cache_creation IS NOT OLD.cache_creation
    OR NEW.cache_creation_1h IS NOT OLD.cache_creation_1h
    OR NEW.web_search_requests IS NOT OLD.web_search_requests OR NEW.fast IS NOT OLD.fast
    OR NEW.us_only IS NOT OLD.us_only
BEGIN
    INSERT INTO usage_quarters_refresh VALUES (
        (OLD.at_ms - ((OLD.at_ms % 900000) + 900000) % 900000) / 900000, OLD.session_id);
    INSERT INTO usage_quarters_refresh
    SELECT (NEW.at_ms - ((NEW.at_ms % 900000) + 900000) % 900000) / 900000, NEW.session_id
    WHERE NEW.session_id IS NOT OLD.session_id
        OR (NEW.at_ms - ((NEW.at_ms % 900000) + 900000) % 900000)
            != (OLD.at_ms - ((OLD.at_ms % 900000) + 900000) % 900000);
END;

CREATE TRIGGER usage_quarters_delete AFTER DELETE ON usage
BEGIN
    INSERT INTO usage_quarters_refresh VALUES (
        (OLD.at_ms - ((OLD.at_ms % 900000) + 900000) % 900000) / 900000, OLD.session_id);
END;

-- The history already stored, summed once: each of its sessions' quarter hours through the
-- one rule above.
INSERT INTO usage_quarters_refresh
SELECT DISTINCT (at_ms - ((at_ms % 900000) + 900000) % 900000) / 900000, session_id FROM usage;
