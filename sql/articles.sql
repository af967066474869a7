-- articles: one row per article (a cluster of exact and near copies), the analyst's default table. The row
-- is the cluster's representative: the page from the source with the highest `priority` (config), then the
-- earliest published, then the first fetched; a page stored in several versions counts with its latest.
-- Columns as in documents, plus:
--   copies          BIGINT       pages carrying this article (1 = no copies elsewhere)
--   sources         VARCHAR[]    the sources it was found in
-- (Planned on narrow columns first, then joined back to documents by doc_id, so that a query reading a few
-- columns never drags the texts through the window and the grouping: 0.5 s at a million documents.)
CREATE OR REPLACE VIEW articles AS
WITH pages AS (
    SELECT doc_id, cluster_id, source, published_at, fetched_at FROM documents
    QUALIFY row_number() OVER (PARTITION BY canonical_url ORDER BY fetched_at DESC, doc_id) = 1
), priorities AS (
    SELECT source, arg_max(priority, started_at) AS priority FROM run_sources GROUP BY source
), clusters AS (
    SELECT cluster_id, count(*) AS copies, list(DISTINCT source ORDER BY source) AS sources,
           arg_min(doc_id, (
               -coalesce(priorities.priority, 0), coalesce(published_at, TIMESTAMPTZ '9999-12-31 00:00:00+00'), fetched_at, doc_id
           )) AS representative
    FROM pages LEFT JOIN priorities USING (source)
    GROUP BY cluster_id
)
SELECT documents.*, clusters.copies, clusters.sources
FROM documents JOIN clusters ON documents.doc_id = clusters.representative;
