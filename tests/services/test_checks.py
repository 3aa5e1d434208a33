"""``truthset check`` on real data (the SMS Spam Collection) on SQLite and PostgreSQL: exact
duplicates under different ids, label conflicts, near duplicates, leakage, label errors, the
review queue, verdicts and precision."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SMS
from tests.support import NewProject
from truthset.quality.reliability import wilson_interval
from truthset.services import checks, review, users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project


def sms_rows() -> list[tuple[str, str]]:
    """(label, text) of every message of the SMS Spam Collection, in file order."""
    lines = SMS.read_text(encoding="utf-8").split("\n")[1:]
    return [(label, text) for label, text in (line.split("\t", 1) for line in lines if line)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def sms_project(new_project: NewProject, tmp_path: Path, rows: list[dict[str, Any]] | None = None) -> Project:
    """A project holding the SMS messages under ids sms1..smsN (so copies stay separate items)."""
    p = new_project(labels=["ham", "spam"])
    if rows is None:
        rows = [{"id": f"sms{n}", "label": lab, "text": text} for n, (lab, text) in enumerate(sms_rows(), 1)]
    import_file(
        p, write_jsonl(tmp_path / f"{p.config.name}.jsonl", rows), ImportOptions(id_col="id", label_col="label")
    )
    return p


def by_check(result: checks.CheckResult) -> dict[str, Any]:
    return {c["check"]: c for c in result.checks}


def norm(text: str) -> str:
    """An independent normalisation: NFKC, case folded, zero-width characters gone, spaces collapsed."""
    t = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    t = re.sub("[\u200b\u200c\u200d\u2060\ufeff]", "", t)
    return " ".join(t.split())


def test_sms_copies_under_different_ids_are_found(new_project: NewProject, tmp_path: Path) -> None:
    rows = sms_rows()
    raw = Counter(t for _, t in rows)
    assert sum(n - 1 for n in raw.values()) == 403  # the collection's exact copies, as published
    normed = Counter(norm(t) for _, t in rows)
    expected_copies = sum(n - 1 for n in normed.values())
    expected_items = sum(n for n in normed.values() if n > 1)
    assert expected_copies > 403  # case and spacing variants on top of the exact copies
    p = sms_project(new_project, tmp_path)
    res = by_check(checks.run_checks(p, ["exact_duplicates"]))["exact_duplicates"]
    assert res["extra_copies"] == expected_copies
    assert res["count"] == expected_items
    assert res["clusters"] == res["findings"] == sum(1 for n in normed.values() if n > 1)
    found = checks.list_findings(p, check="exact_duplicates", limit=None)
    flagged = {i for f in found for i in f["items"]}
    assert len(flagged) == expected_items
    # every message whose exact text repeats is in a finding, with all its copies
    texts = {f"sms{n}": t for n, (_, t) in enumerate(rows, 1)}
    with p.store.read() as tx:
        from truthset.store.repo.quality import external_ids

        name = dict(external_ids(tx, p.id))
    flagged_ids = {name[i] for i in flagged}
    assert {i for i, t in texts.items() if raw[t] > 1} <= flagged_ids
    # the 'Sorry, I'll call later' message: its copies form one cluster
    sorry = {i for i, t in texts.items() if t == "Sorry, I'll call later"}
    assert len(sorry) > 2 and any({name[i] for i in f["items"]} >= sorry for f in found)


def test_conflicting_labels_among_copies(new_project: NewProject, tmp_path: Path) -> None:
    rows = sms_rows()[:1500]
    seen: dict[str, int] = {}
    flipped: list[str] = []
    out = []
    for n, (lab, text) in enumerate(rows, 1):
        if (
            text in seen
            and len(flipped) < 6
            and text not in {rows[i - 1][1] for i in map(int, (f[3:] for f in flipped))}
        ):
            lab = "spam" if lab == "ham" else "ham"
            flipped.append(f"sms{n}")
        seen.setdefault(text, n)
        out.append({"id": f"sms{n}", "label": lab, "text": text})
    assert len(flipped) == 6
    p = sms_project(new_project, tmp_path, out)
    res = by_check(checks.run_checks(p, ["label_conflicts"]))["label_conflicts"]
    assert res["clusters"] == 6 and res["severity"] == "error"
    found = checks.list_findings(p, check="label_conflicts")
    assert len(found) == 6
    assert all(f["detail"]["size"] >= 2 for f in found)
    ids = {i for f in found for i in f["detail"]["ids"]}
    assert set(flipped) <= ids


def test_near_duplicates_and_leakage_across_splits(new_project: NewProject, tmp_path: Path) -> None:
    rows = sms_rows()[:400]
    out = [{"id": f"sms{n}", "label": lab, "text": text, "split": "train"} for n, (lab, text) in enumerate(rows, 1)]
    base = rows[2][1]  # the 'Free entry in 2 a wkly comp' spam
    out.append({"id": "edit1", "label": "spam", "text": base.replace("Free entry", "Free entries"), "split": "test"})
    out.append({"id": "copy1", "label": "spam", "text": base.upper(), "split": "test"})
    p = sms_project(new_project, tmp_path, out)
    res = by_check(checks.run_checks(p, ["near_duplicates", "leakage"]))
    near = checks.list_findings(p, check="near_duplicates")
    assert any({"sms3", "edit1"} <= set(f["detail"]["ids"]) for f in near)
    assert res["leakage"]["clusters"] >= 1
    leak = checks.list_findings(p, check="leakage")
    assert any({"sms3", "copy1"} <= set(f["detail"]["ids"]) for f in leak)
    assert res["leakage"]["matrix"]["test"]["train"] >= 1


def test_no_split_skips_leakage_without_findings(new_project: NewProject, tmp_path: Path) -> None:
    rows = [{"id": f"s{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(sms_rows()[:50], 1)]
    p = sms_project(new_project, tmp_path, rows)
    res = by_check(checks.run_checks(p, ["leakage"]))["leakage"]
    assert res["skipped"] and res["count"] == 0


def test_label_issues_find_flipped_spam(new_project: NewProject, tmp_path: Path) -> None:
    rows = sms_rows()[:2000]
    spam = [n for n, (lab, _) in enumerate(rows, 1) if lab == "spam"]
    flipped = {f"sms{n}" for n in spam[::12]}  # about 20 spam messages labelled ham
    out = [
        {"id": f"sms{n}", "label": "ham" if f"sms{n}" in flipped else lab, "text": t}
        for n, (lab, t) in enumerate(rows, 1)
    ]
    p = sms_project(new_project, tmp_path, out)
    res = by_check(checks.run_checks(p, ["label_issues"]))["label_issues"]
    found = checks.list_findings(p, check="label_issues", limit=None)
    with p.store.read() as tx:
        from truthset.store.repo.quality import external_ids

        name = dict(external_ids(tx, p.id))
    hit = {name[f["items"][0]] for f in found} & flipped
    assert res["count"] == len(found) > 0
    assert len(hit) >= 0.6 * len(flipped)  # most flips found
    assert len(hit) >= 0.5 * len(found)  # and most flags are flips
    assert all(f["detail"]["suggested_label"] == "spam" for f in found if name[f["items"][0]] in flipped)


def test_outliers_flag_what_looks_like_nothing_else(new_project: NewProject, tmp_path: Path) -> None:
    rows = [{"id": f"s{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(sms_rows()[:500], 1)]
    rows.append({"id": "odd", "label": "ham", "text": "Ξ§¶ψ∂ƒ©˙∆˚¬…æ ЖЩЪЫЬЭЮЯ ぁあぃいぅうぇ"})
    p = sms_project(new_project, tmp_path, rows)
    by_check(checks.run_checks(p, ["outliers"]))
    found = checks.list_findings(p, check="outliers")
    with p.store.read() as tx:
        from truthset.store.repo.quality import external_ids

        name = dict(external_ids(tx, p.id))
    assert "odd" in {name[f["items"][0]] for f in found}


def _conflicted(new_project: NewProject, tmp_path: Path) -> Project:
    rows = sms_rows()[:300]
    out = [{"id": f"sms{n}", "label": lab, "text": t} for n, (lab, t) in enumerate(rows, 1)]
    for k, (lab, t) in enumerate(rows[:5]):  # five copies with the other label
        out.append({"id": f"flip{k}", "label": "spam" if lab == "ham" else "ham", "text": t})
    p = sms_project(new_project, tmp_path, out)
    checks.run_checks(p, ["label_conflicts"])
    return p


def test_send_to_review_puts_items_in_the_queue_until_reviewed(new_project: NewProject, tmp_path: Path) -> None:
    p = _conflicted(new_project, tmp_path)
    assert review.review_candidates(p) == []
    assert checks.send_to_review(p, "label_conflicts") == 5
    waiting = review.review_candidates(p, limit=100)
    found = checks.list_findings(p, check="label_conflicts")
    items = {i for f in found for i in f["items"]}
    assert {w["item_id"] for w in waiting} == items and len(items) == 10
    assert all(w["reasons"] == ["check: label_conflicts"] for w in waiting)
    reviewer = users.add_user(p, f"r-{p.config.name}", role="reviewer", password="correct horse").id
    first = found[0]["items"][0]
    review.record_verdict(p, reviewer, first, "correct", value="ham")
    assert first not in {w["item_id"] for w in review.review_candidates(p, limit=100)}
    checks.record_finding_verdict(p, found[1]["id"], reviewer, "wrong")
    assert not set(found[1]["items"]) & {w["item_id"] for w in review.review_candidates(p, limit=100)}


def test_unknown_check_to_review_is_a_clear_error(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.core.errors import NotFound

    p = _conflicted(new_project, tmp_path)
    with pytest.raises(NotFound, match="label_conflicts"):
        checks.send_to_review(p, "no_such_check")


def test_verdicts_give_precision_with_wilson_interval(new_project: NewProject, tmp_path: Path) -> None:
    p = _conflicted(new_project, tmp_path)
    reviewer = users.add_user(p, f"r-{p.config.name}", role="reviewer", password="correct horse").id
    found = checks.list_findings(p, check="label_conflicts")
    for f, v in zip(found, ["wrong", "wrong", "wrong", "right", "ambiguous"]):
        checks.record_finding_verdict(p, f["id"], reviewer, v)
    (row,) = [r for r in checks.check_precision(p) if r["check"] == "label_conflicts"]
    lo, hi = wilson_interval(3, 4)
    assert (row["wrong"], row["right"], row["ambiguous"], row["n"]) == (3, 1, 1, 4)
    assert row["precision"] == pytest.approx(0.75)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((float(lo), float(hi)))
    # a re-run keeps the judged findings and does not add them again
    checks.run_checks(p, ["label_conflicts"])
    again = checks.list_findings(p, check="label_conflicts")
    assert len(again) == 5 and sum(f["verdict"] is not None for f in again) == 5
    with pytest.raises(Exception, match="verdict"):
        checks.record_finding_verdict(p, found[0]["id"], reviewer, "maybe")


def test_rerun_replaces_unjudged_findings(new_project: NewProject, tmp_path: Path) -> None:
    p = _conflicted(new_project, tmp_path)
    first = {f["created_at"] for f in checks.list_findings(p, check="label_conflicts")}
    checks.send_to_review(p, "label_conflicts")
    checks.run_checks(p, ["label_conflicts"])
    second = checks.list_findings(p, check="label_conflicts")
    assert len(second) == 5 and not first & {f["created_at"] for f in second}  # written anew
    assert all(f["sent_to_review"] for f in second)  # still in the review queue


def test_demo_step_writes_the_report(new_project: NewProject, tmp_path: Path) -> None:
    p = _conflicted(new_project, tmp_path)
    out = checks.demo_step(p)
    page = Path(out["report"]).read_text(encoding="utf-8")
    assert out["report"] == str(p.root / "check.html") and out["flagged"]["label_conflicts"] == 10
    assert "Same text, different labels" in page and "flip0" in page


def test_consensus_flags_items_whose_consensus_misses_gold(
    new_project: NewProject, tmp_path: Path, datasets: Path
) -> None:
    """RTE (Snow et al. 2008): 800 sentence pairs, 10 crowd workers each, expert gold."""
    import csv

    d = datasets / "crowd" / "snow2008"
    with open(d / "rte1.tsv", encoding="utf-8", newline="") as f:
        texts = {r["id"]: f"{r['text']} => {r['hypothesis']}" for r in csv.DictReader(f, delimiter="\t")}
    with open(d / "rte.standardized.tsv", encoding="utf-8", newline="") as f:
        judged = list(csv.DictReader(f, delimiter="\t"))
    gold = {r["orig_id"]: "yes" if r["gold"] == "1" else "no" for r in judged}
    rows = [
        {
            "id": r["orig_id"],
            "text": texts[r["orig_id"]],
            "label": "yes" if r["response"] == "1" else "no",
            "annotator": r["!amt_worker_ids"],
        }
        for r in judged
    ]
    p = new_project(labels=["yes", "no"])
    import_file(
        p,
        write_jsonl(tmp_path / "rte.jsonl", rows),
        ImportOptions(id_col="id", label_col="label", annotator_col="annotator"),
    )
    res = by_check(checks.run_checks(p, ["consensus"]))["consensus"]
    found = checks.list_findings(p, check="consensus", limit=None)
    with p.store.read() as tx:
        from truthset.store.repo.quality import external_ids

        name = dict(external_ids(tx, p.id))
    assert res["count"] == len(found) > 0
    flagged = {name[f["items"][0]]: f["detail"]["consensus_label"] for f in found}
    miss_flagged = sum(lab != gold[i] for i, lab in flagged.items()) / len(flagged)
    majority: Counter[tuple[str, str]] = Counter()
    for r in rows:
        majority[(r["id"], r["label"])] += 1
    mv = {i: max(("yes", "no"), key=lambda lab: majority[(i, lab)]) for i in gold}
    miss_all = sum(mv[i] != gold[i] for i in gold) / len(gold)
    assert miss_flagged > 3 * miss_all  # the flagged items are where the crowd's answer is wrong


def test_ids_that_follow_the_label_are_leakage(new_project: NewProject, tmp_path: Path) -> None:
    rows = sms_rows()[:1000]
    clean = sms_project(
        new_project,
        tmp_path,
        [{"id": f"sms{n}", "label": lab, "text": t, "file": f"m{n}.txt"} for n, (lab, t) in enumerate(rows, 1)],
    )
    res = by_check(checks.run_checks(clean, ["identifier_leakage"]))["identifier_leakage"]
    assert res["count"] == 0 and {c["column"] for c in res["columns"]} == {"external_id", "file"}
    leaky = sms_project(
        new_project,
        tmp_path,
        [
            {"id": f"sms{n}", "label": lab, "text": t, "file": f"{lab}_{n:04d}.txt"}
            for n, (lab, t) in enumerate(rows, 1)
        ],
    )
    res = by_check(checks.run_checks(leaky, ["identifier_leakage"]))["identifier_leakage"]
    assert res["count"] == 1 and res["examples"][0]["id"] == "file"
    (found,) = checks.list_findings(leaky, check="identifier_leakage")
    assert found["detail"]["column"] == "file" and found["items"] == []


def test_checks_read_labels_a_schema_rename_carried_over(new_project: NewProject) -> None:
    """The checks' current labels count migrated judgements, as QC and training do: after
    ``schema rename spam junk`` the renamed items keep their (new) label."""
    import pandas as pd

    from tests.conftest import SMS
    from truthset.services.check_data import load_check_data
    from truthset.services.imports import import_file
    from truthset.services.schema import rename_label

    p = new_project(labels=["ham", "spam"])
    import_file(p, SMS)
    before = pd.Series(load_check_data(p).labels).value_counts().to_dict()
    rename_label(p, "spam", "junk")
    after = pd.Series(load_check_data(p).labels).value_counts().to_dict()
    assert after == {"ham": before["ham"], "junk": before["spam"]}
