-- runs: one row per ingest run.
--   run_id       VARCHAR      sortable: start time (UTC) and a random suffix
--   status       VARCHAR      running | completed | failed (a source failed) | interrupted (the process died)
--   started_at, ended_at     TIMESTAMPTZ
--   seconds      DOUBLE       wall time of the run
--   sources      VARCHAR[]    sources ingested
--   seen, extracted, duplicates, rejected, written, unchanged, skipped   BIGINT   summed over sources
--                             (see run_sources)
--   errors       VARCHAR      source: error, for failed sources
CREATE OR REPLACE VIEW runs AS
SELECT run_id,
       CASE WHEN bool_or(status = 'running') THEN 'running'
            WHEN bool_or(status = 'interrupted') THEN 'interrupted'
            WHEN bool_or(status = 'failed') THEN 'failed'
            ELSE 'completed' END AS status,
       min(started_at) AS started_at,
       max(ended_at) AS ended_at,
       round(epoch(max(ended_at) - min(started_at)), 3) AS seconds,
       list(source ORDER BY source) AS sources,
       CAST(sum(seen) AS BIGINT) AS seen, CAST(sum(extracted) AS BIGINT) AS extracted,
       CAST(sum(duplicates) AS BIGINT) AS duplicates, CAST(sum(rejected) AS BIGINT) AS rejected,
       CAST(sum(written) AS BIGINT) AS written, CAST(sum(unchanged) AS BIGINT) AS unchanged,
       CAST(sum(skipped) AS BIGINT) AS skipped,
       string_agg(source || ': ' || error, '; ' ORDER BY source) FILTER (WHERE error IS NOT NULL) AS errors
FROM run_sources
GROUP BY run_id;
