"""Near-duplicate detection: truthset's vectorised MinHash LSH beside datasketch.

Part 1, quality. From the SMS Spam Collection (or any ``--data`` TSV/CSV with a text column)
we keep *bases*: distinct messages of at least ``--min-chars`` characters that are mutually
dissimilar (exact character-5-gram Jaccard below 0.3 to every base kept before them, so the
ground truth is unambiguous). Each base gets 0..``--copies`` edited copies; a copy's edit
rate is drawn from ``--levels`` (edits per character) and each edit is, with equal chance, an
insertion, a deletion, a swap of neighbours, a case change of a word, or a punctuation change.
The generator is seeded (``--seed``). Ground truth: items from one base are near-duplicates.
Reported for each method: precision and recall of pairs (the verified pairs a method returns)
and of clusters (pair counting over its clusters, i.e. with transitivity), recall by edit
level (base-copy pairs), and time.

Part 2, scale. ``--scale`` texts synthesised from the messages: 80% new texts stitched from
word spans of two random messages, 20% edited copies of those. Each method runs in its own
process on the same file; wall time and peak RSS (``ru_maxrss``) of that process.

Both methods see the same normalised texts (``normalize_texts(strip_punctuation=True)``), the
same character 5-gram shingles, ``num_perm`` and LSH (bands, rows); both verify candidates by
the signatures' estimated Jaccard >= threshold. Run::

    python benchmarks/near_duplicates.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SMS = HERE.parents[1] / "shared" / "datasets" / "text" / "sms_spam_collection" / "SMSSpamCollection.tsv"
PUNCT = list(".,!?;:'\"-")


def read_texts(path: Path) -> list[str]:
    if path.suffix == ".tsv" and path.name.startswith("SMSSpam"):
        lines = path.read_text(encoding="utf-8").split("\n")[1:]
        return [line.split("\t", 1)[1] for line in lines if "\t" in line]
    df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    col = next(c for c in df.columns if c.lower() in ("text", "sms", "content", "message"))
    return df[col].dropna().astype(str).tolist()


# -- the edit generator ---------------------------------------------------------------------


def edit(text: str, rate: float, rng: np.random.Generator) -> str:
    """``text`` with about ``rate * len(text)`` edits (at least one) of five kinds."""
    chars = list(text)
    for _ in range(max(1, int(round(rate * len(text))))):
        op = int(rng.integers(0, 5))
        i = int(rng.integers(0, max(len(chars), 1)))
        if op == 0:  # insertion of a letter
            chars.insert(i, chr(97 + int(rng.integers(0, 26))))
        elif op == 1 and len(chars) > 1:  # deletion
            del chars[i]
        elif op == 2 and len(chars) > 2:  # swap of neighbours
            j = min(i, len(chars) - 2)
            chars[j], chars[j + 1] = chars[j + 1], chars[j]
        elif op == 3:  # case change of the word at i
            s = "".join(chars)
            lo = s.rfind(" ", 0, i) + 1
            hi = s.find(" ", i) if s.find(" ", i) >= 0 else len(s)
            word = s[lo:hi]
            word = word.upper() if rng.random() < 0.5 else word.capitalize()
            chars = list(s[:lo] + word + s[hi:])
        else:  # punctuation: insert, or delete one if there is one nearby
            near = [k for k in range(max(0, i - 5), min(len(chars), i + 5)) if chars[k] in PUNCT]
            if near and rng.random() < 0.5:
                del chars[near[0]]
            else:
                chars.insert(i, PUNCT[int(rng.integers(0, len(PUNCT)))])
    return "".join(chars)


def bases_from(texts: list[str], min_chars: int, max_jaccard: float = 0.3) -> list[str]:
    from scipy.sparse import csr_matrix

    from truthset.data import normalize_texts, shingle_hashes

    norm = normalize_texts(texts, strip_punctuation=True)
    seen: dict[str, int] = {}
    for n in norm:
        if len(n) >= min_chars and n not in seen:
            seen[n] = len(seen)
    cand = list(seen)
    first_raw: dict[str, str] = {}
    for t, n in zip(texts, norm):
        first_raw.setdefault(n, t)
    h, doc = shingle_hashes(cand, k=5)
    _, col = np.unique(h, return_inverse=True)
    x = csr_matrix((np.ones(len(doc)), (doc, col.reshape(-1))), shape=(len(cand), int(col.max()) + 1))
    x.sum_duplicates()
    x.data[:] = 1
    inter = (x @ x.T).tocoo()
    size = np.asarray(x.sum(axis=1)).reshape(-1)
    jac = inter.data / (size[inter.row] + size[inter.col] - inter.data)
    close = (inter.row < inter.col) & (jac >= max_jaccard) & (max_jaccard < 1.0)
    drop: set[int] = set()
    for a, b in sorted(zip(inter.row[close].tolist(), inter.col[close].tolist())):
        if a not in drop:
            drop.add(b)
    return [first_raw[c] for i, c in enumerate(cand) if i not in drop]


def quality_set(
    bases: list[str], copies: int, levels: list[float], seed: int
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(texts, family, level, is_base) shuffled; level is 0 for bases."""
    rng = np.random.default_rng(seed)
    texts, family, level = [], [], []
    for f, base in enumerate(bases):
        texts.append(base), family.append(f), level.append(0.0)
        for _ in range(int(rng.integers(0, copies + 1))):
            rate = float(rng.choice(levels))
            texts.append(edit(base, rate, rng)), family.append(f), level.append(rate)
    order = rng.permutation(len(texts))
    return (
        [texts[i] for i in order],
        np.asarray(family)[order],
        np.asarray(level)[order],
        np.asarray(level)[order] == 0,
    )


def scale_set(source: list[str], n: int, seed: int, levels: list[float]) -> list[str]:
    rng = np.random.default_rng(seed)
    words = [t.split() for t in source if t.split()]
    n_new = int(n * 0.8)
    pick = rng.integers(0, len(words), size=(n_new, 2))
    out = []
    for a, b in pick.tolist():
        wa, wb = words[a], words[b]
        ia, ib = int(rng.integers(0, len(wa))), int(rng.integers(0, len(wb)))
        out.append(" ".join(wa[ia : ia + 10] + wb[ib : ib + 10]))
    src = rng.integers(0, n_new, size=n - n_new)
    out += [edit(out[i], float(rng.choice(levels)), rng) for i in src.tolist()]
    return [out[i] for i in rng.permutation(len(out)).tolist()]


# -- the methods ----------------------------------------------------------------------------


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_truthset(texts: list[str], args: argparse.Namespace, scheme: str) -> dict:
    from truthset.data import near_duplicates

    c = cpu()
    t = time.perf_counter()
    r = near_duplicates(
        texts, threshold=args.threshold, num_perm=args.num_perm, k=5, scheme=scheme, verify="signature", seed=args.seed
    )
    secs = time.perf_counter() - t
    return {
        "seconds": secs,
        "cpu_seconds": cpu() - c,
        "a": r.pairs["a"].to_numpy(),
        "b": r.pairs["b"].to_numpy(),
        "cluster": r.clusters.cluster,
        "candidates": r.params["candidates"],
        "bands": r.params["bands"],
        "rows": r.params["rows"],
    }


def run_datasketch(texts: list[str], args: argparse.Namespace) -> dict:
    from datasketch import MinHash, MinHashLSH

    from truthset.data import Clusters, normalize_texts, optimal_bands

    c = cpu()
    t = time.perf_counter()
    norm = normalize_texts(texts, strip_punctuation=True)
    bands, rows = optimal_bands(args.threshold, args.num_perm)
    shingles = [[s[i : i + 5].encode("utf-8") for i in range(max(1, len(s) - 4))] for s in norm]
    sketches = MinHash.bulk(shingles, num_perm=args.num_perm, seed=args.seed)
    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm, params=(bands, rows))
    with lsh.insertion_session() as session:
        for i, (m, s) in enumerate(zip(sketches, norm)):
            if s:
                session.insert(i, m, check_duplication=False)
    a, b, n_cand = [], [], 0
    for i, (m, s) in enumerate(zip(sketches, norm)):
        if not s:
            continue
        for j in lsh.query(m):
            if j > i:
                n_cand += 1
                if m.jaccard(sketches[j]) >= args.threshold:
                    a.append(i), b.append(j)
    empty = [i for i, s in enumerate(norm) if not s]  # join empty texts, as truthset does
    a += empty[:1] * max(len(empty) - 1, 0)
    b += empty[1:]
    clusters = Clusters.from_pairs(len(texts), a, b)
    secs = time.perf_counter() - t
    return {
        "seconds": secs,
        "cpu_seconds": cpu() - c,
        "a": np.asarray(a, dtype=np.int64),
        "b": np.asarray(b, dtype=np.int64),
        "cluster": clusters.cluster,
        "candidates": n_cand,
        "bands": bands,
        "rows": rows,
    }


# -- metrics --------------------------------------------------------------------------------


def expand_pairs(a: np.ndarray, b: np.ndarray, texts: list[str]) -> np.ndarray:
    """Item pairs (as sorted uint64 keys) implied by pairs between representatives: every copy
    with the same normalised text as ``a`` x every copy of ``b``, plus pairs among equal texts."""
    from truthset.data import Clusters, normalize_texts

    n = len(texts)
    exact = Clusters.from_keys(normalize_texts(texts, strip_punctuation=True))
    members = pd.Series(np.arange(n)).groupby(exact.cluster).apply(list).to_dict()
    keys = []
    for x, y in zip(exact.cluster[a].tolist(), exact.cluster[b].tolist()):
        for i in members[x]:
            for j in members[y]:
                keys.append(min(i, j) * n + max(i, j))
    for group in members.values():
        for u in range(len(group)):
            for v in range(u + 1, len(group)):
                keys.append(min(group[u], group[v]) * n + max(group[u], group[v]))
    return np.unique(np.asarray(keys, dtype=np.uint64))


def true_pairs(family: np.ndarray) -> np.ndarray:
    n = len(family)
    keys = []
    for members in pd.Series(np.arange(n)).groupby(family).apply(list):
        for u in range(len(members)):
            for v in range(u + 1, len(members)):
                keys.append(min(members[u], members[v]) * n + max(members[u], members[v]))
    return np.unique(np.asarray(keys, dtype=np.uint64))


def pair_counting(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    def c2(x: np.ndarray) -> float:
        return float((x * (x - 1) // 2).sum())

    pair = pd.Series(1, index=pd.MultiIndex.from_arrays([truth, pred])).groupby(level=[0, 1]).size()
    tp = c2(pair.to_numpy())
    pp = c2(np.bincount(pred))
    tt = c2(np.bincount(truth))
    return (tp / pp if pp else 1.0), (tp / tt if tt else 1.0)


def score(
    result: dict,
    texts: list[str],
    family: np.ndarray,
    level: np.ndarray,
    truth: np.ndarray,
    levels: list[float],
    expand: bool,
) -> dict:
    n = len(texts)
    if expand:
        found = expand_pairs(result["a"], result["b"], texts)
    else:
        found = np.unique(
            np.minimum(result["a"], result["b"]).astype(np.uint64) * np.uint64(n)
            + np.maximum(result["a"], result["b"]).astype(np.uint64)
        )
    tp = len(np.intersect1d(found, truth, assume_unique=True))
    cp, cr = pair_counting(family, result["cluster"])
    base_of = {f: i for i, f in enumerate(family.tolist()) if level[i] == 0}
    by_level = {}
    for lv in levels:
        copies = np.flatnonzero(level == lv)
        origin = np.array([base_of[f] for f in family[copies].tolist()], dtype=np.int64)
        keys = np.minimum(copies, origin).astype(np.uint64) * np.uint64(n) + np.maximum(copies, origin).astype(
            np.uint64
        )
        by_level[str(lv)] = {
            "pairs": int(len(copies)),
            "pair_recall": float(np.isin(keys, found).mean()) if len(copies) else None,
            "cluster_recall": float((result["cluster"][copies] == result["cluster"][origin]).mean())
            if len(copies)
            else None,
        }
    return {
        "seconds": round(result["seconds"], 3),
        "cpu_seconds": round(result["cpu_seconds"], 3),
        "bands": result["bands"],
        "rows": result["rows"],
        "candidates": int(result["candidates"]),
        "pairs_found": int(len(found)),
        "pair_precision": tp / len(found) if len(found) else 1.0,
        "pair_recall": tp / len(truth),
        "cluster_precision": cp,
        "cluster_recall": cr,
        "by_edit_rate": by_level,
    }


# -- the scale run, one process per method --------------------------------------------------


def worker(method: str, path: str, args: argparse.Namespace) -> None:
    texts = Path(path).read_text(encoding="utf-8").split("\n")
    start = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = start.ru_utime + start.ru_stime
    t = time.perf_counter()
    if method == "datasketch":
        r = run_datasketch(texts, args)
    else:
        r = run_truthset(texts, args, method.split("-")[1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "method": method,
        "texts": len(texts),
        "seconds": time.perf_counter() - t,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu0,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "verified_pairs": int(len(r["a"])),
        "candidates": int(r["candidates"]),
        "clusters_of_2_or_more": int((np.bincount(r["cluster"]) > 1).sum()),
    }
    print(json.dumps(out))


def scale_run(method: str, path: str, args: argparse.Namespace, timeout: float) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        method,
        "--input",
        path,
        "--threshold",
        str(args.threshold),
        "--num-perm",
        str(args.num_perm),
        "--seed",
        str(args.seed),
    ]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")},
        )
    except subprocess.TimeoutExpired:
        return {"method": method, "error": f"did not finish in {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {"method": method, "error": exc.stderr[-500:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=SMS)
    p.add_argument("--threshold", type=float, default=0.7)
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--levels", default="0.02,0.05,0.1")
    p.add_argument("--min-chars", type=int, default=20)
    p.add_argument(
        "--base-jaccard",
        type=float,
        default=0.3,
        help="drop a base this similar to an earlier one (1.0: keep all distinct texts)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", default="1000000", help="comma-separated sizes; 0 to skip")
    p.add_argument("--timeout", type=float, default=1800.0, help="per method and size, seconds")
    p.add_argument(
        "--peer-max", type=int, default=0, help="run datasketch only on scale sizes up to this (0: every size)"
    )
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.input, args)
        return
    sys.path.insert(0, str(HERE.parent / "src"))
    levels = [float(x) for x in args.levels.split(",")]
    source = read_texts(args.data)
    report: dict = {
        "data": str(args.data),
        "threshold": args.threshold,
        "num_perm": args.num_perm,
        "seed": args.seed,
        "levels": levels,
        "base_jaccard": args.base_jaccard,
    }
    if not args.skip_quality:
        bases = bases_from(source, args.min_chars, args.base_jaccard)
        texts, family, level, _ = quality_set(bases, args.copies, levels, args.seed)
        truth = true_pairs(family)
        report["quality"] = {"bases": len(bases), "items": len(texts), "true_pairs": int(len(truth))}
        for name in ["truthset-oph", "truthset-classic", "datasketch"]:
            res = run_datasketch(texts, args) if name == "datasketch" else run_truthset(texts, args, name.split("-")[1])
            report["quality"][name] = score(res, texts, family, level, truth, levels, expand=name != "datasketch")
    report["scale"] = []
    for n in [int(x) for x in args.scale.split(",") if int(x) > 0]:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "texts.txt")
            Path(path).write_text("\n".join(scale_set(source, n, args.seed, levels)), encoding="utf-8")
            for method in ["truthset-oph", "datasketch"]:
                if method == "datasketch" and 0 < args.peer_max < n:
                    continue
                report["scale"].append(scale_run(method, path, args, args.timeout))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    q = report.get("quality")
    if q:
        print(f"quality: {q['bases']} bases, {q['items']} items, {q['true_pairs']} true pairs")
        for name in ["truthset-oph", "truthset-classic", "datasketch"]:
            r = q[name]
            print(
                f"  {name:17s} pairs P {r['pair_precision']:.3f} R {r['pair_recall']:.3f} | clusters "
                f"P {r['cluster_precision']:.3f} R {r['cluster_recall']:.3f} | {r['seconds']:.2f} s "
                f"({r['cpu_seconds']:.2f} s CPU) | "
                + " ".join(
                    f"R@{k} {v['pair_recall']:.3f}/{v['cluster_recall']:.3f}" for k, v in r["by_edit_rate"].items()
                )
            )
    for r in report["scale"]:
        print("  scale", r)


if __name__ == "__main__":
    main()
