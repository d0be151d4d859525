"""Slack acknowledgement under load: 200 concurrent signed events against `dxlab serve`.

The server runs as its own process (the real CLI) on 127.0.0.1, talking to a fake Slack Web API
in this process. Figures: time to HTTP 200 for each event (p50/p99/max), time until all 200
answers were posted, and the server's resident memory before and after.
The same burst then goes to a bare bolt AsyncApp (benchmarks/bare_bolt.py, a listener that only acks).
Targets: p99 acknowledgement ≤ 300 ms and ≤ 2× bare bolt's p99 (exit 1 otherwise).
Run: `python -m benchmarks.bench_slack` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from knowledge.schema import load_knowledge
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, event_envelope, json_request, mention

EVENTS = 200
TARGET_P99_MS = 300
TARGET_RATIO = 2.0  # our p99 against a bare bolt app's under the same load
START_TIMEOUT = 60.0
ANSWER_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def questions(n: int) -> list[str]:
    pool = [q for entry in load_knowledge().entries for q in entry.questions]
    return [pool[i % len(pool)] for i in range(n)]


def start_server(port: int, fake: FakeSlack, db_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "DXLAB_"))}
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url,
            "DXLAB_DATABASE_URL": f"sqlite:///{db_dir / 'bench.db'}", "DXLAB_KB_WATCH": "false",
            "DXLAB_WEBCHAT": "off", "DXLAB_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=db_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_healthy(http: aiohttp.ClientSession, url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


async def acknowledge_time(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - start


def percentile(ms: list[float], fraction: float) -> float:
    return sorted(ms)[max(int(len(ms) * fraction) - 1, 0)]


async def burst(http: aiohttp.ClientSession, url: str, tag: str) -> tuple[list[float], float]:
    """EVENTS signed mentions at once: each one's time to HTTP 200 (ms), and the time until all were acked."""
    requests = [json_request(event_envelope(
        mention(q, ts=f"1700001000.{n:06d}", channel=f"C{n % 7:07d}", user=f"U{n:07d}"), f"Ev{tag}{n}"))
        for n, q in enumerate(questions(EVENTS))]
    start = time.perf_counter()
    acks = await asyncio.gather(*(acknowledge_time(http, url, body, headers) for body, headers in requests))
    return [a * 1000 for a in acks], time.perf_counter() - start


def start_bare_bolt(port: int, fake: FakeSlack) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.bare_bolt", str(port), fake.api_url],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def bare_bolt_figures(fake: FakeSlack) -> list[float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_bare_bolt(port, fake)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await wait_healthy(http, url, server)
            await acknowledge_time(http, url, *json_request(event_envelope(mention("応募資格は?"), "EvBareWarm")))
            ms, _ = await burst(http, url, "Bare")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return ms


async def run() -> int:
    fake = await FakeSlack().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, fake, Path(tmp))
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                await wait_healthy(http, url, server)
                # One event first: the first answer's lazy set-up is a start-up cost.
                await acknowledge_time(http, url, *json_request(event_envelope(mention("応募資格は?"), "EvWarm")))
                await fake.wait_for("chat.postMessage", 1, ANSWER_TIMEOUT)
                before = memory_kib(server.pid)
                start = time.perf_counter()
                ms, all_acked = await burst(http, url, "Bench")
                # Every mention gets one reply: public, or private (ephemeral) when the bot asks back.
                await fake._until(lambda: len(fake.calls_to("chat.postMessage"))
                                  + len(fake.calls_to("chat.postEphemeral")) >= EVENTS + 1, ANSWER_TIMEOUT)
                all_answered = time.perf_counter() - start
                after = memory_kib(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    bare = await bare_bolt_figures(fake)
    await fake.close()

    p99, bare_p99 = percentile(ms, 0.99), percentile(bare, 0.99)
    ratio = p99 / bare_p99
    print(f"bench_slack: {EVENTS} concurrent signed app_mention events (127.0.0.1, fake Slack API)")
    print(f"  dxlab serve  time to HTTP 200: p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
          f"max {max(ms):.1f} ms   (target p99 ≤ {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'})")
    print(f"  bare bolt    time to HTTP 200: p50 {statistics.median(bare):.1f} ms, p99 {bare_p99:.1f} ms, "
          f"max {max(bare):.1f} ms   (AsyncApp on aiohttp, a listener that only acks)")
    print(f"  ratio (p99)  : {ratio:.2f}× bare bolt (p50 {statistics.median(ms) / statistics.median(bare):.2f}×)"
          f"   (target ≤ {TARGET_RATIO}×: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    print(f"  all {EVENTS} acknowledged after {all_acked:.2f} s; "
          f"all {EVENTS} answers posted after {all_answered:.2f} s")
    print(f"  server memory: VmRSS {before['VmRSS'] / 1024:.1f} MiB before, {after['VmRSS'] / 1024:.1f} MiB "
          f"after (peak VmHWM {after['VmHWM'] / 1024:.1f} MiB)")
    return 0 if p99 <= TARGET_P99_MS and ratio <= TARGET_RATIO else 1


def main() -> int:
    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
