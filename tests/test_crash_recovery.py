"""A crash under load: `dxlab serve` is killed (SIGKILL) in the middle of a burst of mentions, restarted on
the same SQLite database, and Slack redelivers what was not acknowledged. Every acknowledged mention must
be answered exactly once; none twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import aiohttp

from benchmarks.bench_slack import free_port, start_server, wait_healthy
from tests.fake_slack import FakeSlack, event_envelope, json_request, mention

MENTIONS = 120
CONCURRENT = 20
KILL_AFTER = 40  # acknowledgements (and some answers posted)
SPREAD_S = 0.015
POST_DELAY_S = 0.2


def _thread(n: int) -> str:
    return f"1700002000.{n:06d}"


def _request(n: int, retry: int = 0) -> tuple[bytes, dict[str, str]]:
    """Mention n, signed now (a redelivery is signed afresh, with Slack's retry headers)."""
    event = mention(f"応募資格は? ({n})", ts=_thread(n), channel=f"C{n % 5:07d}", user=f"U{n:07d}")
    body, headers = json_request(event_envelope(event, f"EvCrash{n}"))
    return body, headers | ({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"} if retry else {})


async def _send(http: aiohttp.ClientSession, url: str, n: int, retry: int = 0) -> int | None:
    """The HTTP status, or None when the connection failed (the server was gone)."""
    try:
        async with http.post(f"{url}/slack/events", data=_request(n, retry)[0], headers=_request(n, retry)[1],
                             timeout=aiohttp.ClientTimeout(total=10)) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


def _unfinished(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM inbox WHERE state IN ('pending', 'claimed'))"
                            " + (SELECT count(*) FROM outbox WHERE state IN ('pending', 'claimed'))").fetchone()[0]


async def _until_settled(db: Path, server: subprocess.Popen[bytes], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _unfinished(db):
        assert server.poll() is None, f"the server exited with {server.returncode}"
        assert loop.time() < deadline, f"{_unfinished(db)} deliveries or answers still unfinished"
        await asyncio.sleep(0.2)


async def test_acknowledged_mentions_survive_a_kill_and_are_answered_exactly_once(tmp_path: Path) -> None:
    fake = await FakeSlack().start()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            url = f"http://127.0.0.1:{free_port()}"
            servers.append(start_server(int(url.rsplit(":", 1)[1]), fake, tmp_path))
            await wait_healthy(http, url, servers[0])

            # The first answer pays for lazy set-up; after it, answers flow while the burst is acknowledged.
            assert await _send(http, url, 0) == 200
            await fake.wait_for("chat.postMessage", timeout=20)
            acked: set[int] = {0}
            gate = asyncio.Semaphore(CONCURRENT)

            # Answers are slow to post, so some are in flight (posted, not yet recorded as sent) at the kill.
            fake.delays["chat.postMessage"] = POST_DELAY_S

            async def first_delivery(n: int) -> None:
                await asyncio.sleep(n * SPREAD_S)  # a burst over about two seconds, as events arrive
                async with gate:
                    if servers[0].returncode is not None:
                        return  # Slack would get no answer either: not acknowledged
                    if await _send(http, url, n) == 200:
                        acked.add(n)
                        answering = len(fake.calls_to("chat.postMessage")) > 1
                        if len(acked) >= KILL_AFTER and answering and servers[0].poll() is None:
                            servers[0].send_signal(signal.SIGKILL)
                            servers[0].wait()

            await asyncio.gather(*(first_delivery(n) for n in range(1, MENTIONS)))
            assert servers[0].returncode == -signal.SIGKILL
            assert KILL_AFTER <= len(acked) < MENTIONS, len(acked)
            answered_before_restart = len(fake.calls_to("chat.postMessage"))

            url = f"http://127.0.0.1:{free_port()}"
            servers.append(start_server(int(url.rsplit(":", 1)[1]), fake, tmp_path))  # the same database
            await wait_healthy(http, url, servers[1])
            retried = [n for n in range(MENTIONS) if n not in acked]
            statuses = await asyncio.gather(*(_send(http, url, n, retry=1) for n in retried))
            assert set(statuses) == {200}, Counter(statuses)

            await _until_settled(tmp_path / "bench.db", servers[1], timeout=25)
            await asyncio.sleep(0.5)  # room for a late duplicate to show up
    finally:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=20)
        await fake.close()

    per_thread = Counter(str(c.get("thread_ts")) for c in fake.calls_to("chat.postMessage"))
    twice = {t: k for t, k in per_thread.items() if k > 1}
    assert not twice, f"answered more than once: {twice}"
    missing = [n for n in range(MENTIONS) if per_thread[_thread(n)] != 1]
    assert not missing, f"{len(missing)} mentions never answered (of {len(acked)} acknowledged before the kill); " \
                        f"{answered_before_restart} answers had been posted before it"
