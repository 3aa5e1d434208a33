"""The JSON API in-process: roles, CSRF, blind annotation, validation, review, tokens."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import EVIL, PASSWORD, Served, login
from tests.support import group1
from truthset.services import users


def test_login_required_and_wrong_password(served: Served) -> None:
    _, app, names = served
    anon = TestClient(app)
    assert anon.post("/api/next").status_code == 401
    assert anon.get("/annotate", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    page = anon.get("/login")

    csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
    res = anon.post("/login", data={"name": names["annotator"], "password": "nope-nope", "csrf": csrf})
    assert "Wrong name or password" in res.text
    res = anon.post("/login", data={"name": names["annotator"], "password": PASSWORD, "csrf": "forged"})
    assert "expired" in res.text


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/gold", "get"),
        ("/api/items", "get"),
        ("/api/items/1", "get"),
        ("/api/annotations", "get"),
        ("/api/review/queue", "get"),
        ("/api/items", "post"),
        ("/review", "get"),
    ],
)
def test_annotators_are_refused(served: Served, path: str, method: str) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    res = getattr(client, method)(path, **({"json": {"items": [{"text": "x"}]}} if method == "post" else {}))
    assert res.status_code == 403, res.text


def test_csrf_is_required_for_cookie_sessions(served: Served) -> None:
    _, app, names = served
    client, token = login(app, names["annotator"])
    del client.headers["X-CSRF-Token"]
    assert client.post("/api/next").status_code == 403
    assert client.post("/api/next", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/api/next", headers={"X-CSRF-Token": token}).status_code == 200


def test_blind_annotation_and_submit_next(served: Served) -> None:
    p, app, names = served
    a, _ = login(app, names["annotator"])
    b, _ = login(app, names["annotator2"])
    t = a.post("/api/next").json()
    res = a.post(f"/api/assignments/{t['assignment_id']}/submit", json={"value": "pos", "lead_time": 2.5}).json()
    assert res["next"]["item_id"] != t["item_id"]
    # b may not touch a's assignment, and sees nothing of a's label
    assert b.post(f"/api/assignments/{t['assignment_id']}/submit", json={"value": "neg"}).status_code == 404
    tb = b.post("/api/next").json()
    assert "annotations" not in tb and "gold" not in tb and set(tb["data"]) == {"text"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"value": "maybe"}, "value"),
        ({"value": "pos", "lead_time": -1}, "lead_time"),
        ({}, "value"),
        ({"value": ["pos"]}, "value"),
    ],
)
def test_bad_payloads_get_422_naming_the_field(served: Served, body: dict[str, object], field: str) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    t = client.post("/api/next").json()
    res = client.post(f"/api/assignments/{t['assignment_id']}/submit", json=body)
    assert res.status_code == 422 and f"'{field}'" in res.json()["error"], res.text


def test_retry_is_stored_once_and_a_changed_answer_conflicts(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    t = client.post("/api/next").json()
    one = client.post(f"/api/assignments/{t['assignment_id']}/submit", json={"value": "pos"}).json()
    two = client.post(f"/api/assignments/{t['assignment_id']}/submit", json={"value": "pos"}).json()
    assert one["annotation_id"] == two["annotation_id"]
    assert client.post(f"/api/assignments/{t['assignment_id']}/submit", json={"value": "neg"}).status_code == 409


def test_skip_with_reason(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["annotator"])
    t = client.post("/api/next").json()
    assert client.post(f"/api/assignments/{t['assignment_id']}/skip", json={"reason": "bored"}).status_code == 422
    res = client.post(f"/api/assignments/{t['assignment_id']}/skip", json={"reason": "broken data", "note": "cut off"})
    assert res.status_code == 200 and res.json()["data_issue"] >= 1


def test_item_text_is_escaped_in_pages(served: Served) -> None:
    _, app, names = served
    client, _ = login(app, names["reviewer"])
    for path in ("/annotate", "/review", "/", "/guide"):
        assert "<script>window.__pwned" not in client.get(path).text


def test_review_flow_and_tokens(served: Served) -> None:
    p, app, names = served
    a, _ = login(app, names["annotator"])
    b, _ = login(app, names["annotator2"])
    p.config = p.config.model_copy(
        update={"queue": p.config.queue.model_copy(update={"overlap": 2, "order": "sequential"})}
    )
    ta, tb = a.post("/api/next").json(), b.post("/api/next").json()
    assert ta["item_id"] == tb["item_id"]
    a.post(f"/api/assignments/{ta['assignment_id']}/submit", json={"value": "pos"})
    b.post(f"/api/assignments/{tb['assignment_id']}/submit", json={"value": "neg"})
    reviewer, _ = login(app, names["reviewer"])
    queue = reviewer.get("/api/review/queue").json()["items"]
    assert [q["item_id"] for q in queue] == [ta["item_id"]] and queue[0]["reasons"] == ["disagreement"]
    detail = reviewer.get(f"/api/items/{ta['item_id']}").json()
    assert {x["value"] for x in detail["annotations"]} == {"pos", "neg"} and detail["gold"] is None
    assert reviewer.post(f"/api/review/{ta['item_id']}", json={"verdict": "reject"}).status_code == 422
    assert reviewer.post(f"/api/review/{ta['item_id']}", json={"verdict": "correct", "value": "neg"}).status_code == 200
    assert reviewer.get("/api/review/queue").json()["items"] == []
    token = users.new_token(p, names["admin"])
    bot = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    pushed = bot.post("/api/items", json={"items": [{"text": "pushed by a pipeline"}]}).json()
    assert pushed["items_added"] == 1
    again = bot.post("/api/items", json={"items": [{"text": "pushed by a pipeline"}]}).json()
    assert again["items_added"] == 0
    labels = bot.get("/api/annotations").json()["annotations"]
    assert {x["source"] for x in labels} == {"human", "review"}
    assert TestClient(app, headers={"Authorization": "Bearer nope"}).get("/api/me").status_code == 401
    assert EVIL  # the fixture's hostile item exists for the browser test


def test_review_stages_and_hidden_names_follow_the_config(served: Served) -> None:
    p, app, names = served
    a, _ = login(app, names["annotator"])
    b, _ = login(app, names["annotator2"])
    p.config = p.config.model_copy(
        update={"queue": p.config.queue.model_copy(update={"overlap": 2, "order": "sequential"})}
    )
    ta, tb = a.post("/api/next").json(), b.post("/api/next").json()
    a.post(f"/api/assignments/{ta['assignment_id']}/submit", json={"value": "pos"})
    b.post(f"/api/assignments/{tb['assignment_id']}/submit", json={"value": "neg"})
    reviewer, _ = login(app, names["reviewer"])
    p.config = p.config.model_copy(
        update={"review": p.config.review.model_copy(update={"show_annotator_names": False})}
    )
    shown = {x["annotator"] for x in reviewer.get(f"/api/items/{ta['item_id']}").json()["annotations"]}
    assert shown == {"annotator 1", "annotator 2"}
    p.config = p.config.model_copy(
        update={"review": p.config.review.model_copy(update={"stages": ["annotate", "review"]})}
    )
    res = reviewer.post(f"/api/review/{ta['item_id']}", json={"verdict": "correct", "value": "neg"})
    assert res.status_code == 409 and "adjudicate" in res.json()["error"]
    p.config = p.config.model_copy(update={"review": p.config.review.model_copy(update={"stages": ["annotate"]})})
    assert reviewer.get("/api/review/queue").json()["items"] == []


def test_account_cache_keeps_a_lookup_for_its_seconds_only(served: Served) -> None:
    """A replaced token keeps working for at most ``account_cache_seconds``, then gets 401;
    a session user whose role changed gets the new role's answer as soon as the entry expires."""
    import time

    from fastapi.testclient import TestClient
    from sqlalchemy import update

    from truthset.server.app import create_app
    from truthset.services import users
    from truthset.store.models import User

    p, _, names = served
    p.settings = p.settings.model_copy(update={"account_cache_seconds": 0.4})
    app = create_app(p)
    old = users.new_token(p, names["annotator"])
    client = TestClient(app, headers={"authorization": f"Bearer {old}"})
    assert client.get("/api/me").json()["role"] == "annotator"
    new = users.new_token(p, names["annotator"])
    assert client.get("/api/me").status_code == 200  # still cached
    time.sleep(0.5)
    assert client.get("/api/me").status_code == 401
    assert TestClient(app, headers={"authorization": f"Bearer {new}"}).get("/api/me").status_code == 200

    p.settings = p.settings.model_copy(update={"account_cache_seconds": 0})
    uncached = create_app(p)
    reviewer = TestClient(uncached, headers={"authorization": f"Bearer {new}"})
    assert reviewer.get("/api/review/queue").status_code == 403
    with p.store.engine.begin() as conn:
        conn.execute(update(User).where(User.name == names["annotator"]).values(role="reviewer"))
    assert reviewer.get("/api/review/queue").status_code == 200  # no cache: at once


def test_a_submit_that_finds_the_lock_taken_waits_on_a_thread(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the queue runs on the event loop only when the write lock is free; held by
    another writer, the same submit goes to the queue thread, waits, and is stored once."""
    import threading
    import time

    p, app, names = served
    assert p.store.serves_on_event_loop == ("inline" if p.store.dialect == "sqlite" else "async")
    client, _ = login(app, names["annotator"])
    task = client.post("/api/next").json()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with p.store.engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
            holding.set()
            release.wait(10)

    handed: list[tuple[Any, ...]] = []
    executor = p.store.serving_threads
    assert executor is not None
    submit_to_thread = executor.submit

    def counted(*a: Any, **k: Any) -> Future[Any]:  # count hand-overs
        handed.append(a)
        return submit_to_thread(*a, **k)

    monkeypatch.setattr(executor, "submit", counted)
    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    threading.Timer(0.5, release.set).start()
    t0 = time.monotonic()
    res = client.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
    waited = time.monotonic() - t0
    thread.join()
    assert res.status_code == 200, res.text
    if p.store.engine.dialect.name == "sqlite":
        assert len(handed) == 1  # after INLINE_PATIENCE on the loop
        assert waited > 0.4  # it waited for the other writer instead of failing
    else:
        assert handed == []  # PostgreSQL: on the loop, awaiting
    again = client.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
    assert again.json()["annotation_id"] == res.json()["annotation_id"]


def test_a_waiting_queue_transaction_does_not_hold_up_other_requests(served: Served) -> None:
    """A submit that must wait (SQLite: for the write lock; PostgreSQL: for a row lock, awaited on
    the event loop) leaves the server free to answer everyone else meanwhile."""
    import threading
    import time

    p, app, names = served
    client, _ = login(app, names["annotator"])
    task = client.post("/api/next").json()
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another session keeps the write lock (SQLite) or the row (PostgreSQL)
        with p.store.engine.begin() as conn:
            lock = "" if p.store.engine.dialect.name == "sqlite" else " FOR UPDATE"
            conn.exec_driver_sql(f"SELECT id FROM assignments WHERE id = {int(task['assignment_id'])}{lock}")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    result: dict[str, float] = {}

    def submit() -> None:
        res = client.post(f"/api/assignments/{task['assignment_id']}/submit", json={"value": "pos"})
        result["status"], result["done_at"] = res.status_code, time.monotonic()

    with client:  # one event loop (the client's portal) serves both requests, as in the server
        submitter = threading.Thread(target=submit)
        submitter.start()
        time.sleep(0.3)  # the submit is now waiting for the lock
        t0 = time.monotonic()
        other = client.get("/api/me")
        answered = time.monotonic()
        release.set()
        holder.join()
        submitter.join(10)
    assert other.status_code == 200
    assert "done_at" not in result or result["done_at"] > answered  # answered while the submit waited
    assert answered - t0 < 0.25
    assert result["status"] == 200


def test_session_key_is_made_once_and_never_empty(served: Served) -> None:
    from truthset.core.config import STATE_DIR
    from truthset.core.errors import TruthsetError
    from truthset.services.projects import session_key

    p, _, _ = served
    key = session_key(p)
    assert len(key) >= 32 and session_key(p) == key
    assert not [f for f in (p.root / STATE_DIR).iterdir() if f.name.startswith("secret_key.")]  # no temp file left
    (p.root / STATE_DIR / "secret_key").write_text("")
    with pytest.raises(TruthsetError, match="no usable session key"):
        session_key(p)


def test_a_session_users_changed_role_applies_once_the_cache_entry_expires(served: Served) -> None:
    import time

    from sqlalchemy import update

    from truthset.server.app import create_app
    from truthset.store.models import User

    p, _, names = served
    p.settings = p.settings.model_copy(update={"account_cache_seconds": 2.0})
    app = create_app(p)
    reviewer, _ = login(app, names["reviewer"])
    assert reviewer.get("/api/review/queue").status_code == 200
    with p.store.engine.begin() as conn:
        conn.execute(update(User).where(User.name == names["reviewer"]).values(role="annotator"))
    assert reviewer.get("/api/review/queue").status_code == 200  # cached for up to 2 s
    time.sleep(2.1)
    assert reviewer.get("/api/review/queue").status_code == 403


def test_the_running_server_keeps_its_start_up_objects_out_of_garbage_collection(served: Served) -> None:
    """Full collections walked every object made at start-up (84-117 ms pauses under load);
    the server freezes them once it has started, and lets them go when it stops."""
    import gc

    from fastapi.testclient import TestClient

    _, app, _ = served
    before = gc.get_freeze_count()
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
        assert gc.get_freeze_count() > before + 10_000
    assert gc.get_freeze_count() == 0
