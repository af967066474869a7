-- sources: one row per source that has ever been ingested.
--   source          VARCHAR      config source name
--   kind, location  VARCHAR      as of its latest run
--   documents       BIGINT       stored documents (versions and copies included)
--   articles        BIGINT       rows in articles whose representative page is this source's
--   duplicates      BIGINT       documents stored as a copy of a page stored before them (duplicate_of set),
--                                exact or near, whichever page represents their article
--   rejects         BIGINT       distinct rejected pages (URLs), all runs
--   first_fetched, last_fetched  TIMESTAMPTZ   over its documents
--   runs            BIGINT       runs that included it
--   last_run_id     VARCHAR      its latest run
--   last_status     VARCHAR      status of the source in its latest run
CREATE OR REPLACE VIEW sources AS
WITH latest_run AS (
    SELECT source, kind, location, run_id AS last_run_id, status AS last_status, count(*) OVER (PARTITION BY source) AS runs
    FROM run_sources
    QUALIFY row_number() OVER (PARTITION BY source ORDER BY started_at DESC, run_id DESC) = 1
), docs AS (
    SELECT source, count(*) AS documents, count(duplicate_of) AS duplicates,
           min(fetched_at) AS first_fetched, max(fetched_at) AS last_fetched
    FROM documents GROUP BY source
), arts AS (
    SELECT source, count(*) AS articles FROM articles GROUP BY source
), rej AS (
    SELECT source, count(DISTINCT url) AS rejects FROM rejects GROUP BY source
)
SELECT source, latest_run.kind, latest_run.location,
       coalesce(docs.documents, 0) AS documents, coalesce(arts.articles, 0) AS articles,
       coalesce(docs.duplicates, 0) AS duplicates, coalesce(rej.rejects, 0) AS rejects, docs.first_fetched, docs.last_fetched,
       latest_run.runs, latest_run.last_run_id, latest_run.last_status
FROM latest_run
FULL OUTER JOIN docs USING (source)
LEFT JOIN arts USING (source)
LEFT JOIN rej USING (source)
ORDER BY source;
