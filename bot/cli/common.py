"""What the command modules share: JSON output, stdin lines, the knowledge folder."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.config import load_settings


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def stdin_lines() -> Iterator[str]:
    # Bytes, decoded leniently: binary garbage on stdin must become a polite answer, not a crash.
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def knowledge_root() -> Path | None:
    settings = load_settings()
    return Path(settings.knowledge_dir) if settings.knowledge_dir else None


