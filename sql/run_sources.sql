-- run_sources: one row per source per ingest run, with its counts.
--   run_id       VARCHAR      sortable: start time (UTC) and a random suffix
--   source       VARCHAR      config source name
--   kind         VARCHAR      the source kind: files | warc | feed | sitemap | urls (flows/sources KINDS)
--   location     VARCHAR      what the source reads (glob, feed or sitemap URL, URL file)
--   status       VARCHAR      running | completed | failed | skipped (a run of the source was still going) |
--                             interrupted (the process died)
--   started_at, ended_at     TIMESTAMPTZ
--   seen         BIGINT       pages read
--   extracted    BIGINT       pages with a main text
--   duplicates   BIGINT       extracted texts already in the corpus
--   rejected     BIGINT       pages rejected (see rejects)
--   written      BIGINT       rows added to documents
--   unchanged    BIGINT       web pages fetched again with no change (304 or the same body): not extracted
--   skipped      BIGINT       archive records that are not HTTP responses (request, metadata, resource,
--                             warcinfo): skipped by design, not pages
--   seconds      DOUBLE       time spent on this source
--   error        VARCHAR      why the source failed, if it did
--   priority     INTEGER      the source's configured priority at the time (see articles)
CREATE OR REPLACE VIEW run_sources AS
SELECT run_id, source, kind, location, status, started_at, ended_at, seen, extracted, duplicates, rejected,
       written, coalesce(unchanged, 0) AS unchanged, coalesce(skipped, 0) AS skipped, seconds, error,
       coalesce(priority, 0) AS priority
FROM internal.runs
-- a run writes a 'running' row per source when it starts and a final row when it ends: keep the last
QUALIFY row_number() OVER (PARTITION BY run_id, source ORDER BY (status = 'running')) = 1;
