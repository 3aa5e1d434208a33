"""Import and export a generated 1M-row CSV; report rows/s and peak memory.

Run: python benchmarks/import_1m.py [--rows 1000000] [--json] [--only import] [--csv PATH]

Each phase runs in its own child process so its peak resident memory (ru_maxrss) is its
own; an import of a large file also runs a reader process, whose peak is reported apart
(``reader_peak_mb``). The CSV has a text column (5-30 words), a label (4 classes), an annotator (20) and ~2%
exact duplicate rows, so the import does real deduplication work.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "free",
    "prize",
    "call",
    "now",
    "meeting",
    "tomorrow",
    "love",
    "you",
    "ok",
    "lar",
    "text",
    "stop",
    "win",
    "cash",
    "claim",
    "home",
    "later",
    "dinner",
]


def _text(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + f" #{i}"


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows; about 2% are exact copies (same text, label, annotator) of an earlier row."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,text,label,annotator\n")
        for i in range(rows):
            j = rng.randrange(i) if i > 10 and rng.random() < 0.02 else i
            fh.write(f'{i},"{_text(j)}",{"abcd"[j % 4]},ann{j % 20}\n')


CHILD = """
import json, resource, sys, time
from truthset.services.projects import init_project, open_project
from truthset.services.imports import import_file, ImportOptions
from truthset.services.exports import export_project
phase, root, csv_path, out = sys.argv[1:5]
t = time.perf_counter()
if phase == "import":
    p = init_project(root, task="text-classification", name="bench")
    r = import_file(p, csv_path, ImportOptions(id_col="id"))
    res = {"rows": r.rows_read, "items": r.items_added, "annotations": r.annotations_added, "duplicates": r.duplicates}
else:
    p = open_project(root)
    r = export_project(p, out, fmt=phase.split(":")[1])
    res = {"items": r.items, "annotations": r.annotations}
res["seconds"] = time.perf_counter() - t
res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res["reader_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(res))
"""


def run_phase(phase: str, root: Path, csv_path: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, phase, str(root), str(csv_path), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", choices=["import", "all"], default="all", help="run the import phase alone")
    ap.add_argument("--csv", type=Path, help="reuse this generated CSV (written first when it does not exist)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        csv_path = args.csv or d / "big.csv"
        t = time.perf_counter()
        if not csv_path.exists():
            make_csv(csv_path, args.rows)
        gen = time.perf_counter() - t
        results = {"rows": args.rows, "csv_mb": csv_path.stat().st_size / 2**20, "generate_seconds": gen}
        imp = run_phase("import", d / "proj", csv_path, d / "x")
        imp["rows_per_second"] = imp["rows"] / imp["seconds"]
        results["import"] = imp
        for fmt in ("jsonl", "csv", "parquet", "labelstudio") if args.only == "all" else ():
            ex = run_phase(f"export:{fmt}", d / "proj", csv_path, d / f"out.{fmt}")
            ex["rows_per_second"] = ex["annotations"] / ex["seconds"]
            results[f"export_{fmt}"] = ex
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.rows:,} rows, {results['csv_mb']:.0f} MB CSV")
    i = results["import"]
    print(
        f"import: {i['seconds']:.1f} s, {i['rows_per_second']:,.0f} rows/s, peak {i['peak_mb']:.0f} MB "
        f"+ reader process {i['reader_peak_mb']:.0f} MB "
        f"({i['items']:,} items, {i['annotations']:,} annotations, {i['duplicates']:,} duplicates)"
    )
    for fmt in ("jsonl", "csv", "parquet", "labelstudio") if args.only == "all" else ():
        e = results[f"export_{fmt}"]
        print(f"export {fmt}: {e['seconds']:.1f} s, {e['rows_per_second']:,.0f} rows/s, peak {e['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
