"""Fetching pages from the web, politely: listings (feeds, sitemaps, URL lists) → robots.txt → per-host
pacing → HTTP with retries → raw WARC archive, with per-URL state for conditional re-fetching.

    listing.py   feed / sitemap / URL list → entries (URL, date)
    safety.py    which URLs may be fetched at all (scheme, private addresses)
    robots.py    robots.txt, once per host per run
    pacing.py    one request per `delay` per host, across threads
    fetcher.py   one URL → a response or a reject reason (redirects, retries, size cap)
    archive.py   responses → WARC.gz files, rotated by size
    state.py     what the last fetch of each URL said (ETag, Last-Modified, body hash)
    crawl.py     a batch of URLs through all of the above
"""
