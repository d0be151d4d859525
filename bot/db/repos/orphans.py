"""Claims left by a process of this host that died: released at start-up instead of waiting out the lease.

A worker's name starts with `host:pid:`. A claim (inbox, outbox, due work) whose host is this one and whose
process no longer runs, or has our own pid but a name this process never gave (a restarted container
is pid 1 again), belongs to a crashed
predecessor: its claim is made to expire now, and the ordinary takeover follows (an outbox row taken over
is reconciled before it is sent again, so nothing is sent twice). A claim of another host, or of a process
that still runs, waits for its lease as before.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import Table, select, update

from bot.db.models import DueWork, InboxItem, OutboxMessage
from bot.db.models.work import CLAIMED
from bot.db.session import Database

TABLES: tuple[Table, ...] = (InboxItem.__table__, OutboxMessage.__table__, DueWork.__table__)  # type: ignore[assignment]
HOST = socket.gethostname()[:40]  # claimed_by holds 64 characters
_OURS: set[str] = set()  # the names this process gave its workers


def worker_name(role: str) -> str:
    """`host:pid:role:random`, remembered as one of this process's own workers."""
    name = f"{HOST}:{os.getpid()}:{role}:{uuid.uuid4().hex[:8]}"
    _OURS.add(name)
    return name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def is_orphaned(claimed_by: str) -> bool:
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():  # ours, or a predecessor's with the same pid (a container's pid 1)
        return claimed_by not in _OURS
    return not _alive(int(pid))


def release_orphaned_claims(db: Database, now: dt.datetime) -> int:
    """Expire the live claims of this host's dead workers; the number of rows released."""
    released = 0
    with db.session() as s, s.begin():
        for table in TABLES:
            live = (table.c.state == CLAIMED) & (table.c.claimed_until >= now)
            holders = s.scalars(select(table.c.claimed_by).where(live).distinct()).all()
            dead = [h for h in holders if h and is_orphaned(h)]
            if dead:
                released += s.execute(update(table).where(live, table.c.claimed_by.in_(dead))
                                      .values(claimed_until=now - dt.timedelta(seconds=1))).rowcount
    return released
