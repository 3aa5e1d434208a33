"""Documentation that is generated or quoted from the code must not drift from it."""

from __future__ import annotations

import re
from pathlib import Path

from truthset.core.config import reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current() -> None:
    page = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert page == reference_markdown(), "regenerate: python -m truthset.core.config > docs/config.md"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b).strip()
    pytest_part = test_cmd.split("&&")[-1].strip()
    assert pytest_part in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
