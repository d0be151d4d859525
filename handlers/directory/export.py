"""Writing the directory back out, in the shapes import reads: one YAML file, or one CSV per section."""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml

from handlers.directory.model import SECTIONS, Directory, SecretariatChannels, as_record
from handlers.directory.parse import SPECS

DERIVED = {"region"}  # computed from the prefecture on import


def _record(row: Any) -> dict[str, Any]:
    out = {}
    for key, value in as_record(row).items():
        if key in DERIVED or value is None or value == [] or (key == "demo" and not value):
            continue
        out[key] = value
    return out


def records(directory: Directory) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if directory.secretariat != SecretariatChannels():
        data["secretariat"] = _record(directory.secretariat)
    for section in ("labs", "people", "experts"):
        data[section] = [_record(r) for r in getattr(directory, section)]
    return data


class _Dumper(yaml.SafeDumper):
    pass


def _flow_lists(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    # Lists of scalars inline ([長野県, 岐阜県]) like the file the secretariat writes; rows in block style.
    flow = all(not isinstance(v, (dict, list)) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _flow_lists)


def to_yaml(directory: Directory) -> str:
    header = "# 地域DX推進ラボ 名簿(dxlab directory export)。編集して `dxlab directory import` で取り込めます。\n"
    body = yaml.dump(records(directory), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return header + body


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(directory: Directory) -> dict[str, str]:
    """One CSV text per section (`labs.csv`, `people.csv`, `experts.csv`, `secretariat.csv`)."""
    data = records(directory)
    out: dict[str, str] = {}
    for section in SECTIONS:
        columns = [c for c in SPECS[section] if c not in DERIVED]
        rows = data.get(section, [])
        rows = [rows] if isinstance(rows, dict) else rows
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        out[f"{section}.csv"] = buffer.getvalue()
    return out
