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


def toml_blocks() -> list[tuple[str, str]]:
    """(file, text) of every ```toml block in README.md and docs/."""
    blocks = []
    for path in [reference.REPO / "README.md", *sorted((reference.REPO / "docs").glob("*.md"))]:
        parts = path.read_text(encoding="utf-8").split("```toml\n")[1:]
        blocks += [(path.name, part.split("```", 1)[0]) for part in parts]
    return blocks


BLOCKS = toml_blocks()


@pytest.mark.parametrize(
    "block", range(len(BLOCKS)), ids=[f"{name}-{i}" for i, (name, _) in enumerate(BLOCKS)]
)
def test_every_config_example_in_the_docs_is_valid_and_shows_the_true_defaults(block: int) -> None:
    """Each example is a config the product accepts; in a section marked `# all optional`, each value shown
    is that key's default in flows/config.py."""
    name, text = BLOCKS[block]
    config = config_module.parse_config(text, reference.REPO / "docs" / "example.toml")
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            header, _, comment = line.partition("#")
            section = header.strip().strip("[]") if "all optional" in comment else None
            continue
        key, equals, _ = line.partition("=")
        if section is None or not equals or line.strip().startswith("#"):
            continue
        key = key.strip()
        shown = getattr(getattr(config, section), key)
        default = type(getattr(config, section)).model_fields[key].default
        assert shown == default, f"{name}: [{section}] {key} = {shown!r}, but its default is {default!r}"
