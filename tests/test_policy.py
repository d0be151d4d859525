"""Roles in one place: the policy decides, every privileged command asks it, refusals are polite and
audited. Handlers run against a real SQLite unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.session import Database
from bot.db.uow import SqlUnitOfWork, UnitsOfWork
from bot.directory.service import import_files
from handlers import directory_commands, policy
from handlers.address import Address
from handlers.context import Context, Services
from handlers.directory.model import Person
from handlers.i18n import t
from handlers.messages import Inbound, Visibility
from handlers.routes import Routes

NOW = dt.datetime(2030, 4, 1, 10, 0, tzinfo=dt.UTC)
DIRECTORY = """\
labs:
  - {id: shiojiri, name: 塩尻市地域DX推進ラボ, prefecture: 長野県, round: 1, slack_channel: C0LAB001}
  - {id: tsuyama, name: 津山市DX推進ラボ, prefecture: 岡山県, round: 1}
people:
  - {id: p-sec, name: 見本 太郎, roles: [secretariat], slack_user: U0SEC, teams_user: aad-sec}
  - {id: p-coord, name: 見本 花子, roles: [coordinator], labs: [shiojiri], slack_user: U0COORD}
  - {id: p-other, name: 試験 次郎, roles: [coordinator], labs: [tsuyama], teams_user: aad-other}
  - {id: p-company, name: 見本 三郎, org: 見本精機(デモ), roles: [company], labs: [shiojiri], slack_user: U0COMP}
"""
SEC, COORD = Address("slack", "D1", "U0SEC"), Address("slack", "D2", "U0COORD")
OTHER, COMPANY = Address("teams", "a:1", "aad-other"), Address("slack", "D3", "U0COMP")
PUBLIC = Address("slack", "D4", "U0NOBODY")
PRIVILEGED = ["lab shiojiri", "labs 中部", "whois <@U0COORD>", "whois p-coord"]


@pytest.fixture
def units(tmp_path: Path) -> Iterator[UnitsOfWork]:
    units = UnitsOfWork(Database(f"sqlite:///{tmp_path / 'policy.db'}"))
    assert import_files(units, [("d.yaml", DIRECTORY)], "test").errors == []
    yield units
    units.db.dispose()


def run(units: UnitsOfWork, address: Address, text: str):  # type: ignore[no-untyped-def]
    routes = Routes()
    directory_commands.register(routes)
    found = routes.find_command(text.removeprefix("/dxlab "))  # the dispatcher finds the word; the handler sees all
    assert found is not None
    with units() as uow:
        ctx = Context(uow, NOW, Services(faq=None), address)  # type: ignore[arg-type]
        outcome = found[0](ctx, Inbound(address, text, is_command=True))
        uow.commit()
    assert outcome.reply is not None and outcome.sends == []
    return outcome.reply


def audit(units: UnitsOfWork) -> list[tuple[str, str, str, str]]:
    with units() as uow:
        return [(e.actor, e.action, e.target, e.outcome) for e in uow.audit.since() if e.actor != "test"]


def person(roles: tuple[str, ...], labs: tuple[str, ...] = ()) -> Person:
    return Person("x", "x", roles=roles, labs=labs)


@pytest.mark.parametrize(("actor", "lab", "allowed", "reason"), [
    (person(("secretariat",)), "tsuyama", True, ""),
    (person(("coordinator",), ("shiojiri",)), "shiojiri", True, ""),
    (person(("lead",), ("shiojiri",)), "shiojiri", True, ""),
    (person(("coordinator",), ("shiojiri",)), "tsuyama", False, "directory.refused.other_lab"),
    (person(("coordinator",), ("shiojiri",)), None, False, "directory.refused.role"),
    (person(("company",), ("shiojiri",)), "shiojiri", False, "directory.refused.role"),
    (person(("expert",)), "shiojiri", False, "directory.refused.role"),
    (None, "shiojiri", False, "directory.refused.public"),
])
def test_lab_scoped_decisions(actor: Person | None, lab: str | None, allowed: bool, reason: str) -> None:
    decision = policy.decide(actor, policy.Act.LAB_VIEW, lab)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_every_action_has_a_rule_and_unknown_actions_fail_closed() -> None:
    assert set(policy.Act) == set(policy.RULES)
    with pytest.raises(KeyError):
        policy.decide(person(("secretariat",)), "format.disk")


@pytest.mark.parametrize(("who", "text"), [(who, text) for who in (PUBLIC, COMPANY, OTHER, COORD) for text in PRIVILEGED
                                           if (who, text) != (COORD, "lab shiojiri")])  # their own lab: allowed
def test_privileged_commands_are_refused_politely_and_audited(units: UnitsOfWork, text: str, who: Address) -> None:
    reply = run(units, who, text)
    assert reply.title == t("directory.refused.title") and reply.visibility == Visibility.PRIVATE
    assert reply.text.startswith("申し訳ありません。")
    assert "U0COORD" not in reply.text and "見本 花子" not in reply.text
    [(actor, action, _, outcome)] = audit(units)
    assert outcome == "refused" and action.startswith("directory.")
    assert actor == {PUBLIC: "slack:@U0NOBODY", COMPANY: "p-company", OTHER: "p-other", COORD: "p-coord"}[who]


def test_a_coordinator_sees_their_own_lab_and_not_another(units: UnitsOfWork) -> None:
    own = run(units, COORD, "/dxlab lab shiojiri")
    assert own.title == "塩尻市地域DX推進ラボ(shiojiri)" and "見本 花子(コーディネーター)" in own.text
    other = run(units, Address("teams", "a:1", "aad-other"), "lab shiojiri")
    assert other.text == t("directory.refused.other_lab", lab="shiojiri", labs="tsuyama")
    assert [a[3] for a in audit(units)] == ["allowed", "refused"]


def test_the_secretariat_on_either_platform(units: UnitsOfWork) -> None:
    for address in (SEC, Address("teams", "a:9", "aad-sec")):
        lab = run(units, address, "lab tsuyama")
        assert "岡山県(中国ブロック)" in lab.text
        labs = run(units, address, "labs 中部")
        assert labs.title == t("directory.labs.title", where="中部", count=1) and "shiojiri" in labs.text
        who = run(units, address, "whois <@U0COORD|hanako>")
        assert who.title == t("directory.whois.title", name="見本 花子", id="p-coord") and "shiojiri" in who.text
        assert run(units, address, "whois aad-other").title.endswith("(p-other)")
        assert run(units, address, "labs 火星").text.startswith("「火星」")
    assert {a[3] for a in audit(units)} == {"allowed"}


def test_me_tells_anyone_what_the_bot_knows(units: UnitsOfWork) -> None:
    mine = run(units, COMPANY, "me")
    assert "見本精機(デモ)" in mine.text and t("directory.me.correction") in mine.text
    stranger = run(units, PUBLIC, "me")
    assert stranger.text == t("directory.me.unknown", platform="slack", user="U0NOBODY")
    assert audit(units) == []  # not privileged: nothing to audit


def test_mentions_and_arguments() -> None:
    assert directory_commands.mentioned("<@U123>") == "U123"
    assert directory_commands.mentioned("<@U123|taro>") == "U123"
    assert directory_commands.argument("/dxlab whois <@U1>", "whois") == "<@U1>"
    assert directory_commands.argument("dxlab lab  shiojiri ", "lab") == "shiojiri"


def test_check_records_who_what_when(units: UnitsOfWork) -> None:
    with units() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        ctx = Context(uow, NOW, Services(faq=None), SEC)  # type: ignore[arg-type]
        assert policy.check(ctx, policy.Act.LAB_ANNOUNCE, lab="tsuyama").allowed
        uow.commit()
    with units() as uow:
        [entry] = [e for e in uow.audit.since(NOW) if e.actor != "test"]
    assert (entry.actor, entry.action, entry.target, entry.outcome, entry.at) == (
        "p-sec", "lab.announce", "labs:tsuyama", "allowed", NOW)
