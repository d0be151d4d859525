"""Every user-facing string, one YAML file per language (`ja.yaml`, `en.yaml`)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

DEFAULT_LANG = "ja"


@cache
def _catalog(lang: str) -> dict[str, str]:
    text = resources.files(__package__).joinpath(f"{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    flat: dict[str, str] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", data)
    return flat


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The text for `key` in `lang` (falling back to Japanese), formatted with `params`."""
    catalog = _catalog(lang if lang in ("ja", "en") else DEFAULT_LANG)
    template = catalog.get(key) or _catalog(DEFAULT_LANG)[key]
    return template.format(**params) if params else template


def format_date(value: str, lang: str = DEFAULT_LANG) -> str:
    """'2024-09-27' -> '2024年9月27日'; partial dates ('2023-04', '2023') keep their precision."""
    parts = [int(p) for p in value.split("-")]
    keys = ("date.year", "date.month", "date.day")
    return t(keys[len(parts) - 1], lang, y=parts[0], m=parts[1] if len(parts) > 1 else 0,
             d=parts[2] if len(parts) > 2 else 0)
