"""Imported once by the extraction pool's fork server: workers forked from it start with everything they
use already imported (trafilatura, the readers, the language model), instead of each importing it."""

import fastwarc.warc  # noqa: F401

import flows.extract_pool
import flows.sources.files
import flows.sources.warc  # noqa: F401
from flows.extract import warm_up

warm_up()
