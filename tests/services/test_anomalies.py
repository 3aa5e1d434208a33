"""Anomaly flags wired to a project: each planted anomaly in a stored project raises a data issue
that explains itself, and the same data without it (or just below a threshold) raises none.

The annotation frames are the pure core's (tests/quality/test_anomalies.py); here they go
through the store (SQLite and PostgreSQL) and come back out through services.anomalies.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from tests.quality.test_anomalies import (
    bob_drifts,
    careless_batch,
    cycle,
    gold_misses,
    healthy,
    new_mix_batch,
    one_label,
    too_fast,
)
from tests.support import NewProject
from truthset.cli import main
from truthset.services import anomalies, data_issues
from truthset.services.projects import Project
from truthset.store.models import Annotation, Batch, Gold, Item, User, utcnow


def store_frame(project: Project, df: pd.DataFrame) -> dict[str, str]:
    """Write the frame's batches, items, annotators, judgements and gold into the project;
    returns annotator name -> stored user name (unique: PostgreSQL's users are shared)."""
    tag = uuid.uuid4().hex[:6]
    names = {a: f"{a}-{tag}" for a in df["annotator"].unique()}
    with project.store.write() as tx:
        batch_ids = {}
        for b in sorted(df["batch"].unique()):
            start = df.loc[df["batch"] == b, "created_at"].min().floor("us").to_pydatetime() - timedelta(hours=1)
            batch_ids[b] = tx.execute(
                insert(Batch)
                .returning(Batch.id)
                .values(project_id=project.id, source=f"{b}.csv", file_sha256="0" * 64, format="csv", created_at=start)
            ).scalar_one()
        users = {
            a: tx.execute(
                insert(User).returning(User.id).values(name=n, role="annotator", created_at=utcnow())
            ).scalar_one()
            for a, n in names.items()
        }
        firsts = df.drop_duplicates("item")
        items = {}
        for row in firsts.itertuples():
            h = hashlib.sha256(f"{tag}{row.item}".encode()).hexdigest()
            items[row.item] = tx.execute(
                insert(Item)
                .returning(Item.id)
                .values(
                    project_id=project.id,
                    content_hash=h,
                    payload=json.dumps({"text": row.item}),
                    batch_id=batch_ids[row.batch],
                    created_at=utcnow(),
                )
            ).scalar_one()
        tx.execute(
            insert(Annotation),
            [
                {
                    "project_id": project.id,
                    "item_id": items[r.item],
                    "user_id": users[r.annotator],
                    "value": json.dumps(r.label),
                    "label": r.label,
                    "schema_version": project.schema_version,
                    "lead_time": float(r.lead_time),
                    "source": "human",
                    "created_at": r.created_at.floor("us").to_pydatetime(),
                    "meta": "{}",
                }
                for r in df.itertuples()
            ],
        )
        gold = firsts[firsts["gold"].notna()]
        if len(gold):
            tx.execute(
                insert(Gold),
                [
                    {
                        "item_id": items[r.item],
                        "project_id": project.id,
                        "value": json.dumps(r.gold),
                        "label": r.gold,
                        "source": "test",
                        "created_at": utcnow(),
                    }
                    for r in gold.itertuples()
                ],
            )
    return names


def _after(df: pd.DataFrame, hours: float) -> datetime:
    latest: pd.Timestamp = df["created_at"].max()
    floored: datetime = latest.floor("us").to_pydatetime()
    return floored + timedelta(hours=hours)


PLANTS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str, str | None, str | None]] = [
    ("fast", lambda d: too_fast(d, 1 / 6), "fast_annotator", "bob", None),
    ("single label", one_label, "single_label", "bob", None),
    ("pattern", cycle, "fixed_pattern", "bob", None),
    ("gold misses", lambda d: gold_misses(d, 6), "gold_failures", "bob", None),
    ("careless batch", careless_batch, "agreement_drop", None, "b3"),
    ("label shift", bob_drifts, "label_shift", "bob", "b3"),
]


@pytest.mark.parametrize(("plant", "kind", "who", "batch"), [p[1:] for p in PLANTS], ids=[p[0] for p in PLANTS])
def test_planted_anomaly_raises_an_issue_that_explains_itself(
    new_project: NewProject,
    plant: Callable[[pd.DataFrame], pd.DataFrame],
    kind: str,
    who: str | None,
    batch: str | None,
) -> None:
    p = new_project()
    df = plant(healthy(seed=0))
    names = store_frame(p, df)
    result = anomalies.run(p, now=_after(df, 1))
    hits = [
        f
        for f in result["flags"]
        if f["kind"] == kind
        and f["annotator"] == (names[who] if who else None)
        and (batch is None or f["batch"] is not None)
    ]
    assert hits, result["flags"]
    issue = data_issues.get_issue(p, hits[0]["issue"])
    assert issue["status"] == "open" and issue["source"] == "anomaly"
    assert issue["kind"] == anomalies.ISSUE_OF[kind][0]
    # a gold-failure issue leaves out when the run started (reviewers read the tracker; see
    # tests/server/test_new_surface_security.py::test_a_gold_failure_issue_names_no_gold_item)
    explanation = (
        re.sub(r" \(from [^)]*\)", "", hits[0]["explanation"]) if kind == "gold_failures" else hits[0]["explanation"]
    )
    assert explanation[1:] in issue["body"] and "threshold" in issue["body"]
    if who:
        assert names[who] in issue["title"]
    if batch:
        assert issue["links"]["batch"]  # the batch it is about
    # raised again: the same issues, updated rather than copied
    again = anomalies.run(p, now=_after(df, 1))
    assert {f["issue"] for f in again["flags"]} == {f["issue"] for f in result["flags"]}
    assert {f["issue_action"] for f in again["flags"]} == {"unchanged"}
    assert len(data_issues.list_issues(p)) == len(result["flags"])


NEAR_MISSES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("healthy", lambda d: d, ""),
    ("twice as fast is within 3x", lambda d: too_fast(d, 0.5), "fast_annotator"),
    ("5 gold misses in a row is below 6", lambda d: gold_misses(d, 5), "gold_failures"),
    ("the batch's shift is no annotator's", new_mix_batch, "label_shift"),
]


@pytest.mark.parametrize(("change", "kind"), [n[1:] for n in NEAR_MISSES], ids=[n[0] for n in NEAR_MISSES])
def test_no_issue_without_the_anomaly(
    new_project: NewProject,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    kind: str,
) -> None:
    p = new_project()
    df = change(healthy(seed=0))
    store_frame(p, df)
    flags = anomalies.run(p, now=_after(df, 1))["flags"]
    if kind == "label_shift":  # the batch is flagged once, no annotator on top
        shifts = [f["annotator"] for f in flags if f["kind"] == "label_shift"]
        assert shifts == [None]
    elif kind:
        assert not [f for f in flags if f["kind"] == kind]
    else:
        assert flags == [] and data_issues.list_issues(p) == []


def test_stalled_queue_raises_only_after_the_configured_idle_time(new_project: NewProject) -> None:
    p = new_project()
    df = healthy(n_items=180, seed=0)
    store_frame(p, df)  # every item stays open (no queue filled them)
    assert [f for f in anomalies.run(p, now=_after(df, 23))["flags"] if f["kind"] == "stalled_queue"] == []
    [flag] = [f for f in anomalies.run(p, now=_after(df, 25))["flags"] if f["kind"] == "stalled_queue"]
    assert "no annotation for" in flag["explanation"] and "180 items remain open" in flag["explanation"]
    p.save_config(p.config.model_copy(update={"anomalies": p.config.anomalies.model_copy(update={"stall_hours": 48})}))
    assert [f for f in anomalies.run(p, now=_after(df, 25))["flags"] if f["kind"] == "stalled_queue"] == []


def test_thresholds_come_from_truthset_yaml(new_project: NewProject) -> None:
    p = new_project()
    df = too_fast(healthy(seed=0), 0.5)  # twice as fast: below the default 3x
    names = store_frame(p, df)
    assert not [f for f in anomalies.run(p, now=_after(df, 1))["flags"] if f["kind"] == "fast_annotator"]
    p.save_config(p.config.model_copy(update={"anomalies": p.config.anomalies.model_copy(update={"fast_ratio": 1.5})}))
    flags = anomalies.run(p, now=_after(df, 1))["flags"]
    assert [f["annotator"] for f in flags if f["kind"] == "fast_annotator"] == [names["bob"]]


def test_cli_anomalies_json(new_project: NewProject) -> None:
    p = new_project()
    store_frame(p, one_label(healthy(n_items=180, seed=0)))
    r = CliRunner().invoke(main, ["--project", str(p.root), "anomalies", "--no-issues", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert "single_label" in {f["kind"] for f in out["flags"]} and all(f["issue"] is None for f in out["flags"])
    assert data_issues.list_issues(p) == []
