-- articles: one row per distinct article, the analyst's default table. Copies (duplicate_of set) are left
-- out; a page stored in several versions shows its latest. Columns as in documents, plus:
--   copies          BIGINT       how many stored documents carry this exact text (1 = no copies)
CREATE OR REPLACE VIEW articles AS
WITH copy_counts AS (
    SELECT duplicate_of AS doc_id, count(*) AS n FROM documents WHERE duplicate_of IS NOT NULL GROUP BY ALL
), latest AS (
    SELECT * FROM documents
    WHERE duplicate_of IS NULL
    QUALIFY row_number() OVER (PARTITION BY canonical_url ORDER BY fetched_at DESC, doc_id) = 1
)
SELECT latest.*, 1 + coalesce(copy_counts.n, 0) AS copies
FROM latest LEFT JOIN copy_counts USING (doc_id);
