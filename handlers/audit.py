"""The audit log's record: who did what, when, to what, with what result, and the before/after state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditEntry:
    actor: str  # a person id, else the platform address (`slack:@U123`), or `cli:<os user>`
    action: str  # `directory.import`, `directory.whois`, …: the policy's action names
    target: str = ""  # what it concerned: `labs:shiojiri`, a person id, a case ref
    outcome: str = "done"  # done | allowed | refused
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: dt.datetime | None = None  # set by the repository when None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "actor": self.actor, "action": self.action,
                "target": self.target, "outcome": self.outcome, "before": self.before, "after": self.after}


class AuditRepo(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def since(self, since: dt.datetime | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Entries at or after `since` (all when None), oldest first."""
        ...
