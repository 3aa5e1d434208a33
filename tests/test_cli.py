"""The command line, through click's CliRunner: output, --json, one-line errors."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import SMS
from tests.support import RunCli, group1
from truthset.cli import main


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> RunCli:
    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    runner = CliRunner()

    def go(*args: str, code: int = 0) -> Result:
        res = runner.invoke(main, list(args), catch_exceptions=False)
        assert res.exit_code == code, res.output
        return res

    return go


def test_init_import_status_export_guide(run: RunCli, tmp_path: Path) -> None:
    d = str(tmp_path / "proj")
    run("init", d, "--task", "text-classification", "--labels", "ham,spam")
    out = run("-p", d, "import", str(SMS), "--json").output
    rep = json.loads(out)
    assert rep["items_added"] == 5171 and rep["duplicates"] == 403
    status = json.loads(run("-p", d, "status", "--json").output)
    assert status["items"] == 5171 and status["by_label"]["ham"] == 4518
    again = json.loads(run("-p", d, "import", str(SMS), "--json").output)
    assert again["already_imported"] is True
    f = json.loads(run("-p", d, "findings", "--kind", "duplicate", "--json").output)
    assert len(f["findings"]) == 403
    run("-p", d, "export", "--format", "labelstudio", "-o", str(tmp_path / "t.json"))
    assert len(json.loads((tmp_path / "t.json").read_text())) == 5171
    run("-p", d, "guide", "-o", str(tmp_path / "g.html"))
    assert "<h3>ham" in (tmp_path / "g.html").read_text()
    res = run("-p", d, "schema", "check", "--json", code=0)
    assert json.loads(res.output)["errors"] == 0
    res = json.loads(run("-p", d, "schema", "rename", "spam", "junk", "--json").output)
    assert res["annotations_migrated"] == 653


def test_batch_due_dates_from_import_and_batch_due(run: RunCli, tmp_path: Path) -> None:
    d = str(tmp_path / "proj")
    run("init", d, "--task", "text-classification", "--labels", "ham,spam")
    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "three"}\n', encoding="utf-8")
    res = run("-p", d, "import", str(tmp_path / "b.jsonl"), "--due", "yesterday", code=1)
    assert "2026-12-01" in res.output  # says how to write a date; nothing imported
    assert json.loads(run("-p", d, "status", "--json").output)["items"] == 0
    first = json.loads(run("-p", d, "import", str(tmp_path / "a.jsonl"), "--json").output)["batch"]
    second = json.loads(run("-p", d, "import", str(tmp_path / "b.jsonl"), "--due", "2026-12-01", "--json").output)[
        "batch"
    ]
    batches = {b["batch"]: b for b in json.loads(run("-p", d, "status", "--json").output)["by_batch"]}
    assert batches[second]["due_at"] == "2026-12-01T23:59:59+00:00" and batches[first]["due_at"] is None
    assert batches[first]["items_open"] == 2 and batches[second]["items_open"] == 1
    out = json.loads(run("-p", d, "batch", "due", str(first), "2026-11-30T09:00", "--json").output)
    assert out == {"batch": first, "due_at": "2026-11-30T09:00:00+00:00"}
    assert "no due date" in run("-p", d, "batch", "due", str(second), "--clear").output
    assert "either a DATE" in run("-p", d, "batch", "due", str(second), code=1).output
    assert "no batch 99" in run("-p", d, "batch", "due", "99", "2026-12-01", code=1).output
    assert "due_at" in run("-p", d, "status").output


@pytest.mark.parametrize(
    "args, message",
    [
        (["status"], "no truthset.yaml"),
        (["init", "{tmp}/x", "--task", "text-classification", "--labels", "a,a"], "twice"),
    ],
)
def test_user_errors_are_one_line(
    run: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    res = run(*[a.format(tmp=tmp_path) for a in args], code=1)
    assert message in res.output
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_bad_yaml_and_encoding_errors(run: RunCli, tmp_path: Path) -> None:
    d = tmp_path / "p"
    run("init", str(d), "--task", "ner")
    bad = tmp_path / "latin.csv"
    bad.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    res = run("-p", str(d), "import", str(bad), code=1)
    assert "--encoding" in res.output and "line 2" in res.output
    (d / "truthset.yaml").write_text("name: p\ntask: nre\n", encoding="utf-8")
    res = run("-p", str(d), "status", code=1)
    assert "key 'task'" in res.output and "'ner'" in res.output


def test_demo(run: RunCli, tmp_path: Path) -> None:
    from truthset.quality import sample_size

    res = run("demo", str(tmp_path / "demo"))
    assert "403 exact duplicate copies" in res.output
    n = sample_size(5171, max_error_rate=0.02, confidence=0.95)
    assert f"review {n:,} of them" in " ".join(res.output.split())
    quality, card = (
        tmp_path / "demo" / "reports" / "quality-report.html",
        tmp_path / "demo" / "reports" / "data-card.html",
    )
    assert res.output.rstrip().splitlines()[-1] == f"reports: {quality} and {card}"
    assert "Quality report" in quality.read_text(encoding="utf-8") and "Known limitations" in card.read_text(
        encoding="utf-8"
    )
    assert (tmp_path / "demo" / "check.html").is_file() and "data checks (truthset check)" in res.output
    # the SMS copies carry conflicting labels: the check raises data issues, and the data card lists the copies
    assert re.search(r"data issues raised: [1-9]", res.output)
    assert "Duplicate clusters (latest data check)" in card.read_text(encoding="utf-8")
    assert "Split of training run" in card.read_text(encoding="utf-8")
    data = json.loads(run("demo", str(tmp_path / "demo"), "--json").output)
    assert data["import"]["already_imported"] is True
    assert data["status"]["items"] == 5171
    assert data["reports"] == {"quality_report": str(quality), "data_card": str(card)}


def test_demo_serve_prints_working_logins(tmp_path: Path) -> None:
    """`truthset demo --serve` starts the app; a printed annotator password logs in."""
    import os
    import re
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "truthset.cli", "demo", str(tmp_path / "d"), "--serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.time() + 60
        while time.time() < deadline and not any(line.strip().startswith("annotator  bob") for line in lines):
            lines.append(proc.stdout.readline())
        ann = next(line for line in lines if re.match(r"\s*annotator\s+ann\s", line))
        password = ann.split("password")[1].strip()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    page = client.get("/login")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
            res = client.post("/login", data={"name": "ann", "password": password, "csrf": csrf}, follow_redirects=True)
            assert res.status_code == 200 and "Start annotating" in res.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_with_two_workers_shares_one_queue(tmp_path: Path) -> None:
    """`truthset serve --workers 2`: two processes on one SQLite store hand out each item once."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from truthset.services import users
    from truthset.services.imports import import_file
    from truthset.services.projects import init_project

    env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
    os.environ.pop("TRUTHSET_DATABASE_URL", None)
    try:
        p = init_project(tmp_path / "w", task="text-classification", labels=["pos", "neg"], name="workers")
        p.save_config(p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": 2})}))
        items = tmp_path / "items.jsonl"
        items.write_text("".join(json.dumps({"text": f"item {i}"}) + "\n" for i in range(40)), encoding="utf-8")
        import_file(p, items)
        tokens = []
        for i in range(4):
            users.add_user(p, f"w{i}", role="annotator", password="correct horse")
            tokens.append(users.new_token(p, f"w{i}"))
        p.close()
    finally:
        if "TRUTHSET_DATABASE_URL" in env:
            os.environ["TRUTHSET_DATABASE_URL"] = env["TRUTHSET_DATABASE_URL"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "truthset.cli",
            "--project",
            str(tmp_path / "w"),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        start_new_session=True,
    )

    def annotate(token: str) -> list[int]:
        done = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"}) as c:
            task = c.post("/api/next").json()
            while task:
                res = c.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
                assert res.status_code == 200, res.text
                done.append(task["item_id"])
                task = res.json()["next"]
        return done

    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline and proc.poll() is None, "the server did not start"
            time.sleep(0.1)
        with ThreadPoolExecutor(4) as pool:
            per_user = list(pool.map(annotate, tokens))
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    everything = [i for done in per_user for i in done]
    assert all(len(done) == len(set(done)) for done in per_user)  # nobody saw an item twice
    assert len(everything) == 40 * 2  # overlap 2: every item exactly twice
    assert set(Counter(everything).values()) == {2}


def test_schema_check_hotkeys_beyond_nine_and_labels_without_one(run: RunCli, tmp_path: Path) -> None:
    """Before issue 11 the tenth label of `init --labels` had no hotkey and `schema check` said nothing."""
    import yaml

    d = tmp_path / "p"
    names = [f"L{i}" for i in range(1, 13)]
    run("init", str(d), "--task", "text-classification", "--labels", ",".join(names))
    shown = json.loads(run("-p", str(d), "schema", "show", "--json").output)
    assert [lab["hotkey"] for lab in shown["schema"]["labels"]] == [*"1234567890", "a", "b"]
    res = json.loads(run("-p", str(d), "schema", "check", "--json").output)
    assert [f["code"] for f in res["findings"]] == ["missing-definition"] * 12
    data = yaml.safe_load((d / "truthset.yaml").read_text(encoding="utf-8"))
    data["schema"]["labels"][9]["hotkey"] = ""
    (d / "truthset.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    res = json.loads(run("-p", str(d), "schema", "check", "--json").output)  # a warning: exit 0
    [missing] = [f for f in res["findings"] if f["code"] == "missing-hotkey"]
    assert missing["severity"] == "warning" and "'L10'" in missing["message"]
    assert "hotkey: '0'" in missing["message"]  # the key it lost, now free again
    text = run("-p", str(d), "schema", "check").output
    assert "warning: missing-hotkey: label 'L10' has no hotkey" in text


def test_schema_with_one_name_twice_is_refused(run: RunCli, tmp_path: Path) -> None:
    """Before issue 11 'negative' and 'Negative' were two labels and `schema check` passed."""
    import yaml

    res = run("init", str(tmp_path / "x"), "--task", "text-classification", "--labels", "negative,Negative", code=1)
    assert "twice, as 'negative' and 'Negative'" in res.output
    d = tmp_path / "p"
    run("init", str(d), "--task", "text-classification", "--labels", "negative,positive")
    data = yaml.safe_load((d / "truthset.yaml").read_text(encoding="utf-8"))
    data["schema"]["labels"].append({"name": "Negative", "hotkey": "3"})
    (d / "truthset.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    res = run("-p", str(d), "schema", "check", code=1)
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert "'negative' (labels[0]) and 'Negative' (labels[2])" in res.output
    assert "truthset schema merge 'Negative' --into 'negative'" in res.output


def test_schema_merge_keeps_tie_breaks_and_lists_dropped_exclusions(run: RunCli, tmp_path: Path) -> None:
    import yaml

    d = tmp_path / "p"
    run("init", str(d), "--task", "text-classification", "--labels", "ham,promo,scam")
    data = yaml.safe_load((d / "truthset.yaml").read_text(encoding="utf-8"))
    data["schema"]["labels"][1].update(tie_break="promo if nothing is asked", exclude=["phishing (scam)"])
    data["schema"]["labels"][2].update(tie_break="scam if money is asked")
    (d / "truthset.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    out = run("-p", str(d), "schema", "merge", "promo", "scam", "--into", "spam").output
    assert "exclusion dropped (now the same label): promo: phishing (scam)" in out
    spam = json.loads(run("-p", str(d), "schema", "show", "--json").output)["schema"]["labels"][1]
    assert spam["name"] == "spam"
    assert spam["tie_break"] == "promo: promo if nothing is asked / scam: scam if money is asked"


def test_import_findings_kinds_and_errors(run: RunCli, tmp_path: Path) -> None:
    """A header-only file and a batch that does not exist exit non-zero (main: exit 0,
    "0 finding(s)"); mojibake rows are listed by ``findings --kind mojibake``."""
    d = str(tmp_path / "proj")
    run("init", d, "--task", "text-classification")
    empty = tmp_path / "empty.csv"
    empty.write_text("id,text,label\n", encoding="utf-8")
    res = run("-p", d, "import", str(empty), code=1)
    assert "no rows" in res.output and "Traceback" not in res.output
    moji = tmp_path / "moji.csv"
    moji.write_text("id,text\n1,plain\n2,â€œquotedâ€\x9d text\n3,caf\u00c3\u00a9\n", encoding="utf-8")
    rep = json.loads(run("-p", d, "import", str(moji), "--json").output)
    assert rep["mojibake_rows"] == 2 and rep["control_char_rows"] == 1
    found = json.loads(run("-p", d, "findings", "--kind", "mojibake", "--json").output)["findings"]
    assert [f["line"] for f in found] == [3, 4]
    res = run("-p", d, "findings", "--batch", "99", code=1)
    assert "batch 99" in res.output
    fixed = json.loads(run("-p", d, "import", str(moji), "--fix-text", "--json").output)
    assert fixed["repaired_rows"] == 2
