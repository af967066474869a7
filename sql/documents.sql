-- documents: every stored document version, one row each. A page stored again with the same text is not
-- a new row; a page whose text changed is a new row (a new version); a text already stored under another
-- URL is stored as a copy pointing at the first (duplicate_of).
--   doc_id          VARCHAR      id of this version: hash of canonical_url and content_hash
--   url             VARCHAR      where the page was read from (file URL, or the URL recorded in the WARC)
--   canonical_url   VARCHAR      normalised URL; the page's own <link rel=canonical>/og:url when on the same site
--   source          VARCHAR      config source name
--   title, author   VARCHAR      page metadata (trafilatura)
--   published_at    DATE         the article's own publication date, when the page states one
--   language        VARCHAR      ISO 639-1 code detected from the text (py3langid)
--   sitename, description   VARCHAR   page metadata (trafilatura)
--   tags            VARCHAR[]    keywords/tags declared by the page
--   text            VARCHAR      main text: no menus, ads or comments; NFC; one paragraph per line
--   word_count      INTEGER      words in text: white-space separated pieces; pieces in scripts written without
--                                spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, Tibetan) segmented into
--                                words by ICU (flows/extract/words.py), so min_words means as much text in each
--   content_hash    VARCHAR      blake2b-128 hex of text
--   duplicate_of    VARCHAR      doc_id of the stored document this one was found to copy (exact or near
--                                copy), NULL for the first document of an article
--   cluster_id      VARCHAR      the article: doc_id of the first document of its cluster (stable)
--   similarity      FLOAT        Jaccard similarity of its 5-word shingles to duplicate_of's (1.0 for an exact
--                                copy; a copy cut short joins by containment and can show much less)
--   page_type       VARCHAR      page type the page declares (og:type / schema.org: article, website...)
--   fetched_at      TIMESTAMPTZ  when the page was read (WARC capture time for archives)
--   run_id          VARCHAR      the ingest run that stored it (see runs)
--   origin          VARCHAR      file path, or WARC path#offset of the record; a file inside the warehouse (the
--                                raw archive of web sources) relative to the warehouse folder, so that a copied
--                                or moved warehouse names its own files
--   warc_file       VARCHAR      the WARC file holding the raw page (WARC sources and the raw archive of web
--                                sources: raw/source=<name>/...warc.gz, relative to the warehouse), else NULL
--   warc_offset     BIGINT       byte offset of its record in warc_file
--   month           VARCHAR      partition: YYYY-MM of published_at, else of fetched_at
--   schema_version  SMALLINT     schema version of the file the row was read from
CREATE OR REPLACE VIEW documents AS
SELECT doc_id, url, canonical_url, source, title, author, published_at, language, sitename, description,
       tags, text, word_count, content_hash, duplicate_of,
       coalesce(cluster_id, duplicate_of, doc_id) AS cluster_id, similarity, page_type, fetched_at, run_id, origin,
       CASE WHEN regexp_matches(origin, '\.w?arc(\.gz)?#[0-9]+$') THEN regexp_extract(origin, '^(.*)#', 1) END
           AS warc_file,
       CASE WHEN regexp_matches(origin, '\.w?arc(\.gz)?#[0-9]+$') THEN CAST(regexp_extract(origin, '#([0-9]+)$', 1) AS BIGINT) END
           AS warc_offset,
       month, schema_version
FROM _documents_raw;
