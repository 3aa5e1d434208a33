"""The page model of the data profile (``truthset profile -o profile.html``).

Input (a dict, or anything :func:`~truthset.reports._format.plain` turns into one)::

    {"n_rows": 5574,                                  # required
     "columns": [ColumnProfile, ...],                 # required
     "dataset": "sms", "title": "...", "generated": "2025-03-01 12:00",  # optional
     "labels": {"column": "label",                    # optional
                "overall": {"ham": 4825, "spam": 747},
                "by_batch": [{"batch": "b1", "counts": {"ham": 10, "spam": 2}}, ...],
                "imbalance": 6.46}}                   # derived when left out

    ColumnProfile = {"name": "text", "type": "text", "missing": 0, "distinct": 5169,
        "top_values": {"Ok": 4, ...} | [{"value": "Ok", "count": 4}, ...],
        "text": {"length_histogram": {"edges": [...], "counts": [...]} | "lengths": [...],
                 "length": {"min": 2, "median": 61, "mean": 80.1, "p95": 160, "max": 910},
                 "empty": 0, "whitespace_only": 0, "mojibake": 3, "control_chars": 1,
                 "truncated": 0, "languages": {"en": 5500, "unknown": 74},
                 "examples": {"mojibake": [{"id": "17", "text": "..."}], ...}},
        "numeric": {"min": .., "p25": .., "median": .., "mean": .., "p75": .., "max": ..,
                    "std": .., "histogram": {"edges": [...], "counts": [...]} | "values": [...]}}

Why it renders what it does: the profile is the first look at raw data, so each problem a
later step would trip over (missing values, empty or garbled text, truncation, a language
nobody expected, a rare class, a batch with a different label mix) gets a count, a share
and, where a chart reads faster than a table, a chart.
"""

from __future__ import annotations

from typing import Any

from truthset.reports import plots
from truthset.reports._common import Figures, counts, examples, imbalance
from truthset.reports._format import as_records, plain, require

#: Text health counts, in display order: (key, what it means).
TEXT_HEALTH = (
    ("empty", "empty text"),
    ("whitespace_only", "only whitespace"),
    ("mojibake", "mojibake (text decoded with the wrong encoding)"),
    ("control_chars", "control characters"),
    ("truncated", "truncated rows"),
)
NUMERIC_STATS = ("min", "p25", "median", "mean", "p75", "max", "std")


def _histogram(spec: dict[str, Any], raw_key: str, hist_key: str, title: str, xlabel: str, figs: Figures) -> Any:
    hist = spec.get(hist_key)
    if isinstance(hist, dict) and hist.get("counts"):
        return figs(plots.histogram, title=title, counts=hist["counts"], edges=hist["edges"], xlabel=xlabel)
    if spec.get(raw_key):
        return figs(plots.histogram, spec[raw_key], title=title, xlabel=xlabel)
    return None


def _column(c: dict[str, Any], n_rows: int, figs: Figures) -> dict[str, Any]:
    require(c, ("name",), "each profile column")
    name = str(c["name"])
    missing = c.get("missing")
    top = counts(c.get("top_values"), key="value")
    view: dict[str, Any] = {
        "name": name,
        "type": c.get("type"),
        "missing": missing,
        "missing_share": missing / n_rows if isinstance(missing, (int, float)) and n_rows else None,
        "distinct": c.get("distinct"),
        "top": top[:5],
        "text": None,
        "numeric": None,
        "top_chart": None,
    }
    text = c.get("text")
    if isinstance(text, dict):
        health = [
            {
                "check": label,
                "count": text.get(key),
                "share": text[key] / n_rows if isinstance(text.get(key), (int, float)) and n_rows else None,
            }
            for key, label in TEXT_HEALTH
            if key in text
        ]
        langs = counts(text.get("languages"), key="language")
        ex = text.get("examples") or {}
        view["text"] = {
            "length": text.get("length") or {},
            "health": health,
            "histogram": _histogram(text, "lengths", "length_histogram", f"Length of {name}", "characters", figs),
            "languages": langs,
            "languages_chart": figs(
                plots.bar_chart,
                [k for k, _ in langs],
                [v for _, v in langs],
                title=f"Languages in {name}",
                xlabel="rows",
            )
            if len(langs) > 1
            else None,
            "examples": [{"problem": dict(TEXT_HEALTH).get(k, k), "examples": examples(v)} for k, v in ex.items() if v],
        }
    num = c.get("numeric")
    if isinstance(num, dict):
        view["numeric"] = {
            "stats": {k: num[k] for k in NUMERIC_STATS if k in num},
            "histogram": _histogram(num, "values", "histogram", f"Distribution of {name}", name, figs),
        }
    if view["text"] is None and view["numeric"] is None and len(top) > 1:
        view["top_chart"] = figs(
            plots.bar_chart,
            [k for k, _ in top],
            [v for _, v in top],
            title=f"Most common values of {name}",
            xlabel="rows",
            max_bars=15,
        )
    return view


def _labels(spec: Any, figs: Figures) -> dict[str, Any] | None:
    if not spec:
        return None
    overall = counts(spec.get("overall"))
    total = sum(v for _, v in overall) or None
    batches: list[dict[str, Any]] = []
    names = [k for k, _ in overall]
    for b in as_records(spec.get("by_batch")):
        bc = dict(counts(b.get("counts")))
        names += [k for k in bc if k not in names]
        n = sum(bc.values())
        batches.append(
            {
                "batch": str(b.get("batch")),
                "n": n,
                "counts": bc,
                "imbalance": b.get("imbalance", imbalance(list(bc.items()))),
            }
        )
    share_chart = None
    if len(batches) > 1:
        series = [
            {"name": lab, "y": [b["counts"].get(lab, 0) / b["n"] if b["n"] else None for b in batches]} for lab in names
        ]
        share_chart = figs(
            plots.line_chart,
            [b["batch"] for b in batches],
            series,
            title="Label share per batch",
            xlabel="batch",
            ylabel="share",
            ylim=(0, 1),
        )
    ratio = spec.get("imbalance", imbalance(overall))
    minority = min(overall, key=lambda kv: float(kv[1]))[0] if overall else None
    return {
        "column": spec.get("column", "label"),
        "overall": [{"label": k, "count": v, "share": float(v) / total if total else None} for k, v in overall],
        "imbalance": ratio,
        "minority": minority,
        "names": names,
        "batches": batches,
        "chart": figs(
            plots.bar_chart, names[: len(overall)], [v for _, v in overall], title="Labels, all batches", xlabel="items"
        )
        if overall
        else None,
        "share_chart": share_chart,
    }


def profile_view(profile: Any) -> dict[str, Any]:
    """The template context of ``profile.html`` (see the module docstring for the input)."""
    p = plain(profile)
    require(p, ("n_rows", "columns"), "the profile")
    figs = Figures("profile")
    n_rows = p["n_rows"]
    columns = [_column(c, n_rows, figs) for c in as_records(p["columns"])]
    labels = _labels(p.get("labels"), figs)
    dataset = p.get("dataset")
    toc = [("overview", "Overview")]
    if labels:
        toc.append(("labels", "Labels"))
    toc += [(f"col-{i}", f"Column {c['name']}") for i, c in enumerate(columns)]
    return {
        "kind": "profile",
        "kind_name": "data profile",
        "title": p.get("title") or (f"Data profile: {dataset}" if dataset else "Data profile"),
        "subtitle": f"{n_rows:,} rows, {len(columns)} columns",
        "generated": p.get("generated"),
        "n_rows": n_rows,
        "columns": columns,
        "labels": labels,
        "toc": toc,
    }
