"""Printing to PDF with Debian's headless chromium: the real browser, read back with pypdf."""

from __future__ import annotations

import io
import os
import stat
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tests.reports.test_render import REPORTS
from truthset.core.errors import MissingDependency
from truthset.reports import PdfError, render_data_card, render_quality_report, to_pdf

pypdf = pytest.importorskip("pypdf", reason="pypdf is in the [test] extra")


def _pdf_text(path: Path) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    return len(reader.pages), unicodedata.normalize("NFKC", text)  # the "fl" ligature -> f, l


def test_quality_report_prints_with_every_heading(crowd_report: dict[str, Any], tmp_path: Path) -> None:
    out = to_pdf(render_quality_report(crowd_report), tmp_path / "report.pdf")
    assert out == tmp_path / "report.pdf" and out.read_bytes().startswith(b"%PDF-")
    pages, text = _pdf_text(out)
    # five charts and a batch table do not fit on one A4 page; more than 8 would mean the
    # print CSS broke (e.g. a chart scaled to a page of its own)
    assert 2 <= pages <= 8, pages
    for heading in ["Quality report: rte", *REPORTS["quality"][2]]:
        assert heading in text, heading
    assert "Agreement per batch (fleiss_kappa)" in text  # chart text stays text in the PDF
    assert [p for p in tmp_path.iterdir()] == [out]  # no temporary file left behind


def test_a_longer_report_prints_on_more_pages(
    data_card_input: dict[str, Any], crowd_report: dict[str, Any], tmp_path: Path
) -> None:
    short = to_pdf(render_data_card({"name": "tiny"}), tmp_path / "short.pdf")
    long = to_pdf(render_data_card(data_card_input), tmp_path / "long.pdf")
    assert _pdf_text(short)[0] == 1
    pages, text = _pdf_text(long)
    assert pages > 1
    for heading in REPORTS["data_card"][2]:
        assert heading in text


def _fake_chromium(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "fake-chromium"
    exe.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_missing_chromium_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(MissingDependency, match="apt-get install chromium"):
        to_pdf("<p>x</p>", tmp_path / "x.pdf", chromium="no-such-chromium-here")
    assert not (tmp_path / "x.pdf").exists()


def test_chromium_failure_is_reported_and_writes_nothing(tmp_path: Path) -> None:
    exe = _fake_chromium(tmp_path, 'echo "Fatal: cannot open display" >&2; exit 3')
    dest = tmp_path / "out.pdf"
    with pytest.raises(PdfError, match="exit code 3.*cannot open display"):
        to_pdf("<p>x</p>", dest, chromium=exe)
    assert not dest.exists()


def test_a_hanging_chromium_times_out(tmp_path: Path) -> None:
    exe = _fake_chromium(tmp_path, "exec sleep 30")
    with pytest.raises(PdfError, match="within 1 s"):
        to_pdf("<p>x</p>", tmp_path / "out.pdf", chromium=exe, timeout=1)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match="does not exist"):
        to_pdf("<p>x</p>", tmp_path / "nope" / "out.pdf")


def test_an_existing_pdf_is_replaced_whole(tmp_path: Path) -> None:
    dest = tmp_path / "r.pdf"
    dest.write_bytes(b"old")
    exe = _fake_chromium(tmp_path, "exit 1")
    with pytest.raises(PdfError):
        to_pdf("<p>x</p>", dest, chromium=exe)
    assert dest.read_bytes() == b"old"  # a failed print leaves the old file alone
    to_pdf("<h1>new</h1>", dest)
    assert _pdf_text(dest)[1].strip() == "new" and os.path.getsize(dest) > 100
