"""KPI charts as PNG, drawn with matplotlib (the Agg backend: no display needed):

- value vs target by lab, for one indicator and period (bars, the target as a marker per lab);
- one lab's trend for one indicator (a line over periods, the target as a dashed line);
- the digest's chart: how many indicators each overdue lab has not reported (bars).

Japanese labels need a Japanese font: IPAexGothic / IPAGothic when installed (Debian `fonts-ipafont-gothic`),
else matplotlib's default font (the labels then show as boxes; nothing fails).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import font_manager
from matplotlib.figure import Figure

from handlers.i18n import t

FONT_FILES = ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
              "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
              "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
              "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf")
_LOCK = threading.Lock()  # matplotlib's font cache is not thread-safe; handlers run on worker threads
BAR, TARGET, LINE = "#1f3a5f", "#d9822b", "#1f7a5f"


@cache
def japanese_font() -> str | None:
    """The family name of an installed Japanese font, registered with matplotlib; None when there is none."""
    for path in FONT_FILES:
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
                name = str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
            matplotlib.rcParams["font.family"] = [name, "sans-serif"]
            return name
    return None


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    japanese_font()
    return Figure(figsize=(width, height), dpi=100, layout="constrained", facecolor="white")


def value_target_figure(title: str, labels: Sequence[str], values: Sequence[float | None],
                        targets: Sequence[float | None], unit: str = "") -> Figure:
    """One bar per lab (a missing value is a zero-height bar, so the count is always one per lab)."""
    figure = _figure(max(6.0, 0.5 * len(labels) + 2))
    axes = figure.subplots()
    xs = list(range(len(labels)))
    axes.bar(xs, [v or 0.0 for v in values], color=BAR, label=t("kpi.chart.value"))
    marks = [(x, v) for x, v in zip(xs, targets, strict=True) if v is not None]
    if marks:
        axes.scatter([x for x, _ in marks], [v for _, v in marks], color=TARGET, marker="_", s=400, linewidths=3,
                     label=t("kpi.chart.target"), zorder=3)
    axes.set_xticks(xs, labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.legend(loc="upper right")
    return figure


def trend_figure(title: str, periods: Sequence[str], values: Sequence[float | None], target: float | None,
                 unit: str = "") -> Figure:
    figure = _figure()
    axes = figure.subplots()
    points = [(p, v) for p, v in zip(periods, values, strict=True) if v is not None]
    axes.plot([p for p, _ in points], [v for _, v in points], marker="o", color=LINE, label=t("kpi.chart.value"))
    if target is not None:
        axes.axhline(target, color=TARGET, linestyle="--", label=t("kpi.chart.target"))
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.legend(loc="upper left")
    return figure


def overdue_figure(title: str, labels: Sequence[str], counts: Sequence[int]) -> Figure:
    figure = _figure(max(6.0, 0.5 * len(labels) + 2))
    axes = figure.subplots()
    xs = list(range(len(labels)))
    axes.bar(xs, counts, color=TARGET, label=t("kpi.chart.overdue"))
    axes.set_xticks(xs, labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    axes.set_title(title)
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def chart_png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    out = io.BytesIO()
    with _LOCK:
        figure.savefig(out, format="png")
    return out.getvalue()
