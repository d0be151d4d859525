"""`dxlab teams-package`: the zip Teams accepts, with a manifest naming the bot and two valid icons."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.channels.teams_package import build_package
from bot.cli import main

APP_ID = "8f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of an 8-bit RGBA PNG whose rows are stored unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(tag + body)
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 6)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 4
    assert {raw[y * stride] for y in range(height)} == {0}
    return width, height, [raw[y * stride + 1:(y + 1) * stride] for y in range(height)]


def pixels(rows: list[bytes]) -> list[tuple[int, ...]]:
    return [tuple(row[i:i + 4]) for row in rows for i in range(0, len(row), 4)]


@pytest.fixture
def package(tmp_path: Path) -> zipfile.ZipFile:
    path = build_package(tmp_path / "out" / "dxlab-teams.zip", APP_ID)
    return zipfile.ZipFile(path)


def test_manifest_names_the_bot_with_all_scopes_and_commands(package: zipfile.ZipFile) -> None:
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["manifestVersion"] == "1.17" and "v1.17" in manifest["$schema"]
    assert manifest["id"] == APP_ID
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert [c["title"] for c in bot["commandLists"][0]["commands"]] == ["help", "ask"]
    assert "validDomains" in manifest
    assert {manifest["icons"]["color"], manifest["icons"]["outline"]} <= set(package.namelist())
    # Teams' length limits
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    assert len(manifest["developer"]["name"]) <= 32
    assert all(manifest["developer"][k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert all(len(c["description"]) <= 128 for c in bot["commandLists"][0]["commands"])


def test_japanese_by_default_with_english_localization(package: zipfile.ZipFile) -> None:
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["localizationInfo"]["defaultLanguageTag"] == "ja-jp"
    (english_ref,) = manifest["localizationInfo"]["additionalLanguages"]
    english = json.loads(package.read(english_ref["file"]))
    assert "相談窓口" in manifest["name"]["full"]
    assert english["name.short"].isascii() and len(english["name.short"]) <= 30
    assert len(english["description.short"]) <= 80


def test_color_icon_is_opaque_192(package: zipfile.ZipFile) -> None:
    width, height, rows = read_png(package.read("color.png"))
    assert (width, height) == (192, 192)
    colors = pixels(rows)
    assert {p[3] for p in colors} == {255}
    assert len(set(colors)) > 2  # a picture, not a blank square


def test_outline_icon_is_white_on_transparent_32(package: zipfile.ZipFile) -> None:
    width, height, rows = read_png(package.read("outline.png"))
    assert (width, height) == (32, 32)
    drawn = [p for p in pixels(rows) if p[3] > 0]
    assert all(p[:3] == (255, 255, 255) for p in drawn)
    assert 0 < len(drawn) < 32 * 32 / 2 and any(p[3] == 255 for p in drawn)
    assert pixels(rows)[0][3] == 0  # the background is transparent


def test_cli_builds_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    assert main(["teams-package", "--output", "teams.zip"]) == 0
    assert capsys.readouterr().out.strip() == "teams.zip"
    assert json.loads(zipfile.ZipFile(tmp_path / "teams.zip").read("manifest.json"))["bots"][0]["botId"] == APP_ID


@pytest.mark.parametrize(("app_id", "message"), [("", "MICROSOFT_APP_ID"), ("my-bot", "GUID")])
def test_cli_refuses_without_a_real_app_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], app_id: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    assert main(["teams-package", "--output", "teams.zip", "--app-id", app_id]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "teams.zip").exists()
