"""The directory file: import (YAML and CSV), checks with file:line errors, export round trips,
idempotent re-import, --prune, identities on Slack and Teams, and the demo directory; on SQLite and
PostgreSQL (when reachable)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from bot.directory.demo import demo_people, load_demo_if_empty
from bot.directory.service import import_files
from handlers.address import Address
from handlers.directory import parse_files, to_csv, to_yaml
from handlers.directory.secretariat import TEAMS_KV_KEY, secretariat_addresses
from tests.pg import pg_database

GOOD = """\
secretariat: {slack_channel: C0SECRET, teams_conversation: null}
labs:
  - {id: shiojiri, name: 塩尻市地域DX推進ラボ, prefecture: 長野県, round: 1, slack_channel: C0LAB001}
  - {id: tsuyama, name: 津山市DX推進ラボ, prefecture: 岡山県, round: 1, selected_on: 2023-04}
people:
  - {id: p-yamada, name: 山田太郎, org: 塩尻市, prefecture: 長野県, industry: 行政,
     slack_user: U0001, teams_user: null, email: null, roles: [coordinator], labs: [shiojiri]}
  - {id: p-sato, name: 佐藤花子, roles: [expert], slack_user: U0002, teams_user: aad-0002}
  - {id: p-suzuki, name: 鈴木一郎, roles: [expert, secretariat], teams_user: aad-0003}
experts:
  - {person: p-sato, kind: ITコーディネータ, prefectures: [長野県], regions: [], national: false,
     industries: [製造業], topics: [生産管理, IoT], capacity: 3, languages: [ja],
     absent_from: 2031-01-05, absent_until: "2031-01-20", substitute: p-suzuki, excluded_orgs: [塩尻市]}
  - {person: p-suzuki, kind: メンター, national: true, topics: [IoT, 新しい話題]}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitsOfWork]:
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'dir.db'}" if request.param == "sqlite" else stack.enter_context(pg_database())
        db = Database(url)
        yield UnitsOfWork(db)
        db.dispose()


def load(units: UnitsOfWork, *files: tuple[str, str], prune: bool = False):  # type: ignore[no-untyped-def]
    return import_files(units, list(files), "test", prune=prune)


def test_import_then_reimport_is_all_unchanged(units: UnitsOfWork) -> None:
    first = load(units, ("d.yaml", GOOD)).summary()
    assert (first["created"], first["errors"]) == (8, [])
    assert [w["message"] for w in first["warnings"]] == [
        "topics: '新しい話題' is not in the shared vocabulary yet (kept)"]
    again = load(units, ("d.yaml", GOOD)).summary()
    assert (again["created"], again["updated"], again["unchanged"], again["removed"]) == (0, 0, 8, 0)


def test_yaml_and_csv_exports_round_trip(units: UnitsOfWork, tmp_path: Path) -> None:
    load(units, ("d.yaml", GOOD))
    with units() as uow:
        stored = uow.directory.snapshot()
    assert stored.labs[0].region == "中部" and stored.experts[0].absent_from == dt.date(2031, 1, 5)
    again = load(units, ("export.yaml", to_yaml(stored))).summary()
    assert (again["unchanged"], again["created"] + again["updated"]) == (8, 0)
    csv_files = list(to_csv(stored).items())
    assert "生産管理;IoT" in dict(csv_files)["experts.csv"]
    fresh = UnitsOfWork(Database(f"sqlite:///{tmp_path / 'fresh.db'}"))
    assert load(fresh, *csv_files).summary()["created"] == 8
    with fresh() as uow:
        assert uow.directory.snapshot() == stored
    fresh.db.dispose()


def test_bad_rows_are_named_with_lines_and_nothing_is_imported(units: UnitsOfWork) -> None:
    bad = GOOD.replace("prefecture: 岡山県", "prefecture: 岡山") \
              .replace("labs: [shiojiri]", "labs: [shiojiri, nowhere]") \
              .replace("slack_user: U0002", "slack_user: U0001") \
              .replace("substitute: p-suzuki", "substitute: p-yamada")
    plan = load(units, ("d.yaml", bad))
    assert sorted(str(e) for e in plan.errors) == sorted([
        "d.yaml:4: prefecture: unknown prefecture '岡山' (write it in full, e.g. 長野県, 東京都, 北海道)",
        "d.yaml:6: p-yamada: lab 'nowhere' does not exist",
        "d.yaml:6: p-yamada: duplicate Slack user id 'U0001'",
        "d.yaml:8: p-sato: duplicate Slack user id 'U0001'",
        "d.yaml:11: p-sato: substitute 'p-yamada' is not an expert",
    ])
    with units() as uow:
        assert uow.directory.is_empty() and uow.audit.since() == []


def test_csv_errors_carry_the_csv_line(units: UnitsOfWork) -> None:
    labs = "id,name,prefecture,round\nshiojiri,塩尻市,長野県,1\n\"two\nlines\",x,長野県,1\nbad,名前,長野県,first\n"
    plan = load(units, ("labs.csv", labs))
    assert [str(e) for e in plan.errors] == ["labs.csv:3: id: 'two\\nlines' is not a valid id (letters, digits, "
                                             "'.', '_' and '-')", "labs.csv:5: round: 'first' is not a whole number"]


def test_missing_rows_are_kept_unless_pruned(units: UnitsOfWork) -> None:
    load(units, ("d.yaml", GOOD))
    smaller = GOOD.split("experts:")[0].replace(
        "  - {id: tsuyama, name: 津山市DX推進ラボ, prefecture: 岡山県, round: 1, selected_on: 2023-04}\n", "")
    smaller = smaller.replace("roles: [expert, secretariat]", "roles: [secretariat]").replace(
        "roles: [expert], slack_user: U0002", "roles: [company], labs: [shiojiri], slack_user: U0002")
    kept = load(units, ("d.yaml", smaller))
    # Without --prune the experts stay, so taking their expert role away is refused (and nothing changes).
    assert [str(e) for e in kept.errors] == ["d.yaml:7: p-sato is listed in experts but roles lacks expert",
                                             "d.yaml:8: p-suzuki is listed in experts but roles lacks expert"]
    pruned = load(units, ("d.yaml", smaller), prune=True).summary()
    assert (pruned["removed"], pruned["updated"], pruned["errors"]) == (3, 2, [])
    with units() as uow:
        assert [lab.id for lab in uow.directory.labs()] == ["shiojiri"]
        assert uow.directory.experts() == []
        assert [a.action for a in uow.audit.since()].count("directory.removed") == 3


def test_one_person_is_reachable_on_slack_and_on_teams(units: UnitsOfWork) -> None:
    load(units, ("d.yaml", GOOD))
    with units() as uow:
        on_slack = uow.directory.person_by_address(Address("slack", "D1", "U0002"))
        on_teams = uow.directory.person_by_address(Address("teams", "a:1", "aad-0002"))
        assert on_slack is not None and on_slack == on_teams and on_slack.id == "p-sato"
        assert uow.directory.person_by_address(Address("teams", "a:1", "U0002")) is None
        assert uow.directory.person_by_address(Address("web", "c", "demo:p-sato")) is None  # not a demo person


def test_experts_for_a_topic_in_a_prefecture(units: UnitsOfWork) -> None:
    load(units, ("d.yaml", GOOD))
    with units() as uow:
        d = uow.directory
        assert [e.person.id for e in d.experts("IoT", "長野県")] == ["p-sato", "p-suzuki"]  # named first
        assert [e.person.id for e in d.experts("IoT", "沖縄県")] == ["p-suzuki"]  # national only
        assert [e.person.id for e in d.experts("生産管理", "長野県", available_on=dt.date(2031, 1, 10))] == []
        assert [e.person.id for e in d.experts("IoT", "長野県", for_org="塩尻市")] == ["p-suzuki"]


def test_secretariat_addresses_fall_back_to_the_settings(units: UnitsOfWork) -> None:
    with units() as uow:
        assert secretariat_addresses(uow, "C0ENV") == [Address("slack", "C0ENV")]
        uow.kv.put(TEAMS_KV_KEY, "19:secret@thread.tacv2")
        uow.commit()
    load(units, ("d.yaml", GOOD))
    with units() as uow:
        assert secretariat_addresses(uow, "C0ENV") == [Address("slack", "C0SECRET"),
                                                       Address("teams", "19:secret@thread.tacv2")]


def test_the_demo_loads_into_an_empty_directory_only_and_a_real_import_replaces_it(units: UnitsOfWork) -> None:
    assert load_demo_if_empty(units) is True
    assert load_demo_if_empty(units) is False
    people = demo_people()
    assert {"secretariat", "coordinator", "expert", "company", "lead"} <= {r for p in people for r in p.roles}
    assert all("(デモ)" in (p.org or "") for p in people)
    with units() as uow:
        assert len(uow.directory.labs()) == 36 and len(uow.directory.labs(region="北海道")) == 5
        assert uow.directory.person_by_address(Address("web", "c", people[0].web_user)).id == people[0].id
    plan = load(units, ("real.yaml", GOOD))
    assert plan.errors == [] and "demo directory was replaced" in str(plan.warnings[-1])
    with units() as uow:
        assert [lab.id for lab in uow.directory.labs()] == ["shiojiri", "tsuyama"]


def test_the_shipped_demo_file_is_clean() -> None:
    from bot.directory.demo import demo_text

    parsed = parse_files([("demo.yaml", demo_text())])
    assert parsed.errors == [] and parsed.warnings == []
