"""Slack payloads (as stored in the inbox) to the neutral model: an Inbound, Action or Submission with
its Address, `HOME` for an App Home visit, or None for what is not a person talking to the bot."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from bot.channels.slack_blocks import action_name
from handlers.address import Address, Platform
from handlers.messages import Action, Inbound, Submission

MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
# A message with any other subtype is not a person writing: edits, deletions, joins, bot posts…
PERSON_SUBTYPES = frozenset({"thread_broadcast", "file_share"})
HOME: Literal["home"] = "home"
Converted = Inbound | Action | Submission | Literal["home"] | None


def strip_mentions(text: str) -> str:
    return MENTION.sub(" ", text).strip()


def is_person_message(event: Mapping[str, Any]) -> bool:
    """A message a person wrote just now (not an edit, deletion, join, or any bot's post)."""
    subtype = event.get("subtype")
    return (not event.get("bot_id") and not event.get("hidden") and bool(event.get("user"))
            and (subtype is None or subtype in PERSON_SUBTYPES))


def inbox_key(body: Mapping[str, Any]) -> str | None:
    """What makes a delivery unique: the event id, or the trigger id of a command or interaction."""
    if body.get("type") == "event_callback" and isinstance(body.get("event_id"), str):
        return f"slack:{body['event_id']}"
    trigger = body.get("trigger_id")
    return f"slack:trigger:{trigger}" if isinstance(trigger, str) and trigger else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def convert(body: Mapping[str, Any], bot_user_id: str) -> Converted:
    team = _text(body.get("team_id")) or _text((body.get("team") or {}).get("id"))
    if body.get("type") == "event_callback":
        return _event(body.get("event") or {}, team, bot_user_id)
    if "command" in body:
        where = Address(Platform.SLACK, _text(body.get("channel_id")), _text(body.get("user_id")),
                        workspace=team, response_url=_text(body.get("response_url")),
                        trigger=_text(body.get("trigger_id")))
        return Inbound(where, _text(body.get("text")), is_command=True)
    if body.get("type") == "block_actions":
        return _button(body, team)
    if body.get("type") == "view_submission":
        return _submission(body, team)
    return None


def _event(event: Mapping[str, Any], team: str, bot_user_id: str) -> Converted:
    kind = event.get("type")
    if kind == "app_home_opened":
        return HOME if event.get("tab") == "home" else None
    if kind not in ("app_mention", "message") or not is_person_message(event):
        return None
    channel, user, text = _text(event.get("channel")), _text(event.get("user")), _text(event.get("text"))
    thread = _text(event.get("thread_ts")) or None
    if kind == "app_mention":
        where = Address(Platform.SLACK, channel, user, thread or _text(event.get("ts")), team)
        return Inbound(where, strip_mentions(text))
    if event.get("channel_type") == "im":
        return Inbound(Address(Platform.SLACK, channel, user, thread, team), strip_mentions(text))
    if thread and f"<@{bot_user_id}" not in text:
        # A mention is answered as app_mention; other thread messages only where the bot answered before.
        return Inbound(Address(Platform.SLACK, channel, user, thread, team), strip_mentions(text), addressed=False)
    return None


def _button(body: Mapping[str, Any], team: str) -> Action | None:
    actions = body.get("actions") or []
    if not actions or not isinstance(actions[0], dict):
        return None
    pressed = actions[0]
    container = body.get("container") or {}
    channel = _text((body.get("channel") or {}).get("id")) or _text(container.get("channel_id"))
    thread = _text((body.get("message") or {}).get("thread_ts")) or _text(container.get("thread_ts")) or None
    where = Address(Platform.SLACK, channel, _text((body.get("user") or {}).get("id")), thread, team,
                    response_url=_text(body.get("response_url")), trigger=_text(body.get("trigger_id")))
    return Action(where, action_name(_text(pressed.get("action_id"))), _text(pressed.get("value")))


def _submission(body: Mapping[str, Any], team: str) -> Submission | None:
    view = body.get("view") or {}
    try:
        meta = json.loads(_text(view.get("private_metadata")) or "{}")
        where = Address.from_json(meta["address"])
    except (ValueError, KeyError, TypeError):
        return None
    values: dict[str, str] = {}
    for block in (view.get("state") or {}).get("values", {}).values():
        for name, element in block.items():
            chosen = element.get("selected_option") or {}
            values[name] = _text(element.get("value")) or _text(chosen.get("value"))
    user = _text((body.get("user") or {}).get("id"))
    return Submission(Address(where.platform, where.conversation, user or where.user, where.thread, team),
                      _text(view.get("callback_id")), values, _text(meta.get("context")))
