"""The queue on the server's PostgreSQL connections (autocommit): the usual submission and the
usual request for the next item are one statement each (``store.queue.at_once``); every
other case takes the general path, in a real transaction, and answers exactly as it would have."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, insert, select, update

from tests.support import NewProject, next_task
from tests.support import add_annotator as _user
from tests.support import project_with_items as _project
from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.services import queue
from truthset.services.projects import Project
from truthset.store.models import Annotation, Assignment, Gold, Item, utcnow
from truthset.store.postgres import autocommits, make_async_engine
from truthset.store.queue import at_once, general
from truthset.store.queue import statements as sql

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


class Server:
    """Runs queue calls as the server does on PostgreSQL: on one autocommit connection of the
    asynchronous engine, in SQLAlchemy's greenlet bridge; records the statements sent."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.statements: list[str] = []

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def go() -> Any:
            engine = make_async_engine(self.project.store.engine, 1)
            event.listen(
                engine.sync_engine,
                "before_cursor_execute",
                lambda _c, _cur, statement, *_a: self.statements.append(statement),
            )
            try:
                async with engine.connect() as aconn:
                    return await aconn.run_sync(lambda conn: fn(self.project, *args, conn=conn, **kwargs))
            finally:
                await engine.dispose()

        self.statements.clear()
        # on a thread of its own: the browser tests' Playwright keeps an event loop running in
        # the main thread of the worker that ran them
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()


def _quiet(p: Project) -> Any:
    """The steady state of a busy queue: the periodic work was just done. Returns the time to
    pass as ``now`` from here on, so none falls due during the test."""
    now = utcnow()
    state = p.queue_state
    for job, every in state.PERIODIC.items():
        setattr(state, job, now + every)
    state.due_batches = []
    return now


def test_the_usual_submission_is_one_statement(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path, 6, overlap=1, order="sequential")
    model = _user(p, "model")
    with p.store.engine.begin() as conn:  # a model's pre-label on every item
        for item_id in conn.execute(select(Item.id).where(Item.project_id == p.id)).scalars():
            conn.execute(
                insert(Annotation).values(
                    project_id=p.id,
                    item_id=item_id,
                    user_id=model,
                    value=json.dumps("neg"),
                    label="neg",
                    schema_version=p.schema_version,
                    source="model",
                    meta="{}",
                    created_at=utcnow(),
                )
            )
    uid = _user(p, "fast")
    server = Server(p)
    task = server(queue.next_task, uid)
    now = _quiet(p)
    seen = [task.item_id]
    for n in range(1, 6):
        annotation_id, task = server(queue.submit_and_next, uid, task.assignment_id, "pos", lead_time=2.0, now=now)
        assert len(server.statements) == 1, server.statements  # no BEGIN, no COMMIT, one round trip
        assert task is not None and task.progress == {"done": n} and task.prelabel == "neg"
        assert task.payload == {"text": f"item number {n} Ann"}  # sequential order, as the general path
        seen.append(task.item_id)
    annotation_id, task = server(queue.submit_and_next, uid, task.assignment_id, "neg", now=now)
    assert task is None  # none left: the general path looked, and found none
    with p.store.engine.connect() as conn:
        stored = conn.execute(
            select(Annotation.item_id, Annotation.label, Annotation.lead_time, Assignment.status)
            .join(Assignment, Assignment.id == Annotation.assignment_id)
            .where(Annotation.user_id == uid)
            .order_by(Annotation.id)
        ).all()
        n_open = conn.execute(select(Item.id, Item.n_open, Item.full).where(Item.project_id == p.id)).all()
    assert [r.item_id for r in stored] == seen and stored[-1].label == "neg" and stored[0].lead_time == 2.0
    assert {r.status for r in stored} == {"done"}
    assert all(r.n_open == 1 and r.full for r in n_open)
    assert annotation_id == max(r_id for r_id in _annotation_ids(p, uid))


def _annotation_ids(p: Project, uid: int) -> list[int]:
    with p.store.engine.connect() as conn:
        return list(conn.execute(select(Annotation.id).where(Annotation.user_id == uid)).scalars())


def test_ner_reads_the_text_first_and_checks_the_spans(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path, 3, task="ner", overlap=1)
    uid = _user(p, "ner")
    server = Server(p)
    task = server(queue.next_task, uid)
    now = _quiet(p)
    text = task.payload["text"]
    with pytest.raises(InvalidInput, match="value"):  # the span ends past the text
        server(
            queue.submit_and_next,
            uid,
            task.assignment_id,
            [{"start": 0, "end": len(text) + 5, "label": "PER"}],
            now=now,
        )
    span = [{"start": len(text) - 3, "end": len(text), "label": "PER"}]
    _, nxt = server(queue.submit_and_next, uid, task.assignment_id, span, now=now)
    assert len(server.statements) == 2 and nxt is not None  # the text, then the one statement


def test_retries_conflicts_and_strangers_get_the_general_answers(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path, 5, overlap=1)
    uid, other = _user(p, "a"), _user(p, "b")
    server = Server(p)
    task = server(queue.next_task, uid)
    now = _quiet(p)
    first = server(queue.submit_and_next, uid, task.assignment_id, "pos", now=now)
    assert len(server.statements) == 1
    # a retried submit (its answer was lost on the way): the same annotation, the same next task
    again = server(queue.submit_and_next, uid, task.assignment_id, "pos", now=now)
    assert again[0] == first[0] and again[1].assignment_id == first[1].assignment_id
    with pytest.raises(Conflict, match="already answered"):
        server(queue.submit_and_next, uid, task.assignment_id, "neg", now=now)
    with pytest.raises(NotFound, match="not yours"):
        server(queue.submit_and_next, other, first[1].assignment_id, "pos", now=now)
    with pytest.raises(InvalidInput, match="value"):
        server(queue.submit_and_next, uid, first[1].assignment_id, "maybe", now=now)
    with pytest.raises(InvalidInput, match="lead_time"):
        server(queue.submit_and_next, uid, first[1].assignment_id, "pos", lead_time=-1.0, now=now)
    with p.store.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(Annotation).where(Annotation.user_id.in_((uid, other)))
            ).scalar_one()
            == 1
        )
        assert (
            conn.execute(select(func.count()).select_from(Assignment).where(Assignment.user_id == other)).scalar_one()
            == 0
        )  # a stranger leases nothing


def test_hidden_gold_is_one_statement_too_and_due_work_takes_the_general_path(
    new_project: NewProject, tmp_path: Path
) -> None:
    """A gold item costs the same one statement as a regular one (response times must not
    tell them apart); once the user has seen every gold item, the draw gives a regular one."""
    p = _project(new_project, tmp_path, 8, overlap=1, gold_rate=1.0)
    with p.store.engine.begin() as conn:
        gold_ids = (
            conn.execute(select(Item.id).where(Item.project_id == p.id).order_by(Item.id).limit(2)).scalars().all()
        )
        for item_id in gold_ids:
            conn.execute(
                insert(Gold).values(
                    item_id=item_id, project_id=p.id, value='"pos"', label="pos", source="test", created_at=utcnow()
                )
            )
    uid = _user(p, "gold")
    server = Server(p)
    task = server(queue.next_task, uid)
    now = _quiet(p)
    handed, statements = [task.item_id], []
    while task is not None:
        _, task = server(queue.submit_and_next, uid, task.assignment_id, "pos", now=now)
        handed += [task.item_id] if task else []
        statements.append(len(server.statements))
    assert set(handed[:2]) == set(gold_ids) and sorted(handed) == sorted(set(handed))  # gold first, as drawn
    assert len(handed) == 8 and statements[:-1] == [1] * 7  # the last found none left: general path
    with p.store.engine.connect() as conn:
        flagged = set(
            conn.execute(
                select(Assignment.item_id).where(Assignment.user_id == uid, Assignment.is_gold.is_(True))
            ).scalars()
        )
    assert flagged == set(gold_ids)  # outside the overlap: no slot taken on them
    assert _n_open(p, gold_ids) == [0, 0]
    # periodic work due: the general path does it (here: the expired lease is swept)
    q = _project(new_project, tmp_path, 3, overlap=1)
    a, b = _user(q, "x"), _user(q, "y")
    server = Server(q)
    held = server(queue.next_task, a)
    with q.store.engine.begin() as conn:
        conn.execute(
            update(Assignment)
            .where(Assignment.id == held.assignment_id)
            .values(leased_until=utcnow() - timedelta(minutes=1))
        )
    q.queue_state.lease_sweep_due = None
    mine = server(queue.next_task, b)
    _, nxt = server(queue.submit_and_next, b, mine.assignment_id, "pos")
    with q.store.engine.connect() as conn:
        assert (
            conn.execute(select(Assignment.status).where(Assignment.id == held.assignment_id)).scalar_one() == "expired"
        )
    assert nxt is not None


def test_the_general_path_runs_in_one_transaction(new_project: NewProject, tmp_path: Path) -> None:
    """On an autocommit connection, the general path must still be atomic: a failure after its
    first write leaves nothing behind."""
    p = _project(new_project, tmp_path, 3, overlap=1)
    uid = _user(p, "atomic")
    server = Server(p)
    task = server(queue.next_task, uid)
    assert "BEGIN" not in server.statements  # psycopg sends BEGIN itself; it is no statement of ours

    def submit_then_fail(project: Project, *, conn: Connection) -> None:
        assert autocommits(conn)
        with queue._transaction(project, conn) as tx:
            assert not autocommits(tx)
            general.submit(
                tx, queue.policy(project), uid, task.assignment_id, queue._check(project, "pos"), None, utcnow()
            )
            raise RuntimeError("the next step failed")

    with pytest.raises(RuntimeError):
        server(submit_then_fail)
    with p.store.engine.connect() as conn:
        assert (
            conn.execute(select(Assignment.status).where(Assignment.id == task.assignment_id)).scalar_one() == "leased"
        )
        assert (
            conn.execute(select(func.count()).select_from(Annotation).where(Annotation.user_id == uid)).scalar_one()
            == 0
        )


def test_due_batches_and_per_annotator_limits_hold_on_the_server(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.services.batches import parse_due, set_due
    from truthset.services.imports import import_file

    p = new_project(labels=["pos", "neg"])
    batches = []
    for b in range(2):
        f = tmp_path / f"batch{b}.jsonl"
        f.write_text("".join(json.dumps({"text": f"batch {b} item {i}"}) + "\n" for i in range(3)), encoding="utf-8")
        batch = import_file(p, f).batch
        assert batch is not None
        batches.append(batch)
    p.config = p.config.model_copy(
        update={"queue": p.config.queue.model_copy(update={"overlap": 1, "order": "sequential"})}
    )
    set_due(p, batches[1], parse_due("2026-12-01"))
    uid = _user(p, "due")
    server = Server(p)
    task, served = server(queue.next_task, uid), []
    while task is not None:
        served.append(task.payload["text"].split(" item")[0])
        _, task = server(queue.submit_and_next, uid, task.assignment_id, "pos")
    assert served == ["batch 1"] * 3 + ["batch 0"] * 3  # the batch due first, then the rest

    q = _project(new_project, tmp_path, 10, overlap=1, max_per_annotator=3)
    uid = _user(q, "limited")
    server = Server(q)
    task, n = server(queue.next_task, uid), 0
    now = _quiet(q)
    while task is not None:
        _, task = server(queue.submit_and_next, uid, task.assignment_id, "pos", now=now)
        n += 1
    assert n == 3


def test_the_usual_next_item_is_one_statement_and_a_held_lease_comes_back(
    new_project: NewProject, tmp_path: Path
) -> None:
    p = _project(new_project, tmp_path, 4, overlap=2, order="sequential")
    a, b = _user(p, "first"), _user(p, "second")
    server = Server(p)
    now = _quiet(p)
    task = server(queue.next_task, a, now=now)
    assert len(server.statements) == 1 and task.payload == {"text": "item number 0 Ann"}
    assert task.progress == {"done": 0} and task.prelabel is None
    again = server(queue.next_task, a, now=now)  # a lease held (a reloaded page): handed back
    assert again.assignment_id == task.assignment_id and len(server.statements) == 1
    assert again.payload == task.payload and again.progress == {"done": 0}
    other = server(queue.next_task, b, now=now)
    assert len(server.statements) == 1 and other.item_id == task.item_id  # overlap 2: the same item
    with p.store.engine.connect() as conn:
        assert conn.execute(select(Item.n_open).where(Item.id == task.item_id)).scalar_one() == 2

    g = _project(new_project, tmp_path, 4, overlap=1, gold_rate=1.0)
    with g.store.engine.begin() as conn:
        first = conn.execute(select(Item.id).where(Item.project_id == g.id).order_by(Item.id).limit(1)).scalar_one()
        conn.execute(
            insert(Gold).values(
                item_id=first, project_id=g.id, value='"pos"', label="pos", source="test", created_at=utcnow()
            )
        )
    c, d = _user(g, "gold"), _user(g, "other")
    server = Server(g)
    now = _quiet(g)
    assert server(queue.next_task, c, now=now).item_id == first and len(server.statements) == 1
    assert server(queue.next_task, d, now=now).item_id == first and len(server.statements) == 1


def _n_open(p: Project, item_ids: Sequence[int]) -> list[int]:
    with p.store.engine.connect() as conn:
        return [conn.execute(select(Item.n_open).where(Item.id == i)).scalar_one() for i in item_ids]


def test_a_submission_hands_back_another_lease_the_user_holds(new_project: NewProject, tmp_path: Path) -> None:
    """Two tabs: each leased an item. Answering one hands back the other, not a third item."""
    p = _project(new_project, tmp_path, 5, overlap=1, order="sequential")
    uid = _user(p, "tabs")
    first = next_task(p, uid)
    with p.store.engine.begin() as conn:  # the second tab's lease, as a concurrent request leaves it
        second_item = conn.execute(
            select(Item.id).where(Item.project_id == p.id, Item.id != first.item_id).order_by(Item.id).limit(1)
        ).scalar_one()
        lease = general._lease(conn, queue.policy(p), uid, second_item, utcnow())
        assert lease is not None
        second = lease.id
        conn.execute(sql.TAKE_SLOT, {"b_item": second_item, "b_k": 1})
    server = Server(p)
    now = _quiet(p)
    annotation_id, nxt = server(queue.submit_and_next, uid, first.assignment_id, "pos", now=now)
    assert len(server.statements) == 1 and nxt.assignment_id == second and nxt.progress == {"done": 1}
    _, third = server(queue.submit_and_next, uid, second, "neg", now=now)
    assert third.item_id not in (first.item_id, second_item) and third.progress == {"done": 2}


def test_concurrent_annotators_keep_every_invariant_on_the_one_statement_path(
    new_project: NewProject, tmp_path: Path
) -> None:
    """Six annotators at once, one of them in two tabs, each on its own autocommit connection
    as on the server: every item gets at most k, no one sees an item twice, every acknowledged
    answer is stored once, and n_open counts exactly the open and done leases."""
    p = _project(new_project, tmp_path, 40, overlap=2)
    uids = [_user(p, f"c{i}") for i in range(5)]
    tabs = uids + [uids[0]]  # the first annotator works in two tabs
    now = _quiet(p)
    acked: list[tuple[int, int]] = []

    async def annotate(engine: Any, uid: int) -> None:
        async with engine.connect() as aconn:
            task = await aconn.run_sync(lambda conn: queue.next_task(p, uid, now=now, conn=conn))
            while task is not None:
                annotation_id, task_next = await aconn.run_sync(
                    lambda conn, t=task: queue.submit_and_next(p, uid, t.assignment_id, "pos", now=now, conn=conn)
                )
                acked.append((annotation_id, uid))
                task = task_next
                await asyncio.sleep(0)

    statements: list[str] = []

    async def go() -> None:
        engine = make_async_engine(p.store.engine, len(tabs))
        event.listen(engine.sync_engine, "before_cursor_execute", lambda _c, _cur, st, *_a: statements.append(st))
        try:
            await asyncio.gather(*(annotate(engine, uid) for uid in tabs))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()
    with p.store.engine.connect() as conn:
        stored = dict(
            conn.execute(select(Annotation.id, Annotation.user_id).where(Annotation.project_id == p.id)).all()
        )
        per_item = conn.execute(
            select(Assignment.item_id, func.count())
            .where(Assignment.project_id == p.id, Assignment.status.in_(("leased", "done")))
            .group_by(Assignment.item_id)
        ).all()
        pairs = conn.execute(
            select(Assignment.item_id, Assignment.user_id, func.count())
            .where(Assignment.project_id == p.id)
            .group_by(Assignment.item_id, Assignment.user_id)
        ).all()
        n_open = dict(conn.execute(select(Item.id, Item.n_open).where(Item.project_id == p.id)).all())
    assert all(stored.get(a) == u for a, u in acked)  # every acknowledged answer stored, as its user's
    # the two tabs hold the same lease at times and both answer it: acknowledged twice, stored once
    twice = [a for a, n in Counter(a for a, _ in acked).items() if n > 1]
    assert all(stored[a] == uids[0] for a in twice)
    assert len(stored) == 80 and set(stored) == {a for a, _ in acked}  # 40 items x k = 2, none over
    assert all(n <= 2 for _, n in per_item) and all(n == 1 for _, _, n in pairs)
    assert n_open == {item: n for item, n in per_item}
    one_statement = sum("answered AS" in st for st in statements)
    assert one_statement > len(acked) // 2  # mostly the one statement, not the general path


def test_the_sequential_one_statement_reads_open_items_from_their_index(
    new_project: NewProject, tmp_path: Path
) -> None:
    """As the general path's claim (test_queue): with most items full, the candidate comes from
    the partial index of open items in id order, not a walk over the full ones."""
    from sqlalchemy import text

    p = _project(new_project, tmp_path, 300, overlap=1, order="sequential")
    uid = _user(p, "seq")
    with p.store.engine.begin() as conn:
        conn.execute(update(Item).where(Item.project_id == p.id).values(n_open=1, full=True))
        last = select(Item.id).where(Item.project_id == p.id).order_by(Item.id.desc()).limit(5)
        conn.execute(update(Item).where(Item.id.in_(last)).values(n_open=0, full=False))
        conn.exec_driver_sql("ANALYZE items")
    now = utcnow()
    params = {
        "b_aid": 0,
        "b_pid": p.id,
        "b_uid": uid,
        "b_now": now,
        "b_k": 1,
        "value": '"pos"',
        "label": "pos",
        "schema_version": 1,
        "lead_time": None,
        "leased_until": now,
    }
    for answer in (False, True):
        statement = at_once.statement("sequential", answer)
        with p.store.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL enable_sort = off")  # 5 open items could as well be sorted
            plan = "\n".join(str(r[0]) for r in conn.execute(text("EXPLAIN " + statement.text), params).all())
        assert "ix_items_open_by_id" in plan and "Sort" not in plan, plan
