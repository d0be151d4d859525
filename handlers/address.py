"""Where a message comes from or goes to, on any platform: one value shared by inbound messages,
button presses, stored conversation references, directory identities and the outbox.

- Slack: `conversation` is a channel id (C…, G…, D…), `thread` a thread_ts, `user` a user id (U…);
  an address with a user and no conversation is a direct message to that user.
- Teams: `conversation` is the conversation id (a channel thread is `…;messageid=<root id>`),
  `user` the sender's id, `workspace` the tenant, `service_url` where its connector lives; with the
  bot's id, that rebuilds the ConversationReference `continue_conversation` needs.
- web / console / cli: `conversation` is the browser's (or terminal's) conversation id.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum


class Platform(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    WEB = "web"
    CONSOLE = "console"
    CLI = "cli"


@dataclass(frozen=True)
class Address:
    platform: str
    conversation: str = ""
    user: str = ""
    thread: str | None = None
    workspace: str = ""
    service_url: str = ""  # Teams: the connector that carries messages into this conversation
    response_url: str = ""  # Slack: a slash command's or button's reply hook (30 min; works without membership)
    trigger: str = ""  # Slack: the trigger id of the interaction (3 s), with which a reply's form opens as a modal

    @property
    def is_direct(self) -> bool:
        """A one-to-one conversation with `user` (a Slack DM, a Teams personal chat, the web chat)."""
        if self.platform == Platform.SLACK:
            return not self.conversation or self.conversation.startswith("D")
        return self.platform != Platform.TEAMS or not self.conversation.startswith("19:")

    @property
    def base_conversation(self) -> str:
        """The conversation without a Teams thread's `;messageid=<root id>`: the channel a thread is in (a
        Slack address keeps its thread apart already)."""
        return self.conversation.partition(";messageid=")[0]

    def in_thread(self, thread: str | None) -> Address:
        return replace(self, thread=thread)

    def to_user(self, user: str) -> Address:
        """A direct message to `user` on the same platform and workspace."""
        return Address(self.platform, "", user, None, self.workspace, self.service_url)

    def without_hooks(self) -> Address:
        """The same place without the one-time reply hooks (kept in a form, used again much later)."""
        return replace(self, response_url="", trigger="")

    @property
    def conversation_key(self) -> str:
        """Identifies the conversation (and thread) for storage: `slack:C123:1712.0001`."""
        base = f"{self.platform}:{self.conversation or '@' + self.user}"
        return f"{base}:{self.thread}" if self.thread else base

    @property
    def pacing_key(self) -> str:
        """The unit a platform rate-limits per message (a Slack channel, a Teams conversation)."""
        return f"{self.platform}:{self.workspace}:{self.conversation or '@' + self.user}"

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in ("", None)}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Address:
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
