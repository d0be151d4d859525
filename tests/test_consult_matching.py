"""Matching on a generated directory: the index gives exactly what scoring every expert would, never a
conflicted, full or absent expert, nearer before farther, and each candidate with its reason."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from benchmarks.experts import ABSENT, generate_experts, generate_needs
from handlers.consult.matching import LOAD, ExpertIndex, Need, conflicted, fit
from handlers.directory.model import Expert, ExpertProfile, Person

TODAY = dt.date(2026, 12, 2)
assert ABSENT[0] <= TODAY <= ABSENT[1]


@pytest.fixture(scope="module")
def directory() -> tuple[list[Expert], dict[str, int]]:
    rng = random.Random(7)
    experts = generate_experts(1_000, rng)
    counts = {e.person.id: rng.randint(0, 4) for e in experts}
    return experts, counts


def brute_force(experts: list[Expert], need: Need, counts: dict[str, int], limit: int = 3
                ) -> list[tuple[str, float]]:
    """Score every expert one by one (the definition the index must agree with)."""
    by_id = {e.person.id: e for e in experts}
    best: dict[str, float] = {}
    for e in experts:
        points, _ = fit(e, need)
        if points == 0 or conflicted(e, need.org):
            continue
        who = e
        if e.profile.absent_on(TODAY):
            who = by_id.get(e.profile.substitute or "")  # type: ignore[assignment]
            if who is None or who.profile.absent_on(TODAY) or conflicted(who, need.org):
                continue
        open_now, capacity = counts.get(who.person.id, 0), who.profile.capacity
        if open_now >= capacity:
            continue
        score = round(points + LOAD * (1 - open_now / capacity), 2)
        best[who.person.id] = max(score, best.get(who.person.id, score))
    return sorted(((p, s) for p, s in best.items()), key=lambda x: (-x[1], x[0]))[:limit]


def test_the_index_agrees_with_scoring_every_expert(directory: tuple[list[Expert], dict[str, int]]) -> None:
    experts, counts = directory
    index = ExpertIndex(experts)
    for need in generate_needs(150, random.Random(11)):
        got = [(c.person, c.score) for c in index.rank(need, counts, TODAY)]
        assert got == brute_force(experts, need, counts), need


def test_never_conflicted_full_or_absent(directory: tuple[list[Expert], dict[str, int]]) -> None:
    experts, counts = directory
    by_id = {e.person.id: e for e in experts}
    index = ExpertIndex(experts)
    offered = 0
    for need in generate_needs(300, random.Random(13)):
        for c in index.rank(need, counts, TODAY, limit=5):
            e = by_id[c.person]
            offered += 1
            assert not conflicted(e, need.org), (need, c)
            assert counts[c.person] < e.profile.capacity
            assert not e.profile.absent_on(TODAY)
            assert c.reason
            if c.substitute_for:
                assert by_id[c.substitute_for].profile.absent_on(TODAY)
                assert by_id[c.substitute_for].profile.substitute == c.person
    assert offered > 500


def _expert(pid: str, **profile: object) -> Expert:
    org = str(profile.pop("org", f"{pid}事務所"))
    return Expert(Person(pid, f"名前{pid}", org=org), ExpertProfile(person=pid, kind="ITコーディネータ", **profile))


def test_nearer_before_farther_and_the_reason_says_why() -> None:
    need = Need("生産管理", "長野県", "製造業", "山田製作所")
    index = ExpertIndex([
        _expert("national", national=True, topics=("生産管理",), industries=("製造業",)),
        _expert("region", regions=("中部",), topics=("生産管理",), industries=("製造業",)),
        _expert("same", prefectures=("長野県",), topics=("生産管理",), industries=("製造業",)),
        _expert("conflict", prefectures=("長野県",), topics=("生産管理",), industries=("製造業",),
                excluded_orgs=("山田製作所",)),
        _expert("insider", org="山田製作所", prefectures=("長野県",), topics=("生産管理",)),
        _expert("unrelated", prefectures=("沖縄県",), topics=("観光DX",), industries=("観光",)),
    ])
    ranked = index.rank(need, {}, TODAY, limit=5)
    assert [c.person for c in ranked] == ["same", "region", "national"]
    assert ranked[0].reason == "同じ長野県・製造業・生産管理・対応中0/3件"
    assert ranked[1].reason.startswith("同じ中部ブロック・製造業・生産管理")
    assert ranked[2].reason.startswith("全国対応")
    busy = index.rank(need, {"same": 3}, TODAY)
    assert "same" not in [c.person for c in busy], "a full expert is not offered"
    assert [c.person for c in index.rank(need, {}, TODAY, exclude=["same"])][:1] == ["region"]


def test_an_absent_expert_is_replaced_by_their_substitute_once() -> None:
    away = dict(absent_from=dt.date(2026, 12, 1), absent_until=dt.date(2026, 12, 4), substitute="sub")
    index = ExpertIndex([
        _expert("away1", prefectures=("長野県",), topics=("IoT",), **away),  # type: ignore[arg-type]
        _expert("away2", regions=("中部",), topics=("IoT",), **away),  # type: ignore[arg-type]
        _expert("sub", national=True, topics=("DX戦略",)),
        _expert("gone", prefectures=("長野県",), topics=("IoT",), absent_from=dt.date(2026, 12, 1),
                substitute="away1"),
    ])
    ranked = index.rank(Need("IoT", "長野県"), {}, TODAY)
    assert [(c.person, c.substitute_for) for c in ranked] == [("sub", "away1")]
    assert ranked[0].reason.startswith("名前away1さん(不在)の代理・同じ長野県")
    after = index.rank(Need("IoT", "長野県"), {}, dt.date(2026, 12, 5))
    assert [c.person for c in after] == ["away1", "away2", "sub"], "back at work: offered in person"
