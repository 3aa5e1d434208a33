"""Import on real files, on SQLite and PostgreSQL: counts, duplicates, rejects, atomicity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests.conftest import DATASETS, LEOKA, SMS
from tests.support import NewProject, batch_of
from truthset.core.errors import EncodingProblem, ImportFailed
from truthset.services.imports import ImportOptions, import_file, import_findings
from truthset.services.projects import Project, open_project
from truthset.store.models import Annotation, Batch, Item
from truthset.store.repo import status_counts


def counts(project: Project) -> dict[str, Any]:
    with project.store.engine.connect() as conn:
        return status_counts(conn, project.id)


def test_sms_import_counts_and_duplicates(new_project: NewProject) -> None:
    p = new_project()
    r = import_file(p, SMS)
    assert r.rows_read == 5574
    assert r.rejected == 0
    assert r.duplicates == 403
    assert r.items_added == 5574 - 403
    assert r.annotations_added == 5574 - 403
    assert r.dialect == {"delimiter": "\t", "quoting": "none"}
    assert r.columns["text"] == "SMS" and r.columns["label"] == "Label"
    assert r.labels_added_to_schema == ["ham", "spam"]
    c = counts(p)
    assert c["items"] == 5171 and c["annotations"] == 5171
    assert sum(c["by_label"].values()) == 5171
    # every duplicate copy is accounted for, with the line of the first copy
    dups = import_findings(p, batch_of(r), kind="duplicate")
    assert len(dups) == 403
    lines = SMS.read_text(encoding="utf-8").split("\n")
    for f in dups[:50]:
        first = int(f["reason"].rsplit(" ", 1)[1])
        assert lines[f["line"] - 1].split("\t", 1)[1] == lines[first - 1].split("\t", 1)[1]
    # a quote that is text, not CSV quoting, is kept (line 284 of the file)
    with p.store.engine.connect() as conn:
        payload = conn.execute(select(Item.payload).where(Item.project_id == p.id, Item.line == 284)).scalar_one()
    assert json.loads(payload)["text"].startswith('"Wen u miss someone')


def test_same_file_twice_adds_nothing(new_project: NewProject) -> None:
    p = new_project()
    first = import_file(p, SMS)
    second = import_file(p, SMS)
    assert second.already_imported and second.batch == first.batch
    assert counts(p)["items"] == 5171


def test_overlapping_file_adds_only_new_rows(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project()
    # split on "\n" only: the SMS text holds characters str.splitlines() would also split on
    lines = SMS.read_text(encoding="utf-8").rstrip("\n").split("\n")
    a = tmp_path / "a.tsv"
    b = tmp_path / "b.tsv"
    a.write_text("\n".join(lines[:3001]) + "\n", encoding="utf-8")
    b.write_text("\n".join([lines[0], *lines[2001:]]) + "\n", encoding="utf-8")
    import_file(p, a)
    r = import_file(p, b)
    assert r.already_present > 0
    assert counts(p)["items"] == 5171
    assert counts(p)["annotations"] == 5171


def test_reject_policy_lists_copies_as_rejected_and_error_policy_writes_nothing(new_project: NewProject) -> None:
    p = new_project()
    r = import_file(p, SMS, ImportOptions(on_duplicate="reject"))
    assert r.items_added == 5171 and r.annotations_added == 5171
    q = new_project()
    with pytest.raises(ImportFailed, match="duplicate"):
        import_file(q, SMS, ImportOptions(on_duplicate="error"))
    assert counts(q)["items"] == 0
    with q.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Batch).where(Batch.project_id == q.id)).scalar_one() == 0


def test_bad_rows_are_reported_with_line_and_reason(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "messy.csv"
    f.write_text(
        'id,text,label\n1,hello,pos\n2,"a, quoted\nmulti-line text",neg\n3,,pos\n4,too,many,fields\n'
        "5,caf\u00c3\u00a9 mojibake,pos\n6,bell\x07char,neg\n",
        encoding="utf-8",
    )
    p = new_project()
    r = import_file(p, f)
    assert r.rows_read == 6
    assert r.items_added == 4
    assert r.rejected == 2
    rejected = import_findings(p, batch_of(r), kind="rejected")
    assert [x["line"] for x in rejected] == [5, 6]
    assert "empty" in rejected[0]["reason"] and rejected[0]["field"] == "text"
    assert "expected 3 fields" in rejected[1]["reason"]
    assert r.mojibake_rows == 1 and r.control_char_rows == 1
    with p.store.engine.connect() as conn:
        ext = dict(conn.execute(select(Item.external_id, Item.line).where(Item.project_id == p.id)).all())
    assert ext == {"1": 2, "2": 3, "5": 7, "6": 8}


def test_encoding_error_names_offset_and_encoding_option_imports(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes("text,label\nok,a\ncaf\xe9,b\n".encode("cp1252"))
    p = new_project()
    with pytest.raises(EncodingProblem) as err:
        import_file(p, f)
    msg = str(err.value)
    assert "byte offset 19" in msg  # 0-based: 11 + 5 + len("caf")
    assert "line 3" in msg and "--encoding" in msg
    assert counts(p)["items"] == 0
    r = import_file(p, f, ImportOptions(encoding="cp1252"))
    assert r.items_added == 2
    with p.store.engine.connect() as conn:
        texts = {
            json.loads(x)["text"] for x in conn.execute(select(Item.payload).where(Item.project_id == p.id)).scalars()
        }
    assert "café" in texts


def test_failure_mid_import_leaves_nothing(new_project: NewProject, monkeypatch: pytest.MonkeyPatch) -> None:
    from truthset.store import bulk

    p = new_project()
    p.settings = p.settings.model_copy(update={"import_chunk_rows": 1000})
    calls = {"n": 0}
    real = bulk.Stager.move

    def failing(
        self: bulk.Stager, items: Sequence[tuple[Any, ...]], anns: Sequence[tuple[Any, ...]], now: datetime
    ) -> bulk.ChunkResult:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full (simulated)")
        return real(self, items, anns, now)

    monkeypatch.setattr(bulk.Stager, "move", failing)
    with pytest.raises(RuntimeError):
        import_file(p, SMS)
    c = counts(p)
    assert c["items"] == 0 and c["annotations"] == 0 and c["by_batch"] == []
    monkeypatch.setattr(bulk.Stager, "move", real)
    assert import_file(p, SMS).items_added == 5171


def _item_indexes(project: Project) -> dict[str, str]:
    """The store's indexes on ``items`` and ``annotations``: name -> definition."""
    with project.store.engine.connect() as conn:
        if project.store.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('items', 'annotations')"
            )
        else:
            rows = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('items', 'annotations')"
            )
        return {str(name): str(sql) for name, sql in rows}


def test_a_large_import_builds_the_secondary_indexes_once_at_its_end(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """SQLite: every secondary index of items and annotations but the one the import reads is
    set aside for a large import and built again, the same, inside its transaction; a failed
    import leaves them as they were; a later import that is small beside the store keeps them."""
    from truthset.store import bulk

    p = new_project()
    before = _item_indexes(p)
    assert set(bulk.DEFERRED_INDEXES) | set(bulk.KEPT_INDEXES) <= set(before)
    folder = p.root.parent
    first, again, same = folder / "ids.csv", folder / "again.csv", folder / "same.csv"
    words = " ".join(["words"] * 20)  # rows of about BYTES_PER_ROW, so the file counts as 3,000 rows
    first.write_text("id,text,label\n" + "".join(f"k{i},message {i} {words},{'ab'[i % 2]}\n" for i in range(3000)))
    # 300 known ids with other texts (found by id) and 100 known texts without an id (found by content)
    again.write_text("id,text,label\n" + "".join(f"k{i},message {i} changed,{'ab'[i % 2]}\n" for i in range(300)))
    same.write_text("text,label\n" + "".join(f"message {i} {words},{'ab'[i % 2]}\n" for i in range(1000, 1100)))
    assert {"ix_items_content_key", "ix_items_external_id", "ix_items_queue"} <= set(bulk.DEFERRED_INDEXES)
    monkeypatch.setattr(bulk, "DEFER_MIN_ROWS", 1)  # SMS (500 KB) counts as large
    during: list[set[str]] = []
    real = bulk.Stager.move

    def spy(self: bulk.Stager, *args: Any, **kw: Any) -> bulk.ChunkResult:
        if self.dialect == "sqlite":
            during.append(
                {
                    r[0]
                    for r in self.conn.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('items', 'annotations')"
                    )
                }
            )
        return real(self, *args, **kw)

    monkeypatch.setattr(bulk.Stager, "move", spy)
    assert import_file(p, SMS).items_added == 5171
    assert _item_indexes(p) == before  # built again, exactly as declared
    if backend == "sqlite":
        assert during and all(not set(bulk.DEFERRED_INDEXES) & names for names in during)
        assert all(set(bulk.KEPT_INDEXES) <= names for names in during)
    during.clear()
    assert import_file(p, first, ImportOptions(id_col="id")).items_added == 3000
    if backend == "sqlite":  # 3,000 rows: still a third of the store's items
        assert during and all(not set(bulk.DEFERRED_INDEXES) & names for names in during)
    # a file this small beside the store keeps every index; its records are found all the same
    during.clear()
    r = import_file(p, again, ImportOptions(id_col="id"))
    assert (r.items_added, r.changed_payloads) == (0, 300)
    r = import_file(p, same)
    assert (r.items_added, r.already_present) == (0, 100)
    if backend == "sqlite":
        assert during and all(set(bulk.DEFERRED_INDEXES) <= names for names in during)
    assert _item_indexes(p) == before
    q = new_project(folder="second")
    real_close = bulk.Stager.close

    def crash(self: bulk.Stager) -> None:
        real_close(self)  # the indexes are built again, then the import fails
        raise RuntimeError("crash")

    monkeypatch.setattr(bulk.Stager, "close", crash)
    with pytest.raises(RuntimeError):
        import_file(q, SMS)
    assert _item_indexes(q) == before and counts(q)["items"] == 0


def test_sigkill_during_import_leaves_nothing(tmp_path: Path, backend: str) -> None:
    """A real process killed with SIGKILL mid-import: the store holds no half import."""
    from truthset.services.projects import init_project

    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("text,label\n")
        for i in range(300_000):
            fh.write(f"message number {i} with some words,{'ab'[i % 2]}\n")
    project = init_project(tmp_path / "proj", task="text-classification", name=f"kill-{os.getpid()}-{backend}")
    project.close()
    code = textwrap.dedent(f"""
        import sys
        from truthset.services.projects import Project, open_project
        from truthset.services.imports import import_file
        p = open_project({str(tmp_path / "proj")!r})
        p.settings = p.settings.model_copy(update=dict(import_chunk_rows=5000))
        def progress(n):
            print('chunk', flush=True)
        import_file(p, {str(big)!r}, progress=progress)
        print('done', flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        if line.startswith("chunk"):
            seen += 1
            if seen == 10:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    time.sleep(0.2)
    project = open_project(tmp_path / "proj")
    c = counts(project)
    assert c["items"] == 0 and c["annotations"] == 0 and c["by_batch"] == []
    assert {"ix_items_queue", "ix_items_batch_queue"} <= set(_item_indexes(project))  # set aside, then restored
    project.close()


def test_labelstudio_ner_with_three_annotators(new_project: NewProject) -> None:
    p = new_project(task="ner")
    r = import_file(p, LEOKA)
    raw = json.loads(LEOKA.read_text(encoding="utf-8"))
    kept = sum(1 for t in raw for a in t["annotations"] if not a.get("was_cancelled"))
    assert r.rows_read == 130 and r.items_added == 130
    assert r.cancelled_annotations == sum(1 for t in raw for a in t["annotations"] if a.get("was_cancelled"))
    assert r.annotations_added == kept
    spans = sum(
        len(r_["value"]["labels"])
        for t in raw
        for a in t["annotations"]
        if not a.get("was_cancelled")
        for r_ in a["result"]
        if r_["type"] == "labels"
    )
    assert sum(counts(p)["by_label"].values()) == spans
    assert len(counts(p)["by_annotator"]) == 3
    assert p.config.labelstudio.from_name == "label"
    assert r.gold_added == len(
        {t["id"] for t in raw if any(a.get("ground_truth") and not a.get("was_cancelled") for a in t["annotations"])}
    )


@pytest.mark.parametrize("name", ["humor_dataset_2_annotations.json", "tasks_annotations_predictions.json"])
def test_labelstudio_core_exports(new_project: NewProject, name: str) -> None:
    p = new_project()
    r = import_file(p, DATASETS / "labelstudio" / "ls_core_tests" / name)
    raw = json.loads((DATASETS / "labelstudio" / "ls_core_tests" / name).read_text())
    assert r.items_added == len(raw)
    c = counts(p)
    preds = sum(len(t.get("predictions", [])) for t in raw)
    assert c["by_source"].get("model", 0) == preds


def test_crowd_answers_long_format_keep_each_annotator(new_project: NewProject) -> None:
    """A crowd file (question, worker, answer): repeated items are several judgements, not duplicates."""
    f = DATASETS / "crowd" / "d_Duck_Identification" / "answer.csv"
    df = pd.read_csv(f)
    p = new_project()
    r = import_file(p, f, ImportOptions(text_col="question", annotator_col="worker", label_col="answer"))
    assert r.items_added == df["question"].nunique()
    assert r.annotations_added == len(df.drop_duplicates(["question", "worker", "answer"]))
    assert len(counts(p)["by_annotator"]) == df["worker"].nunique()


def test_jsonl_parquet_and_images(new_project: NewProject, tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "ab"[i % 2], "source": "web"} for i in range(50)]
    jl = tmp_path / "x.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    p = new_project()
    r = import_file(p, jl)
    assert (r.items_added, r.rejected) == (50, 1)
    pq = tmp_path / "x.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    q = new_project()
    assert import_file(q, pq).items_added == 50
    img = tmp_path / "imgs"
    (img / "cat").mkdir(parents=True)
    (img / "dog").mkdir()
    from tests.support import png

    (img / "cat" / "a.png").write_bytes(png(2, 2, (1, 1, 1)))
    (img / "dog" / "b.png").write_bytes(png(2, 2, (2, 2, 2)))
    (img / "dog" / "c.png").write_bytes(png(2, 2, (1, 1, 1)))  # same bytes as a.png: the same item
    (img / "dog" / "broken.jpg").write_bytes(b"not an image")
    i = new_project(task="image-classification")
    r = import_file(i, img, ImportOptions(labels_from_folders=True))
    assert r.format == "images"
    # c.png is a.png's item (same bytes): a new judgement with another label, so a conflict
    assert (r.items_added, r.rejected, r.new_judgements, r.duplicates, r.conflicts) == (2, 1, 1, 0, 1)


def test_multilabel_and_ner_columns(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "ml.csv"
    f.write_text("text,labels\na,x|y\nb,y\nc,\n", encoding="utf-8")
    p = new_project(task="multi-label")
    r = import_file(p, f)
    assert r.items_added == 3 and r.annotations_added == 2
    assert counts(p)["by_label"] == {"y": 2, "x": 1}
    n = tmp_path / "ner.jsonl"
    n.write_text(
        json.dumps({"text": "Ann met Bob", "label": [{"start": 0, "end": 3, "label": "PER"}]})
        + "\n"
        + json.dumps({"text": "short", "label": [{"start": 2, "end": 40, "label": "PER"}]})
        + "\n",
        encoding="utf-8",
    )
    q = new_project(task="ner")
    r = import_file(q, n)
    assert r.items_added == 1 and r.rejected == 1
    assert "outside the text" in r.findings[-1]["reason"]


def _annotation_versions(p: Project) -> set[int]:
    with p.store.engine.connect() as conn:
        return set(conn.execute(select(Annotation.schema_version).where(Annotation.project_id == p.id)).scalars())


def test_schema_version_recorded_on_annotations(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["ham", "spam"])
    v = p.schema_version
    import_file(p, SMS)
    assert p.schema_version == v and _annotation_versions(p) == {v}
    # a project without labels takes the file's as a new version, which its annotations record
    q = new_project()
    v = q.schema_version
    r = import_file(q, SMS)
    assert r.labels_added_to_schema == ["ham", "spam"]
    assert q.schema_version == v + 1 and _annotation_versions(q) == {v + 1}
    assert open_project(q.root).schema_version == v + 1
    # NER "no entities" annotations only: no label met, no new version; they record the current one
    n = new_project(task="ner")
    v = n.schema_version
    f = tmp_path / "empty_spans.jsonl"
    f.write_text("".join(json.dumps({"text": f"nothing here {i}", "label": []}) + "\n" for i in range(3)))
    r = import_file(n, f)
    assert (r.annotations_added, r.labels_added_to_schema) == (3, [])
    assert n.schema_version == v and _annotation_versions(n) == {v}


@pytest.mark.parametrize("parallel", [True, False], ids=["reader-process", "in-process"])
def test_reader_process_gives_the_same_result(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """Large files are read in a second process; the outcome must not depend on it."""
    p = new_project()
    p.settings = p.settings.model_copy(update={"import_parallel_bytes": 0 if parallel else 10**12})
    p.settings = p.settings.model_copy(update={"import_chunk_rows": 700})
    calls: list[bool] = []
    from truthset.services import import_reading, imports

    real = import_reading.messages  # what imports._messages names

    def spy(args: tuple[Any, ...], *, parallel: bool) -> Iterator[tuple[str, Any]]:
        calls.append(parallel)
        return real(args, parallel=parallel)

    monkeypatch.setattr(imports, "_messages", spy)
    r = import_file(p, SMS)
    assert calls == [parallel]
    assert (r.rows_read, r.items_added, r.duplicates, r.annotations_added) == (5574, 5171, 403, 5171)
    assert r.dialect == {"delimiter": "\t", "quoting": "none"}
    assert len(import_findings(p, batch_of(r), kind="duplicate")) == 403


def test_reader_process_errors_reach_the_user(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(b"text,label\n" + b"fine,a\n" * 5000 + b"caf\xe9,b\n")
    p = new_project()
    p.settings = p.settings.model_copy(update={"import_parallel_bytes": 0})
    with pytest.raises(EncodingProblem, match=r"line 5002"):
        import_file(p, f)
    assert counts(p)["items"] == 0
    g = tmp_path / "nocol.csv"
    g.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="--text-col"):
        import_file(p, g)


def test_no_reader_process_outlives_a_killed_import(tmp_path: Path) -> None:
    """SIGKILL the importer while its reader process runs: the reader exits too."""
    import psutil

    from truthset.services.projects import init_project

    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("text,label\n")
        for i in range(400_000):
            fh.write(f"row {i} text,{'ab'[i % 2]}\n")
    init_project(tmp_path / "proj", task="text-classification").close()
    code = textwrap.dedent(f"""
        from truthset.services.projects import Project, open_project
        from truthset.services.imports import import_file
        p = open_project({str(tmp_path / "proj")!r})
        p.settings = p.settings.model_copy(update=dict(import_parallel_bytes=0, import_chunk_rows=2000))
        import_file(p, {str(big)!r}, progress=lambda n: print('chunk', flush=True))
    """)
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    for n, _line in enumerate(proc.stdout):
        if n == 5:
            break
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the reader process was not started"
    proc.kill()
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"reader process(es) still running: {[c.pid for c in alive]}"
    project = open_project(tmp_path / "proj")
    assert counts(project)["items"] == 0
    project.close()
