"""Every user-facing string: one folder per language (`ja/`, `en/`), one YAML file per use case.

The words live with the use cases that speak them. Files in a language folder are merged into one
catalogue; a key defined twice is an error, so two use cases can never silently overwrite each other.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

DEFAULT_LANG = "ja"
LANGS = ("ja", "en")


class CatalogError(ValueError):
    """A text catalogue is malformed (a key defined in two files)."""


def _flatten(prefix: str, node: object, into: dict[str, str], origin: str, seen: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into, origin, seen)
        return
    if prefix in seen:
        raise CatalogError(f"text key {prefix!r} is defined in both {seen[prefix]} and {origin}")
    seen[prefix] = origin
    into[prefix] = str(node)


@cache
def _catalog(lang: str) -> dict[str, str]:
    folder = resources.files(__package__).joinpath(lang)
    flat: dict[str, str] = {}
    seen: dict[str, str] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            data = yaml.safe_load(item.read_text(encoding="utf-8")) or {}
            _flatten("", data, flat, f"{lang}/{item.name}", seen)
    return flat


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The text for `key` in `lang` (falling back to Japanese), formatted with `params`."""
    catalog = _catalog(lang if lang in LANGS else DEFAULT_LANG)
    template = catalog.get(key) or _catalog(DEFAULT_LANG)[key]
    return template.format(**params) if params else template


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in _catalog(lang if lang in LANGS else DEFAULT_LANG)


def format_date(value: str, lang: str = DEFAULT_LANG) -> str:
    """'2024-09-27' -> '2024年9月27日'; partial dates ('2023-04', '2023') keep their precision."""
    parts = [int(p) for p in value.split("-")]
    keys = ("date.year", "date.month", "date.day")
    return t(keys[len(parts) - 1], lang, y=parts[0], m=parts[1] if len(parts) > 1 else 0,
             d=parts[2] if len(parts) > 2 else 0)
