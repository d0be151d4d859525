"""The loader: the bundled base loads; bad entries are refused with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.schema import KnowledgeError, load_knowledge
from tests.helpers import copy_knowledge

GOOD_ENTRY = """\
topic: テスト
entries:
  - id: test.good
    kind: fact
    questions: [テストの質問ですか?, テストって何?, テスト 質問]
    answer: テストの答えです。
    summary_en: A test.
    sources:
      - ref: S3
"""


def test_bundled_knowledge_loads_with_sources_and_dates() -> None:
    kb = load_knowledge()
    assert len(kb.entries) >= 120
    for entry in kb.entries:
        assert entry.sources, entry.id
        assert len(entry.questions) >= 3, entry.id
        if entry.volatile:
            assert entry.as_of, entry.id
        assert entry.effective_as_of


def test_every_topic_of_the_fact_sheet_is_covered() -> None:
    prefixes = {e.id.split(".")[0] for e in load_knowledge().entries}
    for needed in ["overview", "history", "transition", "eligibility", "criteria", "rounds", "support",
                   "dxselection", "dxnintei", "dxindex", "dgc", "manabi", "itc", "yorozu", "kosetsushi",
                   "mitou", "akatsuki", "meeting", "contact"]:
        assert needed in prefixes


def test_opinions_are_never_rules() -> None:
    kb = load_knowledge()
    meeting_opinions = [e for e in kb.entries if e.id.startswith("meeting.opinion")]
    assert meeting_opinions
    assert all(e.kind == "opinion" for e in meeting_opinions)


def _write(root: Path, text: str) -> Path:
    path = root / "content" / "ja" / "zz_test.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("mutation", "reason", "line"), [
    (("kind: fact", "kind: rumour"), "`kind` must be one of", 3),
    (("ref: S3", "ref: S999"), "source `S999` is not in sources.yaml", 3),
    (("questions: [テストの質問ですか?, テストって何?, テスト 質問]", "questions: [一つだけ]"), "at least 3", 3),
    (("id: test.good", "id: Test Good"), "`id` must match", 3),
    (("    kind: fact\n", "    kind: fact\n    volatile: true\n"), "needs `as_of`", 3),
])
def test_bad_entry_names_file_line_and_reason(tmp_path: Path, mutation: tuple[str, str], reason: str,
                                              line: int) -> None:
    root = copy_knowledge(tmp_path)
    path = _write(root, GOOD_ENTRY.replace(*mutation))
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    assert f"{path}:{line}:" in str(info.value)
    assert reason in str(info.value)


def test_invalid_yaml_and_duplicate_ids(tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    path = _write(root, GOOD_ENTRY + "  - id: test.good\n    kind: [unclosed\n")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    assert str(path) in str(info.value) and "invalid YAML" in str(info.value)
    _write(root, GOOD_ENTRY + GOOD_ENTRY.split("entries:\n")[1])
    with pytest.raises(KnowledgeError, match=r"duplicate id test\.good"):
        load_knowledge(root)


def test_a_valid_new_entry_is_accepted(tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    _write(root, GOOD_ENTRY)
    assert "test.good" in load_knowledge(root).by_id()
