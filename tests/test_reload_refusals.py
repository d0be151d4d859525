"""Reload refuses what would silently hurt users: an emptied file, an impossible date, a broken
calibration. Each refusal names file and line, and the old content keeps serving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.lint import lint
from knowledge.live import LiveKnowledge
from knowledge.schema import KnowledgeError, load_knowledge, partial_date
from tests.helpers import copy_knowledge

ENTRY = """\
topic: 日付テスト
entries:
  - id: test.dated
    kind: fact
    questions: [たぬき祭りの日程は?, たぬき祭りはいつ?, たぬき祭り 日程]
    answer: たぬき祭りは毎年11月に開かれます。
    summary_en: The tanuki festival is held in November.
    volatile: true
    as_of: {as_of}
    sources:
      - ref: S3
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_knowledge(tmp_path_factory.mktemp("kb"))


@pytest.fixture(scope="module")
def live(root: Path) -> LiveKnowledge:
    return LiveKnowledge(root)


def _entries_of(live: LiveKnowledge, path: Path) -> int:
    return sum(e.file == str(path) for e in live.engine.kb.entries)


@pytest.mark.parametrize("emptied", ["", "topic: 空\nentries: []\n", "# everything was cut\n"])
def test_a_file_that_lost_all_its_entries_is_refused_unless_allowed(root: Path, live: LiveKnowledge,
                                                                   emptied: str) -> None:
    path = root / "content" / "ja" / "zz_emptied.yaml"
    original = ENTRY.format(as_of="2024-04-01")
    path.write_text(original, encoding="utf-8")
    assert live.reload().ok
    before, total = _entries_of(live, path), len(live.engine.kb.entries)
    assert before == 1
    path.write_text(emptied, encoding="utf-8")

    refused = live.reload()
    assert not refused.ok and refused.entries == total
    assert any(p.startswith(f"{path}:1:") and f"had {before} entries" in p for p in refused.problems)
    assert live.engine.decide("たぬき祭りの日程は?").entry is not None  # still answering from it
    assert not live.changed()  # the watcher does not retry the same files

    allowed = live.reload(allow_empty=True)
    assert allowed.ok and allowed.entries == total - before
    path.unlink()


def test_a_deleted_file_is_a_deliberate_removal(root: Path, live: LiveKnowledge) -> None:
    path = root / "content" / "ja" / "zz_deleted.yaml"
    path.write_text(ENTRY.format(as_of="2024-04-01"), encoding="utf-8")
    assert live.reload().ok
    total = len(live.engine.kb.entries)
    path.unlink()
    result = live.reload()
    assert result.ok and result.entries == total - 1


@pytest.mark.parametrize("text", ["2023", "2023-04", "2023-04-01", "2024-02-29"])
def test_partial_dates_are_dates(text: str) -> None:
    assert partial_date(text) <= dt.date(2024, 2, 29)


@pytest.mark.parametrize("text", ["2023-13-45", "2023-02-30", "2023-00", "0000", "2023-4-1", "２０２３",
                                  "2023-04-01\n", "23-04-01", "2023/04/01", ""])
def test_impossible_or_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        partial_date(text)


@pytest.mark.parametrize("as_of", ["2023-13-45", '"2023-13-45"', "2023-02-30"])
def test_an_impossible_as_of_is_an_error_in_the_loader_lint_and_reload(root: Path, live: LiveKnowledge,
                                                                     as_of: str) -> None:
    path = root / "content" / "ja" / "zz_dates.yaml"
    path.write_text(ENTRY.format(as_of=as_of), encoding="utf-8")
    try:
        with pytest.raises(KnowledgeError) as info:
            load_knowledge(root)
        assert f"{path}:3: entry test.dated: `as_of` must be a real date" in str(info.value)

        report = lint(root, dt.date(2024, 1, 1), 365)
        assert report.entries == 0 and any(f"{path}:3:" in e and "as_of" in e for e in report.errors)

        refused = live.reload()
        assert not refused.ok and any(f"{path}:3:" in p for p in refused.problems)
        assert live.engine.decide("たぬき祭りの日程は?").entry is None
    finally:
        path.unlink()
        assert live.reload().ok


def test_partial_as_of_still_loads_and_lint_measures_its_age(root: Path) -> None:
    path = root / "content" / "ja" / "zz_dates.yaml"
    path.write_text(ENTRY.format(as_of='"2023-04"'), encoding="utf-8")
    try:
        assert load_knowledge(root).by_id()["test.dated"].as_of == "2023-04"
        report = lint(root, dt.date(2024, 4, 1), 300)
        assert not report.errors
        assert any("test.dated: as_of 2023-04 is 366 days old" in w for w in report.warnings)
    finally:
        path.unlink()


def test_lint_warns_about_a_content_file_without_entries(root: Path) -> None:
    path = root / "content" / "ja" / "zz_empty.yaml"
    path.write_text("", encoding="utf-8")
    try:
        report = lint(root, dt.date(2024, 1, 1), 10_000)
        assert not report.errors and f"{path}:1: no entries (an emptied or truncated file?)" in report.warnings
    finally:
        path.unlink()


@pytest.mark.parametrize(("broken", "line", "reason"), [
    ("lexical:\n  weights:\n    bias: [unclosed\n  threshold: 0.5\n", 4, "invalid YAML"),
    ("lexical:\n  weights:\n    bias: -0.7\n    margin: lots\n  threshold: 0.5\n", 4,
     "`lexical.weights.margin` must be a number"),
    ("lexical:\n  weights:\n    bias: -0.7\n    magin: 1.0\n  threshold: 0.5\n", 4, "unknown weight `magin`"),
    ("lexical:\n  weights:\n    bias: .nan\n  threshold: 0.5\n", 3, "`lexical.weights.bias` must be a number"),
    ("lexical:\n  weights:\n    bias: -0.7\n  threshold: 2\n", 4,
     "`lexical.threshold` must be a number from 0.0 to 1.0"),
    ("lexical:\n  weights:\n    bias: -0.7\n  threshold: true\n", 4, "`lexical.threshold` must be a number"),
    ("", 1, "expected a mapping"),
    ("- just\n- a list\n", 1, "expected a mapping"),
    ("lexical:\n  weights: 3\n", 1, "`lexical` must be a mapping"),
])
def test_a_broken_calibration_is_refused_with_file_and_line(root: Path, live: LiveKnowledge, broken: str,
                                                           line: int, reason: str) -> None:
    path = root / "calibration.yaml"
    original = path.read_text(encoding="utf-8")
    serving = live.engine.calibration, live.engine.threshold
    path.write_text(broken, encoding="utf-8")
    try:
        refused = live.reload()
        assert not refused.ok
        assert any(p.startswith(f"{path}:{line}:") and reason in p for p in refused.problems), refused.problems
        assert (live.engine.calibration, live.engine.threshold) == serving
    finally:
        path.write_text(original, encoding="utf-8")
        assert live.reload().ok
