"""Shared by the announcement and event tests: a small directory, the real `dxlab` CLI run in a thread
(so the fake Slack on the test's loop keeps answering), and what the fake Slack was asked to post."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections import Counter
from typing import Any

from bot.cli import main
from knowledge.vocabulary import vocabulary
from tests.fake_slack import FakeSlack

DIRECTORY = """
secretariat: {slack_channel: C0SEC}
labs:
  - {id: nagano, name: 長野県, prefecture: 長野県, round: 1, slack_channel: C0LAB001}
  - {id: gifu, name: 岐阜県, prefecture: 岐阜県, round: 3, slack_channel: C0LAB002}
  - {id: osaka, name: 大阪府, prefecture: 大阪府, round: 3, slack_channel: C0LAB003}
  - {id: tsuyama, name: 岡山県津山市, prefecture: 岡山県, round: 1}
people:
  - {id: sec, name: 事務局 太郎, roles: [secretariat], slack_user: U0SEC}
  - {id: nagano-co, name: 長野 花子, prefecture: 長野県, roles: [coordinator], labs: [nagano], slack_user: U0NC}
  - {id: gifu-lead, name: 岐阜 一郎, prefecture: 岐阜県, roles: [lead], labs: [gifu], slack_user: U0GL}
  - {id: osaka-co, name: 大阪 次郎, prefecture: 大阪府, roles: [coordinator], labs: [osaka], slack_user: U0OC}
  - {id: nagano-biz, name: 長野 三郎, prefecture: 長野県, roles: [company], labs: [nagano], slack_user: U0NB}
  - {id: expert, name: 専門 四郎, prefecture: 長野県, roles: [expert], slack_user: U0EX}
experts:
  - {person: expert, kind: ITコーディネータ, prefectures: [長野県], topics: [DX]}
"""


async def dxlab(*args: str) -> tuple[int, Any]:
    """Run `dxlab ARGS` in a worker thread; (exit status, its JSON output when --json, else its text)."""
    buffer = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(buffer):
            return main(list(args))
    code = await asyncio.to_thread(run)
    text = buffer.getvalue().strip()
    if "--json" in args and text:
        return code, json.loads(text.splitlines()[-1])
    return code, text


def posted_keys(fake: FakeSlack) -> Counter[str]:
    return Counter(p["metadata"]["event_payload"]["key"] for p in fake.calls_to("chat.postMessage"))


def keys_like(fake: FakeSlack, prefix: str) -> list[str]:
    return sorted(k for k in posted_keys(fake) if k.startswith(prefix))


def many_labs(count: int) -> str:
    """A directory file of `count` labs across every prefecture, lab N in Slack channel C{N:07d}."""
    prefectures = vocabulary().prefectures
    rows = [f"  - {{id: lab{n:03d}, name: ラボ{n}, prefecture: {prefectures[n % len(prefectures)]}, "
            f"round: {n % 3 + 1}, slack_channel: C{n:07d}}}" for n in range(count)]
    return "labs:\n" + "\n".join(rows) + "\n"
