"""The embedded demo directory (bot/directory/demo.yaml): the publicly announced labs and clearly
fictional people and experts, loaded by `dxlab serve --demo` into an EMPTY directory only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.db.repos.directory import DEMO_PREFIX
from bot.db.uow import UnitsOfWork
from bot.directory.service import import_files
from handlers.directory import Directory, parse_files

log = logging.getLogger(__name__)
DEMO_FILE = "demo.yaml"
ACTOR = "demo"


@cache
def demo_text() -> str:
    return resources.files(__package__).joinpath(DEMO_FILE).read_text(encoding="utf-8")


def demo_directory() -> Directory:
    return parse_files([(DEMO_FILE, demo_text())]).directory


@dataclass(frozen=True)
class DemoPerson:
    id: str
    name: str
    roles: tuple[str, ...]
    labs: tuple[str, ...]
    org: str | None

    @property
    def web_user(self) -> str:
        """The Address.user a web-chat visitor acting as this person carries (platform `web`, demo mode only)."""
        return DEMO_PREFIX + self.id


def demo_people() -> list[DemoPerson]:
    """Who a visitor of the demo web chat may act as (a secretariat member, a coordinator, …)."""
    return [DemoPerson(p.id, p.name, p.roles, p.labs, p.org) for p in demo_directory().people]


def load_demo_if_empty(units: UnitsOfWork) -> bool:
    """Import the demo directory when the directory holds no lab and no person; True when it did."""
    with units() as uow:
        empty = uow.directory.is_empty()
    if not empty:
        log.info("directory: the stored directory is used (demo directory not loaded: it loads into an empty one)")
        return False
    plan = import_files(units, [(DEMO_FILE, demo_text())], ACTOR)
    if plan.errors:  # the shipped file is checked by tests; never start half-loaded
        raise RuntimeError("the demo directory is invalid: " + "; ".join(map(str, plan.errors)))
    d = plan.directory
    log.info("directory: DEMO directory loaded (%d announced labs, %d fictional people, %d fictional experts); "
             "`dxlab directory import FILE` replaces it with a real one", len(d.labs), len(d.people), len(d.experts))
    return True
