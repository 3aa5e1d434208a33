"""The README's five-minute tour, run command by command on a fresh demo.

Every line of the tour is a promise to a new user; this test keeps each one true. Only the
lines that start a server (``--serve``, ``serve --workspace``) are left out: the browser tests
and ``.ci/plain_install.sh`` start the server (a ``cd`` on such a line still counts).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("--serve", "serve --workspace")


def tour_commands() -> list[list[str]]:
    """The tour's commands as argument lists, comments dropped, lines split at ``&&`` and ``;``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A five-minute tour\n\n```bash\n(.*?)```", readme, flags=re.S)
    assert block, "README.md has no five-minute tour"
    steps: list[list[str]] = []
    for line in block.group(1).splitlines():
        step: list[str] = []
        for token in shlex.split(line, comments=True):
            ends = token.endswith(";") and token != ";"
            token = token.rstrip(";") if ends else token
            if token in ("&&", ";"):
                steps.append(step)
                step = []
                continue
            step.append(token)
            if ends:
                steps.append(step)
                step = []
        if step:
            steps.append(step)
    return [argv for argv in steps if not any(s in " ".join(argv) for s in SERVERS)]


def test_the_tour_has_every_step() -> None:
    words = " ".join(" ".join(argv) for argv in tour_commands())
    for command in (
        "demo",
        "status",
        "check",
        "profile",
        "train",
        "evaluate",
        "errors",
        "curve",
        "anomalies",
        "drift",
        "issues",
        "report quality",
        "report data-card",
        "report model-card",
        "sql",
        "doctor",
    ):
        assert f"truthset {command}" in words or f"-p spam-demo {command}" in words, command


def test_every_tour_command_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRUTHSET_DATABASE_URL", None)  # the tour is the SQLite path a new user takes
    cwd = tmp_path
    # the drift line compares the demo's batch with a file of new messages
    new = "\n".join(
        f'"{t}"'
        for t in (
            "WIN a FREE cruise now, call 0800 123",
            "see you at lunch?",
            "URGENT your account is locked, click here",
            "ok thanks",
        )
    )
    ran = 0
    for argv in tour_commands():
        if argv[0] == "cd":
            cwd = (cwd / argv[1]).resolve()
            continue
        assert argv[0] == "truthset", argv
        if argv[1] == "drift" and not argv[argv.index("--current") + 1].isdigit():
            target = cwd / argv[argv.index("--current") + 1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("text\n" + new + "\n", encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "truthset.cli", *argv[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        shown = " ".join(argv)
        assert proc.returncode == 0, (
            f"{shown!r} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        ran += 1
    assert ran >= 25
