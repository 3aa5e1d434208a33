"""Charts for the reports and the dashboard, drawn with matplotlib and returned as inline SVG.

Why SVG from the server: the pages must work offline, printed, and under a Content-Security-
Policy with no script at all, so every chart is a ready-drawn ``<svg>`` string placed in the
HTML. Each function takes plain numbers (lists, arrays, row dicts or a DataFrame) and returns
an ``<svg>`` element (no XML prolog) that:

* is **deterministic**: the same input gives byte-identical output (``svg.hashsalt`` is fixed
  per chart, the date and creator metadata are dropped, the font is DejaVu Sans, which ships
  with matplotlib, so layout does not depend on the fonts of the machine);
* is **small and searchable**: ``svg.fonttype = 'none'`` keeps text as ``<text>`` (no glyph
  paths, no embedded font), so the words in a chart can be found and copied;
* is **accessible**: a ``<title>`` (and a ``<desc>`` with the numbers) is the first child, and
  the root carries ``role="img"`` and ``aria-labelledby``;
* is **safe inline**: text from the data (label names, batch names) is escaped by matplotlib's
  SVG writer, mathtext is off (a label "$5 off $10" stays text), ``<g id>`` attributes are
  dropped and the remaining ids (clip paths, markers) are unique per ``ident``, so several
  charts can share a page; the ``<style>`` element matplotlib writes is removed (its two rules
  live in the page's stylesheet, ``svg.ts-chart``), so a CSP without ``'unsafe-inline'`` styles
  loses nothing.

matplotlib is imported inside the functions (``import truthset.reports`` stays fast) and pyplot
is never used: a ``Figure`` drawn straight onto the SVG canvas needs no backend switch (no
``matplotlib.use``), so a notebook's backend is left alone. ``rcParams`` are global, so a
lock makes drawing safe from the server's worker threads.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from truthset.core.errors import InvalidInput
from truthset.reports._format import as_records

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "bar_chart",
    "confusion_heatmap",
    "histogram",
    "learning_curve_chart",
    "line_chart",
    "reliability_chart",
]

#: Okabe & Ito's colour-blind-safe palette (blue, orange, green, vermillion, purple, sky).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
#: Width of a chart in inches; text is 9 px, so a chart reads at its natural size on A4.
WIDTH = 6.4
#: Category labels longer than this are cut with an ellipsis (the full text is in the desc).
MAX_LABEL = 40

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "text.parse_math": False,
    "text.usetex": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
_LOCK = threading.Lock()
_GROUP_ID = re.compile(r'<g id="[^"]*"')
_PROLOG = re.compile(r"\A.*?(?=<svg )", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_STYLE = re.compile(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", re.S)
_IDENT = re.compile(r"[^A-Za-z0-9_-]+")
#: Characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/F): item text may
#: hold them (the profile counts them), and one would make the SVG unreadable as XML.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _short(label: Any) -> str:
    """A category label on one line (whitespace runs become one space), cut to MAX_LABEL. A
    label of whitespace only (a real value in messy data) is shown by its code points, say
    ``U+000D``, rather than as an empty tick nobody can read."""
    raw = str(label)
    text = " ".join(raw.split())
    if not text and raw:
        text = " ".join(f"U+{ord(c):04X}" for c in raw)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


@contextmanager
def _drawing(width: float, height: float) -> Iterator[tuple[Any, Any]]:
    """A fresh (figure, axes) under the fixed rcParams, holding the drawing lock."""
    import matplotlib
    from cycler import cycler
    from matplotlib.figure import Figure

    rc = {**_RC, "axes.prop_cycle": cycler(color=list(PALETTE))}  # cycler comes with matplotlib
    with _LOCK, matplotlib.rc_context(rc), warnings.catch_warnings():  # type: ignore[arg-type]
        # text is kept as text, so a character DejaVu Sans lacks is the viewer's font's job
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig = Figure(figsize=(width, height), layout="constrained")
        yield fig, fig.add_subplot()


def _svg(fig: Any, *, title: str, desc: str, ident: str) -> str:
    """Serialise ``fig`` (inside :func:`_drawing`) to an inline, accessible SVG string."""
    import io

    import matplotlib

    if not title.strip():
        raise InvalidInput("a chart needs a title: it is the <title> screen readers announce.")
    safe_id = _IDENT.sub("-", ident).strip("-") or "chart"
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"truthset-{safe_id}", "svg.id": safe_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = _STYLE.sub("", _METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1)), count=1)
    svg = _XML_INVALID.sub("\ufffd", _GROUP_ID.sub("<g", svg))
    title, desc = _XML_INVALID.sub("\ufffd", title), _XML_INVALID.sub("\ufffd", desc)
    head_end = svg.index(">") + 1
    head = svg[: head_end - 1] + (f' class="ts-chart" role="img" aria-labelledby="{safe_id}-title {safe_id}-desc">')
    meta = f'\n <title id="{safe_id}-title">{escape(title)}</title>\n <desc id="{safe_id}-desc">{escape(desc)}</desc>'
    return head + meta + svg[head_end:].rstrip() + "\n"


def _ident(ident: str | None, title: str) -> str:
    return ident if ident else title


def histogram(
    values: Sequence[float] | NDArray[Any] | None = None,
    *,
    title: str,
    counts: Sequence[int] | NDArray[Any] | None = None,
    edges: Sequence[float] | NDArray[Any] | None = None,
    bins: int = 30,
    xlabel: str = "",
    ylabel: str = "count",
    log: bool = False,
    ident: str | None = None,
) -> str:
    """A histogram of ``values`` in ``bins`` equal bins, or of pre-binned ``counts`` with
    ``edges`` (``len(edges) == len(counts) + 1``), which is what a service sends for a
    million rows. ``log`` puts the count axis on a log scale (long-tailed lengths)."""
    import numpy as np

    if counts is None:
        if values is None:
            raise InvalidInput("histogram needs values, or counts with their bin edges.")
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            raise InvalidInput(f"histogram {title!r}: no finite values to draw.")
        c, e = np.histogram(arr, bins=bins)
    else:
        c, e = np.asarray(counts, dtype=np.float64), np.asarray(edges, dtype=np.float64)
        if e.size != c.size + 1:
            raise InvalidInput(f"histogram {title!r}: {c.size} counts need {c.size + 1} edges, got {e.size}.")
    with _drawing(WIDTH, 2.6) as (fig, ax):
        ax.stairs(c, e, fill=True, color=PALETTE[0], alpha=0.85)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("symlog", linthresh=1)
        ax.set_title(title, loc="left")
        desc = (
            f"{int(np.sum(c))} values in {c.size} bins from {_fmt(float(e[0]))} to "
            f"{_fmt(float(e[-1]))}; the fullest bin starts at "
            f"{_fmt(float(e[int(np.argmax(c))]))} with {int(np.max(c))}."
        )
        return _svg(fig, title=title, desc=desc, ident=_ident(ident, title))


def bar_chart(
    labels: Sequence[Any],
    counts: Sequence[float],
    *,
    title: str,
    xlabel: str = "count",
    max_bars: int = 30,
    ident: str | None = None,
) -> str:
    """Horizontal bars, one per label, in the order given (top to bottom), for label
    distributions and counts. Past ``max_bars`` the rest are summed into one "other" bar, so
    a column with 10,000 values still draws a readable chart. Each bar shows its value."""
    if len(labels) != len(counts):
        raise InvalidInput(f"bar chart {title!r}: {len(labels)} labels but {len(counts)} counts.")
    names, values = [str(x) for x in labels], [float(c) for c in counts]
    if len(names) > max_bars:
        rest = sum(values[max_bars - 1 :])
        names = names[: max_bars - 1] + [f"other ({len(labels) - max_bars + 1})"]
        values = values[: max_bars - 1] + [rest]
    height = 0.7 + 0.24 * max(len(names), 1)
    with _drawing(WIDTH, height) as (fig, ax):
        pos = list(range(len(names)))[::-1]
        bars = ax.barh(pos, values, color=PALETTE[0], height=0.7)
        ax.set_yticks(pos, [_short(n) for n in names])
        ax.bar_label(bars, labels=[_fmt(int(v) if v.is_integer() else v) for v in values], padding=2, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.margins(x=0.12)
        ax.set_title(title, loc="left")
        desc = "; ".join(f"{n}: {_fmt(int(v) if v.is_integer() else v)}" for n, v in zip(names, values, strict=True))
        return _svg(fig, title=title, desc=desc, ident=_ident(ident, title))


def _series_rows(series: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = [dict(series)] if isinstance(series, Mapping) else [dict(s) for s in series]
    for s in rows:
        if "y" not in s:
            raise InvalidInput("each line-chart series needs 'y' (and optionally 'name', 'ci_low', 'ci_high').")
    return rows


def line_chart(
    x: Sequence[Any],
    series: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    ylim: tuple[float, float] | None = None,
    reference: float | None = None,
    reference_label: str = "",
    ident: str | None = None,
) -> str:
    """Lines over ``x`` (batches, weeks or days as strings, or numbers) with interval bands.

    ``series`` is one dict or a list of dicts ``{"name", "y", "ci_low", "ci_high"}`` (the
    interval lists are optional; ``None``/NaN leaves a gap). Strings on ``x`` are evenly
    spaced categories in the order given. ``reference`` draws a dashed horizontal line (a
    threshold such as the gold pass mark) labelled ``reference_label``."""
    import numpy as np

    rows = _series_rows(series)
    cats = not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x)
    pos = np.arange(len(x), dtype=np.float64) if cats else np.asarray(x, dtype=np.float64)
    parts = []
    with _drawing(WIDTH, 2.8) as (fig, ax):
        for i, s in enumerate(rows):
            colour = PALETTE[i % len(PALETTE)]
            y = np.asarray([np.nan if v is None else v for v in s["y"]], dtype=np.float64)
            if y.size != pos.size:
                raise InvalidInput(
                    f"line chart {title!r}: series {s.get('name', i)!r} has {y.size} values for {pos.size} x positions."
                )
            if s.get("ci_low") is not None and s.get("ci_high") is not None:
                lo = np.asarray([np.nan if v is None else v for v in s["ci_low"]], dtype=float)
                hi = np.asarray([np.nan if v is None else v for v in s["ci_high"]], dtype=float)
                ax.fill_between(pos, lo, hi, color=colour, alpha=0.2, linewidth=0)
            ax.plot(pos, y, marker="o", markersize=3.5, color=colour, label=s.get("name"))
            parts.append(
                f"{s.get('name') or ylabel or 'value'}: "
                + ", ".join(f"{xv} {_fmt(float(v))}" for xv, v in zip(x, y, strict=True))
            )
        if reference is not None:
            ax.axhline(reference, color="#555555", linestyle="--", linewidth=1)
            if reference_label:
                ax.annotate(
                    reference_label,
                    (1, reference),
                    xycoords=("axes fraction", "data"),
                    ha="right",
                    va="bottom",
                    fontsize=8,
                    color="#555555",
                )
        if cats:
            step = max(1, len(x) // 12)
            ax.set_xticks(
                pos[::step],
                [_short(v) for v in list(x)[::step]],
                rotation=30 if len(x) > 6 else 0,
                ha="right" if len(x) > 6 else "center",
            )
        if ylim is not None:
            ax.set_ylim(*ylim)
        if any(s.get("name") for s in rows) and len(rows) > 1:
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        return _svg(fig, title=title, desc="; ".join(parts), ident=_ident(ident, title))


def reliability_chart(
    diagram: Any,
    *,
    title: str = "Reliability diagram",
    ident: str | None = None,
) -> str:
    """Accuracy against mean confidence per bin, from
    :func:`truthset.modeling.reliability_diagram` (a DataFrame or its row dicts with
    ``mean_confidence``, ``accuracy``, ``count``). A mapping ``{name: diagram}`` draws several
    (e.g. before and after temperature scaling). Marker area grows with the bin's count;
    empty bins are skipped; the dashed diagonal is perfect calibration."""
    import numpy as np

    named = dict(diagram) if isinstance(diagram, Mapping) else {"": diagram}
    parts = []
    with _drawing(4.6, 3.6) as (fig, ax):
        ax.plot([0, 1], [0, 1], linestyle="--", color="#888888", linewidth=1)
        for i, (name, rows) in enumerate(named.items()):
            recs = [r for r in as_records(rows) if r.get("count")]
            if not recs:
                continue
            conf = np.asarray([r["mean_confidence"] for r in recs], dtype=np.float64)
            acc = np.asarray([r["accuracy"] for r in recs], dtype=np.float64)
            n = np.asarray([r["count"] for r in recs], dtype=np.float64)
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(conf, acc, color=colour, linewidth=1.2, label=name or None)
            ax.scatter(conf, acc, s=8 + 120 * n / n.max(), color=colour, zorder=3)
            parts.append(
                (f"{name}: " if name else "")
                + ", ".join(
                    f"confidence {c:.2f} accuracy {a:.2f} (n={int(k)})" for c, a, k in zip(conf, acc, n, strict=True)
                )
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("mean confidence in bin")
        ax.set_ylabel("accuracy in bin")
        if len(named) > 1:
            ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.set_title(title, loc="left")
        return _svg(fig, title=title, desc="; ".join(parts) or "no predictions", ident=_ident(ident, title))


def confusion_heatmap(
    matrix: Any,
    labels: Sequence[Any] | None = None,
    *,
    title: str = "Confusion matrix",
    ident: str | None = None,
) -> str:
    """True (rows) x predicted (columns) counts, shaded by the share of each true class
    (row-normalised, so a rare class's errors show as clearly as a common one's; white 0,
    dark blue 1), each cell showing its count. ``matrix`` is a square list of lists, array or
    DataFrame (whose index gives the labels when ``labels`` is not given)."""
    import numpy as np

    if labels is None and hasattr(matrix, "columns"):  # a DataFrame: its index names the rows
        labels = [str(v) for v in matrix.index]
    cm = np.asarray(matrix, dtype=np.float64)
    k = cm.shape[0]
    if cm.ndim != 2 or cm.shape[1] != k:
        raise InvalidInput(f"confusion matrix {title!r} must be square; got shape {cm.shape}.")
    names = [str(v) for v in (labels if labels is not None else range(k))]
    if len(names) != k:
        raise InvalidInput(f"confusion matrix {title!r}: {k} rows but {len(names)} labels.")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    size = min(6.4, 2.4 + 0.4 * k)
    with _drawing(size, size) as (fig, ax):
        # vector cells (pcolormesh), not imshow: an image would be embedded as a PNG
        ax.pcolormesh(
            np.arange(k + 1) - 0.5,
            np.arange(k + 1) - 0.5,
            share,
            cmap="Blues",
            vmin=0,
            vmax=1,
            edgecolors="white",
            linewidth=0.5,
        )
        ax.set_xlim(-0.5, k - 0.5)
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_aspect("equal")
        ticks = list(range(k))
        ax.set_xticks(ticks, [_short(n) for n in names], rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
        ax.set_yticks(ticks, [_short(n) for n in names])
        if k <= 20:
            for r in range(k):
                for c in range(k):
                    ax.text(
                        c,
                        r,
                        f"{int(cm[r, c])}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if share[r, c] > 0.6 else "black",
                    )
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.spines[:].set_visible(False)
        ax.set_title(title, loc="left")
        desc = "; ".join(
            f"true {names[r]}: " + ", ".join(f"predicted {names[c]} {int(cm[r, c])}" for c in range(k))
            for r in range(k)
        )
        return _svg(fig, title=title, desc=desc, ident=_ident(ident, title))


def learning_curve_chart(
    curve: Mapping[str, Any],
    *,
    title: str = "Learning curve",
    ident: str | None = None,
) -> str:
    """The result of :func:`truthset.modeling.learning_curve`: the metric (points, mean over
    seeds) against the number of training labels, with its bootstrap band and each seed's
    score as a dot, so the spread between training draws is visible."""
    import numpy as np

    metric = str(curve.get("metric", "score"))
    pts = as_records(curve.get("points", []))
    if not pts:
        raise InvalidInput("learning curve chart: the curve has no points.")
    n = np.asarray([p["n_train"] for p in pts], dtype=np.float64)
    y = np.asarray([p[metric] for p in pts], dtype=np.float64)
    lo = np.asarray([np.nan if p.get("ci_low") is None else p["ci_low"] for p in pts], float)
    hi = np.asarray([np.nan if p.get("ci_high") is None else p["ci_high"] for p in pts], float)
    with _drawing(WIDTH, 2.8) as (fig, ax):
        ax.fill_between(n, lo, hi, color=PALETTE[0], alpha=0.2, linewidth=0)
        ax.plot(n, y, marker="o", markersize=4, color=PALETTE[0], label="mean over seeds")
        for p, xv in zip(pts, n, strict=True):
            seeds = p.get("per_seed") or []
            ax.scatter([xv] * len(seeds), seeds, s=6, color=PALETTE[1], zorder=3)
        ax.set_xlabel("training labels")
        ax.set_ylabel(f"{metric} (points)")
        ax.set_title(title, loc="left")
        desc = ", ".join(
            f"{int(a)} labels: {b:.1f} [{c:.1f}, {d:.1f}]" for a, b, c, d in zip(n, y, lo, hi, strict=True)
        )
        return _svg(fig, title=title, desc=f"{metric}: {desc}", ident=_ident(ident, title))
