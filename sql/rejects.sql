-- rejects: every page that did not become a document, with the reason. One row per page and reason: the
-- first time it was turned down for it (a re-run, or a robots.txt that still says no, adds no row).
--   url          VARCHAR      the page
--   source       VARCHAR      config source name
--   reason       VARCHAR      no_text | extract_timeout | extract_error | extract_crash | too_large |
--                             not_html | unreadable | bad_encoding (a body that does not decode) |
--                             revisit (an archive's revisit record: it refers to an earlier capture) |
--                             http_<status> (non-200 responses) | too_short (fewer words than min_words:
--                             see word_count in documents.sql) | language | not_article (articles_only:
--                             a listing page, by its own page type or, when it declares none, its URL:
--                             docs/configuration.md "Quality filters") | robots | timeout | connect_error | redirect_loop |
--                             too_many_redirects | bad_redirect (a Location that is no fetchable URL) |
--                             bad_url (a listed link that is no fetchable URL) | dns_error | blocked_address |
--                             fetch_error (anything else that ended a fetch) | bad_sitemap, bad_feed (a
--                             listing, or the part of one, that could not be read: url is the listing,
--                             detail says where it is damaged and how many entries came before) (web)
--   detail       VARCHAR      human-readable detail (sizes, exception message)
--   origin       VARCHAR      file path, or WARC path#offset (inside the warehouse: relative to it)
--   fetched_at   TIMESTAMPTZ  when the page was read (the first time it was turned down for this reason)
--   run_id       VARCHAR      the ingest run that recorded it (see runs)
CREATE OR REPLACE VIEW rejects AS
SELECT url, source, reason, detail, origin, fetched_at, run_id
FROM internal.rejects;
