"""Where the secretariat reads: the directory file's `secretariat:` section, else the fallbacks
(DXLAB_SECRETARIAT_SLACK_CHANNEL for Slack; the `secretariat here` setting in kv for Teams)."""

from __future__ import annotations

from handlers.address import Address, Platform
from handlers.ports import UnitOfWork

TEAMS_KV_KEY = "secretariat.teams_conversation"


def secretariat_addresses(uow: UnitOfWork, slack_channel_setting: str = "") -> list[Address]:
    found = {a.platform: a for a in uow.directory.secretariat_addresses()}
    if Platform.SLACK not in found and slack_channel_setting:
        found[Platform.SLACK] = Address(Platform.SLACK, conversation=slack_channel_setting)
    stored = uow.kv.get(TEAMS_KV_KEY)
    if Platform.TEAMS not in found and stored:
        found[Platform.TEAMS] = _teams_address(stored)
    return [found[p] for p in (Platform.SLACK, Platform.TEAMS) if p in found]


def _teams_address(stored: str) -> Address:
    # Either an Address as JSON (with its service URL) or a bare conversation id.
    if stored.lstrip().startswith("{"):
        try:
            return Address.from_json(stored)
        except (ValueError, TypeError):
            pass
    return Address(Platform.TEAMS, conversation=stored.strip())
