"""Extraction: a page's HTML → a document row (trafilatura's main text and metadata, normalised, hashed,
counted, signed for near-dedup) or a reject with its reason, on all cores.

    page.py      one page → one document or one reject (ExtractOptions, IdenticalPages)
    fields.py    trafilatura's text and the metadata the warehouse stores
    language.py  <html lang>, else py3langid
    urls.py      canonical URLs, registered domains
    pool.py      the worker processes, with a per-page time limit a stuck page cannot escape
    preload.py   what the workers' fork server imports once
"""
