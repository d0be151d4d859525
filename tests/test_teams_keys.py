"""Bot Framework signing keys from a key server that stalls: downloads are bounded, other requests unaffected."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.channels import teams_keys
from tests.fake_teams import send_json
from tests.test_teams import (  # noqa: F401  (fixtures)
    APP_ID,
    ISSUER,
    FakeAzureAd,
    Harness,
    StartTeams,
    _jwk,
    _token,
    activity,
    azure_ad,
    connector,
    signing_key,
    start_teams,
)

FAST_S = 1.0


class StallingKeyServer:
    """OpenID metadata and keys from 127.0.0.1 that count downloads; while `stalled`, the metadata
    request hangs (until the server closes)."""

    def __init__(self, jwk: dict) -> None:
        self.downloads = 0
        self.stalled = threading.Event()
        self.closing = threading.Event()
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/openid":
                    keys.downloads += 1
                    if keys.stalled.is_set():
                        keys.closing.wait(60)
                        return
                    body = {"jwks_uri": f"{keys.url}/keys"}
                else:
                    body = {"keys": [jwk]}
                send_json(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key_server(signing_key: rsa.RSAPrivateKey) -> Iterator[StallingKeyServer]:  # noqa: F811
    server = StallingKeyServer(_jwk(signing_key))
    yield server
    server.close()


@pytest.fixture
def quick_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(teams_keys, "FETCH_WAIT_S", 1.5)
    monkeypatch.setattr(teams_keys, "HTTP_TIMEOUT_S", (1.0, 1.5))


@functools.cache
def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _bad_token(service_url: str) -> str:
    """A token with the Bot Framework issuer, naming a key nobody published, signed with another key."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 600}
    return jwt.encode(claims, _other_key(), algorithm="RS256", headers={"kid": f"k-{uuid.uuid4().hex[:8]}"})


async def _timed(h: Harness, body: dict, token: str | None = None) -> tuple[int, float]:
    start = time.monotonic()
    response = await h.client.post("/api/messages", json=body,
                                   headers={"Authorization": f"Bearer {token}"} if token else {})
    return response.status, time.monotonic() - start


def _ping(h: Harness) -> dict:
    return activity(h.connector.url, kind="event", name="ping", conversation="a:keys-chat")


async def _start(start_teams: StartTeams, keys: StallingKeyServer) -> Harness:  # noqa: F811
    return await start_teams({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "secret"}, auth_overrides={
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"{keys.url}/openid", "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER})


async def test_bad_tokens_during_a_stalled_download_share_one_download_and_others_are_unaffected(
        start_teams: StartTeams, key_server: StallingKeyServer, signing_key: rsa.RSAPrivateKey,  # noqa: F811
        azure_ad: FakeAzureAd, quick_limits: None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    h = await _start(start_teams, key_server)
    good = _token(signing_key, h.connector.url)
    assert (await _timed(h, _ping(h), good))[0] == 201  # the keys are in
    assert key_server.downloads == 1

    # Unknown keys do not start a download while the keys are fresh: refused at once, none downloaded.
    results = await asyncio.gather(*(_timed(h, _ping(h), _bad_token(h.connector.url)) for _ in range(50)))
    assert {status for status, _ in results} == {401}
    assert key_server.downloads == 1

    # Now a token naming an unknown key may look again, and the key server stalls.
    monkeypatch.setattr(teams_keys, "UNKNOWN_KEY_REFETCH_S", 0.0)
    key_server.stalled.set()
    bad = [asyncio.create_task(_timed(h, _ping(h), _bad_token(h.connector.url))) for _ in range(50)]
    await asyncio.sleep(0.3)
    assert not any(task.done() for task in bad)  # waiting for the download
    for token, expected in [(good, 201), (None, 401), ("not-a-jwt", 401)]:
        status, elapsed = await _timed(h, _ping(h), token)
        assert (status, elapsed < FAST_S) == (expected, True), (token, status, elapsed)

    results = await asyncio.gather(*bad)
    assert {status for status, _ in results} == {401}
    assert max(elapsed for _, elapsed in results) < teams_keys.FETCH_WAIT_S + FAST_S
    assert key_server.downloads == 2  # fifty tokens, one download

    # After the failure: no new download for a while; unknown keys are refused at once, known ones work.
    status, elapsed = await _timed(h, _ping(h), _bad_token(h.connector.url))
    assert (status, elapsed < FAST_S, key_server.downloads) == (401, True, 2)
    assert (await _timed(h, _ping(h), good))[0] == 201


async def test_without_keys_a_failed_download_refuses_at_once_until_the_retry_time(
        start_teams: StartTeams, key_server: StallingKeyServer, signing_key: rsa.RSAPrivateKey,  # noqa: F811
        azure_ad: FakeAzureAd, quick_limits: None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    h = await _start(start_teams, key_server)
    key_server.stalled.set()
    good = _token(signing_key, h.connector.url)
    status, elapsed = await _timed(h, _ping(h), good)
    assert status == 401 and elapsed < teams_keys.FETCH_WAIT_S + FAST_S
    statuses = [await _timed(h, _ping(h), good) for _ in range(5)]
    assert all(s == 401 and e < FAST_S for s, e in statuses), statuses
    assert key_server.downloads == 1

    key_server.stalled.clear()
    monkeypatch.setattr(teams_keys, "RETRY_AFTER_FAILURE_S", 0.0)  # the retry time has come
    assert (await _timed(h, _ping(h), good))[0] == 201
    assert key_server.downloads == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE_WITH_KEY_SERVER = """
import sys
import bot.channels.teams as teams
plain = teams.adapter_config
keys = {"TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": sys.argv[1], "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": sys.argv[2]}
teams.adapter_config = lambda settings, overrides=None: plain(settings, keys)
from bot.cli import main
sys.argv = ["dxlab", *sys.argv[3:]]
raise SystemExit(main())
"""


async def test_sigterm_with_a_download_stalled_exits_promptly(
        tmp_path: Path, key_server: StallingKeyServer, signing_key: rsa.RSAPrivateKey) -> None:  # noqa: F811
    import aiohttp

    key_server.stalled.set()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "DXLAB_"))}
    env |= {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "secret", "DXLAB_WEBCHAT": "off",
            "DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}", "DXLAB_KB_WATCH": "false",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    server = subprocess.Popen([sys.executable, "-c", SERVE_WITH_KEY_SERVER, f"{key_server.url}/openid", ISSUER,
                               "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                try:
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            body = activity("https://smba.example/", kind="event", name="ping", conversation="a:c")
            pending = [asyncio.create_task(http.post(
                f"{url}/api/messages", json=body,
                headers={"Authorization": f"Bearer {_token(signing_key, 'https://smba.example/')}"}))
                for _ in range(5)]
            deadline = time.monotonic() + 10
            while key_server.downloads == 0:
                if time.monotonic() > deadline:
                    server.terminate()
                    raise AssertionError(server.communicate()[1].decode()[-3000:])
                await asyncio.sleep(0.05)
            server.send_signal(signal.SIGTERM)
            start = time.monotonic()
            code = await asyncio.to_thread(server.wait, 10)
            assert time.monotonic() - start < 10
            assert code == 0, server.stderr.read().decode() if server.stderr else ""
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
