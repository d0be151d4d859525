"""KPI reporting without a platform: validation messages, the 10x confirmation, permission refusals,
the indicator file's file:line errors (all or nothing), `dxlab kpi report`, the admin matrix and charts."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot.app import Core, build_core
from bot.cli import main
from bot.web.admin import admin_routes
from bot.web.kpi_admin import KPI_ASSETS, KPI_PAGE, kpi_page
from handlers.address import Address
from handlers.calendar import BusinessCalendar
from handlers.kpi.charts import chart_png
from handlers.kpi.cycle import overdue, overdue_chart
from handlers.kpi.model import Indicator
from handlers.kpi.validation import Invalid, check
from handlers.messages import Inbound
from knowledge.live import LiveKnowledge
from tests.kpi_world import (
    COMPANY_T,
    COORD_S,
    COORD_T,
    INDICATORS,
    LEAD_S,
    SEC,
    at,
    load_directory,
    press,
    say,
    submit,
    write,
)

MEMBERS = Indicator("shiojiri", "members", "参加企業数", unit="社", type="integer", target=50)
RATE = Indicator("shiojiri", "rate", "DX実施率", unit="%", type="percent")
BUDGET = Indicator("shiojiri", "budget", "事業費", unit="円", type="yen")
SCORE = Indicator("shiojiri", "score", "満足度", type="decimal", minimum=1, maximum=5)
NOTE = Indicator("shiojiri", "note", "主な取り組み", type="text")


@pytest.mark.parametrize(("ind", "raw", "value"), [
    (MEMBERS, "42", "42"), (MEMBERS, "４２社", "42"), (MEMBERS, "1,200", "1200"), (RATE, "12.5%", "12.5"),
    (BUDGET, "120万円", "1200000"), (BUDGET, "3,000円", "3000"), (SCORE, "4.25", "4.25"),
    (NOTE, " 交流会を2回 ", "交流会を2回")])
def test_values_people_type_are_understood(ind: Indicator, raw: str, value: str) -> None:
    assert check(ind, raw).value == value


@pytest.mark.parametrize(("ind", "raw", "message"), [
    (MEMBERS, "", "「参加企業数」の値が入力されていません。"),
    (MEMBERS, "たくさん", "「参加企業数」は数値で入力してください(例: 42社)。"),
    (MEMBERS, "4.5", "「参加企業数」は整数で入力してください(小数は使えません)。"),
    (MEMBERS, "-3", "「参加企業数」は0社以上の値で入力してください。"),
    (MEMBERS, "42人", "「参加企業数」の単位は「社」です(入力された単位: 「人」)。数字だけで入力してください。"),
    (RATE, "120", "「DX実施率」は100%以下の値で入力してください。"),
    (SCORE, "0.5", "「満足度」は1以上の値で入力してください。"),
])
def test_validation_speaks_plain_japanese(ind: Indicator, raw: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        check(ind, raw)
    assert str(caught.value) == message


def test_ten_times_the_last_value_asks_first() -> None:
    assert check(MEMBERS, "119", last=12).confirm is False
    assert check(MEMBERS, "120", last=12).confirm is True
    assert check(MEMBERS, "120", last=None).confirm is False


@pytest.fixture
def core(make_settings, bundled_knowledge: LiveKnowledge) -> Iterator[Core]:  # type: ignore[no-untyped-def]
    built = build_core(make_settings(), bundled_knowledge)
    load_directory(built)
    yield built
    built.close()


@pytest.fixture
def imported(core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Core:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DXLAB_DATABASE_URL", core.settings.database_url)
    assert main(["kpi", "import", write(tmp_path, "kpi.yaml", INDICATORS), "--now", "2030-05-10T10:00"]) == 0
    return core


async def test_a_jump_is_confirmed_before_it_is_stored(imported: Core) -> None:
    core = imported
    await say(core, COORD_S, "kpi 参加企業数 12", "2030-07-02T10:00")
    # Next quarter: 130 is more than ten times 12.
    core.dispatcher.clock = lambda: at("2030-10-02T10:00")
    ask = await say(core, COORD_S, "kpi 参加企業数 130", "2030-10-02T10:00")
    assert "前回(12社)の10倍以上です" in ask.text
    assert [(b.action, b.value) for b in ask.buttons] == [("kpi.confirm", "shiojiri|FY2030-Q2|members|130")]
    status = await say(core, COORD_S, "kpi", "2030-10-02T10:01")
    assert "参加企業数(FY2030-Q2): 受付中" in status.text
    done = await press(core, COORD_S, "kpi.confirm", "shiojiri|FY2030-Q2|members|130", "2030-10-02T10:02")
    assert "・参加企業数: 130社" in done.text


async def test_a_form_with_an_error_stores_nothing(imported: Core) -> None:
    core = imported
    reply = await submit(core, COORD_S, "kpi.report", {"members": "42", "seminars": "三回"}, "shiojiri|FY2030-Q1",
                         "2030-07-02T10:00")
    assert "登録できませんでした" in reply.text and "「セミナー開催数」は数値で入力してください" in reply.text
    status = await say(core, COORD_S, "kpi", "2030-07-02T10:01")
    assert "参加企業数(FY2030-Q1): 受付中" in status.text


async def test_only_the_labs_own_staff_and_the_secretariat(imported: Core) -> None:
    core = imported
    when = "2030-07-02T10:00"
    other = await press(core, COORD_T, "kpi.open", "shiojiri|FY2030-Q1", when)
    assert other.form is None and "ご担当のラボ以外(shiojiri)" in other.text
    sneaky = await submit(core, COORD_T, "kpi.report", {"members": "1"}, "shiojiri|FY2030-Q1", when)
    assert "ご担当のラボ以外" in sneaky.text
    assert "ご担当のラボ以外" in (await say(core, COORD_T, "kpi shiojiri", when)).text
    assert "ご担当のラボ以外" in (await say(core, COORD_T, "kpi shiojiri 参加企業数 5", when)).text
    company = await say(core, COMPANY_T, "kpi 参加企業数 5", when)
    assert "事務局・ラボ代表・コーディネーターの方だけが行えます" in company.text
    stranger = await say(core, "U7777", "kpi 参加企業数 5", when)
    assert "名簿に登録された" in stranger.text
    # A coordinator may not change a target; the lab's lead and the secretariat may.
    assert "この操作は" in (await say(core, COORD_S, "kpi 目標 参加企業数 60", when)).text
    assert "60社" in (await say(core, LEAD_S, "kpi 目標 参加企業数 60", when)).text
    assert "・参加企業数: 7社" in (await say(core, SEC, "kpi tsuyama 参加企業数 7", when)).text
    nothing = await say(core, COORD_T, "kpi", when)
    assert "参加企業数(FY2030-Q1): 報告済み 7" in nothing.text
    with core.units() as uow:
        refused = [e for e in uow.audit.since() if e.outcome == "refused" and e.action.startswith("kpi.")]
        stored = [e for e in uow.audit.since() if e.action == "kpi.report" and e.outcome == "done"]
    assert len(refused) == 7 and [(e.actor, (e.after or {})["value"]) for e in stored] == [("sec", "7")]


async def test_the_question_how_to_report(imported: Core) -> None:
    core = imported
    core.dispatcher.clock = lambda: at("2030-07-02T10:00")
    handler = core.dispatcher.routes.intents["kpi"]
    from handlers.context import Context

    with core.units() as uow:
        ctx = Context(uow, at("2030-07-02T10:00"), core.dispatcher.services, Address("slack", "D0001", user=COORD_S))
        reply = handler(ctx, Inbound(ctx.address, "KPIの報告はどうすればいい?")).reply
    assert reply is not None and "/dxlab kpi 参加企業数 42" in reply.text
    assert [b.action for b in reply.buttons] == ["kpi.open", "kpi.skip"]


def test_import_errors_name_file_and_line_and_import_nothing(core: Core, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DXLAB_DATABASE_URL", core.settings.database_url)
    bad = INDICATORS + ("  - {lab: nowhere, id: x, name: X, type: integer, cadence: quarterly}\n"
                        "  - {lab: shiojiri, id: y, name: Y, type: number, cadence: weekly}\n"
                        "  - {lab: shiojiri, id: z, name: Z, type: integer, cadence: quarterly, from: FY2030-H1}\n")
    path = write(tmp_path, "bad.yaml", bad)
    assert main(["kpi", "import", path]) == 1
    err = capsys.readouterr().err
    assert f"{path}:9: lab 'nowhere' is not in the directory" in err
    assert f"{path}:10: cadence must be one of monthly, quarterly, half, fiscal_year, got 'weekly'" in err
    assert f"{path}:11: from 'FY2030-H1' is not a quarterly period" in err
    assert "3 errors: nothing imported" in err
    csv_text = "lab,id,name,unit,type,target,cadence,due_days\nshiojiri,members,参加企業数,社,integer,50,quarterly,x\n"
    assert main(["kpi", "import", write(tmp_path, "kpi.csv", csv_text)]) == 1
    assert "kpi.csv:2: due_days must be a whole number of days, got 'x'" in capsys.readouterr().err
    with core.units() as uow:
        assert uow.kpi.indicators() == []
    csv_ok = csv_text.replace(",x\n", ",15\n")
    assert main(["kpi", "import", write(tmp_path, "kpi.csv", csv_ok), "--now", "2030-05-10T10:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1


def test_the_secretariat_records_a_value_received_by_phone(imported: Core, capsys: pytest.CaptureFixture[str]) -> None:
    core = imported
    capsys.readouterr()
    assert main(["kpi", "report", "tsuyama", "参加企業数", "9", "--now", "2030-07-03T10:00"]) == 0
    assert main(["kpi", "report", "tsuyama", "rate", "150", "--now", "2030-07-03T10:00"]) == 1
    assert "「DX実施率」は100%以下の値で入力してください。" in capsys.readouterr().err
    assert main(["kpi", "report", "tsuyama", "rate", "35", "--period", "FY2030-Q1"]) == 0
    assert "tsuyama has reported everything for FY2030-Q1" in capsys.readouterr().out
    with core.units() as uow:
        entries = [e for e in uow.audit.since() if e.action == "kpi.report"]
    assert [e.actor.startswith("cli:") for e in entries] == [True, True]
    assert main(["kpi", "status", "--lab", "tsuyama", "--now", "2030-07-03T10:00", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["indicator"], r["state"], r["value"]) for r in rows} == {("members", "reported", "9"),
                                                                       ("rate", "reported", "35")}
    assert main(["kpi", "status", "--period", "FY2030-Q5"]) == 2


async def test_the_admin_matrix_and_the_digest_chart(imported: Core) -> None:
    core = imported
    await say(core, COORD_S, "kpi 参加企業数 42", "2030-07-02T10:00")
    with core.units() as uow:
        html = kpi_page(uow, {"period": "FY2030-Q1", "at": "2030-07-25T10:00"})
        # After the chase's last grade (7/19), both labs still miss indicators: 塩尻 one, 津山 two.
        figure = overdue_chart(uow, BusinessCalendar(), at("2030-07-25T10:00"))
    assert "✓ 報告済み 42 (FY2030-Q1)" in html and "✗ 期限切れ" in html
    with core.units() as uow:  # a quarter later, a lab that never answered is listed for both quarters
        later = overdue(uow, BusinessCalendar(), at("2030-10-25T10:00"))
    assert {(lab, period): [i.key for i in inds] for (lab, period), inds in later.items()} == {
        ("shiojiri", "FY2030-Q1"): ["seminars"], ("shiojiri", "FY2030-Q2"): ["members", "seminars"],
        ("tsuyama", "FY2030-Q1"): ["members", "rate"], ("tsuyama", "FY2030-Q2"): ["members", "rate"]}
    bars = figure.axes[0].patches
    assert len(bars) == 2 and [b.get_height() for b in bars] == [1, 2]
    png = chart_png(figure)
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size == (600, 450)

    app = web.Application()
    app.add_routes(admin_routes(core.units, core.settings, pages=[KPI_PAGE], assets=KPI_ASSETS))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        page = await client.get("/admin/kpi?period=FY2030-Q1")
        assert page.status == 200 and "参加企業数" in await page.text()
        for path in ("/admin/kpi/overdue.png", "/admin/kpi/chart.png?indicator=members&period=FY2030-Q1",
                     "/admin/kpi/trend.png?lab=shiojiri&indicator=members"):
            answer = await client.get(path)
            assert answer.status == 200 and answer.content_type == "image/png"
            assert (await answer.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_chat_lists_indicators_and_skips_with_a_reason(imported: Core) -> None:
    core = imported
    listing = await say(core, COORD_T, "kpi 指標", "2030-07-02T10:00")
    assert "DX実施率(ID: rate/単位: %/型: 割合(%)/目標: 40%(高いほど良い)/周期: 四半期" in listing.text
    assert "理由の入力が必要です" in (await say(core, COORD_T, "kpi 報告なし", "2030-07-02T10:00")).text
    done = await say(core, COORD_T, "kpi 報告なし 担当者が不在のため", "2030-07-02T10:01")
    assert "津山市のFY2030-Q1を「今期は報告なし」として登録しました" in done.text
    status = await say(core, COORD_T, "kpi", "2030-07-02T10:02")
    assert "参加企業数(FY2030-Q1): 報告なし" in status.text and "DX実施率(FY2030-Q1): 報告なし" in status.text


async def test_a_teams_user_is_reached_in_their_personal_chat(imported: Core) -> None:
    from handlers.directory.model import Person
    from handlers.kpi.people import direct

    core = imported
    personal = Address("teams", "a:1personal-chat", user="aad-0042", service_url="https://smba.example/jp/")
    core.dispatcher.clock = lambda: at("2030-07-02T10:00")
    await core.dispatcher.message(Inbound(personal, "kpi 参加企業数 3", is_command=True))
    teams_only = Person("t-teams", "チームズ 太郎", teams_user="aad-0042", roles=("coordinator",), labs=("tsuyama",))
    with core.units() as uow:
        assert direct(uow, teams_only) == personal
        assert direct(uow, Person("nobody", "未接続", teams_user="aad-9999")) is None


async def test_a_forged_or_stale_button_is_answered_politely(imported: Core) -> None:
    core = imported
    for value in ("shiojiri|FY2030-Q9", "shiojiri", "|FY2030-Q1", "shiojiri|FY2030-Q1|x"):
        reply = await press(core, COORD_S, "kpi.open", value, "2030-07-02T10:00")
        assert "このボタンは古くなっています" in reply.text, value
    reply = await press(core, COORD_S, "kpi.confirm", "shiojiri|FY2030-Q1|nothing|3", "2030-07-02T10:00")
    assert "このボタンは古くなっています" in reply.text
