"""Corpus ingestion pipeline: sources → fetch → extract → dedup → store → views."""
