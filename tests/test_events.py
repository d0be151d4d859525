"""Exchange events end to end: `dxlab events import`, 参加/不参加/未定 presses through the dispatcher (capacity,
waitlist, promotion), reminders by `dxlab jobs run-due --now` honouring quiet hours, edit and cancel notices,
the .ics file served and parsed back, the chat question about the next event, attendance and the survey."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import icalendar
import pytest
from aiohttp import web

from bot.app import Core
from bot.web.events_ics import ics_routes
from handlers.address import Address
from handlers.messages import Action, Inbound, Reply, Submission
from tests.conftest import serve_on_loopback
from tests.events_helpers import dxlab, keys_like
from tests.fake_slack import FakeSlack

pytest_plugins = ["tests.events_fixtures"]

TOKYO = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2031, 6, 10, 7, 30, tzinfo=TOKYO)  # a Tuesday, before quiet hours end (08:00)
EVENTS = """
events:
  - title: 朝活DXミートアップ(中部)
    start: 2031-06-10 07:30
    end: 2031-06-10 09:00
    venue: 長野市生涯学習センター
    online_url: https://meet.example.jp/dx
    organiser: 地域DX推進ラボ事務局
    audience: region:中部
    capacity: 2
    rsvp_deadline: 2031-06-08 17:00
    description: 中部のラボ同士で事例を持ち寄ります。
    message: 中部ブロックのラボの皆さまへ
  - title: 近畿ブロック交流会
    start: 2031-06-20 14:00
    end: 2031-06-20 17:00
    venue: 大阪市中央公会堂
    organiser: 地域DX推進ラボ事務局
    audience: region:近畿
"""
NC, GL, NB = (Address("slack", "C0LAB001", "U0NC"), Address("slack", "C0LAB002", "U0GL"),
              Address("slack", "C0LAB001", "U0NB"))


@pytest.fixture
async def imported(core: Core, tmp_path: Path) -> Core:
    path = tmp_path / "events.yaml"
    path.write_text(EVENTS, encoding="utf-8")
    code, result = await dxlab("events", "import", str(path), "--json")
    assert code == 0 and [(r["event"], r["recipients"]) for r in result] == [(1, 2), (2, 1)]
    code, again = await dxlab("events", "import", str(path), "--json")  # the same file again creates nothing
    assert [r["created"] for r in again] == [False, False]
    core.dispatcher.clock = lambda: dt.datetime(2031, 6, 1, 10, 0, tzinfo=TOKYO)
    return core


async def press(core: Core, who: Address, answer: str, event: int = 1) -> Reply:
    reply = await core.dispatcher.action(Action(who, "event.rsvp", f"{event}:{answer}"))
    assert reply is not None
    return reply


async def test_invitation_rsvp_capacity_waitlist_and_promotion(imported: Core, fake_slack: FakeSlack) -> None:
    await dxlab("jobs", "run-due", "--now", "2031-06-01T10:00:00+09:00")
    invitations = {p["channel"]: p for p in fake_slack.calls_to("chat.postMessage")
                   if p["metadata"]["event_payload"]["key"].startswith("announce:1:")}
    assert set(invitations) == {"C0LAB001", "C0LAB002"}  # region:中部 only (event 2 went to 近畿)
    text = invitations["C0LAB001"]["text"]
    assert "中部ブロックのラボの皆さまへ" in text and "2031年6月10日(火) 07:30〜09:00" in text
    assert "https://dxlab.example.jp/events/1.ics" in text
    assert "参加" in str(invitations["C0LAB001"]["blocks"])
    assert "参加で受け付けました" in (await press(imported, NC, "yes")).text
    assert "現在の参加予定: 2名/2" in (await press(imported, GL, "yes")).text
    waiting = (await press(imported, NB, "yes")).text
    assert "キャンセル待ち(1番目)" in waiting
    assert "キャンセル待ち(1番目)" in (await press(imported, NB, "yes")).text  # pressing again keeps the place
    assert "未定" in (await press(imported, GL, "maybe")).text  # a place freed: the waitlist moves up
    _, report = await dxlab("events", "report", "1", "--json")
    assert (report["going"], report["waitlisted"], report["answered_maybe"]) == (2, 0, 1)
    assert {p["person"]: p["status"] for p in report["people"]} == {"nagano-co": "going", "gifu-lead": "-",
                                                                       "nagano-biz": "going"}
    await dxlab("jobs", "run-due", "--now", "2031-06-01T10:01:00+09:00")  # a Sunday: DMs wait
    assert keys_like(fake_slack, "event:1:promoted:") == []
    await dxlab("jobs", "run-due", "--now", "2031-06-02T08:00:00+09:00")  # Monday, quiet hours over
    (promoted,) = [p for p in fake_slack.calls_to("chat.postMessage")
                   if p["metadata"]["event_payload"]["key"].startswith("event:1:promoted:nagano-biz")]
    assert promoted["channel"] == "D0NB" and "繰り上がりました" in promoted["text"]
    assert "キャンセル待ち(1番目)" in (await press(imported, GL, "yes")).text  # full again: GL waits now
    imported.dispatcher.clock = lambda: dt.datetime(2031, 6, 8, 17, 1, tzinfo=TOKYO)
    assert "締切" in (await press(imported, NC, "no")).text  # after the RSVP deadline nothing changes
    _code, report = await dxlab("events", "report", "1", "--json")
    assert report["going"] == 2
    _, report = await dxlab("announce", "report", "1", "--json")
    assert (report["sent"], report["acknowledged"]) == (2, 2)  # an answer counts as having read it


async def test_reminders_honour_quiet_hours_unless_the_event_is_sooner(imported: Core, fake_slack: FakeSlack) -> None:
    await press(imported, NC, "yes")
    await press(imported, GL, "yes")
    await press(imported, NB, "yes")  # waitlisted: no reminders
    await dxlab("jobs", "run-due", "--now", "2031-06-03T07:30:00+09:00")  # 7 days before, in quiet hours
    assert keys_like(fake_slack, "event:1:remind:") == []
    await dxlab("jobs", "run-due", "--now", "2031-06-03T08:00:00+09:00")  # quiet hours over
    assert keys_like(fake_slack, "event:1:remind:") == ["event:1:remind:v1:7d:gifu-lead",
                                                        "event:1:remind:v1:7d:nagano-co"]
    await dxlab("jobs", "run-due", "--now", "2031-06-09T07:30:00+09:00")
    assert len(keys_like(fake_slack, "event:1:remind:v1:1d")) == 0
    await dxlab("jobs", "run-due", "--now", "2031-06-09T08:00:00+09:00")
    assert len(keys_like(fake_slack, "event:1:remind:v1:1d")) == 2
    await dxlab("jobs", "run-due", "--now", "2031-06-10T06:30:00+09:00")  # quiet, but the event comes first
    assert keys_like(fake_slack, "event:1:remind:v1:1h") == ["event:1:remind:v1:1h:gifu-lead",
                                                             "event:1:remind:v1:1h:nagano-co"]
    reminder = next(p for p in fake_slack.calls_to("chat.postMessage")
                    if p["metadata"]["event_payload"]["key"] == "event:1:remind:v1:1h:nagano-co")
    assert reminder["channel"] == "D0NC" and "リマインド: 朝活DXミートアップ(中部)" in reminder["text"]
    await dxlab("jobs", "run-due", "--now", "2031-06-10T09:00:00+09:00")
    assert len(keys_like(fake_slack, "event:1:remind:")) == 6  # nothing twice


async def test_edit_and_cancel_tell_everyone_who_answered(imported: Core, fake_slack: FakeSlack) -> None:
    await press(imported, NC, "yes")
    await press(imported, GL, "no")
    await press(imported, NB, "maybe")
    code, edited = await dxlab("events", "edit", "1", "--start", "2031-06-17T10:00", "--end", "2031-06-17T12:00",
                               "--venue", "松本市中央公民館", "--json")
    assert code == 0 and (edited["version"], edited["notified"]) == (2, 3)
    await dxlab("jobs", "run-due", "--now", "2031-06-02T10:00:00+09:00")
    edits = [p for p in fake_slack.calls_to("chat.postMessage")
             if p["metadata"]["event_payload"]["key"].startswith("event:1:edit:v2:")]
    assert sorted(p["channel"] for p in edits) == ["D0GL", "D0NB", "D0NC"]
    assert all("2031年6月17日(火) 10:00〜12:00" in p["text"] and "松本市中央公民館" in p["text"] for p in edits)
    # the old reminders are gone; the new ones follow the new time
    await dxlab("jobs", "run-due", "--now", "2031-06-09T10:00:00+09:00")  # 1 day before the OLD date
    assert keys_like(fake_slack, "event:1:remind:v1") == []
    await dxlab("jobs", "run-due", "--now", "2031-06-10T10:00:00+09:00")  # 7 days before the new date
    assert keys_like(fake_slack, "event:1:remind:") == ["event:1:remind:v2:7d:nagano-co"]
    code, cancelled = await dxlab("events", "cancel", "1", "--reason", "会場の都合", "--json")
    assert cancelled["notified"] == 3
    await dxlab("jobs", "run-due", "--now", "2031-06-16T10:00:00+09:00")  # 1 day before: nothing now
    cancels = [p for p in fake_slack.calls_to("chat.postMessage")
               if p["metadata"]["event_payload"]["key"].startswith("event:1:cancel:")]
    assert len(cancels) == 3 and all("中止" in p["text"] and "会場の都合" in p["text"] for p in cancels)
    assert keys_like(fake_slack, "event:1:remind:v2:1d") == []
    assert "中止" in (await press(imported, NC, "yes")).text


@pytest.fixture
async def served(imported: Core) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(ics_routes(imported.units))
    runner, url = await serve_on_loopback(app)
    yield url
    await runner.cleanup()


async def test_ics_parses_back_with_tokyo_times(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served}/events/1.ics") as response:
            assert response.status == 200 and response.content_type == "text/calendar"
            body = await response.read()
        async with http.get(f"{served}/events/99.ics") as missing:
            assert missing.status == 404
        async with http.get(f"{served}/events/x.ics") as bad:
            assert bad.status == 404
    assert b"\r\n" in body  # RFC 5545 line breaks
    cal = icalendar.Calendar.from_ical(body)
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Asia/Tokyo"
    (event,) = cal.walk("VEVENT")
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == START and start.utcoffset() == dt.timedelta(hours=9)
    assert str(event["DTSTART"].params["TZID"]) == "Asia/Tokyo"
    assert end == dt.datetime(2031, 6, 10, 9, 0, tzinfo=TOKYO)
    assert str(event["SUMMARY"]) == "朝活DXミートアップ(中部)" and str(event["LOCATION"]) == "長野市生涯学習センター"
    assert str(event["UID"]) == "event-1@dxlab-bot" and str(event["STATUS"]) == "CONFIRMED"


async def test_chat_question_about_the_next_event(imported: Core) -> None:
    nagano = await imported.dispatcher.message(Inbound(Address("slack", "D0NC", "U0NC"), "次の交流会はいつ?"))
    assert nagano is not None and nagano.title == "次のイベント"
    assert "朝活DXミートアップ(中部)" in nagano.text and "近畿" not in nagano.text
    assert "2031年6月10日(火) 07:30〜09:00" in nagano.text and nagano.buttons[0].value == "1:yes"
    osaka = await imported.dispatcher.message(Inbound(Address("slack", "D0OC", "U0OC"), "今月のイベントは?"))
    assert osaka is not None and osaka.title == "今月のイベント" and "近畿ブロック交流会" in osaka.text
    assert "朝活" not in osaka.text
    listing = await imported.dispatcher.message(Inbound(Address("slack", "C0SEC", "U0SEC"), "イベント", True))
    assert listing is not None and "朝活" in listing.text and "近畿ブロック交流会" in listing.text
    imported.dispatcher.clock = lambda: dt.datetime(2031, 7, 1, 9, 0, tzinfo=TOKYO)
    later = await imported.dispatcher.message(Inbound(Address("slack", "D0NC", "U0NC"), "次の交流会はいつ?"))
    assert later is not None and "予定されているイベントは、今のところありません" in later.text


async def test_attendance_survey_and_summary(imported: Core, fake_slack: FakeSlack) -> None:
    await press(imported, NC, "yes")
    await press(imported, GL, "yes")
    refused = await imported.dispatcher.message(Inbound(NC, "出席 1 nagano-co", True))
    assert refused is not None and "事務局" in refused.text  # not their lab's event: the secretariat's
    done = await imported.dispatcher.message(Inbound(Address("slack", "C0SEC", "U0SEC"), "出席 1 <@U0NC>", True))
    assert done is not None and "出席 1名、アンケート送付 1件" in done.text
    await dxlab("jobs", "run-due", "--now", "2031-06-10T10:00:00+09:00")
    (survey,) = [p for p in fake_slack.calls_to("chat.postMessage")
                 if p["metadata"]["event_payload"]["key"] == "event:1:survey:nagano-co"]
    assert survey["channel"] == "D0NC"

    def form(who: Address, score: str) -> Submission:
        return Submission(who, "event.survey", {"score": score, "comment": "事例が参考になりました"}, context="1")
    assert "ありがとう" in (await imported.dispatcher.submission(form(Address("slack", "D0NC", "U0NC"), "5"))).text
    assert "出席された方" in (await imported.dispatcher.submission(form(Address("slack", "D0GL", "U0GL"), "4"))).text
    assert "1〜5" in (await imported.dispatcher.submission(form(Address("slack", "D0NC", "U0NC"), "9"))).text
    _code, report = await dxlab("events", "report", "1", "--json")
    assert (report["attended"], report["no_show"], report["survey_responses"], report["survey_average"]) == (1, 1, 1, 5)
    assert report["comments"] == ["事例が参考になりました"]
    _, csv_text = await dxlab("events", "report", "1", "--csv")
    lines = csv_text.splitlines()
    assert lines[0] == "person,name,lab_id,answer,status,answered_at,attended,score,comment"
    row = next(line for line in lines if line.startswith("nagano-co,"))
    assert row.startswith("nagano-co,長野 花子,nagano,yes,going,") and row.endswith("True,5,事例が参考になりました")
    assert (await dxlab("events", "attend", "1", "stranger"))[0] == 1


async def test_a_lab_cancels_its_own_event_but_not_anothers(core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text("events:\n"
                    "  - {title: 長野ラボ勉強会, start: 2031-06-12 15:00, end: 2031-06-12 17:00, venue: 長野市,"
                    " organiser: 長野ラボ, organiser_lab: nagano, audience: 'lab:nagano'}\n"
                    "  - {title: 全国交流会, start: 2031-06-20 15:00, end: 2031-06-20 17:00, venue: 東京都,"
                    " organiser: 事務局, audience: all}\n", encoding="utf-8")
    assert (await dxlab("events", "import", str(path)))[0] == 0
    await press(core, NB, "yes")
    other = await core.dispatcher.message(Inbound(NC, "イベント中止 2 都合により", True))
    assert other is not None and "ラボ" in other.text and "中止しました" not in other.text
    own = await core.dispatcher.message(Inbound(NC, "イベント中止 1 講師の都合により", True))
    assert own is not None and "「長野ラボ勉強会」を中止しました。回答した 1名" in own.text
    _, listed = await dxlab("events", "list", "--all", "--json")
    assert [(e["title"], e["state"]) for e in listed] == [("長野ラボ勉強会", "cancelled"), ("全国交流会", "open")]
