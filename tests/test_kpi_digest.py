"""The weekly KPI digest carries its chart: a PNG uploaded into the secretariat's Slack channel through the
fake Slack Web API (files.getUploadURLExternal → the upload URL → files.completeUploadExternal), and an
inline image to the fake Bot Framework connector; once, whatever fails on the way and is retried."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import Core
from bot.cli import main
from bot.db.models import OutboxMessage
from handlers.address import Address
from handlers.calendar import BusinessCalendar
from handlers.directory.secretariat import TEAMS_KV_KEY
from handlers.kpi.cycle import overdue_png
from tests.consult_kit import Connector, connector
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.kpi_world import INDICATORS, PNG_SIGNATURE, at, bars_in, run, write

pytest_plugins = ["tests.kpi_world"]  # the kpi_settings and core fixtures
__all__ = ["connector"]

SEC_TEAMS = "19:secretariat@thread.tacv2"
DIGEST_AT = "2030-07-22T09:30"  # the first Monday after the late grade (7/19): both labs reported nothing


async def up_to_the_digest(core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           teams_url: str | None = None) -> None:
    """Indicators imported, the secretariat also on Teams (when `teams_url`), and the quarter run up to the
    last grade of the chase, so the next run's only sends are the digest's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DXLAB_DATABASE_URL", core.settings.database_url)
    assert main(["kpi", "import", write(tmp_path, "kpi.yaml", INDICATORS), "--now", "2030-05-10T10:00"]) == 0
    if teams_url:
        with core.units() as uow:
            uow.kv.put(TEAMS_KV_KEY, Address("teams", SEC_TEAMS, workspace="tenant-1", service_url=teams_url).to_json())
            uow.commit()
    for when in ("2030-07-01T08:00", "2030-07-16T10:00", "2030-07-19T09:00"):
        await run(core, when)


def the_chart(core: Core) -> bytes:
    """What the admin page's /admin/kpi/overdue.png draws at the digest's instant."""
    with core.units() as uow:
        return overdue_png(uow, BusinessCalendar(), at(DIGEST_AT))


def digest_rows(core: Core) -> dict[str, str]:
    with core.db.session() as session:
        return {r.platform: r.state for r in session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like("kpi:digest:2030-07-22:%")))}


async def test_the_digest_carries_its_chart_to_slack_and_teams(
        core: Core, fake_slack: FakeSlack, connector: Connector, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    await up_to_the_digest(core, tmp_path, monkeypatch, connector.url)
    posts_before = len(fake_slack.calls_to("chat.postMessage"))
    for key, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                       "SLACK_API_URL": fake_slack.api_url, "DXLAB_SEND_RATE": "0"}.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["jobs", "run-due", "--now", DIGEST_AT, "--json"]) == 0
    assert digest_rows(core) == {"slack": "sent", "teams": "sent"}

    # Slack: the text in the secretariat's channel, then its chart beside it, uploaded once.
    (text,) = fake_slack.calls_to("chat.postMessage")[posts_before:]
    assert text["channel"] == "C0SEC" and "塩尻市: FY2030-Q1" in text["text"] and "津山市: FY2030-Q1" in text["text"]
    (asked,) = fake_slack.calls_to("files.getUploadURLExternal")
    (shared,) = fake_slack.shared
    png = shared["data"]
    assert (shared["channel"], shared["thread_ts"]) == ("C0SEC", None)
    assert int(asked["length"]) == len(png) and shared["name"].startswith("kpi-overdue-2030-07-22-")
    assert shared["title"] == "KPI未報告のラボ(7月22日(月)時点・2ラボ)"
    assert png.startswith(PNG_SIGNATURE) and Image.open(io.BytesIO(png)).format == "PNG"
    assert bars_in(png) == 2  # 塩尻 and 津山
    assert png == the_chart(core)  # the admin page's chart, drawn by the same function

    # Teams: the card and the same PNG inline, as a data URL.
    (activity,) = [a for c, a in connector.posted if c == SEC_TEAMS]
    card, image = activity["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert image["contentType"] == "image/png" and image["name"] == "kpi-overdue-2030-07-22.png"
    scheme, _, data = image["contentUrl"].partition(",")
    assert scheme == "data:image/png;base64" and base64.b64decode(data) == png


@pytest.mark.parametrize(("method", "fault"), [
    ("chat.postMessage", "drop"),  # the text posted, the answer lost: the file not uploaded yet
    ("files.getUploadURLExternal", "500"),  # the text posted, the upload failed at its first step
    ("files.getUploadURLExternal", "429:0"),  # … or was rate limited: never a second copy of the text
    ("upload", "500"),  # the bytes refused by the upload URL
    ("files.completeUploadExternal", "drop"),  # the file shared, the answer lost
])
async def test_a_retried_digest_posts_and_uploads_once(
        core: Core, fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        method: str, fault: str) -> None:
    await up_to_the_digest(core, tmp_path, monkeypatch)
    posts_before = len(fake_slack.calls_to("chat.postMessage"))
    fake_slack.faults[method] = [fault]
    first = await run(core, DIGEST_AT)
    assert first["outbox"]["retried"] == 1 and digest_rows(core) == {"slack": "pending"}  # type: ignore[index]
    assert fake_slack.faults[method] == []
    await run(core, "2030-07-22T09:45")  # the retry: an unknown outcome, looked up first
    assert digest_rows(core) == {"slack": "sent"}
    assert [c["channel"] for c in fake_slack.calls_to("chat.postMessage")[posts_before:]] == ["C0SEC"]
    (shared,) = fake_slack.shared
    assert shared["channel"] == "C0SEC" and shared["data"] == the_chart(core)
