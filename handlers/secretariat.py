"""`secretariat here`: a secretariat member makes the conversation they type it in the one the secretariat
reads on Teams (Slack's is a setting or the directory file). Where the secretariat reads is answered in
one place: handlers.directory.secretariat.secretariat_addresses."""

from __future__ import annotations

from handlers.address import Address
from handlers.context import Context
from handlers.directory.secretariat import TEAMS_KV_KEY
from handlers.directory.secretariat import secretariat_addresses as _addresses
from handlers.i18n import t
from handlers.messages import Inbound, Reply, Visibility
from handlers.outcome import Outcome
from handlers.policy import Act, check, refused
from handlers.routes import Routes


def secretariat_addresses(ctx: Context) -> list[Address]:
    return _addresses(ctx.uow, ctx.services.secretariat_slack_channel)


def here(ctx: Context, msg: Inbound) -> Outcome:
    decision = check(ctx, Act.SECRETARIAT_HERE)
    if not decision.allowed:
        return refused(decision)
    where = ctx.address
    if where.platform != "teams":
        return Outcome(Reply(text=t("secretariat.here_teams_only"), visibility=Visibility.PRIVATE))
    ctx.uow.kv.put(TEAMS_KV_KEY, where.in_thread(None).to_json())
    return Outcome(Reply(text=t("secretariat.here_done")))


def register(routes: Routes) -> None:
    routes.command("secretariat here", "事務局 ここ", usage="secretariat.usage")(here)
