"""Print an HTML report to PDF with Debian's headless chromium.

Why chromium: the reports are HTML with print CSS and inline SVG; a browser prints them
exactly as they look, with selectable text, and Debian ships one (``apt-get install
chromium``) that the browser tests already use. A Python HTML-to-PDF library (WeasyPrint)
would add Pango and cairo system libraries for the same result.

The page is written to a temporary folder and opened as a ``file://`` URL; chromium runs
with a throw-away profile (``--user-data-dir``), no sandbox (it runs as root in containers),
no GPU, and no background network traffic (no updates, no sync), under a timeout. The PDF is
written next to its destination and moved into place only when chromium succeeded, so a
failed print never leaves a half-written file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from truthset.core.errors import MissingDependency, TruthsetError

__all__ = ["PdfError", "find_chromium", "to_pdf"]

#: Flags for a quiet, isolated, printing-only browser run.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-pdf-header-footer",
)


class PdfError(TruthsetError, RuntimeError):
    """chromium could not print the report; the message has chromium's own words."""

    status = 500


def find_chromium(executable: str | None = None) -> str:
    """The chromium to run: ``executable`` when given, else ``chromium`` on the PATH."""
    found = shutil.which(executable or "chromium")
    if found is None:
        raise MissingDependency(
            "printing a report to PDF needs the chromium browser"
            + (f" ({executable!r} was not found)" if executable else ", which is not installed")
            + "; install it with: apt-get install chromium (or write HTML with -o report.html "
            "and print it from any browser)."
        )
    return found


def to_pdf(
    html: str,
    path: str | os.PathLike[str],
    *,
    timeout: float = 120.0,
    chromium: str | None = None,
) -> Path:
    """Print ``html`` (a whole document) to the PDF file ``path`` and return its path.

    Raises :class:`~truthset.core.errors.MissingDependency` when chromium is not installed
    and :class:`PdfError` when it fails or takes longer than ``timeout`` seconds.
    """
    exe = find_chromium(chromium)
    dest = Path(path)
    if not dest.parent.is_dir():
        raise PdfError(
            f"cannot write {dest}: the folder {dest.parent} does not exist; create it or choose another path."
        )
    with tempfile.TemporaryDirectory(prefix="truthset-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}", page.as_uri()]
        try:
            run = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PdfError(
                f"chromium did not finish printing within {timeout:g} s; the machine may be "
                "overloaded: try again, or pass a longer timeout."
            ) from exc
        if run.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = (run.stderr or run.stdout or "").strip()[-800:]
            raise PdfError(
                f"chromium could not print the report (exit code {run.returncode})"
                f"; its output ends: {tail or '(nothing)'}"
            )
        staged = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(out, staged)
        os.replace(staged, dest)
    return dest
