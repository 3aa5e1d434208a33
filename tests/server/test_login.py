"""Login protection (issue 10, finding 4) and the login form (issue 11, item 13).

Each HTTP test failed on main: 50 wrong passwords in a row were all answered and the right
one then logged in, every login ran argon2 at once (40 parallel clients: 1 GB), and a failed
login cleared the name field.
"""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import PASSWORD, Reply, Served
from tests.support import group1
from truthset.server.app import create_app
from truthset.services.projects import Project


def _form(client: TestClient, name: str, password: str) -> Reply:
    page = client.get("/login")
    csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf}, follow_redirects=False)


def test_repeated_failures_for_a_name_get_429_with_retry_after(served: Served) -> None:
    """Five wrong passwords are answered; the sixth attempt, even with the right password, gets
    429 with Retry-After and a clear message, without a password check."""
    _, app, names = served
    client, name = TestClient(app), names["annotator"]
    for _ in range(5):
        res = _form(client, name, "wrong password")
        assert res.status_code == 401 and "Wrong name or password" in res.text
    res = _form(client, name, PASSWORD)
    assert res.status_code == 429, res.text
    assert int(res.headers["retry-after"]) >= 1
    assert "Too many failed logins; try again in" in res.text
    assert f'value="{name}"' in res.text  # the name is kept
    # another name from another address is not held up
    other = TestClient(app, client=("10.0.0.9", 5000))
    assert _form(other, names["reviewer"], PASSWORD).status_code == 303


def test_failures_from_one_address_across_names_are_bounded_too(served: Served) -> None:
    p, _, names = served
    p.settings = p.settings.model_copy(update={"login_free_failures_per_address": 8})
    app = create_app(p)
    client = TestClient(app)
    for i in range(8):
        assert _form(client, f"guess-{i}", "wrong password").status_code == 401
    assert _form(client, names["admin"], PASSWORD).status_code == 429
    assert _form(TestClient(app, client=("10.0.0.7", 5000)), names["admin"], PASSWORD).status_code == 303


def test_a_good_login_clears_the_names_count(served: Served) -> None:
    _, app, names = served
    client = TestClient(app)
    for _ in range(4):
        _form(client, names["annotator"], "wrong password")
    assert _form(client, names["annotator"], PASSWORD).status_code == 303
    for _ in range(5):
        assert _form(TestClient(app), names["annotator"], "wrong password").status_code == 401


def test_password_checks_run_at_most_login_concurrency_at_once(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight parallel logins with login_concurrency 2: never more than two argon2 checks at once."""
    from truthset.services import users

    p, _, names = served
    p.settings = p.settings.model_copy(update={"login_concurrency": 2})
    app = create_app(p)
    running, most = 0, 0
    lock = threading.Lock()
    real = users.authenticate

    def counted(project: Project, name: str, password: str) -> users.Account | None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)
            return real(project, name, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(users, "authenticate", counted)
    statuses: list[int] = []
    with TestClient(app) as shared:  # one event loop for every request, as in the server
        forms = []
        for _ in range(8):  # eight browsers: each its own session cookie and CSRF token
            shared.cookies.clear()
            page = shared.get("/login")
            csrf = group1(r'name="csrf" value="([^"]+)"', page.text)
            forms.append((page.cookies["truthset_session"], csrf))

        def one(cookie: str, csrf: str) -> None:
            res = shared.post(
                "/login",
                data={"name": names["annotator"], "password": PASSWORD, "csrf": csrf},
                headers={"cookie": f"truthset_session={cookie}"},
                follow_redirects=False,
            )
            statuses.append(res.status_code)

        threads = [threading.Thread(target=one, args=form) for form in forms]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert statuses.count(303) == 8, statuses
    assert most == 2


def test_a_failed_login_keeps_the_typed_name(served: Served) -> None:
    _, app, names = served
    res = _form(TestClient(app), "someone <b>bold</b>", "wrong password")
    assert 'value="someone &lt;b&gt;bold&lt;/b&gt;"' in res.text


@pytest.mark.parametrize("free, steps", [(5, [(5, 1.0), (6, 2.0), (7, 4.0), (20, 300.0)]), (1, [(1, 1.0), (2, 2.0)])])
def test_the_back_off_doubles_up_to_its_maximum_and_expires(
    free: int, steps: list[tuple[int, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthset.server import throttle as mod
    from truthset.server.throttle import LoginThrottle

    clock = [1000.0]
    monkeypatch.setattr("truthset.server.throttle.time.monotonic", lambda: clock[0])
    t = LoginThrottle(free_per_name=free, free_per_address=1000, max_delay=300)
    failures = 0
    for count, wait in steps:
        while failures < count:
            t.failed("alice", "1.2.3.4")
            failures += 1
        assert t.retry_after("alice", "1.2.3.4") == pytest.approx(wait)
        assert t.retry_after("bob", "5.6.7.8") == 0
    clock[0] += 300.0
    assert t.retry_after("alice", "1.2.3.4") == 0
    clock[0] += mod.FORGET_AFTER + 1
    t.failed("alice", "1.2.3.4")  # counted afresh: one failure is free again
    assert t.retry_after("alice", "1.2.3.4") == (0 if free > 1 else pytest.approx(1.0))
