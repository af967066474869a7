"""Imported once by the extraction pool's fork server: workers forked from it start with trafilatura and
the language model loaded."""

from flows.extract import warm_up

warm_up()
