"""Where the secretariat reads: the one place that answers it (a Slack channel from the settings, a Teams
conversation registered with `secretariat here`); the directory file can name both."""

from __future__ import annotations

from handlers.address import Address, Platform
from handlers.context import Context

TEAMS_KEY = "secretariat.teams_conversation"  # key_value row: the Address JSON of that conversation


def secretariat_addresses(ctx: Context) -> list[Address]:
    found: list[Address] = []
    if ctx.services.secretariat_slack_channel:
        found.append(Address(Platform.SLACK, ctx.services.secretariat_slack_channel))
    teams = ctx.uow.kv.get(TEAMS_KEY)
    if teams:
        found.append(Address.from_json(teams))
    return found
