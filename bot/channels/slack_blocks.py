"""A Reply as Slack Block Kit (plain dicts: no SDK needed), and the App Home view.

Slack's limits shape this: 3,000 characters per section text, 75 per button label, 25 elements
per actions block, and action ids unique within a message.
"""

from __future__ import annotations

import json

from handlers.address import Address
from handlers.i18n import t
from handlers.messages import Button, Form, Reply

SECTION_CHARS = 2800  # under Slack's 3,000, leaving room for the &amp; escapes added after cutting
LABEL_CHARS = 75
QUESTION_CHARS = 200  # a title longer than this is cut
ACTIONS_PER_BLOCK = 25
FALLBACK_CHARS = 3000
ACTION_SEPARATOR = ":"  # action_id = "<ActionName>:<n>", n keeping ids unique within one message

Block = dict[str, object]


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as markup; user and knowledge text must show as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def action_name(action_id: str) -> str:
    return action_id.partition(ACTION_SEPARATOR)[0]


def _chunks(text: str, size: int) -> list[str]:
    """Cut at the last line break before `size` when there is one, so paragraphs stay whole."""
    chunks = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > 0 else size
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*chunks, text] if text else chunks


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _actions(buttons: tuple[Button, ...], first: int) -> list[Block]:
    elements: list[Block] = []
    for n, button in enumerate(buttons, first):
        element: Block = {
            "type": "button",
            "action_id": f"{button.action}{ACTION_SEPARATOR}{n}",
            "text": {"type": "plain_text", "text": _shorten(button.label, LABEL_CHARS), "emoji": True},
            "value": button.value,
        }
        if button.style in ("primary", "danger"):
            element["style"] = button.style
        elements.append(element)
    return [{"type": "actions", "elements": elements[i: i + ACTIONS_PER_BLOCK]}
            for i in range(0, len(elements), ACTIONS_PER_BLOCK)]


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:FALLBACK_CHARS]}]}


def render(reply: Reply) -> tuple[str, list[Block]]:
    """The notification text and the blocks (a title, when there is one, heads them in bold)."""
    blocks: list[Block] = []
    if reply.title:
        blocks.append(_section(f"*{escape(_shorten(reply.title, QUESTION_CHARS))}*"))
    blocks.extend(_section(escape(chunk)) for chunk in _chunks(reply.text, SECTION_CHARS))
    if reply.source:
        blocks.append(_context(escape(reply.source)))
    blocks.extend(_actions(reply.buttons, 0))
    if reply.suggestions:
        if reply.suggestion_intro:
            blocks.append(_section(escape(reply.suggestion_intro)))
        blocks.extend(_actions(reply.suggestions, len(reply.buttons)))
    return reply.plain_text()[:FALLBACK_CHARS], blocks


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def home_view() -> dict[str, object]:
    """The App Home tab: what the bot is for and how to ask."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": t("home.title"), "emoji": True}},
            _section(escape(t("home.intro"))),
            _section(f"*{escape(t('home.examples_title'))}*\n{escape(t('home.examples'))}"),
            {"type": "divider"},
            _section(escape(t("help.body"))),
            _context(escape(t("help.slash_usage"))),
        ],
    }


MODAL_TITLE_CHARS = 24
MODAL_BUTTON_CHARS = 24


def modal_view(form: Form, address: Address) -> dict[str, object]:
    """A form as a Slack modal: one input block per field (block and action ids are the field names), and
    the place the form was opened from, kept in private_metadata for the submission."""
    blocks: list[Block] = []
    for f in form.fields:
        element: Block
        if f.options:
            options = [{"text": {"type": "plain_text", "text": _shorten(label, LABEL_CHARS)}, "value": value}
                       for value, label in f.options]
            element = {"type": "static_select", "action_id": f.name, "options": options}
            chosen = [o for o in options if o["value"] == f.initial]
            if chosen:
                element["initial_option"] = chosen[0]
        else:
            element = {"type": "plain_text_input", "action_id": f.name, "multiline": f.multiline}
            if f.initial:
                element["initial_value"] = f.initial
            if f.placeholder:
                element["placeholder"] = {"type": "plain_text", "text": _shorten(f.placeholder, 150)}
        blocks.append({"type": "input", "block_id": f.name, "optional": not f.required, "element": element,
                       "label": {"type": "plain_text", "text": _shorten(f.label, 2000)}})
    metadata = json.dumps({"address": address.without_hooks().to_json(), "context": form.context},
                          ensure_ascii=False)
    return {"type": "modal", "callback_id": form.id, "private_metadata": metadata[:3000],
            "title": {"type": "plain_text", "text": _shorten(form.title, MODAL_TITLE_CHARS)},
            "submit": {"type": "plain_text", "text": _shorten(form.submit_label, MODAL_BUTTON_CHARS)},
            "close": {"type": "plain_text", "text": _shorten(t("form.cancel"), MODAL_BUTTON_CHARS)},
            "blocks": blocks}
