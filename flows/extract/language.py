"""A document's language: the one the page declares when its text agrees, else py3langid on its text.

py3langid ships its model xz-compressed: inflating it takes ~0.3 s, on the way to the first page of every
run (the extraction pool's fork server loads it before starting workers). It is inflated once into the
user's cache directory and loaded from there afterwards (~0.05 s); the cache is an optimisation only, so
any problem with it falls back to py3langid's own loading.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Bytes of a page's head searched for what it declares (<html lang>, <meta charset>): the HTML standard
# wants a charset declaration within the first 1024 bytes; heads with long <script> or <style> run further.
SNIFF_BYTES = 4096
_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2,3})(?![a-zA-Z])", re.IGNORECASE)


def declared_language(html: bytes) -> str | None:
    """The page's own <html lang="..">, as an ISO 639-1 code ('en-GB' → 'en'). Read from the raw bytes:
    parsing here would cost more than the whole rest of extraction's own work (trafilatura parses again)."""
    match = _HTML_LANG.search(html[:SNIFF_BYTES])
    return match.group(1).lower().decode() if match else None


# Per character of the text scored, how far below the detected language's log-probability the declared one
# may score and still be believed (closely related languages, e.g. no/da, id/ms, hr/sr/bs, score within it)
DECLARED_MARGIN = 0.12
MIN_TEXT_TO_OVERRULE = 200  # characters: a shorter text does not overrule what the page declares


def choose_language(declared: str | None, text: str) -> str | None:
    """The page's declared language when its text agrees (or is too short to say, or is in a language the
    detector does not know), else the language detected in the text: a template's <html lang="en"> on a
    page written in Spanish is common."""
    if declared is None:
        return detect_language(text)
    if len(text) < MIN_TEXT_TO_OVERRULE:
        return declared
    py3langid = _identifier()
    sample = text[:400]  # enough to tell a language; the score's cost grows with the text
    best, best_score = py3langid.classify(sample)
    if best == declared:
        return declared
    scores = dict(py3langid.rank(sample))  # ~2 ms, only where the two disagree
    if declared not in scores:
        return declared  # a language the detector does not know
    return declared if (best_score - scores[declared]) / len(sample) <= DECLARED_MARGIN else best


def detect_language(text: str) -> str | None:
    language, _score = _identifier().classify(text[:1000])
    return language or None


def _identifier() -> Any:
    """py3langid, its model loaded."""
    import py3langid

    if py3langid.langid.IDENTIFIER is None:
        load_model()
    return py3langid


def model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpus-pipeline" / f"py3langid-{version('py3langid')}-model.npz"


def load_model() -> None:
    """Make py3langid's identifier, from the inflated copy of its model when there is one (writing it when
    not)."""
    import numpy as np
    import py3langid
    from py3langid import langid
    from py3langid.modelio import _to_array  # numpy → the stdlib arrays its DFA tables are

    cached = model_cache()
    with contextlib.suppress(Exception):  # a damaged or foreign cache file: py3langid's own loading
        if cached.exists():
            with np.load(cached, allow_pickle=False) as data:
                ptc, pc, classes = data["ptc"], data["pc"], data["classes"].tolist()
                nextmove, row, output = data["nextmove"], data["row"], data["output"].tolist()
            langid.IDENTIFIER = langid.LanguageIdentifier(
                ptc, pc, classes, _to_array(nextmove), output, tk_row=_to_array(row)
            )
            return
    py3langid.classify("")  # its public path loads the packaged model
    with contextlib.suppress(Exception):  # no cache then (read-only home, full disk)
        _write_cache(cached, langid.IDENTIFIER)


def _write_cache(path: Path, identifier: Any) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out,
                ptc=identifier.nb_ptc,
                pc=identifier.nb_pc,
                classes=np.array(identifier.nb_classes),
                nextmove=np.frombuffer(identifier.tk_nextmove, dtype=identifier.tk_nextmove.typecode),
                row=np.frombuffer(identifier.tk_row, dtype=identifier.tk_row.typecode),
                output=np.asarray(identifier.tk_output, dtype=np.int32),
            )
        os.replace(temporary, path)  # whole or not at all, also with two runs writing it at once
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
