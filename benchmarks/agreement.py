"""Krippendorff's alpha: truthset vs the `krippendorff` package, time and memory.

Run:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/agreement.py [--json]

1. Speed: 5 annotators x 1,000,000 items, 10% missing, nominal (4 classes) and interval
   (7-point scale), both libraries in the same process on the same matrix, best of
   ``--repeat`` runs, interleaved.
2. Memory: continuous values (5 annotators x 1,000,000 items, every value distinct), each
   level run in a fresh subprocess; peak RSS of the process and the tracemalloc peak of
   the call are reported. The `krippendorff` package is tried on the same data in a
   subprocess capped with RLIMIT_AS (``--mem-limit-gb``), and reported as "out of memory"
   when it fails there.
3. Bootstrap: ``agreement_ci`` with 200 replicates on the nominal data.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np


def nominal_matrix(n_items: int, n_ann: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_items)
    m = np.where(rng.random((n_ann, n_items)) < 0.7, truth, rng.integers(0, 4, (n_ann, n_items)))
    m = m.astype(np.float64)
    m[rng.random(m.shape) < 0.1] = np.nan
    return m


def scale_matrix(n_items: int, n_ann: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 8, n_items)
    m = np.clip(truth + rng.integers(-1, 2, (n_ann, n_items)), 1, 7).astype(np.float64)
    m[rng.random(m.shape) < 0.1] = np.nan
    return m


def continuous_matrix(n_items: int, n_ann: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.gamma(2.0, 10.0, n_items)
    m = np.empty((n_ann, n_items))
    for row in m:  # one annotator at a time keeps generation below the computation's peak
        row[:] = truth * np.exp(rng.normal(0.0, 0.1, n_items))
        row[rng.random(n_items) < 0.1] = np.nan
    return m


def best_time(fn: Any, repeat: int) -> tuple[float, float]:
    times, value = [], float("nan")
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(value)


def vm_hwm_mb() -> float:
    """Peak resident set of this process (VmHWM); unlike ru_maxrss it is not inherited
    from the parent across fork + exec."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, level: str, n_items: int, n_ann: int, limit_gb: float) -> None:
    """Run one alpha computation on continuous data and print a JSON line."""
    if limit_gb > 0:
        cap = int(limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if which == "ours":
        from truthset.quality import krippendorff_alpha as fn

        def compute(d: np.ndarray) -> float:
            return float(fn(d, level=level))  # type: ignore[arg-type]
    else:
        import krippendorff

        def compute(d: np.ndarray) -> float:
            return float(krippendorff.alpha(reliability_data=d, level_of_measurement=level))

    data = continuous_matrix(n_items, n_ann)
    rss_before = vm_hwm_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        value, status = compute(data), "ok"
    except MemoryError:
        value, status = float("nan"), "out of memory"
    elapsed = time.perf_counter() - t0
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = vm_hwm_mb()
    n_distinct = int(np.unique(data[~np.isnan(data)]).size)
    print(
        json.dumps(
            {
                "which": which,
                "level": level,
                "status": status,
                "alpha": float(value),
                "seconds": elapsed,
                "distinct_values": n_distinct,
                "data_mb": data.nbytes / 2**20,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak,
                "traced_peak_mb": traced / 2**20,
            }
        )
    )


def run_child(which: str, level: str, n_items: int, n_ann: int, limit_gb: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", which, level, str(n_items), str(n_ann), str(limit_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        status = "out of memory" if "MemoryError" in proc.stderr or proc.returncode < 0 else tail
        return {"which": which, "level": level, "status": status, "returncode": proc.returncode}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mem-limit-gb", type=float, default=8.0)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        which, level, n_items, n_ann, limit = args.child
        child(which, level, int(n_items), int(n_ann), float(limit))
        return

    import krippendorff

    from truthset.quality import agreement_ci, krippendorff_alpha

    out: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, python {platform.python_version()}",
        "numpy": np.__version__,
        "krippendorff": getattr(krippendorff, "__version__", "?"),
        "items": args.items,
        "annotators": args.annotators,
        "speed": [],
        "memory": [],
    }
    say = (lambda *a: None) if args.json else print
    for level, data in (
        ("nominal", nominal_matrix(args.items, args.annotators)),
        ("interval", scale_matrix(args.items, args.annotators)),
    ):
        ours_t, ours_v, peer_t, peer_v = [], 0.0, [], 0.0
        for _ in range(args.repeat):  # interleave to share machine noise fairly
            t, ours_v = best_time(lambda d=data, lv=level: krippendorff_alpha(d, level=lv), 1)
            ours_t.append(t)
            t, peer_v = best_time(
                lambda d=data, lv=level: krippendorff.alpha(reliability_data=d, level_of_measurement=lv), 1
            )
            peer_t.append(t)
        row = {
            "level": level,
            "truthset_s": min(ours_t),
            "krippendorff_s": min(peer_t),
            "speedup": min(peer_t) / min(ours_t),
            "alpha": ours_v,
            "abs_diff": abs(ours_v - peer_v),
        }
        out["speed"].append(row)
        say(
            f"{level:9s} truthset {row['truthset_s']:.3f}s  krippendorff "
            f"{row['krippendorff_s']:.3f}s  speed-up x{row['speedup']:.1f}  "
            f"alpha {ours_v:.6f} (|diff| {row['abs_diff']:.1e})"
        )
    data = nominal_matrix(args.items, args.annotators)
    t0 = time.perf_counter()
    ci = agreement_ci("krippendorff_alpha", data, level="nominal", n_boot=200)
    out["bootstrap"] = {
        "n_boot": 200,
        "seconds": time.perf_counter() - t0,
        "value": ci.value,
        "ci_low": ci.ci_low,
        "ci_high": ci.ci_high,
    }
    say(f"bootstrap nominal, 200 replicates: {out['bootstrap']['seconds']:.1f}s [{ci.ci_low:.4f}, {ci.ci_high:.4f}]")
    for which, level in (("ours", "interval"), ("ours", "ordinal"), ("ours", "nominal"), ("krippendorff", "interval")):
        res = run_child(
            which, level, args.items, args.annotators, args.mem_limit_gb if which == "krippendorff" else 0.0
        )
        out["memory"].append(res)
        if res["status"] == "ok":
            say(
                f"continuous {level:8s} {which:12s} {res['seconds']:.2f}s  peak RSS "
                f"{res['peak_rss_mb']:.0f} MB (before the call {res['rss_before_mb']:.0f} MB), "
                f"traced peak of the call {res['traced_peak_mb']:.0f} MB, "
                f"{res['distinct_values']:,} distinct values"
            )
        else:
            tried = res.get("traced_peak_mb", float("nan")) / 2**20
            say(
                f"continuous {level:8s} {which:12s} {res['status']} "
                f"(limit {args.mem_limit_gb:g} GiB; it asked for {tried:,.1f} TiB)"
            )
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
