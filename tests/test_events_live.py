"""The live count on an invitation, end to end: a 参加 press through the real bolt app edits that channel's
invitation at once (chat.update on the fake Slack Web API), and a press on the Adaptive Card in a Teams
channel, posted to the real /api/messages, replaces that channel's invitation (a PUT of its activity id on
the fake Bot Framework connector); the other channels' copies are refreshed once per window by
`dxlab jobs run-due --now`, whatever the burst; a cancelled event's copies lose their buttons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select

from bot.app import Core
from bot.config import Settings
from bot.db.models import OutboxMessage
from bot.directory.service import import_files
from handlers.address import Address
from handlers.messages import Action
from tests.conftest import Running, ServerFactory, settled
from tests.events_helpers import dxlab
from tests.fake_slack import FakeSlack, block_action, form_request
from tests.fake_teams import serving
from tests.test_slack import button, post
from tests.test_teams import AAD_ID, BOT_ID, BOT_NAME, activity, block_texts, card, submit_data
from tests.test_teams_sender import Connector

pytest_plugins = ["tests.events_fixtures"]

TOKYO = ZoneInfo("Asia/Tokyo")
T = dt.datetime(2031, 6, 2, 10, 0, tzinfo=TOKYO)  # a window (5 minutes) starts here
EVENTS = """
events:
  - title: 中部DX交流会
    start: 2031-06-20 14:00
    end: 2031-06-20 17:00
    venue: 名古屋市中小企業振興会館
    organiser: 地域DX推進ラボ事務局
    audience: region:中部
    capacity: 2
    dm: true
"""

TEAMS_CHANNEL = "19:lab-ueda@thread.tacv2"  # a lab that works in Teams: its announcement channel in its team
TEAMS_LAB = f"""
labs:
  - {{id: ueda, name: 長野県上田市, prefecture: 長野県, round: 2, teams_conversation: "{TEAMS_CHANNEL}"}}
people:
  - {{id: ueda-lead, name: 上田 五郎, prefecture: 長野県, roles: [lead], labs: [ueda], teams_user: "{AAD_ID}"}}
"""


async def invite(core: Core, tmp_path: Path, fake_slack: FakeSlack) -> dict[str, dict[str, Any]]:
    """Import the event and send its invitation: the copy posted in each channel (C0LAB001, C0LAB002) and in
    the DMs of the coordinators (D0NC)."""
    path = tmp_path / "events.yaml"
    path.write_text(EVENTS, encoding="utf-8")
    code, _ = await dxlab("events", "import", str(path), "--json")
    assert code == 0
    await dxlab("jobs", "run-due", "--now", T.isoformat())
    core.dispatcher.clock = lambda: T
    return {p["channel"]: p | {"ts": fake_slack.messages_in(p["channel"])[0]["ts"]}
            for p in fake_slack.calls_to("chat.postMessage")}


async def press(core: Core, channel: str, user: str, answer: str, at: dt.datetime) -> None:
    core.dispatcher.clock = lambda: at
    await core.dispatcher.action(Action(Address("slack", channel, user), "event.rsvp", f"1:{answer}"))


def updates(fake_slack: FakeSlack) -> list[dict[str, Any]]:
    return fake_slack.calls_to("chat.update")


async def test_a_press_in_slack_edits_that_channels_invitation_at_once(
        core: Core, settings: Settings, start_server: ServerFactory, http: aiohttp.ClientSession,
        fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    assert "現在の参加予定" not in copies["C0LAB001"]["text"]
    server = await start_server(settings)
    yes = button(copies["C0LAB001"]["blocks"], "event.rsvp")
    body, headers = form_request(block_action(yes["action_id"], yes["value"], fake_slack.response_url(),
                                              channel="C0LAB001", user="U0NC", message_ts=copies["C0LAB001"]["ts"],
                                              thread_ts=None))
    assert await post(http, server, body, headers) == 200
    edited = (await fake_slack.wait_for("chat.update"))[0]
    assert (edited["channel"], edited["ts"]) == ("C0LAB001", copies["C0LAB001"]["ts"])
    assert "現在の参加予定: 1名/2(キャンセル待ち 0名)" in edited["text"]
    assert button(edited["blocks"], "event.rsvp")["value"] == "1:yes"  # the same buttons
    (confirmation,) = await fake_slack.wait_for("response_url")  # the presser still hears privately
    assert "参加で受け付けました" in confirmation["text"] and confirmation["response_type"] == "ephemeral"


async def test_a_burst_of_answers_edits_each_other_channel_once_per_window(
        core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    minute = dt.timedelta(minutes=1)
    await press(core, "C0LAB001", "U0NC", "yes", T)
    await press(core, "C0LAB001", "U0NB", "yes", T + minute)
    await press(core, "C0LAB001", "U0XX", "yes", T + minute)  # full: waitlisted
    await press(core, "C0LAB001", "U0NB", "no", T + 2 * minute)  # U0XX moves up
    await dxlab("jobs", "run-due", "--now", (T + 2 * minute).isoformat())
    (here,) = updates(fake_slack)  # four edits of the pressed copy were pending: only the newest went
    assert (here["channel"], here["ts"]) == ("C0LAB001", copies["C0LAB001"]["ts"])
    assert "2名/2(キャンセル待ち 0名)" in here["text"]
    _, status = await dxlab("outbox", "status", "--json")
    assert status["counts"]["superseded"] == 3
    await dxlab("jobs", "run-due", "--now", (T + 5 * minute).isoformat())  # the window's end: every copy
    refreshed = updates(fake_slack)[1:]
    assert sorted((u["channel"], u["ts"]) for u in refreshed) == sorted((c, copies[c]["ts"]) for c in copies)
    assert all("2名/2(キャンセル待ち 0名)" in u["text"] for u in refreshed)
    await dxlab("jobs", "run-due", "--now", (T + 5 * minute).isoformat())  # the same instant again: nothing
    assert len(updates(fake_slack)) == 1 + len(copies)
    await press(core, "C0LAB002", "U0GL", "maybe", T + 6 * minute)  # the next window
    await press(core, "C0LAB002", "U0GL", "yes", T + 7 * minute)
    await dxlab("jobs", "run-due", "--now", (T + 7 * minute).isoformat())
    await dxlab("jobs", "run-due", "--now", (T + 10 * minute).isoformat())
    later = updates(fake_slack)[1 + len(copies):]
    assert [u["channel"] for u in later[:1]] == ["C0LAB002"]  # at once where pressed, the newest answer only
    assert sorted(u["channel"] for u in later[1:]) == sorted(copies)  # then the window's refresh
    assert all("2名/2(キャンセル待ち 1名)" in u["text"] for u in later)


async def test_a_press_on_ones_own_dm_copy_edits_that_copy(core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    assert set(copies) == {"C0LAB001", "C0LAB002", "D0NC"}
    await press(core, "D0NC", "U0NC", "yes", T)
    await dxlab("jobs", "run-due", "--now", T.isoformat())
    (edited,) = updates(fake_slack)
    assert (edited["channel"], edited["ts"]) == ("D0NC", copies["D0NC"]["ts"]) and "1名/2" in edited["text"]


async def test_a_cancelled_event_shows_so_on_every_copy_without_buttons(
        core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    await press(core, "C0LAB001", "U0NC", "yes", T)
    code, _ = await dxlab("events", "cancel", "1", "--reason", "会場の都合", "--json")
    assert code == 0
    await dxlab("jobs", "run-due", "--now", (T + dt.timedelta(minutes=1)).isoformat())
    cancelled = updates(fake_slack)
    assert sorted(u["channel"] for u in cancelled) == sorted(copies)  # the pressed copy's count edit superseded
    for u in cancelled:
        assert "【中止】" in u["text"] and "中止になりました" in u["text"]
        assert not any(b["type"] == "actions" for b in u["blocks"])
    await dxlab("jobs", "run-due", "--now", (T + dt.timedelta(minutes=5)).isoformat())  # the window's refresh is gone
    assert len(updates(fake_slack)) == len(copies)


async def resend_to_the_unacknowledged(fake_slack: FakeSlack) -> dict[str, str]:
    """`dxlab announce resend 1 --unacknowledged`, delivered: the ts of each 【再送】 copy, by channel."""
    code, found = await dxlab("announce", "resend", "1", "--unacknowledged", "--json")
    assert code == 0 and found["resent"] == 3
    await dxlab("jobs", "run-due", "--now", T.isoformat())
    again = [p for p in fake_slack.calls_to("chat.postMessage") if ":again" in p["metadata"]["event_payload"]["key"]]
    assert all("【再送】" in p["text"] for p in again)
    return {p["channel"]: next(m["ts"] for m in fake_slack.messages_in(p["channel"])
                               if m.get("metadata", {}).get("event_payload", {}).get("key")
                               == p["metadata"]["event_payload"]["key"]) for p in again}


async def test_a_resent_copy_is_edited_with_the_first_and_keeps_its_marker(
        core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    resent = await resend_to_the_unacknowledged(fake_slack)
    assert set(resent) == set(copies) and all(resent[c] != copies[c]["ts"] for c in copies)
    await press(core, "C0LAB001", "U0NC", "yes", T)  # pressed on either message of that channel: both edited
    await dxlab("jobs", "run-due", "--now", T.isoformat())
    here = {u["ts"]: u for u in updates(fake_slack)}
    assert set(here) == {copies["C0LAB001"]["ts"], resent["C0LAB001"]}
    assert all("1名/2(キャンセル待ち 0名)" in u["text"] for u in here.values())
    assert "【再送】" in here[resent["C0LAB001"]]["text"] and "【再送】" not in here[copies["C0LAB001"]["ts"]]["text"]
    assert button(here[resent["C0LAB001"]]["blocks"], "event.rsvp")["value"] == "1:yes"  # its buttons stay
    await dxlab("jobs", "run-due", "--now", (T + dt.timedelta(minutes=5)).isoformat())  # the window's refresh
    refreshed = updates(fake_slack)[2:]
    assert sorted((u["channel"], u["ts"]) for u in refreshed) == sorted(
        [(c, copies[c]["ts"]) for c in copies] + list(resent.items()))
    assert all("1名/2(キャンセル待ち 0名)" in u["text"] for u in refreshed)
    assert sum("【再送】" in u["text"] for u in refreshed) == len(resent)
    await dxlab("jobs", "run-due", "--now", (T + dt.timedelta(minutes=5)).isoformat())  # the same instant: nothing
    assert len(updates(fake_slack)) == 2 + 2 * len(copies)


async def test_a_cancellation_takes_the_buttons_off_the_resent_copies_too(
        core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    copies = await invite(core, tmp_path, fake_slack)
    resent = await resend_to_the_unacknowledged(fake_slack)
    code, _ = await dxlab("events", "cancel", "1", "--json")
    assert code == 0
    at = (T + dt.timedelta(minutes=1)).isoformat()
    await dxlab("jobs", "run-due", "--now", at)
    cancelled = {u["ts"]: u for u in updates(fake_slack)}
    assert set(cancelled) == {copies[c]["ts"] for c in copies} | set(resent.values())
    for u in cancelled.values():
        assert "【中止】" in u["text"] and not any(b["type"] == "actions" for b in u["blocks"])
    assert all("【再送】" in cancelled[ts]["text"] for ts in resent.values())
    await dxlab("jobs", "run-due", "--now", at)  # the same instant again: nothing edited twice
    assert len(updates(fake_slack)) == len(cancelled)


async def post_activity(http: aiohttp.ClientSession, server: Running, body: dict[str, Any]) -> None:
    """Post a Bot Framework activity to the server's /api/messages (emulator mode: no token on loopback)."""
    async with http.post(f"{server.url}/api/messages", json=body) as response:
        assert response.status == 201, await response.text()


def platform_id(core: Core, key: str) -> str | None:
    with core.db.session() as s:
        return s.scalar(select(OutboxMessage.platform_id).where(OutboxMessage.key == key))


async def test_a_press_in_teams_edits_that_conversations_invitation_at_once(
        core: Core, settings: Settings, start_server: ServerFactory, http: aiohttp.ClientSession,
        fake_slack: FakeSlack, tmp_path: Path) -> None:
    plan = import_files(core.units, [("teams.yaml", TEAMS_LAB)], "test")  # beside the Slack labs, also in 中部
    assert not plan.errors, plan.errors
    async with serving(Connector()) as connector:
        server = await start_server(settings)
        # The bot added to the lab's team: the channel's conversation reference is stored (and welcomed).
        await post_activity(http, server, activity(connector.url, kind="conversationUpdate", activity_id="add-1",
                                                   conversation=TEAMS_CHANNEL, conversation_type="channel",
                                                   membersAdded=[{"id": BOT_ID, "name": BOT_NAME}]))
        await invite(core, tmp_path, fake_slack)
        sent = platform_id(core, "announce:1:ueda")
        (invitation,) = [a for c, a in connector.posted if c == TEAMS_CHANNEL and a.get("attachments")]
        yes = {"action": "event.rsvp", "value": "1:yes"}  # the 参加 button's Action.Submit data
        assert sent and yes in submit_data(card(invitation))

        # 参加 pressed on the card: Teams posts the Action.Submit's data as the activity's value, from the
        # thread the card opened in the channel (…;messageid=<the card's activity id>).
        thread = f"{TEAMS_CHANNEL};messageid={sent}"
        server.core.dispatcher.clock = lambda: T  # answered at T; the outbox is sent below, at T as well
        await post_activity(http, server, activity(connector.url, kind="message", activity_id="press-1",
                                                   conversation=thread, conversation_type="channel",
                                                   value=yes, replyToId=sent))
        await settled(server.core, outbox=False)
        await dxlab("jobs", "run-due", "--now", T.isoformat())

        ((where, activity_id, edited),) = connector.updated  # the invitation itself replaced, nothing else
        assert (where, activity_id, edited["id"]) == (TEAMS_CHANNEL, sent, sent)
        assert "現在の参加予定: 1名/2(キャンセル待ち 0名)" in block_texts(card(edited))
        assert submit_data(card(edited)) == submit_data(card(invitation))  # the same buttons
        # The presser hears back where they pressed (Teams has no ephemeral messages: under the card).
        (confirmation,) = [a for c, a in connector.posted if c == thread and a["type"] == "message"]
        assert "参加で受け付けました" in confirmation["text"]
        assert updates(fake_slack) == []  # the Slack channels' copies wait for the window's refresh

        seen = (len(connector.posted), len(connector.updated))
        await dxlab("jobs", "run-due", "--now", T.isoformat())  # the same instant again: nothing more
        assert (len(connector.posted), len(connector.updated)) == seen and updates(fake_slack) == []
