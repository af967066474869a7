"""Language: the page's own <html lang>, else py3langid, whose model is loaded from an inflated copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from py3langid import langid

from flows.extract.language import declared_language, detect_language, load_model, model_cache

pytestmark = pytest.mark.unit

TEXTS = {
    "fr": "Le gouvernement a présenté mardi un projet de loi sur la réforme des retraites.",
    "de": "Die Regierung hat am Dienstag einen Gesetzentwurf zur Rentenreform vorgestellt.",
    "en": "The government presented a bill on pension reform on Tuesday afternoon.",
    "es": "El gobierno presentó el martes un proyecto de ley sobre la reforma de las pensiones.",
}


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(langid, "IDENTIFIER", None)
    return tmp_path


def test_declared_language_from_the_html_tag() -> None:
    assert declared_language(b'<!doctype html><html class="x" lang="en-GB"><head>') == "en"
    assert declared_language(b"<html><head>") is None


def test_the_inflated_model_gives_the_same_identifier(cache_home: Path) -> None:
    original = langid._load_identifier()
    load_model()  # no copy yet: py3langid's own loading, then the copy is written
    assert model_cache().is_relative_to(cache_home) and model_cache().stat().st_size > 10_000_000
    langid.IDENTIFIER = None
    load_model()  # from the copy
    copy = langid.IDENTIFIER
    assert copy is not None
    assert (copy.nb_ptc == original.nb_ptc).all() and (copy.nb_pc == original.nb_pc).all()
    assert copy.tk_nextmove == original.tk_nextmove and copy.tk_row == original.tk_row
    assert copy.tk_output == original.tk_output and copy.nb_classes == original.nb_classes
    assert {text: copy.classify(text) for text in TEXTS.values()} == {
        text: original.classify(text) for text in TEXTS.values()
    }
    assert {code: detect_language(text) for code, text in TEXTS.items()} == {code: code for code in TEXTS}


def test_a_damaged_copy_falls_back_to_the_packaged_model(cache_home: Path) -> None:
    model_cache().parent.mkdir(parents=True)
    model_cache().write_bytes(b"not a model")
    assert detect_language(TEXTS["de"]) == "de"
    assert model_cache().stat().st_size > 10_000_000  # written anew
