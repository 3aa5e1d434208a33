"""50 annotators over HTTP against a real server; invariants checked in the store afterwards.

Run: python benchmarks/load_annotators.py [--backend sqlite|postgres|both] [--json]

What it does, per backend (SQLite in the project folder; PostgreSQL in a database it creates
on ``--pg-admin`` and drops afterwards, handed to the server through TRUTHSET_DATABASE_URL):

1. creates a project (``--items`` items, overlap ``--overlap``), ``--clients`` annotators with
   passwords and API tokens, and starts ``uvicorn`` in a subprocess on loopback;
2. drives the annotators from a separate process (a minimal HTTP/1.1 keep-alive client per
   annotator, see ``Http``; the client and server CPU of each phase are reported): ``POST /api/next`` once, then ``POST /api/assignments/{id}/submit``, which
   answers with the next task, so the steady state is one request per annotation. Phases:
   ``saturate`` (no pause between annotations: the most the server takes), ``paced`` (each
   annotator submits ``--rates`` per second: the latency at a given offered load) and
   ``sigkill`` (saturating, with the server killed with SIGKILL half-way and started again on
   the same store; clients retry on connection errors, a retried submit keeps its body);
3. checks, in the store: every acknowledged annotation is there (same id, item and user), no
   (item, user) pair twice among human annotations, no item above the overlap; counts HTTP
   errors by status and any response (or server log) saying "database is locked";
4. lists and filters items (``GET /api/items`` with ``after``/``limit``, and with ``label=``)
   on a project of ``--list-items`` items, p95 over ``--list-requests`` requests per variant.

Latencies are measured by the client (request sent to response read), successful requests only.
``submit`` is the steady-state request (it stores the annotation and returns the next item);
``next`` is each client's first request, all sent at once when a phase starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

LABELS = ["pos", "neg", "neutral"]
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
    "text",
    "stop",
    "win",
    "cash",
    "claim",
    "home",
    "later",
    "dinner",
    "great",
    "film",
    "awful",
]
PASSWORD = "load test password"
PG_ADMIN = os.environ.get("TRUTHSET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

SERVER = """
import os, sys, uvicorn
from truthset.services.projects import open_project
from truthset.server.app import create_app
root, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if workers > 1:
    os.environ["TRUTHSET_PROJECT"] = root
    uvicorn.run("truthset.server.app:app_from_env", factory=True, host="127.0.0.1", port=port,
                workers=workers, log_level="warning")
else:
    uvicorn.run(create_app(open_project(root)), host="127.0.0.1", port=port, log_level="warning")
"""


# --------------------------------------------------------------------------- setup


def _text(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + f" #{i}"


def write_items(path: Path, n: int, *, labels: list[str] | None = None, rare: float = 0.0) -> None:
    """``n`` JSONL items; with ``labels``, each row carries one (``rare``: share of the last label)."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row: dict[str, Any] = {"id": f"x{i}", "text": _text(i)}
            if labels:
                row["label"] = labels[-1] if rng.random() < rare else labels[i % (len(labels) - (1 if rare else 0))]
                row["annotator"] = f"imp{i % 5}"
            fh.write(json.dumps(row) + "\n")


def setup_project(
    root: Path,
    *,
    items: int,
    overlap: int,
    clients: int,
    labels: list[str] | None = None,
    item_labels: list[str] | None = None,
    rare: float = 0.0,
    user_prefix: str = "",
) -> dict[str, Any]:
    """Create the project, import the items, add users with tokens. Returns names and tokens."""
    from truthset.services import users
    from truthset.services.imports import ImportOptions, import_file
    from truthset.services.projects import init_project

    t0 = time.perf_counter()
    p = init_project(root, task="text-classification", labels=labels or LABELS, name=f"load-{uuid.uuid4().hex[:8]}")
    p.save_config(p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": overlap})}))
    src = root / "items.jsonl"
    write_items(src, items, labels=item_labels, rare=rare)
    opts = ImportOptions(
        id_col="id", label_col="label" if item_labels else None, annotator_col="annotator" if item_labels else None
    )
    report = import_file(p, src, opts)
    src.unlink()
    tokens = []
    users.add_user(p, f"{user_prefix}admin", role="admin", password=PASSWORD)
    admin = users.new_token(p, f"{user_prefix}admin")
    for i in range(clients):
        name = f"{user_prefix}ann{i:03d}"
        users.add_user(p, name, role="annotator", password=PASSWORD)
        tokens.append([name, users.new_token(p, name)])
    p.close()
    return {
        "root": str(root),
        "tokens": tokens,
        "admin_token": admin,
        "items": report.items_added,
        "setup_seconds": time.perf_counter() - t0,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``uvicorn`` on loopback in a subprocess; ``kill()`` sends SIGKILL, ``start()`` starts it again."""

    def __init__(self, root: Path | str, *, env: dict[str, str], workers: int = 1, log: Path | None = None) -> None:
        self.root, self.env, self.workers = str(root), env, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or Path(self.root) / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, token: str, timeout: float = 60.0) -> float:
        import httpx

        t0 = time.perf_counter()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER, self.root, str(self.port), str(self.workers)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                if (
                    httpx.get(self.url + "/api/me", headers={"authorization": f"Bearer {token}"}, timeout=2).status_code
                    == 200
                ):
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer within {timeout} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the uvicorn supervisor and its workers)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (the supervisor and its workers), from /proc."""
        if self.proc is None:
            return 0.0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # the process group started with start_new_session
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def log_mentions(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text) if self.log.exists() else 0


# --------------------------------------------------------------------------- clients


class Http:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams, one connection per annotator.

    The clients share the server's 2 cores, so their CPU is taken from the server: measured on
    this machine, an ``httpx.AsyncClient`` request cost about 4 ms of client CPU (1 client
    against the server: 6.4 ms per submit with httpx, 2.4 ms with a plain socket), so 50 httpx
    clients measured mostly themselves. This client speaks just what the server answers
    (``content-length`` bodies, or ``chunked``) and raises ``ConnectionError`` when the
    connection drops, so the caller retries the same request.
    """

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        try:
            return await self._request(method, path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise ConnectionError(type(exc).__name__) from exc

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}content-type: application/json\r\n"
            f"content-length: {len(data)}\r\n\r\n".encode()
            + data
        )
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append((await self.reader.readexactly(size + 2))[:-2])
            await self.reader.readuntil(b"\r\n")
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


#: submits that start this long after the phase began count as "steady": the first second
#: holds the burst of 50 annotators asking for their first item at the same instant
WARM_UP = 1.0


async def _annotator(
    url: str, index: int, name: str, token: str, deadline: float, rate: float, out: dict[str, Any], start: float
) -> None:
    lat: dict[str, list[float]] = out["latency"]
    statuses: Counter[str] = out["statuses"]
    period = 1.0 / rate if rate > 0 else 0.0
    due = time.perf_counter() + random.random() * period
    task: dict[str, Any] | None = None
    tries = 0
    client = Http(url, token)
    try:
        while time.perf_counter() < deadline:
            if task is None:
                kind, method, path, body = "next", "POST", "/api/next", None
            else:
                if period:
                    pause = due - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    due = max(due + period, time.perf_counter() - period)
                    if time.perf_counter() >= deadline:
                        break
                value = LABELS[(task["item_id"] + index) % len(LABELS)]
                kind, method, path = "submit", "POST", f"/api/assignments/{task['assignment_id']}/submit"
                body = {"value": value, "lead_time": 1.0}
            t0 = time.perf_counter()
            try:
                code, raw = await asyncio.wait_for(client.request(method, path, body), 30.0)
            except (TimeoutError, ConnectionError) as exc:  # the server is down or restarting: retry
                await client.close()
                out["transport_errors"][str(exc) or type(exc).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            elapsed = time.perf_counter() - t0
            statuses[f"{kind} {code}"] += 1
            if code >= 400 and b"database is locked" in raw:
                out["locked_responses"] += 1
            if code == 200:
                lat[kind].append(elapsed)
                if kind == "submit" and t0 - start >= WARM_UP:
                    lat["submit_steady"].append(elapsed)
                data = json.loads(raw)
                tries = 0
                if kind == "next":
                    task = data
                else:
                    out["acks"].append([data["annotation_id"], task["item_id"], name, task["assignment_id"]])
                    task = data["next"]
                    if task is None:
                        out["finished"] += 1
                        return
            elif code == 204:
                out["finished"] += 1
                return
            elif code in (404, 409):
                task = None  # the assignment is gone or answered: ask for the next item
            else:  # 5xx and friends: retry the same request a few times, then start over
                tries += 1
                out["error_bodies"].append(raw[:300].decode(errors="replace"))
                await asyncio.sleep(0.05)
                if tries >= 3:
                    task, tries = None, 0
    finally:
        await client.close()


async def drive(url: str, tokens: list[list[str]], seconds: float, rate: float) -> dict[str, Any]:
    """Run one annotator per token until ``seconds`` pass; returns acks, latencies, statuses."""
    out: dict[str, Any] = {
        "latency": {"next": [], "submit": [], "submit_steady": []},
        "statuses": Counter(),
        "acks": [],
        "transport_errors": Counter(),
        "locked_responses": 0,
        "finished": 0,
        "error_bodies": [],
    }
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(_annotator(url, i, n, t, deadline, rate, out, t0) for i, (n, t) in enumerate(tokens)))
    out["seconds"] = time.perf_counter() - t0
    out["error_bodies"] = out["error_bodies"][:20]
    return out


def _clients_main(args_path: str, out_path: str) -> None:
    spec = json.loads(Path(args_path).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    res = asyncio.run(drive(spec["url"], spec["tokens"], spec["seconds"], spec["rate"]))
    after = resource.getrusage(resource.RUSAGE_SELF)
    res["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    Path(out_path).write_text(json.dumps(res))


def run_phase(
    server: Server,
    tokens: list[list[str]],
    admin_token: str,
    *,
    seconds: float,
    rate: float = 0.0,
    kill_at: float | None = None,
    procs: int = 1,
) -> dict[str, Any]:
    """Drive the clients from ``procs`` child processes; with ``kill_at``, SIGKILL and restart the server then."""
    work = Path(tempfile.mkdtemp(prefix="truthset-load-"))
    server_cpu, mark = 0.0, server.cpu_seconds()
    children = []
    for i in range(procs):
        spec = work / f"spec{i}.json"
        spec.write_text(json.dumps({"url": server.url, "tokens": tokens[i::procs], "seconds": seconds, "rate": rate}))
        children.append(
            (
                subprocess.Popen([sys.executable, __file__, "_clients", str(spec), str(work / f"out{i}.json")]),
                work / f"out{i}.json",
            )
        )
    restart = None
    if kill_at is not None:
        time.sleep(kill_at)
        t_kill = time.perf_counter()
        server_cpu += server.cpu_seconds() - mark  # a killed process's CPU goes with it: count it now
        server.kill()
        server.start(admin_token)
        mark = server.cpu_seconds()
        restart = time.perf_counter() - t_kill
    for child, _ in children:
        if child.wait(seconds + 120) != 0:
            raise RuntimeError(f"client process exited with {child.returncode}")
    server_cpu += server.cpu_seconds() - mark
    parts = [json.loads(path.read_text()) for _, path in children]
    merged: dict[str, Any] = {
        "latency": {"next": [], "submit": [], "submit_steady": []},
        "statuses": Counter(),
        "acks": [],
        "transport_errors": Counter(),
        "locked_responses": 0,
        "finished": 0,
        "error_bodies": [],
    }
    for p in parts:
        for k in ("next", "submit", "submit_steady"):
            merged["latency"][k] += p["latency"][k]
        merged["statuses"].update(p["statuses"])
        merged["transport_errors"].update(p["transport_errors"])
        merged["acks"] += p["acks"]
        merged["locked_responses"] += p["locked_responses"]
        merged["finished"] += p["finished"]
        merged["error_bodies"] += p["error_bodies"]
    merged["seconds"] = max(p["seconds"] for p in parts)
    merged["client_cpu_seconds"] = sum(p["cpu_seconds"] for p in parts)
    merged["server_cpu_seconds"] = server_cpu
    merged["restart_seconds"] = restart
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return merged


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def summarise(name: str, res: dict[str, Any]) -> dict[str, Any]:
    ms = {
        k: {f"p{q}": None if (v := pct(res["latency"][k], q)) is None else round(v * 1000, 2) for q in (50, 95, 99)}
        for k in ("next", "submit", "submit_steady")
    }
    return {
        "phase": name,
        "seconds": round(res["seconds"], 2),
        "annotations": len(res["acks"]),
        "annotations_per_s": round(len(res["acks"]) / res["seconds"], 1),
        "latency_ms": ms,
        "statuses": dict(res["statuses"]),
        "transport_errors": dict(res["transport_errors"]),
        "locked_responses": res["locked_responses"],
        "restart_seconds": res.get("restart_seconds"),
        "server_cpu_percent": round(100 * res["server_cpu_seconds"] / res["seconds"], 1),
        "client_cpu_percent": round(100 * res["client_cpu_seconds"] / res["seconds"], 1),
        "error_bodies": res["error_bodies"][:5],
    }


# --------------------------------------------------------------------------- invariants


def verify(root: Path | str, acks: list[list[Any]], overlap: int) -> dict[str, Any]:
    """Check the store: acknowledged ⊆ stored, no (item, user) twice, no item above ``overlap``."""
    from sqlalchemy import func, select

    from truthset.services.projects import open_project
    from truthset.store.models import Annotation, Item, User

    p = open_project(root)
    try:
        with p.store.engine.connect() as conn:
            stored = {
                r.id: (r.item_id, r.name)
                for r in conn.execute(
                    select(Annotation.id, Annotation.item_id, User.name)
                    .join(User, User.id == Annotation.user_id)
                    .where(Annotation.project_id == p.id, Annotation.source == "human")
                )
            }
            dup_pairs = conn.execute(
                select(func.count()).select_from(
                    select(Annotation.item_id, Annotation.user_id)
                    .where(Annotation.project_id == p.id, Annotation.source == "human")
                    .group_by(Annotation.item_id, Annotation.user_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
            over_k = conn.execute(
                select(func.count()).select_from(
                    select(Annotation.item_id)
                    .where(Annotation.project_id == p.id, Annotation.source == "human")
                    .group_by(Annotation.item_id)
                    .having(func.count() > overlap)
                    .subquery()
                )
            ).scalar_one()
            open_over_k = conn.execute(
                select(func.count()).select_from(Item).where(Item.project_id == p.id, Item.n_open > overlap)
            ).scalar_one()
    finally:
        p.close()
    ack_ids = Counter(a[0] for a in acks)
    missing = [a for a in acks if stored.get(a[0]) != (a[1], a[2])]
    return {
        "acknowledged": len(ack_ids),
        "stored": len(stored),
        "missing": len(missing),
        "missing_examples": missing[:5],
        "acked_twice": sum(1 for c in ack_ids.values() if c > 1),
        "duplicate_item_user": dup_pairs,
        "items_over_k": over_k,
        "items_n_open_over_k": open_over_k,
        "ok": not missing and dup_pairs == 0 and over_k == 0 and open_over_k == 0,
    }


# --------------------------------------------------------------------------- list / filter


async def _list_requests(url: str, token: str, paths: list[str]) -> tuple[list[float], Counter[int]]:
    import httpx

    lat: list[float] = []
    codes: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as c:
        for path in paths:
            t0 = time.perf_counter()
            r = await c.get(path)
            lat.append(time.perf_counter() - t0)
            codes[r.status_code] += 1
    return lat, codes


def list_benchmark(server: Server, token: str, max_id: int, n: int, *, labels: tuple[str, str]) -> list[dict[str, Any]]:
    rng = random.Random(1)
    out = []
    variants = [
        ("list limit=50", "/api/items?after={a}&limit=50"),
        ("list limit=1000", "/api/items?after={a}&limit=1000"),
        (f"filter label={labels[0]} (25% of items) limit=50", "/api/items?after={a}&limit=50&label=" + labels[0]),
        (f"filter label={labels[1]} (1% of items) limit=50", "/api/items?after={a}&limit=50&label=" + labels[1]),
    ]
    for name, tpl in variants:
        paths = [tpl.format(a=rng.randrange(max_id)) for _ in range(n)]
        asyncio.run(_list_requests(server.url, token, paths[:5]))  # warm-up
        lat, codes = asyncio.run(_list_requests(server.url, token, paths))
        out.append(
            {
                "variant": name,
                "requests": n,
                "p50_ms": round(pct(lat, 50) * 1000, 1),  # type: ignore[operator]
                "p95_ms": round(pct(lat, 95) * 1000, 1),
                "max_ms": round(max(lat) * 1000, 1),  # type: ignore[operator]
                "statuses": dict(codes),
            }
        )
    return out


# --------------------------------------------------------------------------- orchestration


class Store:
    """The backend's environment: SQLite (nothing to do) or a fresh PostgreSQL database, dropped on close."""

    def __init__(self, backend: str, admin_url: str = PG_ADMIN) -> None:
        self.backend, self.admin_url, self.names = backend, admin_url, []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "TRUTHSET_DATABASE_URL"}
        if self.backend == "postgres":
            import psycopg

            name = f"truthset_load_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            self.names.append(name)
            env["TRUTHSET_DATABASE_URL"] = f"{self.admin_url.rsplit('/', 1)[0]}/{name}"
        return env

    def close(self) -> None:
        if self.names:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                for name in self.names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Env:
    """Set os.environ for in-process setup/verification (open_project reads it)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.saved = env, None

    def __enter__(self) -> None:
        self.saved = os.environ.get("TRUTHSET_DATABASE_URL")
        os.environ.pop("TRUTHSET_DATABASE_URL", None)
        if "TRUTHSET_DATABASE_URL" in self.env:
            os.environ["TRUTHSET_DATABASE_URL"] = self.env["TRUTHSET_DATABASE_URL"]

    def __exit__(self, *exc: Any) -> None:
        os.environ.pop("TRUTHSET_DATABASE_URL", None)
        if self.saved is not None:
            os.environ["TRUTHSET_DATABASE_URL"] = self.saved


def load_run(backend: str, base: Path, args: argparse.Namespace, store: Store) -> dict[str, Any]:
    env = store.env()
    root = base / f"load-{backend}"
    with _Env(env):
        made = setup_project(root, items=args.items, overlap=args.overlap, clients=args.clients)
    server = Server(root, env=env, workers=args.workers)
    phases, acks = [], []
    try:
        server.start(made["admin_token"])
        plan = [("saturate", 0.0, None)] + [("paced", rate, None) for rate in args.rates]
        plan.append(("sigkill", 0.0, args.seconds / 2))
        for name, rate, kill_at in plan:
            if args.phases and name not in args.phases:
                continue
            res = run_phase(
                server,
                made["tokens"],
                made["admin_token"],
                seconds=args.seconds,
                rate=rate,
                kill_at=kill_at,
                procs=args.client_procs,
            )
            acks += res["acks"]
            phases.append(summarise(name + (f" ({rate:g}/s per client)" if rate else ""), res))
            _say(_phase_line(phases[-1]))
    finally:
        server.stop()
    with _Env(env):
        check = verify(root, acks, args.overlap)
    check["server_log_database_is_locked"] = server.log_mentions("database is locked")
    check["server_log_tracebacks"] = server.log_mentions("Traceback")
    return {
        "backend": backend,
        "items": made["items"],
        "clients": args.clients,
        "overlap": args.overlap,
        "workers": args.workers,
        "phases": phases,
        "invariants": check,
    }


def list_run(backend: str, base: Path, args: argparse.Namespace, store: Store) -> dict[str, Any]:
    env = store.env()
    root = base / f"list-{backend}"
    labels = ["pos", "neg", "neutral", "other", "rare"]
    with _Env(env):
        made = setup_project(
            root, items=args.list_items, overlap=1, clients=0, labels=labels, item_labels=labels, rare=0.01
        )
    server = Server(root, env=env, workers=args.workers)
    try:
        server.start(made["admin_token"])
        import httpx

        first = httpx.get(
            server.url + "/api/items?limit=1", headers={"authorization": f"Bearer {made['admin_token']}"}
        ).json()
        lo = first["items"][0]["item_id"]
        rows = list_benchmark(
            server, made["admin_token"], lo + made["items"], args.list_requests, labels=("pos", "rare")
        )
        if backend == "postgres":
            # Right after a bulk load PostgreSQL has no planner statistics until autovacuum's
            # ANALYZE (about a minute later); measure both states.
            import psycopg

            for r in rows:
                r["variant"] += " (before ANALYZE)"
            with psycopg.connect(env["TRUTHSET_DATABASE_URL"], autocommit=True) as pg:
                pg.execute("ANALYZE")
            after = list_benchmark(
                server, made["admin_token"], lo + made["items"], args.list_requests, labels=("pos", "rare")
            )
            for r in after:
                r["variant"] += " (after ANALYZE)"
            rows += after
    finally:
        server.stop()
    for r in rows:
        _say(
            f"  {r['variant']:<62} p50 {r['p50_ms']:>7} ms  p95 {r['p95_ms']:>7} ms  max {r['max_ms']:>7} ms  {r['statuses']}"
        )
    return {
        "backend": backend,
        "items": made["items"],
        "setup_seconds": round(made["setup_seconds"], 1),
        "requests": rows,
    }


def _say(text: str) -> None:
    """Progress and the summary table go to stderr, so stdout holds only the --json document."""
    print(text, file=sys.stderr, flush=True)


def _phase_line(s: dict[str, Any]) -> str:
    n, sub, steady = s["latency_ms"]["next"], s["latency_ms"]["submit"], s["latency_ms"]["submit_steady"]
    extra = f"  restart {s['restart_seconds']:.1f} s" if s.get("restart_seconds") else ""
    return (
        f"  {s['phase']:<28} {s['annotations']:>6} ann  {s['annotations_per_s']:>7.1f}/s  "
        f"cpu server {s['server_cpu_percent']}% clients {s['client_cpu_percent']}%  "
        f"submit p50 {sub['p50']} p99 {sub['p99']} ms (after {WARM_UP:g} s: p99 {steady['p99']})  "
        f"next p50 {n['p50']} p99 {n['p99']} ms  "
        f"statuses {s['statuses']}  transport {s['transport_errors']}  locked {s['locked_responses']}{extra}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each load phase")
    ap.add_argument(
        "--rates",
        type=float,
        nargs="*",
        default=[5.0, 10.0],
        help="annotations per second per client in each paced phase (10 x 50 clients = 500/s offered)",
    )
    ap.add_argument("--phases", nargs="*", default=None, help="subset of: saturate paced sigkill")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--client-procs", type=int, default=1)
    ap.add_argument("--list-items", type=int, default=1_000_000, help="0 skips the list/filter benchmark")
    ap.add_argument("--list-requests", type=int, default=200)
    ap.add_argument("--only", choices=["load", "list"], default=None, help="run only the load or the list benchmark")
    ap.add_argument("--pg-admin", default=PG_ADMIN)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {"args": vars(args), "load": [], "list": []}
    ok = True
    with tempfile.TemporaryDirectory(prefix="truthset-bench-") as tmp:
        for backend in backends:
            store = Store(backend, args.pg_admin)
            try:
                if args.only != "list":
                    _say(
                        f"{backend}: {args.clients} annotators, {args.items} items, overlap {args.overlap}, "
                        f"{args.workers} worker(s), {args.seconds:g} s per phase"
                    )
                    run = load_run(backend, Path(tmp), args, store)
                    results["load"].append(run)
                    ok = ok and run["invariants"]["ok"] and run["invariants"]["server_log_database_is_locked"] == 0
                    _say(f"  invariants: {run['invariants']}")
                if args.list_items and args.only != "load":
                    _say(f"{backend}: list/filter on {args.list_items} items")
                    results["list"].append(list_run(backend, Path(tmp), args, store))
            finally:
                store.close()
    if args.json:
        print(json.dumps(results, indent=2))
    _say(
        "ok: every acknowledged annotation stored, none twice, no item over k" if ok else "FAILED: see invariants above"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_clients":
        _clients_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
