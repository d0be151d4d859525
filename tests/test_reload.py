"""Edited content is picked up without a restart; a bad edit is refused and the old one serves."""

from __future__ import annotations

from pathlib import Path

from knowledge.live import LiveKnowledge
from tests.helpers import copy_knowledge

NEW_ENTRY = """\
topic: 再読込テスト
entries:
  - id: test.tanuki
    kind: fact
    questions: [たぬき祭りの日程は?, たぬき祭りはいつ?, たぬき祭り 日程]
    answer: たぬき祭りは毎年11月に開かれます。
    summary_en: The tanuki festival is held in November.
    sources:
      - ref: S3
"""


def test_good_edit_is_served_and_bad_edit_is_refused(tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    live = LiveKnowledge(root)
    assert not live.changed()
    assert live.engine.decide("たぬき祭りの日程は?").entry is None

    new_file = root / "content" / "ja" / "zz_reload.yaml"
    new_file.write_text(NEW_ENTRY, encoding="utf-8")
    assert live.changed()
    result = live.reload()
    assert result.ok and result.entries == len(live.engine.kb.entries)
    decision = live.engine.decide("たぬき祭りの日程は?")
    assert decision.entry is not None and decision.entry.id == "test.tanuki"

    new_file.write_text(NEW_ENTRY.replace("kind: fact", "kind: gossip"), encoding="utf-8")
    refused = live.reload()
    assert not refused.ok
    assert any("zz_reload.yaml:3" in p and "`kind`" in p for p in refused.problems)
    still = live.engine.decide("たぬき祭りの日程は?")
    assert still.entry is not None and still.entry.id == "test.tanuki"
    assert not live.changed()  # the refused files are not retried on every poll
