"""The community-forecast chart: distribution with the medians marked, and the daily trend.

Drawn with matplotlib's object API on the Agg backend (no pyplot global state, no display).
Output: PNG bytes. `draw_png` runs a drawing off the event loop: in `python -m bot run` in one
worker process (`use_worker_process`), so matplotlib's memory (about 50 MB once imported) and
its CPU stay out of the bot's process and its GIL; elsewhere (tests, the console) on a thread.
matplotlib is imported when the first chart is drawn, not at start-up (it costs about 0.4 s).

Question titles may hold Chinese names (文心一言): text falls back from DejaVu Sans to a CJK
font found on the system (Debian's fonts-wqy-zenhei or fonts-noto-cjk; the Dockerfile and
.ci/run install the first), registered once, with the first chart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import multiprocessing
import textwrap
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bot.services.results import ResultsSnapshot

logger = logging.getLogger(__name__)

# the chart worker process (see the module), started with the first chart once enabled
_worker: ProcessPoolExecutor | None = None
_worker_enabled = False


def use_worker_process(enabled: bool = True) -> None:
    """Draw charts in one worker process from now on (`python -m bot run` calls this), or on
    a thread of this process again (`enabled=False`, stopping the worker)."""
    global _worker_enabled
    _worker_enabled = enabled
    if not enabled:
        stop_worker()


async def draw_png(draw: Callable[[], bytes]) -> bytes:
    """PNG bytes from `draw` (`render_chart` with its arguments bound by functools.partial,
    so it can be pickled), off the event loop: in the worker process when enabled, else on a
    thread. A worker that died is replaced once, with one WARNING line. Raises what `draw`
    raises (ValueError for an empty snapshot)."""
    if not _worker_enabled:
        return await asyncio.to_thread(draw)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_pool(), draw)
    except BrokenProcessPool:
        logger.warning("The chart worker process died; starting another")
        stop_worker()
        return await loop.run_in_executor(_pool(), draw)


def _pool() -> ProcessPoolExecutor:
    global _worker
    if _worker is None:
        # spawn, not fork: the bot's process has threads (SQLite), which a fork copies in
        # whatever state they are; the worker imports only what a drawing needs
        context = multiprocessing.get_context("spawn")
        _worker = ProcessPoolExecutor(max_workers=1, mp_context=context)
    return _worker


def stop_worker() -> None:
    """Stop the chart worker process if one runs (at shutdown); a drawing under way is
    abandoned."""
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=False, cancel_futures=True)
        _worker = None


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
CENTRES = tuple(10 * i + 5.5 for i in range(10))  # the buckets' centres on the % axis
TREND_TICKS = (0, 20, 40, 60, 80, 100)

# Fixed layout, in pixels of the 800 × 640 px figure (8 × 6.4 in at 100 dpi): no layout
# engine, whose measuring pass cost more than the drawing itself.
WIDTH, HEIGHT, DPI = 800, 640, 100
LEFT = 88  # y tick labels up to six digits and the y label
RIGHT = 24  # half of the last date label, centred on the right edge
BOTTOM = 34  # date tick labels
TITLE_TOP = 8  # above the question's first line
TITLE_LINE = 20  # one line of the question (12 pt, line spacing 1.2)
HEADING = 34  # an axes' title (12 pt) and its padding
GAP = 52  # below the distribution: its tick labels and axis label
TOP_SHARE = 0.6  # of the two axes' height, the distribution's (3:2)


Rect = tuple[float, float, float, float]  # left, bottom, width, height: figure fractions


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


def axes_rects(title_lines: int) -> tuple[Rect, Rect]:
    """The (left, bottom, width, height) figure fractions of the distribution and trend axes
    when the question takes `title_lines` lines above them."""
    top = TITLE_TOP + TITLE_LINE * title_lines + HEADING
    plots = HEIGHT - top - GAP - HEADING - BOTTOM
    upper = round(plots * TOP_SHARE)
    width = (WIDTH - LEFT - RIGHT) / WIDTH
    x = LEFT / WIDTH
    lower = plots - upper
    return (
        (x, (HEIGHT - top - upper) / HEIGHT, width, upper / HEIGHT),
        (x, BOTTOM / HEIGHT, width, lower / HEIGHT),
    )


def render_chart(snapshot: ResultsSnapshot, labels: ChartLabels) -> bytes:
    """PNG (800 × 640 px) of the distribution (ten buckets, medians as vertical lines) and
    the trend.

    Raises ValueError when the snapshot has no forecasts (there is nothing to draw).
    """
    agg = snapshot.aggregate
    if agg is None:
        raise ValueError("no forecasts to chart")
    # matplotlib loads on the first chart, not at start-up (it is most of the start-up time)
    import numpy
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import AutoLocator

    cjk_family()
    title = textwrap.fill(labels.title, TITLE_WIDTH)
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    upper, lower = axes_rects(title.count("\n") + 1)
    top = figure.add_axes(upper)
    bottom = figure.add_axes(lower)
    top.bar(CENTRES, agg.buckets, width=9, color="#4C78A8")
    top.axvline(agg.median, color="#E45756", linewidth=2, label=labels.median)
    top.axvline(
        agg.weighted_median,
        color="#F58518",
        linewidth=2,
        linestyle="--",
        label=labels.weighted_median,
    )
    top.set_xlim(0, 100)
    top.set_xticks(CENTRES, BUCKET_LABELS, fontsize=8)
    top.set_xlabel(labels.probability_axis)
    top.set_ylabel(labels.readers_axis)
    top.set_title(labels.distribution, y=1.0)  # at the top: no measuring of tick labels
    top.set_ylim(0, max(agg.buckets) * 1.4 + 0.5)  # headroom: the legend never covers a bar
    top.legend(loc="upper left", ncols=2)
    counts = AutoLocator()
    counts.set_params(integer=True)
    top.yaxis.set_major_locator(counts)
    if snapshot.trend:
        days = date2num([d for d, _ in snapshot.trend])
        bottom.plot(days, [m for _, m in snapshot.trend], marker="o", color="#54A24B")
        if len(days) <= 10:  # one tick a day; the auto locator would repeat a day's label
            bottom.set_xticks(days)
        bottom.xaxis.set_major_formatter(DateFormatter(labels.date_format))
    else:
        bottom.text(
            0.5, 0.5, labels.trend_empty, ha="center", va="center", transform=bottom.transAxes
        )
        bottom.set_xticks([])
    bottom.set_ylim(0, 100)
    bottom.set_yticks(TREND_TICKS)
    bottom.set_title(labels.trend, y=1.0)
    # the title is a question text: never read as mathtext ("$5 or $6")
    figure.text(
        0.5, 1 - TITLE_TOP / HEIGHT, title, ha="center", va="top", size="large",
        parse_math=False,
    )  # fmt: skip
    canvas.draw()
    return encode_png(numpy.asarray(canvas.buffer_rgba()))


def encode_png(rgba: NDArray[np.uint8]) -> bytes:
    """PNG bytes of opaque RGBA pixels (height × width × 4), reduced to a palette of up to
    256 colours (a chart has a few colours and their anti-aliased edges): about a third of
    the size of full colour, and quicker to compress."""
    from PIL import Image

    image = Image.fromarray(rgba)
    palette = image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", compress_level=6)
    return buffer.getvalue()
