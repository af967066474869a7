-- fetch_state: one row per URL of a web source (feed, sitemap, urls): what its fetches said, latest first.
--   url             VARCHAR      the page URL as the source lists it
--   source          VARCHAR      config source name
--   final_url       VARCHAR      where the last fetch ended after redirects
--   last_status     INTEGER      HTTP status of the last fetch (NULL when no response came)
--   last_outcome    VARCHAR      new | changed | unchanged | not_modified, or a reject reason (robots, timeout, http_404...)
--   etag            VARCHAR      ETag of the last successful fetch (sent back as If-None-Match)
--   last_modified   TIMESTAMPTZ  Last-Modified of the last successful fetch (the header, sent back as
--                                If-Modified-Since; NULL when it is missing or not an HTTP date)
--   first_fetched   TIMESTAMPTZ  first fetch of this URL
--   last_fetched    TIMESTAMPTZ  latest fetch
--   times_seen      BIGINT       fetches of this URL, all runs
--   times_changed   BIGINT       fetches that found a new body after the first (new versions in documents)
--   last_archived   VARCHAR      raw archive record of the latest body, "<warc file>#<offset>"
CREATE OR REPLACE VIEW fetch_state AS
SELECT url, source,
       arg_max(final_url, fetched_at) AS final_url,
       arg_max(status, fetched_at) AS last_status,
       arg_max(outcome, fetched_at) AS last_outcome,
       arg_max(etag, fetched_at) FILTER (WHERE outcome IN ('new', 'changed', 'unchanged', 'not_modified')) AS etag,
       try_strptime(replace(arg_max(last_modified, fetched_at)
                                FILTER (WHERE outcome IN ('new', 'changed', 'unchanged', 'not_modified')),
                            'GMT', '+0000'), '%a, %d %b %Y %H:%M:%S %z') AS last_modified,
       min(fetched_at) AS first_fetched,
       max(fetched_at) AS last_fetched,
       count(*) AS times_seen,
       count(*) FILTER (WHERE outcome = 'changed') AS times_changed,
       arg_max(origin, fetched_at) FILTER (WHERE origin IS NOT NULL) AS last_archived
FROM internal.fetches
GROUP BY url, source;
