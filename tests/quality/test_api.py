"""The Python API as scikit-learn users expect it, and a quick ``import truthset.quality``.

Issue 12, item 6: ``sklearn.base.clone(DawidSkene())`` raised TypeError (``get_params`` had no
``deep``), ``agreement_ci`` rejected a metric given as a function, and importing
``truthset.quality`` loaded scipy.stats and scipy.optimize eagerly (about 3.5 s cold). Each test
below failed on the code before the change.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tests.quality.conftest import make_annotations
from truthset.core.errors import InvalidInput
from truthset.quality import (
    GLAD,
    MACE,
    BaseAggregator,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    UndefinedAgreementWarning,
    WeightedMajorityVote,
    agreement_ci,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)

AGGREGATORS = [MajorityVote, WeightedMajorityVote, DawidSkene, OneCoinDawidSkene, GLAD, MACE]


@pytest.mark.parametrize("cls", AGGREGATORS)
def test_sklearn_clone_gives_an_equal_unfitted_estimator(cls: type[BaseAggregator]) -> None:
    df, _ = make_annotations(n_items=30, seed=1)
    model = cls().fit(df)
    twin = clone(model)
    assert type(twin) is cls and twin is not model
    assert twin.get_params(deep=True) == model.get_params(deep=False)
    assert "labels_" not in twin.__dict__  # clone copies parameters, not the fit
    pd.testing.assert_series_equal(twin.fit(df).labels_, model.labels_)


@pytest.mark.parametrize("cls", AGGREGATORS)
def test_set_params_round_trips_through_clone(cls: type) -> None:
    name = next(iter(cls().get_params()))
    value = cls().get_params()[name]
    assert clone(cls().set_params(**{name: value})).get_params()[name] == value


@pytest.mark.parametrize(
    ("metric", "options"), [(percent_agreement, {}), (fleiss_kappa, {}), (krippendorff_alpha, {"level": "nominal"})]
)
def test_a_metric_function_gets_the_same_interval_as_the_builtin(
    metric: Callable[..., float], options: dict[str, Any]
) -> None:
    """The generic path (resampling the frame) and the fast one (per-item statistics) draw the
    same items for the same seed, so a wrapped coefficient must give the very same interval."""
    df, _ = make_annotations(n_items=40, per_item=3, seed=3)
    fast = agreement_ci(metric, df, n_boot=300, seed=7, **options)
    slow = agreement_ci(lambda d, **o: metric(d, **o), df, n_boot=300, seed=7, **options)
    assert slow.value == pytest.approx(fast.value)
    assert slow.ci_low == pytest.approx(fast.ci_low)
    assert slow.ci_high == pytest.approx(fast.ci_high)


def test_a_custom_metric_is_bootstrapped_over_items() -> None:
    # share of items on which every judgement agrees: 3 of 4 here
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4, 4], "annotator": list("abababab"), "label": list("xxyyxxxy")})

    def unanimous(d: pd.DataFrame) -> float:
        return float((d.groupby("item")["label"].nunique() == 1).mean())

    ci = agreement_ci(unanimous, df, n_boot=400, seed=0)
    assert ci.value == 0.75
    assert 0.0 <= ci.ci_low < 0.75 < ci.ci_high <= 1.0
    # every replicate has 4 items, so every value is a multiple of 1/4
    assert (ci.ci_low * 4) % 1 == 0 and (ci.ci_high * 4) % 1 == 0


def test_a_metric_function_options_and_bad_input() -> None:
    df, _ = make_annotations(n_items=30, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedAgreementWarning)
        ci = agreement_ci(lambda d, level: krippendorff_alpha(d, level=level), df, n_boot=50, level="nominal")
    assert np.isfinite(ci.value)
    with pytest.raises(InvalidInput, match="long frame"):
        agreement_ci(lambda d: 1.0, np.zeros((3, 3)), n_boot=10)
    with pytest.raises(InvalidInput, match="'item'"):
        agreement_ci(lambda d: 1.0, df.rename(columns={"item": "thing"}), n_boot=10)
    with pytest.raises(InvalidInput, match="does not know metric"):
        agreement_ci("no_such_metric", df, n_boot=10)


def test_importing_quality_loads_no_scipy_stats_or_optimize() -> None:
    """What made ``import truthset.quality`` slow; checked by module, not by a timer."""
    code = (
        "import sys, truthset.quality; print(sorted(m for m in ('scipy.stats', 'scipy.optimize') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
