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
       sum(seen) AS seen, sum(extracted) AS extracted, sum(duplicates) AS duplicates,
       sum(rejected) AS rejected, sum(written) AS written, sum(unchanged) AS unchanged,
       sum(skipped) AS skipped,
       string_agg(source || ': ' || error, '; ' ORDER BY source) FILTER (WHERE error IS NOT NULL) AS errors
FROM run_sources
GROUP BY run_id;
