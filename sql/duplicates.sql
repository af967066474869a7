-- duplicates: the pages of every article found more than once (exact and near copies), one row per page.
--   cluster_id        VARCHAR    the article (see articles)
--   representative    VARCHAR    doc_id of the article's row in articles
--   is_representative BOOLEAN
--   doc_id, url, canonical_url, source, title, published_at, fetched_at   as in documents
--   duplicate_of      VARCHAR    the stored document this page matched when it was ingested
--   similarity        FLOAT      verified similarity to duplicate_of (usually the representative; NULL for
--                                the cluster's first document, 1.0 for exact copies)
CREATE OR REPLACE VIEW duplicates AS
WITH pages AS (
    SELECT doc_id, url, canonical_url, source, title, published_at, fetched_at, duplicate_of, similarity, cluster_id
    FROM documents
    QUALIFY row_number() OVER (PARTITION BY canonical_url ORDER BY fetched_at DESC, doc_id) = 1
)
SELECT pages.cluster_id, articles.doc_id AS representative, pages.doc_id = articles.doc_id AS is_representative,
       pages.doc_id, pages.url, pages.canonical_url, pages.source, pages.title, pages.published_at,
       pages.fetched_at, pages.duplicate_of, pages.similarity
FROM pages JOIN articles ON pages.cluster_id = articles.cluster_id
WHERE articles.copies > 1
ORDER BY pages.cluster_id, is_representative DESC, pages.published_at NULLS LAST, pages.fetched_at;
