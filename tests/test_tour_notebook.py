"""docs/tour.ipynb runs from top to bottom (nbclient), so the notebook cannot rot."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbclient
import nbformat

TOUR = Path(__file__).resolve().parents[1] / "docs" / "tour.ipynb"


def test_tour_notebook_runs_and_shows_each_step() -> None:
    nb = nbformat.read(TOUR, as_version=4)  # type: ignore[no-untyped-call]  # nbformat ships py.typed but leaves read() unannotated
    src = str(Path(__file__).resolve().parents[1] / "src")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = src + (os.pathsep + env_path if env_path else "")  # the kernel imports this tree
    try:
        start = time.perf_counter()
        nbclient.NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(TOUR.parent)}}
        ).execute()
        took = time.perf_counter() - start
    finally:
        os.environ["PYTHONPATH"] = env_path
    out = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "label accuracy, Dawid-Skene" in out and "flagged;" in out and "macro_f1_ci_low" in out
    assert any(v in out for v in ("B is better", "A is better", "no evidence of a difference"))
    assert "Traceback" not in out
    print(f"tour ran in {took:.1f} s")
