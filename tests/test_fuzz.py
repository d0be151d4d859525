"""Property-based fuzzing: whatever arrives, the answer is a clean result or a clear refusal.

- the knowledge loader: a clean load, or KnowledgeError whose every problem names file:line;
- FaqService.ask: any text (lone surrogates, controls, every plane) gets an answer, no exception;
- parse_json_limited: any bytes give a value or BadRequest, and real JSON round-trips.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.http_guard import BadRequest, json_depth, parse_json_limited
from handlers.faq import FaqService
from knowledge.answer import load_calibration
from knowledge.live import LiveKnowledge
from knowledge.schema import KnowledgeError, bundled_dir, load_knowledge

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
WHERE = re.compile(r"^.+:\d+: \S")

GOOD_ENTRY = """\
topic: テスト
entries:
  - id: test.good
    kind: fact
    questions: [テストの質問ですか?, テストって何?, テスト 質問]
    answer: テストの答えです。
    summary_en: A test.
    volatile: true
    as_of: 2024-04-01
    tags: [a, b]
    related: [test.good]
    sources:
      - ref: S3
        date: "2024-03"
        facts: [x]
"""
KEYS = ["id", "kind", "questions", "answer", "summary_en", "volatile", "as_of", "tags", "related", "sources",
        "ref", "date", "facts", "section", "title", "url", "entries", "topic", "groups", "canonical", "variants",
        "weights", "threshold", "bias", "margin", "__line__"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True), st.dates(),
    st.sampled_from(["fact", "rule", "S3", "test.good", "2023-13-45", "2024-02-30", "2024", "2024-04", "２０２４",
                     "", " ", "~", "テスト", "a.b-c"]),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=6)),
    max_leaves=25,
)

values = st.one_of(scalars, st.lists(scalars, min_size=1, max_size=3),  # non-empty: truthy, unhashable
                   st.dictionaries(st.sampled_from(KEYS), scalars, min_size=1, max_size=3),
                   st.lists(st.dictionaries(st.sampled_from(KEYS), st.one_of(scalars, st.lists(scalars, max_size=2)),
                                            max_size=5), max_size=2))
entry_like = st.dictionaries(st.sampled_from(KEYS), values, max_size=9)
file_like = st.dictionaries(st.sampled_from(["entries", "sources", "groups", "topic", "weights", "threshold"]),
                            st.one_of(st.lists(entry_like, max_size=3), entry_like, scalars), max_size=3)


def _fields(valid: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    """Every field present, each either valid or of any other shape: one bad field at a time."""
    return st.fixed_dictionaries({k: st.one_of(st.just(v), values) for k, v in valid.items()})


citation = _fields({"ref": "S3", "date": "2024-03", "facts": ["x"], "section": "第1章"})
sources_file = st.fixed_dictionaries({"sources": st.lists(_fields({
    "id": "S1", "title": "t", "date": "2024", "url": "u", "document": "d", "kind": "primary"}), max_size=2)})
synonyms_file = st.fixed_dictionaries({"groups": st.lists(_fields({"canonical": "DX", "variants": ["ＤＸ"]}),
                                                          max_size=2)})
content_file = st.fixed_dictionaries({"topic": st.one_of(st.just("t"), values), "entries": st.lists(_fields({
        "id": "test.x", "kind": "fact", "questions": ["a", "b", "c"], "answer": "x", "summary_en": "x",
        "volatile": True, "handoff": False, "as_of": "2024-04", "tags": ["t"], "related": ["test.x"],
        "sources": [{"ref": "S3"}],
    }).flatmap(lambda e: st.one_of(st.just(e), citation.map(lambda c: {**e, "sources": [c]}))), max_size=2)})


def _mutated(text: str, data: st.DataObject) -> str:
    """GOOD_ENTRY with a few characters deleted, replaced or inserted (YAML-significant ones likely)."""
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        junk = data.draw(st.text(alphabet=":-[]{}#&*!|>'\"%@` \n\t?,0123456789テ", max_size=3))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + junk + text[at + cut:]
    return text


yamlish = st.data()


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge folder with the real sources and one content file (the one being fuzzed)."""
    root = tmp_path_factory.mktemp("fuzzkb")
    (root / "content").mkdir()
    shutil.copy(bundled_dir() / "sources.yaml", root / "sources.yaml")
    return root


def _text_for(data: st.DataObject, shaped: st.SearchStrategy[dict[str, object]]) -> str:
    how = data.draw(st.sampled_from(["mutated", "shaped", "shaped", "dumped", "raw"]))
    if how == "mutated":
        return _mutated(GOOD_ENTRY, data)
    if how == "shaped":  # the files' own keys, with values of any type
        return yaml.safe_dump(data.draw(st.one_of(shaped, file_like)), allow_unicode=True)
    if how == "dumped":
        doc = data.draw(st.one_of(documents, st.fixed_dictionaries({"entries": st.lists(documents, max_size=3)})))
        return yaml.safe_dump(doc, allow_unicode=True)
    return data.draw(st.text(max_size=200))


def _assert_loads_or_names_file_and_line(load) -> None:  # type: ignore[no-untyped-def]
    try:
        load()
    except KnowledgeError as exc:
        assert exc.problems and all(WHERE.match(p) for p in exc.problems), exc.problems


@FUZZ
@given(data=yamlish)
def test_loader_on_random_content_files(kb_root: Path, data: st.DataObject) -> None:
    (kb_root / "content" / "fuzz.yaml").write_text(_text_for(data, content_file), encoding="utf-8")
    _assert_loads_or_names_file_and_line(lambda: load_knowledge(kb_root))


@FUZZ
@given(data=yamlish)
def test_loader_on_random_sources_and_synonyms(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    root = tmp_path_factory.mktemp("fuzzsrc", numbered=True)
    (root / "content").mkdir()
    (root / "content" / "good.yaml").write_text(GOOD_ENTRY, encoding="utf-8")
    sources = (bundled_dir() / "sources.yaml").read_text(encoding="utf-8")
    how = data.draw(st.sampled_from(["mutated", "shaped", "shaped", "any"]))
    text = {"mutated": lambda: _mutated(sources[-600:], data), "any": lambda: _text_for(data, sources_file),
            "shaped": lambda: yaml.safe_dump(data.draw(sources_file))}[how]()
    (root / "sources.yaml").write_text(text, encoding="utf-8")
    (root / "synonyms.yaml").write_text(_text_for(data, synonyms_file), encoding="utf-8")
    _assert_loads_or_names_file_and_line(lambda: load_knowledge(root))


@FUZZ
@given(data=yamlish)
def test_calibration_loader_on_random_files(kb_root: Path, data: st.DataObject) -> None:
    good = (bundled_dir() / "calibration.yaml").read_text(encoding="utf-8")
    text = _mutated(good, data) if data.draw(st.booleans()) else _text_for(data, file_like)
    (kb_root / "calibration.yaml").write_text(text, encoding="utf-8")
    _assert_loads_or_names_file_and_line(lambda: load_calibration(kb_root))


@pytest.mark.parametrize("sources", [
    "sources:\n  - {id: [S1], title: t, date: '2024'}\n", "sources:\n  - {id: {a: 1}, title: t, date: '2024'}\n",
    "sources:\n  - {id: S3, title: t, date: '2024', url: [x]}\n", "sources:\n  - {id: S3, title: [t], date: '2024'}\n",
])
def test_odd_shapes_the_fuzzer_found_are_refused_with_file_and_line(tmp_path: Path, sources: str) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "good.yaml").write_text(GOOD_ENTRY, encoding="utf-8")
    (tmp_path / "sources.yaml").write_text(sources, encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tmp_path)
    assert f"{tmp_path / 'sources.yaml'}:2: " in str(info.value)


@pytest.fixture(scope="module")
def faq() -> FaqService:
    return FaqService(LiveKnowledge())


any_code_point = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
questions = st.one_of(
    st.text(any_code_point, max_size=80),
    st.text(st.sampled_from("応募資格締切はいつ?DXラボとはIoT推進\ud800\udfff\x00\u200b\ufffd😀 \n"), max_size=40),
    st.lists(st.sampled_from(["応募資格は", "\ud800", "DX", "ラボ", "締切", "?", "！", "²", "\x00", " "]),
             max_size=10).map("".join),
)


@FUZZ
@given(question=questions)
def test_ask_answers_any_text(faq: FaqService, question: str) -> None:
    result = faq.ask(question)
    assert result.answer
    json.dumps(result.as_json(), ensure_ascii=False).encode("utf-8")  # shown and logged as UTF-8


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(any_code_point.filter(lambda c: not "\ud800" <= c <= "\udfff"), max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=40,
)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300),
                     st.text(st.sampled_from('[]{}"\\,:1 a'), max_size=300).map(str.encode)))
def test_parse_json_limited_on_arbitrary_bytes(raw: bytes) -> None:
    try:
        parse_json_limited(raw, max_depth=8)
    except BadRequest as exc:
        assert str(exc).startswith("JSON body: ")


@FUZZ
@given(value=json_values, nest=st.integers(0, 40))
def test_parse_json_limited_round_trips_real_json(value: object, nest: int) -> None:
    for _ in range(nest):
        value = [value]
    raw = json.dumps(value, ensure_ascii=bool(nest % 2)).encode()
    if json_depth(raw) > 32:
        with pytest.raises(BadRequest, match="nested deeper"):
            parse_json_limited(raw)
    else:
        assert parse_json_limited(raw) == value
