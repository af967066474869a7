"""Imported once by the extraction pool's fork server, after the readers of the source kinds (the pool's
`preload`): workers forked from it start with everything they use already imported (trafilatura, the
readers, the language model), instead of each importing it."""

import gc

import rensa  # noqa: F401

import flows.extract.pool  # noqa: F401
from flows.extract.page import warm_up

warm_up()

# Everything loaded so far lives as long as the workers: keep it out of the garbage collector's scans
# (and its pages shared with the fork server, not copied on write).
gc.freeze()
