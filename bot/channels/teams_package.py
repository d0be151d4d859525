"""`dxlab teams-package`: the zip an admin uploads to Teams (manifest, localisation, two icons).

The icons are drawn here in pure Python (a chat bubble, antialiased from signed distances) so the
package needs no image library and no binary files in the repository.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from bot.config import SettingsError
from handlers.i18n import t

MANIFEST_VERSION = "1.17"
SCHEMA = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA = (f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}"
                       "/MicrosoftTeams.Localization.schema.json")
COLOR_ICON, OUTLINE_ICON, ENGLISH_FILE = "color.png", "outline.png", "en-us.json"
COLOR_SIZE, OUTLINE_SIZE = 192, 32
ACCENT = (0x1F, 0x5A, 0xA6)
SCOPES = ["personal", "team", "groupChat"]
# Placeholders: replace with the secretariat's real pages before publishing to the org's app catalog.
DEVELOPER_URLS = {
    "websiteUrl": "https://www.example.com/dxlab",
    "privacyUrl": "https://www.example.com/dxlab/privacy",
    "termsOfUseUrl": "https://www.example.com/dxlab/terms",
}
GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

Rgba = tuple[float, float, float, float]


def build_package(output: Path, app_id: str) -> Path:
    """Write the Teams app zip to `output`; the app and bot id is the bot's Microsoft app id."""
    app_id = app_id.strip()
    if not app_id:
        raise SettingsError("a Teams app package needs the bot's Microsoft app id: "
                            "set MICROSOFT_APP_ID or pass --app-id")
    if not GUID.fullmatch(app_id):
        raise SettingsError(f"the Microsoft app id must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), "
                            f"got {app_id!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", _json(manifest(app_id)))
        zf.writestr(ENGLISH_FILE, _json(english()))
        zf.writestr(COLOR_ICON, color_icon())
        zf.writestr(OUTLINE_ICON, outline_icon())
    return output


def manifest(app_id: str) -> dict[str, object]:
    commands = [{"title": "help", "description": t("teams.command_help")},
                {"title": "ask", "description": t("teams.command_ask")}]
    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version("dxlab-bot"),
        "id": app_id,
        "developer": {"name": t("teams.developer"), **DEVELOPER_URLS},
        "localizationInfo": {"defaultLanguageTag": "ja-jp",
                             "additionalLanguages": [{"languageTag": "en-us", "file": ENGLISH_FILE}]},
        **_names("ja"),
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{
            "botId": app_id,
            "scopes": SCOPES,
            "isNotificationOnly": False,
            "supportsFiles": False,
            "commandLists": [{"scopes": SCOPES, "commands": commands}],
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],  # the bot has no tabs or links to open: Teams reaches it through the Bot Service
    }


def english() -> dict[str, object]:
    """The en-us localisation file: the same names and descriptions, in English."""
    names = _names("en")
    return {"$schema": LOCALIZATION_SCHEMA,
            **{f"{part}.{length}": text for part, texts in names.items() for length, text in texts.items()}}


def _names(lang: str) -> dict[str, dict[str, str]]:
    return {
        "name": {"short": t("teams.app_name_short", lang), "full": t("teams.app_name_full", lang)},
        "description": {"short": t("teams.app_description_short", lang),
                        "full": t("teams.app_description_full", lang)},
    }


def _json(data: dict[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# The icon: a rounded speech bubble with three dots, in unit coordinates (0..1 across the icon).
BUBBLE_CENTER, BUBBLE_HALF, BUBBLE_RADIUS = (0.5, 0.5), (0.36, 0.27), 0.11
DOTS, DOT_RADIUS = ((0.33, 0.5), (0.5, 0.5), (0.67, 0.5)), 0.05


def _bubble(x: float, y: float) -> float:
    """Signed distance to the bubble's edge (negative inside), in unit coordinates."""
    qx = abs(x - BUBBLE_CENTER[0]) - BUBBLE_HALF[0] + BUBBLE_RADIUS
    qy = abs(y - BUBBLE_CENTER[1]) - BUBBLE_HALF[1] + BUBBLE_RADIUS
    return math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0) - BUBBLE_RADIUS


def _dots(x: float, y: float) -> float:
    return min(math.hypot(x - cx, y - cy) for cx, cy in DOTS) - DOT_RADIUS


def _cover(distance: float, size: int) -> float:
    """How much of a pixel a shape covers, from its signed distance (antialiasing without supersampling)."""
    return min(max(0.5 - distance * size, 0.0), 1.0)


def color_icon() -> bytes:
    """192x192: a white bubble on the accent colour, with accent dots."""
    def paint(x: float, y: float) -> Rgba:
        white = _cover(_bubble(x, y), COLOR_SIZE) * (1.0 - _cover(_dots(x, y), COLOR_SIZE))
        r, g, b = (c / 255 + (1.0 - c / 255) * white for c in ACCENT)
        return r, g, b, 1.0

    return _png(COLOR_SIZE, paint)


def outline_icon() -> bytes:
    """32x32: the bubble's outline and dots in white on transparent, as Teams requires."""
    stroke = 2.0 / OUTLINE_SIZE

    def paint(x: float, y: float) -> Rgba:
        ring = abs(_bubble(x, y) + stroke / 2) - stroke / 2
        return 1.0, 1.0, 1.0, max(_cover(ring, OUTLINE_SIZE), _cover(_dots(x, y), OUTLINE_SIZE))

    return _png(OUTLINE_SIZE, paint)


def _png(size: int, paint: Callable[[float, float], Rgba]) -> bytes:
    """An 8-bit RGBA PNG, each pixel painted at its centre."""
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # filter type: none
        for px in range(size):
            rows.extend(round(c * 255) for c in paint((px + 0.5) / size, (py + 0.5) / size))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit depth, colour type 6 = RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))
