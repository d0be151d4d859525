"""Small helpers shared by the core tests (the HTTP fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.config import Settings, load_settings
from knowledge.schema import bundled_dir

REPO = Path(__file__).resolve().parent.parent
DXLAB = [sys.executable, "-m", "bot"]


def settings_for(tmp_path: Path, **env: str) -> Settings:
    """Settings on a fresh SQLite file in tmp_path, ignoring the developer's .env."""
    base = {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}", "DXLAB_KB_WATCH": "0"}
    return load_settings(env={**base, **env}, dotenv_path=Path("/nonexistent"))


def copy_knowledge(tmp_path: Path) -> Path:
    """A writable copy of the bundled knowledge base (content, sources, synonyms, calibration)."""
    root = tmp_path / "kb"
    shutil.copytree(bundled_dir(), root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def run_dxlab(args: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run the real `dxlab` command (as `python -m bot`) in `cwd` with a clean environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DXLAB_", "SLACK_", "MICROSOFT_"))}
    full_env.update(env or {})
    return subprocess.run([*DXLAB, *args], cwd=cwd, input=stdin, capture_output=True, env=full_env,
                          timeout=timeout, check=False)
