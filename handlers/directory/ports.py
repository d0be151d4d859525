"""What handlers need from the stored directory (bot/db/repos/directory.py implements it)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from handlers.address import Address
from handlers.directory.check import Plan
from handlers.directory.model import Directory, Expert, ExpertProfile, Lab, Person


class DirectoryRepo(Protocol):
    def person_by_address(self, address: Address) -> Person | None:
        """Who is speaking: a Slack user id or a Teams AAD object id (the address's `user`); on the web
        chat, a demo person's `demo:<id>`. None: a member of the public."""
        ...

    def person(self, person_id: str) -> Person | None: ...

    def expert(self, person_id: str) -> ExpertProfile | None: ...

    def lab(self, lab_id: str) -> Lab | None: ...

    def labs(self, region: str | None = None, prefecture: str | None = None) -> list[Lab]: ...

    def people(self, role: str | None = None, lab: str | None = None, region: str | None = None,
               prefecture: str | None = None) -> list[Person]: ...

    def experts(self, topic: str | None = None, prefecture: str | None = None, industry: str | None = None,
                available_on: dt.date | None = None, for_org: str | None = None) -> list[Expert]:
        """Experts for a topic who cover `prefecture` (named there, in its region block, or national),
        nearest first; absent ones (on `available_on`) and those excluded from `for_org` left out."""
        ...

    def secretariat_addresses(self) -> list[Address]:
        """Where the secretariat reads, as the directory file's `secretariat:` section says."""
        ...

    def is_empty(self) -> bool: ...

    def snapshot(self) -> Directory: ...

    def apply(self, plan: Plan, actor: str) -> None:
        """Make the planned changes and audit each one (as `actor`)."""
        ...
