"""Help, thanks, and the answer to a command nobody knows."""

from __future__ import annotations

from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Outcome
from handlers.routes import Routes


def help_reply(commands: tuple[str, ...] = (), prefix: str | None = None) -> Reply:
    """What the bot does, and each command's one-line usage (the i18n keys the use cases registered)."""
    parts = [p for p in (prefix, t("help.title"), t("help.body")) if p]
    if commands:
        parts.append(t("help.commands_intro"))
        parts.extend(f"・{t(key)}" for key in commands)
    return Reply(text="\n".join(parts), kind=ReplyKind.HELP, visibility=Visibility.PRIVATE)


def show_help(ctx: Context, msg: Inbound) -> Outcome:
    return Outcome(help_reply(ctx.services.command_usage))


def unknown_command(ctx: Context, msg: Inbound) -> Outcome:
    word = msg.text.split(maxsplit=1)[0] if msg.text.strip() else ""
    return Outcome(help_reply(ctx.services.command_usage, prefix=t("help.unknown_command", command=word)))


def thanks(ctx: Context, msg: Inbound) -> Outcome:
    return Outcome(Reply(text=t("help.thanks"), kind=ReplyKind.NOTICE))


def register(routes: Routes) -> None:
    routes.command("help", "ヘルプ", "使い方")(show_help)
    routes.unknown_command = unknown_command
    routes.intent("help")(show_help)
    routes.intent("thanks")(thanks)
