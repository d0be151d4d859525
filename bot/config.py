"""Settings from the environment and an optional `.env`, read once and passed around frozen."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dotenv import dotenv_values

from handlers.events.model import EventSettings, parse_offsets

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3978


def _default_database_url() -> str:
    # A SQLite file in the working directory: created and migrated on first use.
    return f"sqlite:///{Path.cwd() / 'dxlab.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    port: int
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "MultiTenant"
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"
    knowledge_dir: str = ""
    answer_threshold: float | None = None  # None: the calibrated threshold
    semantic: str = "off"  # semantic retrieval: off | local (in-process model) | openai (embeddings API)
    embedding_model: str = "text-embedding-3-small"  # for semantic=openai
    max_question_chars: int = 2000
    kb_max_age_days: int = 1095
    kb_watch: bool = True
    log_level: str = "INFO"
    webchat: str = "auto"  # auto (on only when serving on loopback) | on | off
    admin_token: str = ""  # lets POST /admin/reload in from a non-loopback address
    secretariat_slack_channel: str = ""  # where hand-offs and escalations are posted on Slack
    send_rate: float = 5.0  # outbox: bulk messages per second per workspace (0 = unlimited)
    outbox_max_attempts: int = 8  # outbox and due steps: tries before a row is given up
    public_url: str = ""  # how people reach this server (links to /events/{id}.ics)
    event_reminders: str = "7d,1d,1h"  # before an event, to those who answered 参加
    event_refresh_minutes: float = 5.0  # an invitation's copies show the live count at most this late
    consult_remind_hours: float = 4.0  # unclaimed case: remind the offered expert and the next candidate
    consult_escalate_days: int = 1  # unclaimed case: escalate in the secretariat's channel (business days)
    consult_idle_days: int = 5  # claimed case without a message: nudge the assignee (business days)
    kb_drafts_dir: str = "./kb-drafts"  # FAQ drafts made from consultations, waiting for approval

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def teams_auth_enabled(self) -> bool:
        return bool(self.microsoft_app_id)

    @property
    def events(self) -> EventSettings:
        return EventSettings(parse_offsets(self.event_reminders), self.public_url,
                             dt.timedelta(minutes=self.event_refresh_minutes))


# Environment variable for each setting (the names are a contract: see README).
ENV_NAMES: dict[str, str] = {
    "database_url": "DXLAB_DATABASE_URL",
    "port": "PORT",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "microsoft_app_id": "MICROSOFT_APP_ID",
    "microsoft_app_password": "MICROSOFT_APP_PASSWORD",
    "microsoft_app_tenant_id": "MICROSOFT_APP_TENANT_ID",
    "microsoft_app_type": "MICROSOFT_APP_TYPE",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_model": "DXLAB_OPENAI_MODEL",
    "knowledge_dir": "DXLAB_KNOWLEDGE_DIR",
    "answer_threshold": "DXLAB_ANSWER_THRESHOLD",
    "semantic": "DXLAB_SEMANTIC",
    "embedding_model": "DXLAB_EMBEDDING_MODEL",
    "max_question_chars": "DXLAB_MAX_QUESTION_CHARS",
    "kb_max_age_days": "DXLAB_KB_MAX_AGE_DAYS",
    "kb_watch": "DXLAB_KB_WATCH",
    "log_level": "DXLAB_LOG_LEVEL",
    "webchat": "DXLAB_WEBCHAT",
    "admin_token": "DXLAB_ADMIN_TOKEN",
    "secretariat_slack_channel": "DXLAB_SECRETARIAT_SLACK_CHANNEL",
    "send_rate": "DXLAB_SEND_RATE",
    "outbox_max_attempts": "DXLAB_OUTBOX_MAX_ATTEMPTS",
    "public_url": "DXLAB_PUBLIC_URL",
    "event_reminders": "DXLAB_EVENT_REMINDERS",
    "event_refresh_minutes": "DXLAB_EVENT_REFRESH_MINUTES",
    "consult_remind_hours": "DXLAB_CONSULT_REMIND_HOURS",
    "consult_escalate_days": "DXLAB_CONSULT_ESCALATE_DAYS",
    "consult_idle_days": "DXLAB_CONSULT_IDLE_DAYS",
    "kb_drafts_dir": "DXLAB_KB_DRAFTS_DIR",
}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{ENV_NAMES[name]}={raw!r} is not a valid {kind.__name__}") from exc
    return raw.strip()


def load_settings(env: dict[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
    """Read settings: process environment first, then `.env` in the working directory."""
    source: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path.cwd() / ".env"
    if path.is_file():
        source.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    source.update(os.environ if env is None else env)
    values: dict[str, object] = {"database_url": _default_database_url(), "port": DEFAULT_PORT}
    types = {f.name: f.type for f in fields(Settings)}
    kinds = {"int": int, "float": float, "float | None": float, "bool": bool, "str": str}
    for name, var in ENV_NAMES.items():
        raw = source.get(var, "")
        if raw.strip():
            values[name] = _convert(name, raw, kinds.get(str(types[name]), str))
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.answer_threshold is not None and not 0.0 <= settings.answer_threshold <= 1.0:
        raise SettingsError("DXLAB_ANSWER_THRESHOLD must be between 0 and 1")
    if settings.semantic not in ("local", "openai", "off"):
        raise SettingsError("DXLAB_SEMANTIC must be local, openai or off")
    try:
        parse_offsets(settings.event_reminders)
    except ValueError as exc:
        raise SettingsError(f"DXLAB_EVENT_REMINDERS: {exc}") from exc
    if settings.event_refresh_minutes <= 0:
        raise SettingsError("DXLAB_EVENT_REFRESH_MINUTES must be more than 0")
    if not settings.slack_api_url.endswith("/"):
        settings = replace(settings, slack_api_url=settings.slack_api_url + "/")
    return settings

