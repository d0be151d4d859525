"""FAQ drafts from consultations: a YAML file per case under the drafts folder (DXLAB_KB_DRAFTS_DIR) with
the source `consultation DX-…`. Publishing needs a second secretariat member (not the one who made the
draft) and a clean `kb lint` of the knowledge base with the entry in it; nothing is published otherwise."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from handlers.consult.model import Case, Relayed
from knowledge.lint import lint
from knowledge.privacy import mask_personal
from knowledge.schema import bundled_dir

PUBLISHED_FILE = Path("content") / "ja" / "consultations.yaml"
PUBLISHED_TOPIC = "相談から追加された回答"


@dataclass(frozen=True)
class Draft:
    id: str  # the case's 受付番号
    path: Path
    status: str  # draft | published
    created_by: str
    approved_by: str | None
    entry: dict[str, object]


def draft_path(folder: Path, ref: str) -> Path:
    return folder / f"{ref}.yaml"


def make_draft(folder: Path, case: Case, messages: list[Relayed], created_by: str, today: dt.date) -> Draft | None:
    """The draft for `case` (None when the expert has not written anything yet). Never overwrites one."""
    answer = "\n".join(m.text for m in messages if m.side == "expert").strip()
    if not answer:
        return None
    path = draft_path(folder, case.ref)
    if path.exists():
        return read_draft(path)
    question = mask_personal(case.text.strip())
    first = question.split("。")[0].strip()
    entry = {
        "id": f"consultation.{case.ref.lower()}", "kind": "fact",
        "questions": list(dict.fromkeys(q for q in (question, first, case.want.strip()) if q)),
        "answer": mask_personal(answer), "sources": [{"ref": case.ref, "section": "相談への回答"}],
        "tags": [tag for tag in (case.topic, "相談") if tag], "as_of": today.isoformat(),
    }
    meta = {"id": case.ref, "source": f"consultation {case.ref}", "status": "draft", "created_by": created_by,
            "created_at": today.isoformat(), "approved_by": None}
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"draft": meta, "entry": entry}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return read_draft(path)


def read_draft(path: Path) -> Draft:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta = data["draft"]
    return Draft(str(meta["id"]), path, str(meta.get("status", "draft")), str(meta.get("created_by", "")),
                 meta.get("approved_by"), dict(data["entry"]))


def list_drafts(folder: Path) -> list[Draft]:
    return [read_draft(p) for p in sorted(folder.glob("DX-*.yaml"))] if folder.is_dir() else []


class ApprovalError(ValueError):
    """Why a draft was not published: `reason` is an i18n key, `errors` the lint's problems."""

    def __init__(self, reason: str, errors: tuple[str, ...] = ()):
        super().__init__(reason)
        self.reason, self.errors = reason, errors


def approve(folder: Path, ref: str, approver: str, knowledge_dir: str, today: dt.date) -> Path:
    """Publish the draft into the knowledge base when `approver` is not its author and lint passes."""
    path = draft_path(folder, ref.upper())
    if not path.exists():
        raise ApprovalError("consult.draft.missing")
    draft = read_draft(path)
    if draft.created_by == approver:
        raise ApprovalError("consult.draft.same_person")
    root = Path(knowledge_dir) if knowledge_dir else bundled_dir()
    with tempfile.TemporaryDirectory() as tmp:  # lint the knowledge base as it would be, before touching it
        trial = Path(tmp) / "kb"
        shutil.copytree(root, trial, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        _publish(trial, draft, today)
        report = lint(trial, today, max_age_days=100_000)
        if report.errors:
            raise ApprovalError("consult.draft.lint_failed", report.errors)
    target = _publish(root, draft, today)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["draft"].update(status="published", approved_by=approver, published_to=str(target))
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def _publish(root: Path, draft: Draft, today: dt.date) -> Path:
    target = root / PUBLISHED_FILE
    current = yaml.safe_load(target.read_text(encoding="utf-8")) if target.exists() else None
    entries = [e for e in (current or {}).get("entries", []) if e.get("id") != draft.entry["id"]]
    entries.append(draft.entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({"topic": PUBLISHED_TOPIC, "entries": entries}, allow_unicode=True,
                                     sort_keys=False), encoding="utf-8")
    sources = root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    if f"id: {draft.id}\n" not in text:
        block = (f"  - id: {draft.id}\n    title: \"consultation {draft.id}\"\n    kind: consultation\n"
                 f"    date: \"{today.isoformat()}\"\n")
        sources.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
    return target
