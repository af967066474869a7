-- fetches: every fetch of a web source's page, one row each (fetch_state keeps one row per URL): how each
-- host answered, how fast, and what came of it.
--   url          VARCHAR      the page URL as the source lists it
--   host         VARCHAR      its host name, lower case
--   source       VARCHAR      config source name
--   status       INTEGER      HTTP status of the last response (NULL when no response came)
--   outcome      VARCHAR      new | changed | unchanged | not_modified, or a reject reason (robots, timeout,
--                             connect_error, http_404...)
--   seconds      DOUBLE       time the requests took, redirects included, from sending to the last byte (not
--                             the waits between requests that politeness adds); NULL for fetches stored
--                             before it was recorded, 0 when none was sent (robots, a blocked address)
--   fetched_at   TIMESTAMPTZ  when
--   run_id       VARCHAR      the ingest run (see runs)
CREATE OR REPLACE VIEW fetches AS
SELECT url, lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)', 1)) AS host,
       source, status, outcome, seconds, fetched_at, run_id
FROM internal.fetches;
