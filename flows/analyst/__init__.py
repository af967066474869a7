"""What analysts use: read-only SQL (query.py) and its shell (shell.py), full-text search (search.py),
warehouse statistics (stats.py). Reads the warehouse; never imports the pipeline, extraction or fetching.
"""
