"""Render the reports to standalone HTML pages.

Each ``render_*`` function takes plain data (dicts, dataclasses, DataFrames: what the services
compute; the shapes are in docs/reports.md and in each view module's docstring) and returns
one HTML document as a string. Why it is built this way:

* **offline and printable**: one file, no external assets, inline ``<style>`` and inline SVG
  charts, print CSS for A4 (:func:`truthset.reports.to_pdf` prints it);
* **no script at all**: the page works under a Content-Security-Policy without
  ``'unsafe-inline'`` scripts, and item text cannot become code: Jinja2 autoescaping is on for
  every template and every value, and the charts escape their text (plots.py);
* **deterministic**: no clock, no randomness; the same input gives byte-identical HTML, so a
  report can be diffed, cached and tested (a date comes in as ``generated``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from truthset.reports._format import MISSING, fmt_ci, fmt_num, fmt_pct

__all__ = [
    "render_check_report",
    "render_data_card",
    "render_model_card",
    "render_profile",
    "render_quality_report",
]


def _human(key: Any) -> str:
    text = str(key).replace("_", " ")
    return text[:1].upper() + text[1:]


def _show(value: Any) -> str:
    """Any value as short text: numbers formatted, lists joined, dicts as ``key: value``."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, (int, float)):
        return fmt_num(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_show(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or MISSING
    return str(value)


def _clip(value: Any, limit: int = 300) -> str:
    """Item text cut to ``limit`` characters, saying how long it was (a report shows examples,
    not whole documents)."""
    text = _show(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _slug(value: Any) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in str(value).lower())


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates: autoescape on for ``.html``,
    undefined names are errors (a misspelt key fails the tests instead of printing
    nothing), and the filters ``num``, ``ci``, ``pct``, ``show``, ``human``, ``clip``."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("truthset.reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(num=fmt_num, ci=fmt_ci, pct=fmt_pct, show=_show, human=_human, slug=_slug, clip=_clip)
    return env


def _render(template: str, view: dict[str, Any]) -> str:
    from truthset import __version__

    return environment().get_template(template).render(version=__version__, **view)


def render_profile(profile: Any) -> str:
    """The data profile page: per column type, missing, distinct and top values; text length
    histogram, empty/whitespace, mojibake, control characters, truncation and language mix;
    numeric summaries; label distribution and class imbalance overall and per batch."""
    from truthset.reports._profile import profile_view

    return _render("profile.html", profile_view(profile))


def render_check_report(findings_summary: Any) -> str:
    """The data-check report: findings grouped by severity (blocking first), each with its
    count, escaped item examples and what to do, and whether the pipeline gate passed."""
    from truthset.reports._checks import check_view

    return _render("check.html", check_view(findings_summary))


def render_model_card(
    card: Any,
    *,
    evaluation: Any = None,
    learning_curve: Any = None,
) -> str:
    """The model card (Mitchell et al. 2019) from :func:`truthset.modeling.model_card`'s dict.

    ``evaluation`` (an :class:`~truthset.modeling.Evaluation` or its ``to_dict()``) adds the
    per-class table, the confusion matrix and the reliability diagram; ``learning_curve`` (the
    dict of :func:`~truthset.modeling.learning_curve`) the learning curve and its answer.
    Either may also sit in the card under ``sections.quantitative_analyses``.
    """
    from truthset.reports._model_card import model_card_view

    return _render("model_card.html", model_card_view(card, evaluation=evaluation, learning_curve=learning_curve))


def render_quality_report(report: Any) -> str:
    """The stakeholder quality report: what was labelled, agreement, gold and acceptance per
    batch with intervals, risks and bottlenecks, open data issues, changes since last time."""
    from truthset.reports._quality import quality_view

    return _render("quality.html", quality_view(report))


def render_data_card(card: Any) -> str:
    """The data card: sources, collection, schema and its versions, splits, duplicates and
    known limitations."""
    from truthset.reports._data_card import data_card_view

    return _render("data_card.html", data_card_view(card))


def render_drift_report(result: Any) -> str:
    """The drift report: the data-set verdict, then each column's test, score and threshold.

    ``result``: the dict of ``services.drift.compare`` (``DriftReport.to_dict()`` plus
    ``reference``/``current`` descriptions and their row counts)."""
    from markupsafe import Markup

    from truthset.reports import plots

    tests = [{**c, "verdict": "drift" if c.get("drift") else "ok"} for c in result.get("columns", [])]
    chart = (
        Markup(
            plots.bar_chart(
                [f"{c['column']} · {c['method']}" for c in tests],
                [float(c["score"] or 0.0) / float(c["threshold"] or 1.0) for c in tests],
                title="Score as a multiple of its threshold (1 = the threshold)",
                xlabel="score / threshold",
                ident="drift-scores",
            )
        )
        if tests
        else None
    )
    view = {
        "kind": "drift",
        "kind_name": "drift report",
        "title": result.get("title") or "Drift report",
        "subtitle": f"{result.get('reference')} → {result.get('current')}",
        "generated": result.get("generated"),
        "toc": [("verdict", "Verdict"), ("columns", "Columns")],
        "tests": tests,
        "chart": chart,
        **{
            k: result.get(k)
            for k in (
                "drift",
                "n_columns",
                "n_drifted_columns",
                "drift_share",
                "reference",
                "current",
                "n_reference",
                "n_current",
            )
        },
    }
    return _render("drift.html", view)
