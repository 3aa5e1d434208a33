"""The lead's dashboard: is the queue moving, and is quality holding?

One read of the store (``store/repo/dashboard.py``) gives the judgements with their time and
batch, assignment counts and review outcomes; the numbers come from the pure quality code
(:func:`truthset.quality.agreement_ci`, :func:`truthset.quality.wilson_interval`). What is
counted, and why:

* **progress** counts human judgements in the annotate stage: the queue asks each item for
  ``queue.overlap`` of them (labels that came with an import do not count towards it), so a
  batch's work is ``items x overlap`` and what is done is, per item, its human judgements up
  to the overlap. The **pace** is the human judgements per day over the last 7 days (or since
  the first one, if sooner); a batch with a due date is **at risk** when its remaining work at
  that pace ends after the due date.
* **agreement with others** of an annotator: on each item they judged with someone else, the
  share of the others' judgements that match theirs, averaged over those items; its interval
  is a Wilson interval with the items as trials (a judgement shared out over items, so it is
  approximate when others' labels are correlated).
* **gold accuracy**: judgements on gold items that match the gold label, Wilson interval.
* **over time**: per batch and per ISO week (an item belongs to the week of its latest
  judgement), Krippendorff's alpha (nominal) with a bootstrap interval over items, and gold
  accuracy with a Wilson interval.

Agreement and gold need one label per judgement: multi-label and NER projects get progress,
throughput, the annotator counts and the label distribution only.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.store.models import as_utc, utcnow
from truthset.store.repo import dashboard as repo_dash
from truthset.store.repo import quality as repo_quality

#: sources that are independent judgements (as in services.qc)
#: days of human judgements the pace is measured over
PACE_DAYS = 7
#: bootstrap replicates for the intervals over time (a page view, not a report: fewer than QC's 1000)
N_BOOT = 300
SINGLE_LABEL = ("text-classification", "image-classification", "tabular-classification")


def _f(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else round(x, 4)


def _labels_of(label: str | None, value: str) -> list[str]:
    """The label names of one judgement (one for single-label, several for multi-label/NER)."""
    if label is not None:
        return [label]
    parsed = json.loads(value)
    if isinstance(parsed, list):
        return [str(v["label"]) if isinstance(v, dict) else str(v) for v in parsed]
    return [] if parsed is None else [str(parsed)]


def _frame(rows: Any) -> pd.DataFrame:
    df = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["item", "annotator", "label", "value", "schema_version", "lead_time", "created_at", "batch", "source"],
    )
    df["created_at"] = pd.to_datetime([as_utc(t) for t in df["created_at"]], utc=True)
    df["week"] = df["created_at"].dt.strftime("%G-W%V")
    return df


def _progress(
    df: pd.DataFrame, batches: Any, overlap: int, now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    human = df[df["source"] == "human"]
    per_item = human.groupby("item")["annotator"].nunique().clip(upper=overlap)
    batch_of = human.drop_duplicates("item").set_index("item")["batch"]
    done_by_batch = per_item.groupby(batch_of.reindex(per_item.index)).sum() if len(per_item) else pd.Series(dtype=int)
    start = now - timedelta(days=PACE_DAYS)
    recent = human[human["created_at"] >= pd.Timestamp(start)]
    days = PACE_DAYS
    if len(human):
        first = human["created_at"].min().to_pydatetime()
        days = max(1.0, min(PACE_DAYS, (now - first).total_seconds() / 86400))
    per_day = len(recent) / days
    out = []
    for b in batches:
        needed = int(b.items) * overlap
        done = int(done_by_batch.get(b.id, 0))
        remaining = max(0, needed - done)
        due = None if b.due_at is None else as_utc(b.due_at)
        days_left = None if due is None else round((due - now).total_seconds() / 86400, 2)
        days_needed = None if per_day <= 0 else round(remaining / per_day, 2)
        at_risk = bool(
            due is not None and remaining > 0 and (days_needed is None or days_left is None or days_needed > days_left)
        )
        out.append(
            {
                "batch": int(b.id),
                "source": PurePath(b.source).name if b.source else b.source,
                "items": int(b.items),
                "needed": needed,
                "done": done,
                "remaining": remaining,
                "due_at": None if due is None else due.isoformat(),
                "days_left": days_left,
                "days_needed": days_needed,
                "at_risk": at_risk,
            }
        )
    pace = {"days": round(days, 2), "judgements": int(len(recent)), "per_day": round(per_day, 2)}
    return out, pace


def _agreement_with_others(df: pd.DataFrame) -> pd.DataFrame:
    from truthset.quality import wilson_interval

    n_item = df.groupby("item")["annotator"].transform("size")
    n_same = df.groupby(["item", "label"])["annotator"].transform("size")
    shared = df.assign(others=n_item - 1, same=n_same - 1)
    shared = shared[shared["others"] > 0]
    share = shared["same"] / shared["others"]
    g = share.groupby(shared["annotator"])
    out = pd.DataFrame({"agreement_items": g.size(), "agreement_sum": g.sum()})
    lo, hi = wilson_interval(out["agreement_sum"].to_numpy(), out["agreement_items"].to_numpy())
    out["agreement"] = out["agreement_sum"] / out["agreement_items"]
    out["agreement_low"], out["agreement_high"] = lo, hi
    return out


def _gold_table(df: pd.DataFrame, gold: pd.Series, key: str) -> list[dict[str, Any]]:
    from truthset.quality import wilson_interval

    on_gold = df[df["item"].isin(gold.index)]
    if on_gold.empty:
        return []
    hit = (on_gold["label"].to_numpy() == gold.reindex(on_gold["item"]).to_numpy()).astype(int)
    g = pd.Series(hit, index=on_gold.index).groupby(on_gold[key])
    n, correct = g.size(), g.sum()
    lo, hi = wilson_interval(correct.to_numpy(), n.to_numpy())
    return [
        {
            key: _plain_key(k),
            "n": int(n[k]),
            "correct": int(correct[k]),
            "accuracy": _f(correct[k] / n[k]),
            "ci_low": _f(lo[i]),
            "ci_high": _f(hi[i]),
        }
        for i, k in enumerate(n.index)
    ]


def _plain_key(k: Any) -> Any:
    return k.item() if isinstance(k, np.generic) else k


def _alpha_by(df: pd.DataFrame, key: str, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Krippendorff's alpha (nominal) with a bootstrap interval per group of items."""
    from truthset.quality import agreement_ci

    multi = df[df.groupby("item")["annotator"].transform("size") >= 2]
    if multi.empty:
        return []
    group_of_item = multi.groupby("item")[key].last()
    out = []
    for k, items in group_of_item.groupby(group_of_item):
        part = multi[multi["item"].isin(items.index)][["item", "annotator", "label"]]
        value = lo = hi = float("nan")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ci = agreement_ci("krippendorff_alpha", part, level="nominal", n_boot=n_boot, seed=seed)
                value, lo, hi = ci.value, ci.ci_low, ci.ci_high
            except (InvalidInput, ValueError, ZeroDivisionError):
                pass  # one label only, or too few items: no alpha for this group
        out.append(
            {key: _plain_key(k), "items": int(len(items)), "alpha": _f(value), "ci_low": _f(lo), "ci_high": _f(hi)}
        )
    return out


def _label_counts(df: pd.DataFrame, key: str) -> dict[str, dict[str, int]]:
    exploded = df.assign(names=[_labels_of(lb, v) for lb, v in zip(df["label"], df["value"], strict=True)])
    exploded = exploded.explode("names").dropna(subset=["names"])
    out: dict[str, dict[str, int]] = {}
    for (k, name), n in exploded.groupby([key, "names"]).size().items():
        out.setdefault(str(k), {})[str(name)] = int(n)
    return out


def dashboard(
    project: Project, *, now: datetime | None = None, n_boot: int = N_BOOT, seed: int = 0, with_gold: bool = True
) -> dict[str, Any]:
    """Every number of the dashboard page (and ``GET /api/dashboard``), plainly named.

    ``with_gold=False`` (anyone but an admin) leaves out every gold number (``gold_shown`` says
    so): an annotator's gold count and accuracy, refreshed after each answer, would tell which
    items are gold and, with the answer given, what their gold label is.
    """
    now = as_utc(now) if now is not None else utcnow()
    overlap = int(project.config.queue.overlap)
    with project.store.read() as tx:
        rows = repo_dash.judgement_rows(tx, project.id, JUDGEMENT_SOURCES)
        assignments = repo_dash.assignment_counts(tx, project.id)
        reviews = repo_dash.review_outcomes(tx, project.id)
        batches = repo_dash.batches(tx, project.id)
        gold_rows = repo_quality.gold_labels(tx, project.id)
    df = _frame(rows)
    # one judgement per annotator and item, the latest (as in services.qc)
    df = df[~df.duplicated(["item", "annotator"], keep="last")].reset_index(drop=True)
    progress, pace = _progress(df, batches, overlap, now)
    stages: dict[str, dict[str, int]] = {}
    skips: dict[str, int] = {}
    for stage, status, name, n in assignments:
        stages.setdefault(stage, {})[status] = stages.get(stage, {}).get(status, 0) + int(n)
        if status == "skipped" and name is not None:
            skips[name] = skips.get(name, 0) + int(n)
    outcomes: dict[str, dict[str, int]] = {}
    for name, verdict, n in reviews:
        outcomes.setdefault(name, {})[verdict] = int(n)
    human = df[df["source"] == "human"]
    throughput = [
        {"annotator": a, "day": d, "annotations": int(n)}
        for (a, d), n in human.groupby(["annotator", human["created_at"].dt.strftime("%Y-%m-%d")]).size().items()
    ]
    single = project.task in SINGLE_LABEL
    gold = pd.Series({int(i): lb for i, lb in gold_rows if lb is not None}, dtype=object)
    agree = _agreement_with_others(df) if single and len(df) else pd.DataFrame()
    gold_by_annotator = {r["annotator"]: r for r in _gold_table(df, gold, "annotator")} if single else {}
    table = []
    by_name = dict(iter(df.groupby("annotator")))
    for name in sorted(set(by_name) | set(skips)):  # an annotator who only skipped is listed too
        part = by_name.get(name, df.iloc[:0])
        a = agree.loc[name] if name in agree.index else None
        g = gold_by_annotator.get(str(name), {})
        rev = outcomes.get(str(name), {})
        table.append(
            {
                "annotator": str(name),
                "annotations": int(len(part)),
                "median_lead_time": _f(part["lead_time"].median()) if part["lead_time"].notna().any() else None,
                "agreement": None if a is None else _f(a["agreement"]),
                "agreement_low": None if a is None else _f(a["agreement_low"]),
                "agreement_high": None if a is None else _f(a["agreement_high"]),
                "agreement_items": 0 if a is None else int(a["agreement_items"]),
                "gold_n": int(g.get("n", 0)),
                "gold_accuracy": g.get("accuracy"),
                "gold_low": g.get("ci_low"),
                "gold_high": g.get("ci_high"),
                "skips": skips.get(str(name), 0),
                "accepted": rev.get("accept", 0),
                "rejected": rev.get("reject", 0),
                "corrected": rev.get("correct", 0),
            }
        )
    out = {
        "project": project.config.name,
        "task": project.task,
        "overlap": overlap,
        "generated_at": now.isoformat(),
        "items": int(sum(int(b.items) for b in batches)),
        "judgements": int(len(df)),
        "annotators": int(df["annotator"].nunique()),
        "gold_items": int(len(gold)),
        "stages": stages,
        "batches": progress,
        "pace": pace,
        "throughput": throughput,
        "annotator_table": table,
        "agreement_by_batch": _alpha_by(df, "batch", n_boot=n_boot, seed=seed) if single else [],
        "agreement_by_week": _alpha_by(df, "week", n_boot=n_boot, seed=seed) if single else [],
        "gold_by_batch": _gold_table(df, gold, "batch") if single else [],
        "gold_by_week": _gold_table(df, gold, "week") if single else [],
        "labels_by_week": _label_counts(df, "week"),
        "labels_by_schema_version": _label_counts(df, "schema_version"),
        "gold_shown": True,
    }
    return out if with_gold else _without_gold(out)


#: the annotator table's gold columns
GOLD_COLUMNS = ("gold_n", "gold_accuracy", "gold_low", "gold_high")


def _without_gold(d: dict[str, Any]) -> dict[str, Any]:
    """The dashboard ``d`` with no gold number in it (for reviewers)."""
    table = [{k: v for k, v in row.items() if k not in GOLD_COLUMNS} for row in d["annotator_table"]]
    return {
        **d,
        "gold_items": None,
        "gold_by_batch": [],
        "gold_by_week": [],
        "annotator_table": table,
        "gold_shown": False,
    }


#: the demo's simulated annotators: (name, accuracy in week 1, in week 2, median lead time in s,
#: first day they work). bob gets careless in the second week, which the dashboard shows.
DEMO_ANNOTATORS = (("ann", 0.97, 0.97, 4.0, 0), ("bob", 0.93, 0.78, 2.0, 0), ("cy", 0.95, 0.95, 6.0, 4))


def demo_step(project: Project, *, days: int = 14, per_day: int = 25, seed: int = 0) -> dict[str, Any]:
    """Simulated work for the demo, so its dashboard has numbers: three annotators label items
    through the queue over the last ``days`` days (``per_day`` items each a day; the SMS
    collection's own label is the truth they mostly give), 60 of those items become gold, a
    reviewer decides 10 disagreements, and the batch gets a due date 10 days out. Skipped when
    people have annotated already (running the demo again adds nothing)."""
    from truthset.core.errors import Conflict
    from truthset.services import items as items_service
    from truthset.services import queue, review, users
    from truthset.services.batches import set_due

    with project.store.read() as tx:
        if repo_dash.human_judgements(tx, project.id):
            return {"skipped": True}
    truth: dict[int, str] = {}
    after = 0
    while after is not None:
        page = items_service.pull_annotations(project, after=after, limit=5000)
        truth.update({a["item_id"]: a["value"] for a in page["annotations"] if a["source"] == "import"})
        after = page["next_after"]
    known = {u["name"]: u["id"] for u in users.list_users(project)}
    ids = {}
    for name, role in [(a[0], "annotator") for a in DEMO_ANNOTATORS] + [("reviewer", "reviewer")]:
        ids[name] = known[name] if name in known else users.add_user(project, name, role=role).id
    names = project.config.schema.names
    rng = np.random.default_rng(seed)
    start = utcnow() - timedelta(days=days)
    done: list[int] = []
    skips = 0
    for day in range(days):
        for k in range(per_day):
            for name, acc1, acc2, lead, first_day in DEMO_ANNOTATORS:
                if day < first_day:
                    continue
                now = start + timedelta(days=day, hours=9 + 8 * k / per_day, minutes=float(rng.uniform(0, 15)))
                task = queue.next_task(project, ids[name], now=now)
                if task is None:
                    continue
                if rng.random() < 0.01:
                    queue.skip(project, ids[name], task.assignment_id, "ambiguous", now=now)
                    skips += 1
                    continue
                true = truth.get(task.item_id, names[0])
                right = rng.random() < (acc1 if day < 7 else acc2)
                label = true if right else str(rng.choice([n for n in names if n != true]))
                queue.submit(
                    project,
                    ids[name],
                    task.assignment_id,
                    label,
                    now=now,
                    lead_time=round(float(rng.lognormal(np.log(lead), 0.5)), 2),
                )
                done.append(task.item_id)
    gold_items = sorted({int(i) for i in rng.choice(sorted(set(done)), size=min(60, len(set(done))), replace=False)})
    with project.store.write() as tx:
        gold = repo_dash.add_gold_labels(tx, project.id, {i: truth[i] for i in gold_items if i in truth}, source="demo")
    reviews = 0
    for cand in review.review_candidates(project, limit=10):
        detail = review.item_detail(project, cand["item_id"])
        wrong = [a for a in detail["annotations"] if a["value"] != truth.get(cand["item_id"])]
        if not wrong:
            continue
        try:
            review.record_verdict(
                project,
                ids["reviewer"],
                cand["item_id"],
                "reject",
                annotation_id=wrong[0]["annotation_id"],
                reason="the sender wanted nothing",
            )
            reviews += 1
        except Conflict:
            break  # the project has no review stage
    batch = _first_batch(project)
    due = utcnow() + timedelta(days=10)
    if batch is not None:
        set_due(project, batch, due)
    return {
        "skipped": False,
        "judgements": len(done),
        "skips": skips,
        "gold_items": gold,
        "reviews": reviews,
        "due_at": due.isoformat() if batch is not None else None,
    }


def _first_batch(project: Project) -> int | None:
    with project.store.read() as tx:
        rows = repo_dash.batches(tx, project.id)
    return int(rows[0].id) if rows else None
