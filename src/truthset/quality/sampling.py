"""Acceptance sampling: how many labelled items to review, and whether a batch passes.

The plan (attribute sampling with acceptance number ``c``): review ``n`` items drawn at
random without replacement from a batch of ``N``; accept the batch when at most ``c``
reviewed items are wrong. ``n`` is chosen so that a batch whose error rate is *above*
``max_error_rate`` would pass with probability at most ``1 - confidence``:

.. math::
    n = \\min \\{ n : P(X \\le c \\mid N, D^*, n) \\le 1 - \\text{confidence} \\},
    \\qquad D^* = \\lfloor \\text{max\\_error\\_rate} \\cdot N \\rfloor + 1

with ``X`` hypergeometric (``D*`` errors in the batch; the smallest number that breaks the
requirement -- more errors only make passing less likely). Without ``batch_size`` the batch
is treated as infinite and ``X ~ Binomial(n, max_error_rate)``. Passing then lets you claim,
with the given confidence, that the batch error rate is at most ``max_error_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

from truthset.core.errors import InvalidInput

__all__ = ["AcceptanceDecision", "acceptance_decision", "sample_size"]


def _check_rate(name: str, value: float, *, open_high: bool = False) -> None:
    ok = isinstance(value, (int, float)) and value > 0 and (value < 1 if open_high else value <= 1)
    if not ok:
        raise InvalidInput(f"{name} must be a number in (0, 1{')' if open_high else ']'}; got {value!r}.")


def _check_count(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInput(f"{name} must be an integer >= {low}; got {value!r}.")


def _pass_probability(n: int, c: int, p: float, batch_size: int | None) -> float:
    """P(at most c errors among n reviewed) when the batch error rate is just above p."""
    from scipy.stats import binom, hypergeom  # here, not at import: scipy.stats takes ~0.7 s

    if batch_size is None:
        return float(binom.cdf(c, n, p))
    d_star = int(p * batch_size) + 1
    return float(hypergeom.cdf(c, batch_size, d_star, n))


def sample_size(
    batch_size: int | None,
    *,
    max_error_rate: float,
    confidence: float = 0.95,
    acceptance_number: int = 0,
) -> int:
    """Smallest number of items to review for the acceptance plan in the module docstring.

    Parameters
    ----------
    batch_size : int or None
        Items in the batch (hypergeometric plan); ``None`` for an unlimited stream (binomial).
    max_error_rate : float in (0, 1)
        The highest tolerable error rate.
    confidence : float in (0, 1), default 0.95
    acceptance_number : int, default 0
        Errors allowed in the sample for the batch to pass.

    Raises
    ------
    InvalidInput
        If no sample, not even the full batch, can support the claim (``acceptance_number``
        at least the number of errors the threshold tolerates).

    Examples
    --------
    >>> sample_size(None, max_error_rate=0.05, confidence=0.95)   # the "rule of 3" ~ 3/0.05
    59
    >>> sample_size(1000, max_error_rate=0.05, confidence=0.95)
    56
    """
    _check_rate("max_error_rate", max_error_rate, open_high=True)
    _check_rate("confidence", confidence, open_high=True)
    _check_count("acceptance_number", acceptance_number, 0)
    if batch_size is not None:
        _check_count("batch_size", batch_size, 1)
    alpha = 1 - confidence
    c = acceptance_number
    if batch_size is not None:
        d_star = int(max_error_rate * batch_size) + 1
        if d_star > batch_size or c >= d_star:
            raise InvalidInput(
                f"no sample of a batch of {batch_size} can show an error rate <= {max_error_rate} "
                f"while allowing {c} error(s) in the sample; lower acceptance_number below {d_star} "
                "or raise max_error_rate."
            )
        high = batch_size  # full inspection always decides
    else:
        high = max(c + 1, 16)
        while _pass_probability(high, c, max_error_rate, None) > alpha:
            high *= 2
    low = c  # P(X <= c | n = c) = 1 > alpha, so low always fails
    while high - low > 1:  # invariant: low fails, high satisfies
        mid = (low + high) // 2
        if _pass_probability(mid, c, max_error_rate, batch_size) <= alpha:
            high = mid
        else:
            low = mid
    return high


@dataclass(frozen=True)
class AcceptanceDecision:
    """The outcome of reviewing a sample.

    ``error_rate`` is ``n_errors / n_reviewed``; ``ci_low`` / ``ci_high`` the two-sided
    Clopper-Pearson (exact binomial) interval at ``confidence``; ``upper_bound`` the
    one-sided bound the verdict uses (hypergeometric when ``batch_size`` is known, else
    one-sided Clopper-Pearson); ``accepted`` is ``upper_bound <= max_error_rate``.
    """

    error_rate: float
    ci_low: float
    ci_high: float
    upper_bound: float
    accepted: bool
    n_reviewed: int
    n_errors: int
    max_error_rate: float
    confidence: float
    batch_size: int | None

    def __str__(self) -> str:
        verdict = "ACCEPT" if self.accepted else "REJECT"
        return (
            f"{verdict}: {self.n_errors}/{self.n_reviewed} errors ({self.error_rate:.2%}, "
            f"{self.confidence:.0%} CI {self.ci_low:.2%}-{self.ci_high:.2%}); "
            f"error rate <= {self.upper_bound:.2%} with {self.confidence:.0%} confidence "
            f"vs limit {self.max_error_rate:.2%}"
        )


def _hypergeom_upper(n: int, x: int, batch_size: int, alpha: float) -> float:
    """Largest error rate D/N not rejected: max D with P(X <= x | D) > alpha, over N."""
    from scipy.stats import hypergeom

    low, high = x, batch_size - (n - x)  # D is at least x and leaves n - x correct items
    if hypergeom.cdf(x, batch_size, high, n) > alpha:
        return high / batch_size
    while high - low > 1:  # invariant: low not rejected, high rejected
        mid = (low + high) // 2
        if hypergeom.cdf(x, batch_size, mid, n) > alpha:
            low = mid
        else:
            high = mid
    return low / batch_size


def acceptance_decision(
    n_reviewed: int,
    n_errors: int,
    *,
    max_error_rate: float,
    confidence: float = 0.95,
    batch_size: int | None = None,
) -> AcceptanceDecision:
    """Estimate a batch's error rate from a reviewed sample and accept or reject it.

    Accept when, with the given confidence, the error rate is at most ``max_error_rate``:
    the one-sided upper bound ``upper_bound <= max_error_rate``. Without ``batch_size``
    the bound is Clopper-Pearson's ``Beta.ppf(confidence, x + 1, n - x)``; with it, the
    exact hypergeometric bound (the largest ``D / N`` with ``P(X <= x | N, D, n) > 1 -
    confidence``), which is tighter when the sample is a large share of the batch. With
    ``n_reviewed = sample_size(...)`` and ``n_errors <= acceptance_number`` the batch passes.

    Examples
    --------
    >>> d = acceptance_decision(59, 0, max_error_rate=0.05)
    >>> d.accepted, round(d.upper_bound, 4)
    (True, 0.0495)
    >>> acceptance_decision(100, 9, max_error_rate=0.05).accepted
    False
    """
    _check_count("n_reviewed", n_reviewed, 1)
    _check_count("n_errors", n_errors, 0)
    if n_errors > n_reviewed:
        raise InvalidInput(f"n_errors ({n_errors}) cannot exceed n_reviewed ({n_reviewed}); check the counts.")
    _check_rate("max_error_rate", max_error_rate)
    _check_rate("confidence", confidence, open_high=True)
    if batch_size is not None:
        _check_count("batch_size", batch_size, n_reviewed)
    from scipy.stats import beta

    n, x = n_reviewed, n_errors
    alpha = 1 - confidence
    ci_low = 0.0 if x == 0 else float(beta.ppf(alpha / 2, x, n - x + 1))
    ci_high = 1.0 if x == n else float(beta.isf(alpha / 2, x + 1, n - x))
    if batch_size is None:
        upper = 1.0 if x == n else float(beta.isf(alpha, x + 1, n - x))
    else:
        upper = _hypergeom_upper(n, x, batch_size, alpha)
    return AcceptanceDecision(
        error_rate=x / n,
        ci_low=ci_low,
        ci_high=ci_high,
        upper_bound=upper,
        accepted=bool(upper <= max_error_rate),
        n_reviewed=n,
        n_errors=x,
        max_error_rate=float(max_error_rate),
        confidence=float(confidence),
        batch_size=batch_size,
    )
