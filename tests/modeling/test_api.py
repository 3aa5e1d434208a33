"""The public API: every name in __all__ resolves; importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import truthset.modeling as modeling


def test_every_public_name_resolves() -> None:
    for name in modeling.__all__:
        assert getattr(modeling, name) is not None, name
    assert callable(modeling.evaluate)  # the function, not the submodule of the same name


def test_evaluate_stays_the_function_after_the_submodule_is_imported() -> None:
    import truthset.modeling.evaluate as mod  # noqa: F401

    assert callable(modeling.evaluate) and modeling.evaluate.__name__ == "evaluate"


def test_import_does_not_load_sklearn() -> None:
    code = "import sys, truthset, truthset.modeling; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_all_lists_exactly_the_lazy_names() -> None:
    assert sorted(modeling.__all__) == sorted([*modeling._LAZY, "evaluate"])


MODULES = ["active", "calibration", "compare", "costs", "evaluate", "splits"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    mod = importlib.import_module(f"truthset.modeling.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
