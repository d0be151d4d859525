"""Announcements end to end: the `dxlab announce` CLI, the outbox to the fake Slack Web API, 確認しました
presses through the dispatcher, the delivery report, resends, scheduling and the completion summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.app import Core
from handlers.address import Address
from handlers.events.audience import AudienceError, parse, recipients
from handlers.messages import Action
from tests.events_helpers import dxlab, keys_like, posted_keys
from tests.fake_slack import FakeSlack

pytest_plugins = ["tests.events_fixtures"]  # the settings and core fixtures


def targets(core: Core, spec: str, dm: bool = False) -> list[str]:
    with core.units() as uow:
        return [r.target for r in recipients(parse(spec), uow.directory, dm)]


async def test_targeting_by_region_prefecture_round_lab_and_role(core: Core) -> None:
    assert targets(core, "all") == ["gifu", "nagano", "osaka", "tsuyama"]
    assert targets(core, "region:中部") == ["gifu", "nagano"]
    assert targets(core, "prefecture:大阪府,岡山県") == ["osaka", "tsuyama"]
    assert targets(core, "round:3") == ["gifu", "osaka"]
    assert targets(core, "region:中部;round:3") == ["gifu"]
    assert targets(core, "lab:nagano,osaka") == ["nagano", "osaka"]
    assert targets(core, "role:coordinator") == ["dm:nagano-co", "dm:osaka-co"]
    assert targets(core, "region:中部;role:coordinator,lead") == ["dm:gifu-lead", "dm:nagano-co"]
    assert targets(core, "role:expert") == ["dm:expert"]
    assert targets(core, "region:近畿", dm=True) == ["dm:osaka-co", "osaka"]
    for bad in ("region:火星", "prefecture:東京", "round:three", "team:x", "role:mayor", ""):
        with pytest.raises(AudienceError):
            parse(bad)


async def test_send_report_acknowledge_and_resend(core: Core, fake_slack: FakeSlack) -> None:
    fake_slack.faults["chat.postMessage"] = ["500"]  # the first post fails, and one attempt is all it gets
    code, sent = await dxlab("announce", "send", "--to", "all", "--title", "公募開始のお知らせ",
                             "--text", "第4弾の公募を開始しました。", "--json")
    assert code == 0 and sent == {"announcement": 1, "recipients": 4}
    await dxlab("jobs", "run-due", "--now", "2031-06-02T10:00:00+09:00")
    code, report = await dxlab("announce", "report", "1", "--json")
    assert (report["recipients"], report["sent"], report["failed"], report["pending"]) == (4, 2, 2, 0)
    reasons = {f["target"]: f["reason"] for f in report["failures"]}
    assert reasons.pop("tsuyama") == "no_channel"  # a lab without a channel in the directory
    ((failed_lab, reason),) = reasons.items()
    assert "500" in reason
    # 確認しました in a lab channel counts for that lab, once; a press elsewhere matches nothing
    ok = [lab for lab in ("nagano", "gifu", "osaka") if lab != failed_lab]
    channel = {"nagano": "C0LAB001", "gifu": "C0LAB002", "osaka": "C0LAB003"}
    press = Action(Address("slack", channel[ok[0]], "U0NB"), "announce.ack", "1")
    assert "記録しました" in (await core.dispatcher.action(press)).text
    await core.dispatcher.action(Action(Address("slack", channel[ok[0]], "U0GL"), "announce.ack", "1"))
    stray = await core.dispatcher.action(Action(Address("slack", "C0OTHER", "U0ZZZ"), "announce.ack", "1"))
    assert "見つかりません" in stray.text
    code, report = await dxlab("announce", "report", "1", "--json")
    assert report["acknowledged"] == 1
    # resend to the failed: the given-up row goes again under its own key (never a second copy)
    code, resent = await dxlab("announce", "resend", "1", "--failed", "--json")
    assert resent["resent"] == 1
    await dxlab("jobs", "run-due", "--now", "2031-06-02T10:05:00+09:00")
    code, report = await dxlab("announce", "report", "1", "--json")
    assert (report["sent"], report["failed"]) == (3, 1)
    assert posted_keys(fake_slack)[f"announce:1:{failed_lab}"] == 1
    # resend to the unacknowledged: the two delivered copies nobody confirmed, marked 【再送】
    code, resent = await dxlab("announce", "resend", "1", "--unacknowledged", "--json")
    assert resent["resent"] == 2
    await dxlab("jobs", "run-due", "--now", "2031-06-02T10:10:00+09:00")
    assert keys_like(fake_slack, "announce:1:") == sorted(
        [f"announce:1:{lab}" for lab in [*ok, failed_lab]]
        + [f"announce:1:{lab}:again1" for lab in [*ok[1:], failed_lab]])
    again = [p for p in fake_slack.calls_to("chat.postMessage") if ":again1" in p["metadata"]["event_payload"]["key"]]
    assert all("【再送】公募開始のお知らせ" in p["text"] for p in again)
    await dxlab("announce", "resend", "1", "--unacknowledged")  # again: a new round, not a duplicate of round 1
    assert posted_keys(fake_slack).most_common(1)[0][1] == 1


async def test_scheduled_cancel_and_completion_summary(core: Core, fake_slack: FakeSlack, tmp_path: Path) -> None:
    notice = tmp_path / "notice.md"
    notice.write_text("# ガイドライン改訂\n\n運営ガイドラインを改訂しました。\n", encoding="utf-8")
    _, first = await dxlab("announce", "send", "--to", "region:中部", "--file", str(notice),
                              "--at", "2031-07-01T10:00", "--json")
    _, second = await dxlab("announce", "send", "--to", "lab:osaka", "--text", "取り消す予定",
                               "--at", "2031-07-01T10:00", "--json")
    assert (first["recipients"], second["recipients"]) == (2, 1)
    _, report = await dxlab("announce", "report", str(first["announcement"]), "--json")
    assert (report["state"], report["pending"], report["title"]) == ("scheduled", 2, "ガイドライン改訂")
    assert (await dxlab("announce", "cancel", str(second["announcement"])))[0] == 0
    assert (await dxlab("announce", "cancel", str(second["announcement"])))[0] == 1  # once only
    await dxlab("jobs", "run-due", "--now", "2031-07-01T09:59:00+09:00")
    assert fake_slack.calls_to("chat.postMessage") == []  # not yet
    await dxlab("jobs", "run-due", "--now", "2031-07-01T10:00:00+09:00")
    assert keys_like(fake_slack, "announce:") == ["announce:1:gifu", "announce:1:nagano"]
    posts = {p["channel"]: p for p in fake_slack.calls_to("chat.postMessage")}
    assert "運営ガイドラインを改訂しました。" in posts["C0LAB001"]["text"]
    assert (await dxlab("announce", "cancel", "1"))[0] == 1  # sent: too late to cancel
    await dxlab("jobs", "run-due", "--now", "2031-07-01T10:02:00+09:00")  # the completion check
    (summary,) = fake_slack.messages_in("C0SEC")
    assert "配信が完了しました: ガイドライン改訂" in summary["text"] and "送信済み 2件" in summary["text"]
    await dxlab("jobs", "run-due", "--now", "2031-07-01T10:10:00+09:00")
    assert len(fake_slack.messages_in("C0SEC")) == 1 and "C0LAB003" not in posts


async def test_chat_compose_preview_confirm_needs_the_secretariat(core: Core, fake_slack: FakeSlack) -> None:
    from handlers.messages import Inbound, Submission

    refused = await core.dispatcher.message(Inbound(Address("slack", "C0LAB001", "U0NC"), "お知らせ", True))
    assert refused is not None and refused.form is None
    opened = await core.dispatcher.message(Inbound(Address("slack", "C0SEC", "U0SEC"), "お知らせ", True))
    assert opened is not None and opened.form is not None and opened.form.id == "announce.compose"
    values = {"audience": "round:3", "title": "交流会のお知らせ", "text": "ぜひご参加ください。", "at": "", "dm": "yes"}
    preview = await core.dispatcher.submission(Submission(Address("slack", "C0SEC", "U0SEC"), "announce.compose",
                                                          values))
    assert preview is not None and "配信先: round:3(3件)" in preview.text  # 2 channels + osaka's coordinator
    assert [b.action for b in preview.buttons] == ["announce.confirm", "announce.discard"]
    assert fake_slack.calls_to("chat.postMessage") == []  # a preview sends nothing
    intruder = await core.dispatcher.action(Action(Address("slack", "C0LAB001", "U0NC"), "announce.confirm", "1"))
    assert "事務局" in intruder.text
    done = await core.dispatcher.action(Action(Address("slack", "C0SEC", "U0SEC"), "announce.confirm", "1"))
    assert "配信を始めました" in done.text
    await dxlab("jobs", "run-due", "--now", (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat())
    assert keys_like(fake_slack, "announce:1:") == ["announce:1:dm:osaka-co", "announce:1:gifu", "announce:1:osaka"]


async def test_cli_refuses_what_it_cannot_do(core: Core, capfd: pytest.CaptureFixture[str]) -> None:
    assert (await dxlab("announce", "send", "--to", "region:火星", "--text", "x"))[0] == 2
    assert "知らない地域ブロック" in capfd.readouterr().err
    assert (await dxlab("announce", "send", "--to", "lab:nowhere", "--text", "x"))[0] == 2
    assert "該当するラボ・関係者がいません" in capfd.readouterr().err
    assert (await dxlab("announce", "send", "--to", "all", "--text", "  "))[0] == 2
    assert (await dxlab("announce", "send", "--to", "all", "--text", "x", "--at", "来週"))[0] == 2
    assert (await dxlab("announce", "report", "42"))[0] == 1
    assert (await dxlab("announce", "resend", "42", "--failed"))[0] == 1
    assert (await dxlab("events", "cancel", "42"))[0] == 1
    with core.units() as uow:
        assert uow.events.announcements() == []  # nothing half-made
