"""The knowledge base currently serving, swapped whole on reload; a bad edit keeps the old one."""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from knowledge.answer import FaqEngine, vectors_dir
from knowledge.schema import KnowledgeBase, KnowledgeError, bundled_dir, load_knowledge
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

    def reload(self, allow_empty: bool = False) -> ReloadResult:
        """Load the files again and serve them if they are valid. Refused (the old content keeps
        serving): any KnowledgeError, and a content file that still exists but lost all its
        entries (a 0-byte or truncated save) unless `allow_empty` says that is meant."""
        with self._lock:
            signature = _signature(self.root)
            try:
                kb = load_knowledge(self.root)
                if not allow_empty:
                    emptied_files(self._engine.kb, kb)
                engine = FaqEngine(kb, self.threshold, embedder=self.embedder, vectors=self.vectors, embed_limit=None)
            except KnowledgeError as exc:
                return self._refuse(signature, tuple(exc.problems))
            except Exception as exc:  # a bug must not take serving down: keep the old content
                log.exception("knowledge reload failed")
                return self._refuse(signature, (f"{self.root}:0: reload failed: {type(exc).__name__}: {exc}",))
            gc.unfreeze()  # let the replaced index be collected, then freeze the new one
            self._engine, self._signature = engine, signature
            gc.collect()
            gc.freeze()
            log.info("knowledge reloaded: %d entries", len(engine.kb.entries))
            return ReloadResult(True, len(engine.kb.entries))

    def _refuse(self, signature: tuple[tuple[str, int, int], ...], problems: tuple[str, ...]) -> ReloadResult:
        self._signature = signature  # do not retry the same bad files on every poll
        log.error("knowledge reload refused, still serving the previous content:\n%s", "\n".join(problems))
        return ReloadResult(False, len(self._engine.kb.entries), problems)


def emptied_files(old: KnowledgeBase, new: KnowledgeBase) -> None:
    """Raise KnowledgeError for each content file that had entries in `old`, still exists, and
    has none in `new`. A deleted file is a deliberate removal and passes."""
    before = Counter(e.file for e in old.entries)
    after = Counter(e.file for e in new.entries)
    problems = [f"{file}:1: had {count} entries and now has none (an emptied or truncated file?); "
                "reload with allow_empty to remove them"
                for file, count in sorted(before.items()) if not after[file] and Path(file).is_file()]
    if problems:
        raise KnowledgeError(problems)
