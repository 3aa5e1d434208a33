"""Every report, rendered from real inputs: sections, numbers with intervals, escaped item text,
well-formed SVG, no script or external asset, byte-identical output for the same input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reports._page import SVG_NS, find_text, headings, parse, svgs, unsafe, visible_text
from tests.reports.conftest import HOSTILE
from truthset.core.errors import InvalidInput
from truthset.reports import (
    render_check_report,
    render_data_card,
    render_model_card,
    render_profile,
    render_quality_report,
)
from truthset.reports._format import fmt_ci, fmt_num, plain

ESCAPED = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;"


def _model_card(run: dict[str, Any]) -> str:
    return render_model_card(run["card"], evaluation=run["evaluation"], learning_curve=run["curve"])


#: report -> (fixture, renderer, h2 headings in order, number of charts at least)
REPORTS: dict[str, tuple[str, Callable[[Any], str], list[str], int]] = {
    "profile": (
        "profile_input",
        render_profile,
        ["Overview", "Labels", "Column text", "Column label", "Column length"],
        5,
    ),
    "check": (
        "check_summary",
        render_check_report,
        ["Summary", "blocking 1 check(s), {max_length} flagged", "warning 1 check(s), 403 flagged", "Passed"],
        1,
    ),
    "model_card": (
        "model_run",
        _model_card,
        [
            "Model details",
            "Intended use",
            "Factors",
            "Metrics",
            "Evaluation data",
            "Training data",
            "Quantitative analyses",
            "Ethical considerations",
            "Caveats and recommendations",
        ],
        4,
    ),
    "quality": (
        "crowd_report",
        render_quality_report,
        [
            "Summary",
            "What was labelled",
            "Batches",
            "Risks and bottlenecks",
            "Open data issues",
            "Changes since the last report",
        ],
        4,
    ),
    "data_card": (
        "data_card_input",
        render_data_card,
        ["Summary", "Sources", "Collection", "Label schema", "Splits", "Duplicates", "Known limitations"],
        2,
    ),
}


@pytest.fixture(params=sorted(REPORTS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, Any, str]:
    fixture, render, _, _ = REPORTS[request.param]
    data = request.getfixturevalue(fixture)
    return request.param, data, render(data)


def test_sections_in_order(rendered: tuple[str, Any, str]) -> None:
    name, data, html = rendered
    counts = {f["check"]: f["count"] for f in data.get("findings", []) if isinstance(f, dict)}
    assert headings(html) == [h.format(**counts) for h in REPORTS[name][2]]
    assert len(headings(html, "h1")) == 1


def test_item_text_is_escaped_and_nothing_runs_or_loads(rendered: tuple[str, Any, str]) -> None:
    name, _, html = rendered
    assert ESCAPED in html, f"{name}: the planted item text is not shown escaped"
    assert HOSTILE in visible_text(html)  # shown to the reader as text
    assert unsafe(html) == []
    assert "<script" not in html.lower()


def test_charts_are_well_formed_with_unique_ids(rendered: tuple[str, Any, str]) -> None:
    name, _, html = rendered
    charts = svgs(html)
    assert len(charts) >= REPORTS[name][3]
    ids = parse(html).ids
    assert len(ids) == len(set(ids)), "an id is used twice on the page"
    for chart in charts:
        assert find_text(chart, f"{SVG_NS}title")


def test_same_input_same_bytes(rendered: tuple[str, Any, str]) -> None:
    name, data, html = rendered
    assert REPORTS[name][1](data) == html


def test_same_bytes_in_a_fresh_interpreter(crowd_report: dict[str, Any], tmp_path: Path) -> None:
    """Nothing per-process (hash seed, dict order from sets, caches) reaches the page."""
    data = plain(crowd_report)
    (tmp_path / "in.json").write_text(json.dumps(data), encoding="utf-8")
    import truthset

    assert truthset.__file__ is not None  # a regular package, not a namespace one
    src = str(Path(truthset.__file__).parents[1])
    code = (
        "import json, sys; from truthset.reports import render_quality_report; "
        "sys.stdout.write(render_quality_report(json.load(open(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "in.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PYTHONPATH": src, "PYTHONHASHSEED": "7", "PATH": ""},
    ).stdout
    assert out == render_quality_report(data)


def test_model_card_metrics_show_intervals(model_run: dict[str, Any]) -> None:
    html = _model_card(model_run)
    text = visible_text(html)
    m = model_run["evaluation"].metrics
    for name in ("accuracy", "macro_f1", "mcc", "roc_auc", "ece"):
        expected = fmt_ci(m[name], m[f"{name}_ci_low"], m[f"{name}_ci_high"])
        assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", expected)
        assert expected in text, name
    assert f"macro_f1 (primary) {fmt_ci(m['macro_f1'], m['macro_f1_ci_low'], m['macro_f1_ci_high'])}" in text
    cal = model_run["calibration"]
    assert f"ECE after {fmt_ci(cal['ece_after'], cal['ece_after_ci_low'], cal['ece_after_ci_high'])}" in text
    pc = model_run["evaluation"].per_class.set_index("class")
    spam = pc.loc["spam"]
    assert fmt_ci(spam["recall"], spam["recall_ci_low"], spam["recall_ci_high"]) in text
    for caveat in model_run["card"]["sections"]["caveats_and_recommendations"]:
        assert " ".join(caveat.split()) in text
    assert model_run["curve"]["answer"] in text
    assert "Not given: description, ethical considerations" in text


def test_model_card_charts_carry_the_run_numbers(model_run: dict[str, Any]) -> None:
    html = _model_card(model_run)
    descs = {find_text(c, f"{SVG_NS}title"): find_text(c, f"{SVG_NS}desc") for c in svgs(html)}
    cm = model_run["evaluation"].confusion
    assert (f"true ham: predicted ham {cm.loc['ham', 'ham']}, predicted spam {cm.loc['ham', 'spam']}") in descs[
        "Confusion matrix (test set)"
    ]
    assert "before scaling:" in descs["Reliability diagram (test set)"]
    assert "after scaling:" in descs["Reliability diagram (test set)"]
    first = model_run["curve"]["points"][0]
    assert (
        f"{first['n_train']} labels: {first['macro_f1']:.1f}"
        in descs["Learning curve: macro_f1 against training labels"]
    )


def test_model_card_without_extras_says_what_is_missing(model_run: dict[str, Any]) -> None:
    from truthset.modeling import model_card

    card = model_card(
        name="bare", task="text-classification", model="tfidf+logreg", metrics=model_run["evaluation"].metrics
    )
    html = render_model_card(card)
    text = visible_text(html)
    assert "No analyses were recorded with this run." in text
    assert (
        "Not given: description, ethical considerations, evaluation data, factors, "
        "intended use, out of scope, owners, training data, version." in text
    )
    assert headings(html) == REPORTS["model_card"][2]
    assert svgs(html) == []


def test_check_report_groups_by_severity_and_fails_the_gate(check_summary: dict[str, Any], sms_raw: Any) -> None:
    html = render_check_report(check_summary)
    text = visible_text(html)
    assert "Gate failed. 1 blocking check(s) found problems" in text
    assert text.index("blocking 1 check(s)") < text.index("warning 1 check(s), 403 flagged")
    assert "Same text under two ids 403" in text  # the 403 extra copies of the SMS file
    assert "… and 393 more." in text  # 12 examples given, 10 shown, 403 flagged
    assert "What to do: Keep one copy" in text
    assert "What to do: Fix these items (or the rule)" in text  # default for blocking
    assert "label_conflicts (warning)" in text  # ran and found nothing: listed as passed
    longest = max((e["text"] for f in check_summary["findings"] for e in f.get("examples", [])), key=len)
    assert len(longest) > 300 and longest not in text  # examples are cut, with their length
    assert f"{longest[:300]}… ({len(longest):,} characters)" in text
    no_blocking = {**check_summary, "findings": [f for f in check_summary["findings"] if f["severity"] != "blocking"]}
    assert "Gate passed." in visible_text(render_check_report(no_blocking))


def test_profile_counts_and_imbalance(profile_input: dict[str, Any], sms_raw: Any) -> None:
    text = visible_text(render_profile(profile_input))
    counts = sms_raw["label"].value_counts()
    ratio = counts["ham"] / counts["spam"]
    assert f"The largest class is {ratio:.1f} times the smallest ( spam )" in text
    assert f"{len(sms_raw):,} rows, 3 columns" in text
    for batch, g in sms_raw.groupby("batch"):
        b = g["label"].value_counts()
        assert f"{batch} {len(g):,} {b['ham']:,} {b['spam']:,} {b['ham'] / b['spam']:.1f}" in text
    moj = profile_input["columns"][0]["text"]["mojibake"]
    assert moj > 0 and f"mojibake (text decoded with the wrong encoding) {moj}" in text


def test_quality_report_batches_with_intervals_and_verdicts(crowd_report: dict[str, Any]) -> None:
    html = render_quality_report(crowd_report)
    text = visible_text(html)
    for b in crowd_report["batches"]:
        ag, gold, acc = b["agreement"], b["gold"], b["acceptance"]
        assert fmt_ci(ag.value, ag.ci_low, ag.ci_high) in text
        assert fmt_ci(gold["accuracy"], gold["ci_low"], gold["ci_high"]) in text
        verdict = "accepted" if acc.accepted else "rejected"
        assert f"{verdict} {acc.n_errors}/60 errors, rate {acc.error_rate * 100:.1f}%" in text
    accepted = sum(b["acceptance"].accepted for b in crowd_report["batches"])
    assert f"{accepted} of 4 reviewed batches accepted" in text
    assert "closed issue title" not in text and "1 issue(s) resolved or closed" in text
    assert "fleiss_kappa, all items 0.310 0.250 -0.060" in text
    titles = [find_text(c, f"{SVG_NS}title") for c in svgs(html)]
    assert titles == [
        "Labels so far",
        "Annotations per day",
        "Agreement per batch (fleiss_kappa)",
        "Gold accuracy per batch",
        "Error rate found in review, per batch",
    ]


def test_data_card_splits_and_duplicates(data_card_input: dict[str, Any]) -> None:
    text = visible_text(render_data_card(data_card_input))
    for s in data_card_input["splits"]:
        row = f"{s['split']} {fmt_num(s['items'])} {fmt_num(s['labels']['ham'])} {fmt_num(s['labels']['spam'])}"
        assert row in text
    assert f"Exact {fmt_num(data_card_input['duplicates']['exact'])}" in text
    assert "Current version: 2 ." in text and "spam defined" in text


@pytest.mark.parametrize(
    "render, data, message",
    [
        (render_profile, {"columns": []}, "the profile is missing 'n_rows'"),
        (render_profile, {"n_rows": 3, "columns": [{"type": "text"}]}, "each profile column is missing 'name'"),
        (render_check_report, {"findings": [{"check": "x", "count": 1}]}, "each finding is missing 'severity'"),
        (
            render_check_report,
            {"findings": [{"check": "x", "severity": "warning", "count": -1}]},
            "count must be a number >= 0",
        ),
        (render_model_card, {"title": "x"}, "the model card is missing 'sections'"),
        (render_quality_report, [], "the quality report must be a dict"),
        (render_quality_report, {"batches": [{"items": 3}]}, "each batch of the quality report is missing 'batch'"),
        (render_data_card, {"description": "x"}, "the data card is missing 'name'"),
    ],
)
def test_missing_input_is_a_clear_error(render: Callable[[Any], str], data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as err:
        render(data)
    assert "docs/reports.md" in str(err.value) or "must be" in str(err.value)
