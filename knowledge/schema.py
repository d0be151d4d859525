"""The knowledge base's data model and its loader, which names file, line and reason for bad entries."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

KINDS = ("rule", "fact", "opinion", "related")
SOURCE_KINDS = ("primary", "secondary")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
DATE_PATTERN = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")  # ASCII digits, whole text
DATE_RULE = "must be a real date written YYYY, YYYY-MM or YYYY-MM-DD"
MIN_QUESTIONS = 3


def partial_date(text: str) -> dt.date:
    """The first day a YYYY, YYYY-MM or YYYY-MM-DD date stands for; ValueError for any other
    text and for dates that do not exist (2023-13-45, 2023-02-30, 0000)."""
    match = DATE_PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f"not YYYY, YYYY-MM or YYYY-MM-DD: {text!r}")
    year, month, day = (int(g) if g else 1 for g in match.groups())
    return dt.date(year, month, day)


def is_partial_date(text: str) -> bool:
    try:
        partial_date(text)
    except ValueError:
        return False
    return True


def bundled_dir() -> Path:
    """The knowledge folder shipped inside the package."""
    return Path(str(resources.files(__package__)))


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    date: str
    url: str | None = None
    document: str | None = None
    kind: str = "secondary"  # primary (METI/IPA pages, the call's guidelines, minutes) | secondary (報道・解説記事)

    @property
    def primary(self) -> bool:
        return self.kind == "primary"


@dataclass(frozen=True)
class Citation:
    """One entry's use of a source: the source, where in it, and which facts."""

    source: Source
    section: str | None = None
    facts: tuple[str, ...] = ()
    date: str | None = None  # overrides the source's date when the cited part speaks of another

    @property
    def effective_date(self) -> str:
        return self.date or self.source.date

    def as_dict(self) -> dict[str, object]:
        return {
            "ref": self.source.id,
            "title": self.source.title,
            "url": self.source.url,
            "kind": self.source.kind,
            "section": self.section,
            "date": self.effective_date,
            "facts": list(self.facts),
        }


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    questions: tuple[str, ...]
    answer: str
    sources: tuple[Citation, ...]
    file: str
    line: int
    topic: str = ""
    tags: tuple[str, ...] = ()
    as_of: str | None = None
    volatile: bool = False
    handoff: bool = False
    summary_en: str = ""
    related: tuple[str, ...] = ()

    @property
    def cited_facts(self) -> frozenset[str]:
        """The fact ids (shared/domain/facts.md) its sources say the answer states."""
        return frozenset(f for c in self.sources for f in c.facts)

    @property
    def effective_as_of(self) -> str:
        """The date to show with the answer: `as_of`, else the newest date among its sources."""
        if self.as_of:
            return self.as_of
        return max(c.effective_date for c in self.sources)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "topic": self.topic,
            "questions": list(self.questions),
            "answer": self.answer,
            "summary_en": self.summary_en,
            "sources": [c.as_dict() for c in self.sources],
            "as_of": self.as_of,
            "volatile": self.volatile,
            "handoff": self.handoff,
            "tags": list(self.tags),
            "related": list(self.related),
        }


@dataclass(frozen=True)
class SynonymGroup:
    canonical: str
    variants: tuple[str, ...]


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    sources: dict[str, Source]
    synonyms: list[SynonymGroup] = field(default_factory=list)
    root: Path | None = None

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}


class KnowledgeError(ValueError):
    """A problem in the knowledge files; `str()` names the file, the line and the reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that records the line of every mapping under the key `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, object]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> object:
    # PyYAML turns an unquoted 2023-13-45 into a ValueError with no line; keep it as text so the
    # date check names the entry, its line and the rule instead.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: Path, problems: list[str]) -> object:
    """A knowledge file's data, every mapping with its `__line__`; None (and a problem naming
    file and line) when it cannot be read or parsed."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problems.append(f"{path}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:0: cannot read: {exc}")
    except RecursionError:
        problems.append(f"{path}:0: invalid YAML: nested too deeply")
    return None


def _date_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _text(value: object) -> str | None:
    """A scalar written as text (YAML may read `id: 12` as a number); None for anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _str_list(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value)
    return None


def _load_sources(path: Path, problems: list[str]) -> dict[str, Source]:
    data = read_yaml(path, problems)
    sources: dict[str, Source] = {}
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        problems.append(f"{path}:1: expected a mapping with a list `sources`")
        return sources
    for item in data["sources"]:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        if not isinstance(item, dict) or not _text(item.get("id")) or not _text(item.get("title")):
            problems.append(f"{path}:{line}: a source needs `id` and `title` (text)")
            continue
        source_id, title = _text(item["id"]) or "", _text(item["title"]) or ""
        date = _date_text(item.get("date"))
        if not date or not is_partial_date(date):
            problems.append(f"{path}:{line}: source {source_id}: `date` {DATE_RULE}")
            continue
        url, document, kind = (_text(item.get(k)) for k in ("url", "document", "kind"))
        if any(item.get(k) is not None and v is None for k, v in (("url", url), ("document", document),
                                                                    ("kind", kind))):
            problems.append(f"{path}:{line}: source {source_id}: `url`, `document` and `kind` must be text")
            continue
        if source_id in sources:
            problems.append(f"{path}:{line}: duplicate source id {source_id}")
        sources[source_id] = Source(id=source_id, title=title, date=date, url=url, document=document,
                                    kind=kind or "secondary")
    return sources
    for item in data["sources"]:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
            problems.append(f"{path}:{line}: a source needs `id` and `title`")
            continue
        date = _date_text(item.get("date"))
        if not date or not is_partial_date(date):
            problems.append(f"{path}:{line}: source {item['id']}: `date` {DATE_RULE}")
            continue
        if item.get("kind", "secondary") not in SOURCE_KINDS:
            problems.append(f"{path}:{line}: source {item['id']}: `kind` must be primary or secondary")
            continue
        if item["id"] in sources:
            problems.append(f"{path}:{line}: duplicate source id {item['id']}")
        sources[str(item["id"])] = Source(
            id=str(item["id"]), title=str(item["title"]), date=date, url=item.get("url"),
            document=item.get("document"), kind=str(item.get("kind", "secondary")),
        )
    return sources


def _parse_entry(raw: object, path: Path, topic: str, sources: dict[str, Source],
                 problems: list[str]) -> Entry | None:
    if not isinstance(raw, dict):
        problems.append(f"{path}:0: each entry must be a mapping")
        return None
    line = int(raw.get("__line__", 0))
    where = f"{path}:{line}"
    entry_id = str(raw.get("id", "")).strip()
    before = len(problems)

    def bad(reason: str) -> None:
        problems.append(f"{where}: entry {entry_id or '?'}: {reason}")

    if not ID_PATTERN.match(entry_id):
        bad("`id` must match [a-z0-9][a-z0-9.-]*")
    kind = raw.get("kind")
    if kind not in KINDS:
        bad(f"`kind` must be one of {', '.join(KINDS)}")
    questions = _str_list(raw.get("questions"))
    if questions is None or len([q for q in questions if q]) < MIN_QUESTIONS:
        bad(f"`questions` must be a list of at least {MIN_QUESTIONS} phrasings")
    answer = raw.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        bad("`answer` must be non-empty text")
    tags, related = _str_list(raw.get("tags")), _str_list(raw.get("related"))
    if tags is None or related is None:
        bad("`tags` and `related` must be lists of text")
    as_of = _date_text(raw.get("as_of"))
    if as_of is not None and not is_partial_date(as_of):
        bad(f"`as_of` {DATE_RULE}, not {as_of}")
    volatile, handoff = raw.get("volatile", False), raw.get("handoff", False)
    if not isinstance(volatile, bool) or not isinstance(handoff, bool):
        bad("`volatile` and `handoff` must be true or false")
    if volatile and not as_of:
        bad("a `volatile` entry needs `as_of`")
    if raw.get("summary_en") is not None and _text(raw.get("summary_en")) is None:
        bad("`summary_en` must be text")
    citations = _parse_citations(raw.get("sources"), sources, bad)
    if len(problems) > before:
        return None
    return Entry(
        id=entry_id, kind=str(kind), questions=tuple(q for q in questions or () if q),
        answer=str(answer).strip(), sources=citations, file=str(path), line=line, topic=topic,
        tags=tags or (), as_of=as_of, volatile=bool(volatile), handoff=bool(handoff),
        summary_en=_text(raw.get("summary_en")) or "", related=related or (),
    )


def _parse_citations(value: object, sources: dict[str, Source], bad) -> tuple[Citation, ...]:  # type: ignore[no-untyped-def]
    if not isinstance(value, list) or not value:
        bad("`sources` must list at least one source")
        return ()
    citations = []
    for item in value:
        if not isinstance(item, dict) or str(item.get("ref")) not in sources:
            ref = item.get("ref") if isinstance(item, dict) else item
            bad(f"source `{ref}` is not in sources.yaml")
            continue
        date = _date_text(item.get("date"))
        if date is not None and not is_partial_date(date):
            bad(f"a source's `date` {DATE_RULE}, not {date}")
            continue
        facts, section = _str_list(item.get("facts")), _text(item.get("section"))
        if facts is None or (item.get("section") is not None and section is None):
            bad(f"source `{item['ref']}`: `section` must be text and `facts` a list of text")
            continue
        citations.append(Citation(source=sources[str(item["ref"])], section=section, facts=facts, date=date))
    return tuple(citations)


def _load_synonyms(path: Path, problems: list[str]) -> list[SynonymGroup]:
    if not path.is_file():
        return []
    data = read_yaml(path, problems)
    groups = []
    items = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(items, list):
        problems.append(f"{path}:1: expected a mapping with a list `groups`")
        return []
    for item in items:
        variants = _str_list(item.get("variants")) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("canonical"), str) or not variants:
            line = item.get("__line__", 0) if isinstance(item, dict) else 0
            problems.append(f"{path}:{line}: a synonym group needs `canonical` and a list `variants`")
            continue
        groups.append(SynonymGroup(canonical=item["canonical"].strip(), variants=variants))
    return groups


def load_knowledge(root: Path | None = None) -> KnowledgeBase:
    """Load and validate the whole knowledge base; raise KnowledgeError listing every problem."""
    root = root or bundled_dir()
    problems: list[str] = []
    sources = _load_sources(root / "sources.yaml", problems)
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    files = sorted((root / "content").rglob("*.yaml"))
    if not files:
        problems.append(f"{root / 'content'}:0: no content files found")
    for path in files:
        data = read_yaml(path, problems)
        if data is None:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            problems.append(f"{path}:1: expected a mapping with a list `entries`")
            continue
        topic = _text(data.get("topic")) or path.stem
        for raw in data["entries"]:
            entry = _parse_entry(raw, path, topic, sources, problems)
            if entry is None:
                continue
            if entry.id in seen:
                problems.append(f"{path}:{entry.line}: duplicate id {entry.id} (first in {seen[entry.id]})")
                continue
            seen[entry.id] = f"{path}:{entry.line}"
            entries.append(entry)
    known = set(seen)
    for entry in entries:
        for rel in entry.related:
            if rel not in known:
                problems.append(f"{entry.file}:{entry.line}: entry {entry.id}: related id {rel} does not exist")
    synonyms = _load_synonyms(root / "synonyms.yaml", problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(entries=entries, sources=sources, synonyms=synonyms, root=root)
