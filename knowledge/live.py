"""The knowledge base currently serving, swapped whole on reload; a bad edit keeps the old one."""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from knowledge.answer import FaqEngine, vectors_dir
from knowledge.schema import KnowledgeError, bundled_dir, load_knowledge
from knowledge.semantic import Embedder, VectorStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    entries: int
    problems: tuple[str, ...] = ()


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in root.rglob("*.yaml") if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


class LiveKnowledge:
    """Holds the serving FaqEngine; `reload()` builds a new one and swaps it in only if valid.

    With an embedder, entry vectors come from `vectors/` (written by `dxlab kb embed`); the store
    stays in memory across reloads, so a reload embeds only the texts that changed."""

    def __init__(self, root: Path | None = None, threshold: float | None = None,
                 embedder: Embedder | None = None):
        self.root = Path(root) if root else bundled_dir()
        self.threshold = threshold
        self.embedder = embedder
        self.vectors = VectorStore(vectors_dir(self.root), embedder.name) if embedder else None
        self._lock = threading.Lock()
        self._signature = _signature(self.root)
        self._engine = FaqEngine(load_knowledge(self.root), threshold, embedder=embedder, vectors=self.vectors)
        # The index is hundreds of thousands of long-lived objects: keeping them out of the
        # garbage collector's scans takes multi-millisecond pauses out of answering.
        gc.freeze()

    @property
    def engine(self) -> FaqEngine:
        return self._engine

    def changed(self) -> bool:
        return _signature(self.root) != self._signature

    def reload(self) -> ReloadResult:
        with self._lock:
            signature = _signature(self.root)
            try:
                engine = FaqEngine(load_knowledge(self.root), self.threshold, embedder=self.embedder,
                                   vectors=self.vectors, embed_limit=None)
            except KnowledgeError as exc:
                self._signature = signature  # do not retry the same bad files on every poll
                log.error("knowledge reload refused, still serving the previous content:\n%s", exc)
                return ReloadResult(False, len(self._engine.kb.entries), tuple(exc.problems))
            gc.unfreeze()  # let the replaced index be collected, then freeze the new one
            self._engine, self._signature = engine, signature
            gc.collect()
            gc.freeze()
            log.info("knowledge reloaded: %d entries", len(engine.kb.entries))
            return ReloadResult(True, len(engine.kb.entries))
