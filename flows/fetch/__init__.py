"""Fetching pages from the web, politely: safety → robots.txt → per-host pacing → HTTP with retries →
raw WARC archive, with per-URL state for conditional re-fetching. Knows nothing of sources: what to fetch
(feeds, sitemaps, URL lists) is decided in flows/sources.

    safety.py    which URLs may be fetched at all (scheme, private addresses)
    robots.py    robots.txt, once per host per run
    pacing.py    one request per `delay` per host, across threads
    fetcher.py   one URL → a response or a reject reason (redirects, retries, size cap)
    archive.py   responses → WARC.gz files, rotated by size
    crawl.py     a batch of URLs through all of the above, with the last fetch state of each URL
    aio.py       running the coroutines from synchronous code
"""
