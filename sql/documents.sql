-- documents: every stored document version, one row each. A page stored again with the same text is not
-- a new row; a page whose text changed is a new row (a new version); a text already stored under another
-- URL is stored as a copy pointing at the first (duplicate_of).
--   doc_id          VARCHAR      id of this version: hash of canonical_url and content_hash
--   url             VARCHAR      where the page was read from (file URL, or the URL recorded in the WARC)
--   canonical_url   VARCHAR      normalised URL; the page's own <link rel=canonical>/og:url when on the same site
--   source          VARCHAR      config source name
--   title           VARCHAR      the headline: the page's visible <h1> where its declared titles confirm it, else
--                                its JSON-LD headline, og:title or <title> without the site's name, else found by
--                                trafilatura (see docs/extraction.md)
--   page_title      VARCHAR      the page's <title> (often the headline reworded for search engines)
--   authors         VARCHAR[]    the article's authors, as the page declares them (JSON-LD, meta tags, microdata),
--                                else its byline; not the site's name, a URL or a placeholder such as "Staff"
--   author          VARCHAR      authors joined by '; ' (NULL when none)
--   published_at    TIMESTAMPTZ  when the article was published, as the page states it; a page that states only
--                                the day has that day's midnight UTC here and 'day' in published_precision
--   published_date  DATE         the publication day as the page states it, in the page's own time zone
--   published_precision  VARCHAR  what the page gave: 'day', 'minute' or 'second' (rows stored before schema
--                                version 3: 'day')
--   published_offset  SMALLINT   minutes east of UTC the page stated with the time (330 for +05:30); NULL when
--                                it gave no time or no zone (a time without a zone is read as UTC)
--   modified_at     TIMESTAMPTZ  when the page says the article was last modified (as published_at)
--   modified_precision  VARCHAR  as published_precision
--   modified_offset  SMALLINT    as published_offset
--   section         VARCHAR      the section the page declares (articleSection, article:section)
--   image           VARCHAR      the article's main image URL as declared (og:image, JSON-LD image)
--   language        VARCHAR      ISO 639-1 code: the one the page declares (JSON-LD inLanguage, <html lang>,
--                                og:locale) when its text agrees, else the one detected in the text (py3langid)
--   sitename, description   VARCHAR   the site's name (JSON-LD publisher, og:site_name) and the page's summary
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
--   month           VARCHAR      partition: YYYY-MM of published_date, else of fetched_at
--   schema_version  SMALLINT     schema version of the file the row was read from
CREATE OR REPLACE VIEW documents AS
SELECT doc_id, url, canonical_url, source, title, page_title, authors,
       nullif(array_to_string(authors, '; '), '') AS author,
       published_utc AS published_at, published_date, published_precision, published_offset,
       modified_utc AS modified_at, modified_precision, modified_offset, section, image,
       language, sitename, description, tags, text, word_count, content_hash, duplicate_of,
       coalesce(cluster_id, duplicate_of, doc_id) AS cluster_id, similarity, page_type, fetched_at, run_id, origin,
       CASE WHEN regexp_matches(origin, '\.w?arc(\.gz)?#[0-9]+$') THEN regexp_extract(origin, '^(.*)#', 1) END
           AS warc_file,
       CASE WHEN regexp_matches(origin, '\.w?arc(\.gz)?#[0-9]+$') THEN CAST(regexp_extract(origin, '#([0-9]+)$', 1) AS BIGINT) END
           AS warc_offset,
       month, schema_version
FROM internal.documents;
