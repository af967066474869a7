-- inputs: every local input file (HTML file, WARC/ARC archive) a source has ingested completely: one row
-- per source and file. A later ingest skips a file while its size and modification time (or content
-- fingerprint) stay the same, reads a changed one again, and a WARC that grew from where it was left;
-- `corpus ingest --full` reads everything. A file that has since vanished stays here.
--   source       VARCHAR      config source name
--   path         VARCHAR      the file
--   size         BIGINT       bytes when it was last read
--   modified_at  TIMESTAMPTZ  its modification time then
--   fingerprint  VARCHAR      blake2b of its first and last 64 KB then
--   records      BIGINT       pages read from it since it was last read from the start (a grown WARC adds)
--   documents    BIGINT       of which extracted (before dedup: copies of stored pages count)
--   rejects      BIGINT       of which rejected (see rejects)
--   skipped      BIGINT       archive records that are not HTTP responses
--   first_run    VARCHAR      the run that first ingested it
--   last_run     VARCHAR      the run that last read it
--   last_ingested_at  TIMESTAMPTZ  when that run had committed what it read
--   times_read   BIGINT       runs that read it (whole or from where it was left)
CREATE OR REPLACE VIEW inputs AS
WITH reads AS (
    SELECT *, max(CASE WHEN coalesce(start, 0) = 0 THEN ingested_at END)
                  OVER (PARTITION BY source, path) AS last_full_read
    FROM internal.inputs
)
SELECT source, path,
       arg_max(size, ingested_at) AS size,
       arg_max(mtime, ingested_at) AS modified_at,
       arg_max(fingerprint, ingested_at) AS fingerprint,
       CAST(sum(records) FILTER (WHERE ingested_at >= last_full_read) AS BIGINT) AS records,
       CAST(sum(documents) FILTER (WHERE ingested_at >= last_full_read) AS BIGINT) AS documents,
       CAST(sum(rejects) FILTER (WHERE ingested_at >= last_full_read) AS BIGINT) AS rejects,
       CAST(sum(skipped) FILTER (WHERE ingested_at >= last_full_read) AS BIGINT) AS skipped,
       min(run_id) AS first_run,
       max(run_id) AS last_run,
       max(ingested_at) AS last_ingested_at,
       count(*) AS times_read
FROM reads
GROUP BY source, path;
