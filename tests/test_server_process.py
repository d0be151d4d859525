"""`dxlab serve` as a process: signals, a busy port, and the terminal chat beside the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from handlers.i18n import t
from tests.test_server import CONTACT_ANSWER_START, CONTACT_QUESTION


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "DXLAB_", "OPENAI_"))}
    return env | {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "DXLAB_KB_WATCH": "false",
                  "PYTHONUNBUFFERED": "1"}


def serve_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), *extra]


def test_dxlab_serve_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(serve_command(port), cwd=tmp_path, env=serve_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_dxlab_serve_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(serve_command(port), cwd=tmp_path, env=serve_env(tmp_path), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot listen" in done.stderr and "Traceback" not in done.stderr


def test_dxlab_serve_console_chats_in_the_terminal(tmp_path: Path) -> None:
    done = subprocess.run(serve_command(free_port(), "--console"), cwd=tmp_path, env=serve_env(tmp_path),
                          input=f"{CONTACT_QUESTION}\nexit\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert t("console.banner") in done.stdout
    assert f"{t('console.bot')}{CONTACT_ANSWER_START}" in done.stdout
    assert "出典" in done.stdout
    assert t("console.bye") in done.stdout
