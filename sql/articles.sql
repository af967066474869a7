-- articles: one row per article (a cluster of exact and near copies), the analyst's default table. The row
-- is the cluster's representative: the page from the source with the highest `priority` (config), then the
-- earliest published, then the first fetched; a page stored in several versions counts with its latest.
-- Columns as in documents, plus:
--   copies          BIGINT       pages carrying this article (1 = no copies elsewhere)
--   sources         VARCHAR[]    the sources it was found in
CREATE OR REPLACE VIEW articles AS
WITH pages AS (
    SELECT * FROM documents
    QUALIFY row_number() OVER (PARTITION BY canonical_url ORDER BY fetched_at DESC, doc_id) = 1
), clusters AS (
    SELECT cluster_id, count(*) AS copies, list(DISTINCT source ORDER BY source) AS sources
    FROM pages GROUP BY cluster_id
), priorities AS (
    SELECT source, arg_max(priority, started_at) AS priority FROM run_sources GROUP BY source
), representatives AS (
    SELECT pages.* FROM pages LEFT JOIN priorities USING (source)
    QUALIFY row_number() OVER (
        PARTITION BY cluster_id
        ORDER BY coalesce(priorities.priority, 0) DESC, published_at ASC NULLS LAST, fetched_at ASC, doc_id
    ) = 1
)
SELECT representatives.*, clusters.copies, clusters.sources
FROM representatives JOIN clusters USING (cluster_id);
