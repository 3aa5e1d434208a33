"""Charts: well-formed, accessible, deterministic, escaped, small, and without side effects."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reports._page import find_text
from truthset.core.errors import InvalidInput
from truthset.reports import plots

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"

CHARTS: dict[str, Callable[[str], str]] = {
    "histogram": lambda ident: plots.histogram(
        np.random.default_rng(0).exponential(60, 2000), title="Text length", bins=25, xlabel="characters", ident=ident
    ),
    "bar": lambda ident: plots.bar_chart(
        ["ham", HOSTILE, "$5 off $10"], [4825, 3, 747], title="Labels & <others>", ident=ident
    ),
    "line": lambda ident: plots.line_chart(
        ["b1", "b2", "b3", "b4"],
        [
            {
                "name": "alpha",
                "y": [0.8, 0.7, None, 0.75],
                "ci_low": [0.7, 0.6, None, 0.7],
                "ci_high": [0.9, 0.8, None, 0.8],
            },
            {"name": "kappa", "y": [0.6, 0.5, 0.55, 0.6]},
        ],
        title="Agreement per batch",
        reference=0.667,
        reference_label="alpha 0.667",
        ident=ident,
    ),
    "reliability": lambda ident: plots.reliability_chart(
        {
            "before": [
                {"mean_confidence": 0.55, "accuracy": 0.5, "count": 10},
                {"mean_confidence": 0.95, "accuracy": 0.97, "count": 300},
                {"mean_confidence": None, "accuracy": None, "count": 0},
            ],
            "after": [{"mean_confidence": 0.6, "accuracy": 0.5, "count": 12}],
        },
        ident=ident,
    ),
    "confusion": lambda ident: plots.confusion_heatmap([[315, 1], [18, 26]], ["ham", HOSTILE], ident=ident),
    "curve": lambda ident: plots.learning_curve_chart(
        {
            "metric": "macro_f1",
            "points": [
                {"n_train": 150, "macro_f1": 55.2, "ci_low": 47.1, "ci_high": 64.8, "per_seed": [51.0, 59.4]},
                {"n_train": 600, "macro_f1": 85.2, "ci_low": 78.3, "ci_high": 90.0, "per_seed": [85.0, 85.4]},
            ],
        },
        ident=ident,
    ),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_well_formed_accessible_and_small(name: str) -> None:
    svg = CHARTS[name]("page-fig1")
    root = ET.fromstring(svg)  # raises on malformed XML
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img" and root.get("class") == "ts-chart"
    title, desc = root[0], root[1]
    assert title.tag == f"{NS}title" and title.text and title.text.strip()
    assert desc.tag == f"{NS}desc" and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert not svg.startswith("<?xml") and "<!DOCTYPE" not in svg
    tags = {el.tag.removeprefix(NS) for el in root.iter()}
    # text stays text (svg.fonttype none): no glyph outlines, fonts, scripts, styles, images
    assert "text" in tags
    assert not tags & {"script", "style", "font", "font-face", "image", "foreignObject"}
    assert "metadata" not in tags and "<dc:date>" not in svg
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    assert len(svg) < 60_000, f"{name} chart is {len(svg)} bytes"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_deterministic_and_ids_follow_ident(name: str) -> None:
    a, b = CHARTS[name]("page-fig1"), CHARTS[name]("page-fig1")
    assert a == b
    ids_a = {el.get("id") for el in ET.fromstring(a).iter() if el.get("id")}
    ids_c = {el.get("id") for el in ET.fromstring(CHARTS[name]("page-fig2")).iter() if el.get("id")}
    assert not ids_a & ids_c, "two charts on one page would share an id"


def test_same_bytes_in_a_fresh_interpreter() -> None:
    """No per-process state (hash seeds, font caches, counters) leaks into the SVG."""
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]; from tests.reports.test_plots import "
        "CHARTS; sys.stdout.write(''.join(CHARTS[k]('x') for k in sorted(CHARTS)))"
    )
    src = str(__import__("truthset").__file__).rsplit("/truthset/", 1)[0]
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", code, src, root],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
        check=True,
    ).stdout
    assert out == "".join(CHARTS[k]("x") for k in sorted(CHARTS))


def test_item_text_is_escaped_and_mathtext_is_off() -> None:
    svg = CHARTS["bar"]("x")
    root = ET.fromstring(svg)
    texts = [el.text or "" for el in root.iter(f"{NS}text")]
    assert HOSTILE in texts  # the label, drawn as text (and escaped: the XML parsed)
    assert "$5 off $10" in texts  # not parsed as mathtext
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert find_text(root, f"{NS}title") == "Labels & <others>"


def test_histogram_of_values_equals_histogram_of_its_bins() -> None:
    values = np.random.default_rng(1).normal(100, 20, 5000)
    counts, edges = np.histogram(values, bins=30)
    assert plots.histogram(values, bins=30, title="t", ident="h") == plots.histogram(
        counts=counts, edges=edges, title="t", ident="h"
    )


def test_bar_chart_folds_the_tail_into_other() -> None:
    svg = plots.bar_chart([f"v{i}" for i in range(50)], list(range(50, 0, -1)), title="many", max_bars=10)
    texts = [el.text for el in ET.fromstring(svg).iter(f"{NS}text")]
    assert "other (41)" in texts and "v9" not in texts
    assert sum(range(41, 0, -1)) == 861 and "other (41): 861" in svg


def test_desc_carries_the_numbers() -> None:
    desc = ET.fromstring(CHARTS["confusion"]("x"))[1].text or ""
    assert "true ham: predicted ham 315, predicted" in desc and "18" in desc


def test_drawing_leaves_global_matplotlib_state_alone() -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    CHARTS["line"]("x")
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend
    assert "matplotlib.pyplot" not in sys.modules or backend == matplotlib.get_backend()


def test_threads_draw_the_same_charts_as_one_thread() -> None:
    """The server draws from worker threads; rcParams are global, so plots.py holds a lock."""
    names = sorted(CHARTS) * 3
    serial = [CHARTS[n](f"t{i}") for i, n in enumerate(names)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda t: CHARTS[t[1]](f"t{t[0]}"), enumerate(names)))
    assert threaded == serial


def test_import_does_not_load_matplotlib_numpy_or_pandas() -> None:
    code = (
        "import sys, truthset.reports; heavy = [m for m in ('matplotlib', 'numpy', 'pandas')"
        " if m in sys.modules]; print(heavy)"
    )
    src = str(__import__("truthset").__file__).rsplit("/truthset/", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": src, "PATH": ""},
        check=True,
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plots.histogram(counts=[1, 2], edges=[0, 1], title="t"), "2 counts need 3 edges"),
        (lambda: plots.histogram([np.nan], title="t"), "no finite values"),
        (lambda: plots.histogram(title="t"), "needs values"),
        (lambda: plots.bar_chart(["a"], [1, 2], title="t"), "1 labels but 2 counts"),
        (lambda: plots.bar_chart(["a"], [1], title="  "), "needs a title"),
        (lambda: plots.line_chart([1, 2], {"y": [1]}, title="t"), "1 values for 2 x positions"),
        (lambda: plots.line_chart([1], [{"name": "a"}], title="t"), "needs 'y'"),
        (lambda: plots.confusion_heatmap([[1, 2]], title="t"), "must be square"),
        (lambda: plots.confusion_heatmap([[1]], ["a", "b"], title="t"), "1 rows but 2 labels"),
        (lambda: plots.learning_curve_chart({"points": []}), "no points"),
    ],
)
def test_bad_input_is_a_clear_error(call: Callable[[], str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(labels=["\r"], title="0")  # a whitespace-only label once drew an empty tick (CI found it)
@given(
    labels=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4, unique=True),
    title=st.text(min_size=1, max_size=40).filter(str.strip),
)
def test_any_text_gives_well_formed_svg_that_keeps_it(labels: list[str], title: str) -> None:
    """Labels and titles come from users and items: markup, quotes, dollars, control
    characters, surrogates. The SVG must still parse, and show the text (control characters
    and other XML-forbidden ones become U+FFFD)."""
    svg = plots.bar_chart(labels, list(range(1, len(labels) + 1)), title=title, ident="p")
    root = ET.fromstring(svg)
    assert not {el.tag for el in root.iter()} & {f"{NS}script", f"{NS}foreignObject"}
    texts = {el.text or "" for el in root.iter(f"{NS}text")}
    shown = {plots._XML_INVALID.sub("\ufffd", plots._short(x)) for x in labels}  # one line each
    assert shown <= texts
    # XML parsers read a carriage return as a line feed
    expected = plots._XML_INVALID.sub("\ufffd", title).replace("\r\n", "\n").replace("\r", "\n")
    assert find_text(root, f"{NS}title") == expected
