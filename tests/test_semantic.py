"""The semantic side: the OpenAI-compatible client against a local server, vectors computed ahead
and keyed by content, a reload that embeds only what changed, and the bundled in-process model."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from knowledge.answer import FaqEngine, vectors_dir
from knowledge.live import LiveKnowledge
from knowledge.schema import bundled_dir, load_knowledge
from knowledge.semantic import LocalE5, OpenAIEmbedder, SemanticIndex, VectorStore, make_embedder, text_key
from tests.helpers import copy_knowledge

DIM = 64


def bigram_vector(text: str) -> list[float]:
    """A deterministic embedding: hashed character bigrams (what the fake server returns)."""
    v = np.zeros(DIM)
    for i in range(len(text) - 1):
        v[int(hashlib.md5(text[i:i + 2].encode()).hexdigest(), 16) % DIM] += 1.0
    return list(v)


class _EmbeddingsServer(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": bigram_vector(t)} for i, t in enumerate(inputs)]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _EmbeddingsServer.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


class CountingEmbedder:
    """Wraps an embedder and counts the texts it was asked for."""

    def __init__(self, inner: OpenAIEmbedder):
        self.name, self.inner, self.texts = inner.name, inner, 0

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts, query)


def test_the_openai_client_talks_to_a_compatible_server(server: str) -> None:
    embedder = make_embedder("openai", model="tiny-embed", base_url=server, api_key="k-test")
    assert isinstance(embedder, OpenAIEmbedder)
    vectors = embedder.embed(["応募資格", "締切はいつ"], query=True)
    assert vectors.shape == (2, DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    call = _EmbeddingsServer.calls[-1]
    assert call["path"] == "/v1/embeddings" and call["model"] == "tiny-embed"
    assert call["auth"] == "Bearer k-test" and call["input"] == ["応募資格", "締切はいつ"]


def test_vectors_are_stored_by_content_and_a_reload_embeds_only_what_changed(server: str, tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    kb = load_knowledge(root)
    embedder = CountingEmbedder(OpenAIEmbedder("tiny-embed", server))
    store = VectorStore(vectors_dir(root), embedder.name)
    index = SemanticIndex(kb.entries, embedder, store, embed_limit=None)  # what `dxlab kb embed` does
    total = sum(len(e.questions) + 1 for e in kb.entries)
    assert embedder.texts == total == index.embedded_now
    store.save()

    embedder.texts = 0
    live = LiveKnowledge(root, embedder=embedder)  # start-up: everything comes from the saved store
    assert embedder.texts == 2  # the warm-up questions only
    assert live.engine.semantic is not None and live.engine.semantic.embedded_now == 0

    edited = next(e for e in kb.entries if e.file.endswith("eligibility.yaml"))
    path = Path(edited.file)
    text = path.read_text(encoding="utf-8")
    assert text.count(edited.questions[1]) == 1
    path.write_text(text.replace(edited.questions[1], "わが社のみで申し込めますか?"), encoding="utf-8")
    embedder.texts = 0
    assert live.reload().ok
    assert live.engine.semantic.embedded_now == 1  # the edited phrasing, nothing else
    key = text_key(embedder.name, "わが社のみで申し込めますか?", True)
    assert live.vectors is not None and live.vectors.get(key) is not None


def test_a_stale_store_costs_recall_not_start_up_time(server: str, tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    embedder = CountingEmbedder(OpenAIEmbedder("tiny-embed", server))
    engine = FaqEngine(load_knowledge(root), embedder=embedder, embed_limit=5)
    assert engine.semantic is not None and engine.semantic.embedded_now == 5


def test_semantic_off_is_lexical_only() -> None:
    assert make_embedder("off") is None
    with pytest.raises(ValueError):
        make_embedder("remote")


def test_the_bundled_model_and_shipped_vectors_answer_in_process() -> None:
    embedder = LocalE5()
    store = VectorStore(vectors_dir(bundled_dir()), embedder.name)
    assert len(store) > 0, "run `dxlab kb embed`: the package ships entry vectors"
    engine = FaqEngine(load_knowledge(), embedder=embedder, vectors=store)
    assert engine.semantic is not None and engine.semantic.embedded_now == 0  # all shipped, none at start-up
    assert engine.mode.startswith("hybrid-")
    decision = engine.decide("自治体の了承なしに企業が単独で申請することは可能でしょうか")
    assert decision.entry is not None and decision.entry.id.startswith("eligibility.")
    assert engine.decide("明日の函館の天気は?").entry is None


def test_a_question_is_embedded_once_however_often_it_is_asked(server: str, tmp_path: Path) -> None:
    embedder = CountingEmbedder(OpenAIEmbedder("tiny-embed", server))
    engine = FaqEngine(load_knowledge(copy_knowledge(tmp_path)), embedder=embedder, embed_limit=0)
    embedder.texts = 0
    first = engine.decide("応募の締切はいつですか?")
    again = engine.decide("応募の締切はいつですか?")
    assert embedder.texts == 1
    assert (first.entry, first.confidence) == (again.entry, again.confidence)


def test_an_entry_scores_its_best_phrasing_or_its_answer_weighed_down(server: str, tmp_path: Path) -> None:
    kb = load_knowledge(copy_knowledge(tmp_path))
    embedder = OpenAIEmbedder("tiny-embed", server)
    index = SemanticIndex(kb.entries, embedder, VectorStore(tmp_path / "vectors", embedder.name), embed_limit=None)
    question = "小さな町でも申請できますか"
    q = embedder.embed([question], query=True)[0]
    answers = embedder.embed([e.answer for e in kb.entries], query=False) @ q
    expected = [max(*(embedder.embed(e.questions, query=True) @ q), SemanticIndex.ANSWER_WEIGHT * a)
                for e, a in zip(kb.entries, answers, strict=True)]
    assert np.allclose(index.similarities(question), expected, atol=1e-5)


def test_a_long_question_is_read_from_its_end_where_the_ask_is() -> None:
    embedder = LocalE5()
    ask = "ラボの申請締切はいつですか?"
    long = "当町は山間部にある人口約8千人の小さな町で、高齢化が進んでいます。" * 4 + ask
    read = embedder.clipped(long, query=True)
    assert long.endswith(read) and read.endswith(ask) and len(read) < len(long)
    assert np.allclose(embedder.embed([long], query=True), embedder.embed([read], query=True))
    assert embedder.clipped(ask, query=True) == ask
    every_phrasing = [q for e in load_knowledge().entries for q in e.questions]
    assert all(embedder.clipped(q, query=True) == q for q in every_phrasing)  # their stored vectors still match
    assert embedder.clipped(long, query=False) == long  # entry answers: only the character limit
