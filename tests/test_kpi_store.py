"""The KPI repository on SQLite and PostgreSQL (when reachable): indicators created/updated/unchanged by
(lab, key), values with history (a correction keeps the earlier row), the current value per period, the last
numeric value of an earlier period, and the filtered claim `dxlab kpi run` relies on."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.db.repos.outbox_worker import SqlDueQueue
from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from handlers.kpi.model import Indicator, Reported
from tests.pg import pg_database

T = dt.datetime(2030, 7, 2, 1, 0, tzinfo=dt.UTC)
MEMBERS = Indicator("shiojiri", "members", "参加企業数", unit="社", type="integer", target=50.0,
                    cadence="quarterly", first_period="FY2030-Q1")
RATE = Indicator("shiojiri", "rate", "DX実施率", unit="%", type="percent", cadence="quarterly",
                 first_period="FY2030-Q1")


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitsOfWork]:
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'kpi.db'}" if request.param == "sqlite" else stack.enter_context(pg_database())
        db = Database(url)
        yield UnitsOfWork(db)
        db.dispose()


def value(ind: Indicator, period: str, text: str | None, at: dt.datetime, skipped: bool = False) -> Reported:
    return Reported(ind.id, ind.lab, period, text, float(text) if text else None, skipped,
                    "理由" if skipped else None, "s-coord", "chat", at)


def test_indicators_and_values_with_history(units: UnitsOfWork) -> None:
    with units() as uow:
        assert uow.kpi.save([MEMBERS, RATE], T) == {"created": 2, "updated": 0, "unchanged": 0}
        uow.commit()
    with units() as uow:
        assert uow.kpi.save([replace(MEMBERS, target=60.0), RATE], T) == {"created": 0, "updated": 1, "unchanged": 1}
        members, rate = uow.kpi.indicators(lab="shiojiri")
        assert (members.key, members.target, rate.key) == ("members", 60.0, "rate")
        assert uow.kpi.find("shiojiri", "参加企業数") == members and uow.kpi.find("tsuyama", "members") is None
        uow.kpi.record(value(members, "FY2030-Q1", "12", T))
        uow.kpi.record(value(members, "FY2030-Q2", "20", T + dt.timedelta(days=90)))
        uow.kpi.record(value(members, "FY2030-Q2", "25", T + dt.timedelta(days=91)))  # a correction
        uow.kpi.record(value(rate, "FY2030-Q2", None, T + dt.timedelta(days=91), skipped=True))
        uow.commit()
    with units() as uow:
        current = uow.kpi.current(lab="shiojiri", periods=["FY2030-Q2"])
        assert current[(members.id, "FY2030-Q2")].value == "25" and current[(rate.id, "FY2030-Q2")].skipped
        assert uow.kpi.last_number(members.id, "FY2030-Q2") == 12.0
        assert uow.kpi.last_numbers([members.id, rate.id], "FY2030-Q3") == {members.id: 25.0}
        history = uow.kpi.history(lab="shiojiri")
        assert [(r.period, r.value, r.current) for r in history if r.indicator_id == members.id] == [
            ("FY2030-Q1", "12", True), ("FY2030-Q2", "20", False), ("FY2030-Q2", "25", True)]


def test_a_filtered_claim_takes_only_its_kinds(units: UnitsOfWork) -> None:
    with units() as uow:
        uow.due.schedule("kpi.close", "kpi:close:FY2030-Q1", T, {"period": "FY2030-Q1"})
        uow.due.schedule("consult.sla", "case:1", T, {})
        uow.commit()
    rows = SqlDueQueue(units.db, kinds=("kpi.close",)).claim("w1", T, 10, 30)
    assert [r.key for r in rows] == ["kpi:close:FY2030-Q1"]
    assert [r.key for r in SqlDueQueue(units.db).claim("w2", T, 10, 30)] == ["case:1"]
