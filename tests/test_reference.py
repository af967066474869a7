"""The reference in docs/ says what the code says: every config key with its default and meaning as
flows/config.py declares them, every view's columns as their sql/ headers document them (`make docs`
rewrites both), and every key documented."""

from __future__ import annotations

import pytest
import reference
from pydantic import BaseModel

from flows import config as config_module

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path", sorted(reference.GENERATED))
def test_the_generated_reference_is_current(path: str) -> None:
    text = (reference.REPO / path).read_text(encoding="utf-8")
    assert reference.expected(path, text) == text, f"{path} is out of date: run `make docs`"


def test_every_config_key_is_documented() -> None:
    undocumented = [
        f"{model.__name__}.{name}"
        for model in vars(config_module).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__ == config_module.__name__
        for name, field in model.model_fields.items()
        if not field.exclude and not reference._description(model, name)
    ]
    assert not undocumented, f"keys without a docstring in flows/config.py: {undocumented}"


def test_a_default_changed_in_config_only_makes_the_reference_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (reference.REPO / "docs/configuration.md").read_text(encoding="utf-8")
    monkeypatch.setattr(config_module.ExtractConfig.model_fields["timeout"], "default", 21.0)
    assert reference.expected("docs/configuration.md", text) != text
