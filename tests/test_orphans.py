"""Claims of a crashed process on this host are released at start-up; other claims wait for their lease."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import select

from bot.db.models import InboxItem
from bot.db.models.work import CLAIMED
from bot.db.repos import orphans
from bot.db.session import Database

NOW = dt.datetime(2030, 4, 1, 3, 0, tzinfo=dt.UTC)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_this_hosts_dead_workers_lose_their_claims(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'o.db'}")
    mine = orphans.worker_name("inbox")
    holders = {
        "dead": f"{orphans.HOST}:{_dead_pid()}:inbox:0000aaaa",
        "predecessor": f"{orphans.HOST}:{os.getpid()}:inbox:0000bbbb",  # our pid, a name we never gave
        "alive": f"{orphans.HOST}:{os.getppid()}:inbox:0000cccc",
        "ours": mine,
        "elsewhere": f"another-host:{_dead_pid()}:inbox:0000dddd",
        "expired": f"{orphans.HOST}:{_dead_pid()}:inbox:0000eeee",
    }
    with db.session() as s, s.begin():
        for label, holder in holders.items():
            until = NOW - dt.timedelta(seconds=5) if label == "expired" else NOW + dt.timedelta(seconds=10)
            s.add(InboxItem(key=label, platform="slack", body="{}", received_at=NOW, state=CLAIMED, attempts=1,
                            claimed_by=holder, claimed_until=until, expires_at=NOW + dt.timedelta(hours=2)))

    assert orphans.release_orphaned_claims(db, NOW) == 2
    with db.session() as s:
        still = {r.key for r in s.scalars(select(InboxItem).where(InboxItem.claimed_until >= NOW))}
    assert still == {"alive", "ours", "elsewhere"}
    db.dispose()
