"""The community-forecast chart: distribution with the medians marked, and the daily trend.

Drawn with matplotlib's object API on the Agg backend (no pyplot global state, no display),
so it can run in a worker thread. Output: PNG bytes. matplotlib is imported when the first
chart is drawn, not at start-up (it costs about 0.4 s and 40 MB).

Question titles may hold Chinese names (文心一言): text falls back from DejaVu Sans to a CJK
font found on the system (Debian's fonts-wqy-zenhei or fonts-noto-cjk; the Dockerfile and
.ci/run install the first), registered once, with the first chart.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.results import ResultsSnapshot

logger = logging.getLogger(__name__)

# file names of CJK fonts, most preferred first (Noto/Source Han, then WenQuanYi)
CJK_FONT_FILES = (
    "notosanscjk",
    "sourcehansans",
    "wqy-zenhei",
    "wqy-microhei",
    "droidsansfallback",
)


@cache
def cjk_family() -> str | None:
    """Register the first CJK font found among the system's fonts and make matplotlib fall
    back to it after DejaVu Sans; returns its family name, or None (logged once) when there
    is none, in which case Chinese characters are drawn as boxes."""
    import matplotlib
    from matplotlib import font_manager

    paths = font_manager.findSystemFonts()
    for key in CJK_FONT_FILES:
        for path in sorted(p for p in paths if key in p.lower().replace(" ", "")):
            try:
                font_manager.fontManager.addfont(path)
                family = str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
            _as_normal_weight(path)
            matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]
            return family
    logger.warning(
        "No CJK font found (install fonts-wqy-zenhei): Chinese characters in charts show as boxes"
    )
    return None


def _as_normal_weight(path: str) -> None:
    """Register a one-weight CJK font (WenQuanYi Zen Hei declares "medium") as the normal
    weight too, so that text of normal weight finds it without a findfont warning."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    entries = [e for e in manager.ttflist if e.fname == path]
    manager.ttflist.extend(dataclasses.replace(e, weight=400) for e in entries if e.weight != 400)


TITLE_WIDTH = 70  # characters per title line (long questions wrap instead of overflowing)
BUCKET_LABELS = (
    "1–10",
    "11–20",
    "21–30",
    "31–40",
    "41–50",
    "51–60",
    "61–70",
    "71–80",
    "81–90",
    "91–99",
)


@dataclass(frozen=True)
class ChartLabels:
    """Texts drawn on the chart, already in the reader's language."""

    title: str
    distribution: str
    probability_axis: str
    readers_axis: str
    median: str
    weighted_median: str
    trend: str
    trend_empty: str
    date_format: str = "%d.%m"


def render_chart(snapshot: ResultsSnapshot, labels: ChartLabels) -> bytes:
    """PNG of the distribution (ten buckets, medians as vertical lines) and the trend.

    Raises ValueError when the snapshot has no forecasts (there is nothing to draw).
    """
    agg = snapshot.aggregate
    if agg is None:
        raise ValueError("no forecasts to chart")
    # matplotlib loads on the first chart, not at start-up (it is most of the start-up time)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    cjk_family()
    figure = Figure(figsize=(8, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))
    centres = [10 * i + 5.5 for i in range(10)]
    top.bar(centres, agg.buckets, width=9, color="#4C78A8")
    top.axvline(agg.median, color="#E45756", linewidth=2, label=f"{labels.median}")
    top.axvline(
        agg.weighted_median,
        color="#F58518",
        linewidth=2,
        linestyle="--",
        label=labels.weighted_median,
    )
    top.set_xlim(0, 100)
    top.set_xticks(centres, BUCKET_LABELS, fontsize=8)
    top.set_xlabel(labels.probability_axis)
    top.set_ylabel(labels.readers_axis)
    top.set_title(labels.distribution)
    top.set_ylim(0, max(agg.buckets) * 1.4 + 0.5)  # headroom: the legend never covers a bar
    top.legend(loc="upper left", ncols=2)
    top.yaxis.get_major_locator().set_params(integer=True)
    if snapshot.trend:
        days = [d for d, _ in snapshot.trend]
        bottom.plot(days, [m for _, m in snapshot.trend], marker="o", color="#54A24B")
        if len(days) <= 10:  # one tick a day; the auto locator would repeat a day's label
            bottom.set_xticks(days)
        bottom.xaxis.set_major_formatter(DateFormatter(labels.date_format))
    else:
        bottom.text(0.5, 0.5, labels.trend_empty, ha="center", va="center")
    bottom.set_ylim(0, 100)
    bottom.set_title(labels.trend)
    # the title is a question text: never read as mathtext ("$5 or $6")
    figure.suptitle(textwrap.fill(labels.title, TITLE_WIDTH), parse_math=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
