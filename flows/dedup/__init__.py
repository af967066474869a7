"""De-duplication at commit time, across runs.

exact.py          the same page version (doc_id) and the same text (content hash) already stored
near.py           MinHash/LSH signatures (computed in the workers), candidates and their verification
deduplicator.py   both, over the warehouse's committed files: each row's verdict and cluster
"""
