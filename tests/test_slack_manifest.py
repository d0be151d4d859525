"""The install kit agrees with the code: manifest.yml asks for what the Slack channel handles,
and the Procfile's commands are ones the CLI accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.config import Settings
from tests.conftest import ServerFactory
from tests.test_slack import send_event, settle

REPO = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))
# message.im / .channels / .groups all arrive as the `message` event.
EVENT_TYPES = {"app_mention": "app_mention", "message.im": "message", "message.channels": "message",
               "message.groups": "message", "app_home_opened": "app_home_opened"}


def test_every_url_is_the_one_slack_endpoint() -> None:
    settings = MANIFEST["settings"]
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"],
            *(c["url"] for c in MANIFEST["features"]["slash_commands"])]
    assert urls and all(u == "https://YOUR-HOST/slack/events" for u in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/dxlab"]
    home = MANIFEST["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    assert 174 <= len(MANIFEST["display_information"]["long_description"]) <= 4000


def test_scopes_cover_what_the_bot_reads_and_writes() -> None:
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "chat:write", "files:read", "files:write", "im:history", "im:read", "im:write",
        "channels:history", "groups:history", "commands", "users:read"}


async def test_every_subscribed_event_has_a_listener(http, start_server: ServerFactory,
                                                     slack_settings: Settings) -> None:
    # bolt answers 404 to an event no listener matches, so a 200 shows one is there.
    server = await start_server(slack_settings)
    for n, event in enumerate(MANIFEST["settings"]["event_subscriptions"]["bot_events"]):
        kind = EVENT_TYPES[event]
        payload = {"type": kind, "user": "U0000001", "channel": "C0000001", "ts": f"1700000000.{n:06d}", "text": "x"}
        if event == "message.im":
            payload |= {"channel": "D0000001", "channel_type": "im"}
        assert await send_event(http, server, payload, f"EvManifest{n}") == 200, event
    await settle(server)


def test_procfile_commands_parse() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line.strip())
    assert set(lines) == {"web", "release"}
    web = shlex.split(lines["web"].replace("$PORT", "8080"))
    args = build_parser().parse_args(web[1:])
    assert (web[0], args.command, args.host, args.port) == ("dxlab", "serve", "0.0.0.0", 8080)
    assert shlex.split(lines["release"]) == ["dxlab", "db", "upgrade"]


def test_the_readme_lists_every_scope() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert [s for s in MANIFEST["oauth_config"]["scopes"]["bot"] if f"`{s}`" not in readme] == []
