"""The data-issue tracker: problems with the data, from triage to closure.

An issue has a kind (:data:`KINDS`), a severity, an owner and a status that moves along
:data:`TRANSITIONS` (open → triaged → escalated → resolved / wont_fix; a closed issue can be
reopened). Every change is a step in its history (``data_issue_events``); it links to what it
is about (items, schema versions, guide sections, findings, batches). Issues are raised by
hand, by checks, by anomaly flags (:mod:`truthset.services.anomalies`), by drift
(:mod:`truthset.services.drift`) and by annotators' skips in the queue (those are stored with
kind ``skip:<reason>`` and shown under the kind the reason names).

Automatic issues carry a ``fingerprint`` (what raised them): :func:`raise_issue` updates the
issue with that fingerprint instead of opening a copy, and reopens it if it was resolved
(a won't-fix stays closed: someone decided it is not a problem).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.services.projects import Project
from truthset.store.models import utcnow
from truthset.store.repo import data_issues as repo

KINDS = ("ambiguous_definition", "broken_data", "duplicate", "drift", "annotator_quality", "guideline_gap", "other")
SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "triaged", "escalated", "resolved", "wont_fix")
CLOSED = ("resolved", "wont_fix")
SOURCES = ("manual", "check", "anomaly", "drift", "skip")
LINK_KINDS = ("item", "schema_version", "guide_section", "finding", "batch")
#: status -> the statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("triaged", "escalated", "resolved", "wont_fix"),
    "triaged": ("escalated", "resolved", "wont_fix", "open"),
    "escalated": ("triaged", "resolved", "wont_fix"),
    "resolved": ("open",),
    "wont_fix": ("open",),
}
#: a skip reason in the annotation queue -> the kind of issue it raises
SKIP_KINDS = {
    "ambiguous": "ambiguous_definition",
    "broken data": "broken_data",
    "guideline gap": "guideline_gap",
    "other": "other",
}
#: kinds a schema edit can resolve
SCHEMA_KINDS = ("guideline_gap", "ambiguous_definition")
CSV_FIELDS = (
    "id",
    "kind",
    "severity",
    "status",
    "owner",
    "title",
    "body",
    "source",
    "items",
    "links",
    "created_at",
    "updated_at",
)


def kind_of(stored: str) -> str:
    """The tracker's kind of a stored kind (a skip is stored as ``skip:<reason>``)."""
    if stored.startswith("skip:"):
        return SKIP_KINDS.get(stored[5:], "other")
    return stored


def _stored_kinds(kind: str) -> list[str]:
    return [kind, *(f"skip:{r}" for r, k in SKIP_KINDS.items() if k == kind)]


def _choice(field: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field} {value!r}: use one of {', '.join(allowed)}")
    return value


def _user(tx: Any, name: str, field: str) -> int:
    found = repo.user_id(tx, name)
    if found is None or found[2] != "active":
        raise NotFound(f"{field} {name!r}: no active user of that name; see 'truthset user list'")
    return found[0]


def user_id_of(project: Project, name: str | None) -> int | None:
    """The id of the active user called ``name`` (the author of a CLI change), or None."""
    if name is None:
        return None
    with project.store.read() as tx:
        return _user(tx, name, "--by")


def _links(links: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for kind, target in links:
        _choice("link kind", kind, LINK_KINDS)
        text = str(target).strip()
        if not text or len(text) > 200:
            raise InvalidInput(f"link {kind}: give a target of 1 to 200 characters; got {text[:40]!r}")
        out.append((kind, text))
    return out


def open_issue(
    project: Project,
    *,
    kind: str,
    title: str,
    body: str = "",
    severity: str = "medium",
    source: str = "manual",
    owner: str | None = None,
    items: Sequence[int] = (),
    links: Iterable[tuple[str, Any]] = (),
    author_id: int | None = None,
    fingerprint: str | None = None,
) -> int:
    """Open an issue and record who opened it; returns its id."""
    _choice("kind", kind, KINDS)
    _choice("severity", severity, SEVERITIES)
    _choice("source", source, SOURCES)
    if not title.strip():
        raise InvalidInput("title: give the issue a one-line title")
    all_links = _links([*(("item", int(i)) for i in items), *links])
    now = utcnow()
    with project.store.write() as tx:
        owner_id = None if owner is None else _user(tx, owner, "owner")
        issue = repo.add(
            tx,
            project.id,
            kind=kind,
            title=title.strip()[:500],
            body=body,
            severity=severity,
            status="open",
            source=source,
            owner_id=owner_id,
            items=json.dumps([int(i) for i in items]),
            history="[]",
            is_auto=source != "manual",
            fingerprint=fingerprint,
            schema_version=project.schema_version,
            created_at=now,
            updated_at=now,
        )
        repo.add_event(
            tx, issue, event="opened", author_id=author_id, at=now, to_status="open", note=f"raised by {source}"
        )
        repo.add_links(tx, issue, all_links, now)
    return issue


def raise_issue(
    project: Project,
    *,
    fingerprint: str,
    kind: str,
    title: str,
    body: str,
    source: str,
    severity: str = "medium",
    items: Sequence[int] = (),
    links: Iterable[tuple[str, Any]] = (),
) -> tuple[int, str]:
    """Open the issue for ``fingerprint``, or update the one already raised for it.

    Returns ``(issue id, what happened)``: ``opened``, ``updated`` (its text changed),
    ``unchanged``, ``reopened`` (it was resolved and the problem is back) or ``wont_fix``
    (someone closed it as not a problem: left alone).
    """
    with project.store.read() as tx:
        found = repo.by_fingerprint(tx, project.id, fingerprint)
    if found is None:
        return open_issue(
            project,
            kind=kind,
            title=title,
            body=body,
            severity=severity,
            source=source,
            items=items,
            links=links,
            fingerprint=fingerprint,
        ), "opened"
    issue = found
    if issue.status == "wont_fix":
        return int(issue.id), "wont_fix"
    now = utcnow()
    with project.store.write() as tx:
        repo.add_links(tx, issue.id, _links([*(("item", int(i)) for i in items), *links]), now)
        if issue.status == "resolved":
            repo.change(tx, issue.id, status="open", title=title, body=body, updated_at=now)
            repo.add_event(
                tx,
                issue.id,
                event="moved",
                author_id=None,
                at=now,
                from_status="resolved",
                to_status="open",
                note=f"raised again by {source}: {title}",
            )
            return int(issue.id), "reopened"
        if issue.title == title and issue.body == body:
            return int(issue.id), "unchanged"
        repo.change(tx, issue.id, title=title, body=body, updated_at=now)
        repo.add_event(tx, issue.id, event="updated", author_id=None, at=now, note=f"raised again by {source}")
    return int(issue.id), "updated"


def _dict(row: Any, links: Sequence[Any], events: Sequence[Any] | None = None) -> dict[str, Any]:
    issue = row
    items = [int(i) for i in json.loads(issue.items or "[]")]
    linked: dict[str, list[str]] = {k: [] for k in LINK_KINDS}
    for link in links:
        linked.setdefault(link.kind, []).append(link.target)
    items += [int(t) for t in linked.pop("item") if int(t) not in items]
    source = "skip" if issue.kind.startswith("skip:") else issue.source
    out: dict[str, Any] = {
        "id": int(issue.id),
        "kind": kind_of(issue.kind),
        "severity": issue.severity,
        "status": issue.status,
        "owner": row.owner,
        "title": issue.title,
        "body": issue.body or "",
        "source": source,
        "items": items,
        "links": {k: v for k, v in linked.items() if v},
        "schema_version": issue.schema_version,
        "created_at": issue.created_at.isoformat(),
        "updated_at": (issue.updated_at or issue.created_at).isoformat(),
        "moves": list(TRANSITIONS[issue.status]) if issue.status in TRANSITIONS else [],
    }
    if events is not None:
        history = [
            {
                "at": e.created_at.isoformat(),
                "author": e.author,
                "event": e.event,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in events
        ]
        # a skip in the queue records its opening in the issue row itself: it comes first
        opened = [
            {
                "at": h.get("at"),
                "author": None,
                "event": h.get("event"),
                "from": None,
                "to": "open",
                "note": h.get("note", ""),
            }
            for h in json.loads(issue.history or "[]")
        ]
        out["history"] = opened + history
    return out


def get_issue(project: Project, issue_id: int) -> dict[str, Any]:
    """One issue with its links and its history."""
    with project.store.read() as tx:
        row = _require(tx, project, issue_id)
        return _dict(row, repo.links(tx, [issue_id]), repo.events(tx, issue_id))


def list_issues(
    project: Project,
    *,
    status: Sequence[str] = (),
    kind: Sequence[str] = (),
    owner: str | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """The project's issues, newest first; ``open_only``: not resolved or won't-fix."""
    for s in status:
        _choice("status", s, STATUSES)
    for k in kind:
        _choice("kind", k, KINDS)
    statuses = list(status) or ([s for s in STATUSES if s not in CLOSED] if open_only else [])
    with project.store.read() as tx:
        owner_id = None if owner is None else _user(tx, owner, "owner")
        rows = repo.listing(
            tx, project.id, statuses=statuses, kinds=[s for k in kind for s in _stored_kinds(k)], owner_id=owner_id
        )
        links = repo.links(tx, [r.id for r in rows])
    by_issue: dict[int, list[Any]] = {}
    for link in links:
        by_issue.setdefault(int(link.issue_id), []).append(link)
    return [_dict(r, by_issue.get(int(r.id), [])) for r in rows]


def _require(tx: Any, project: Project, issue_id: int) -> Any:
    row = repo.get(tx, project.id, issue_id)
    if row is None:
        raise NotFound(f"issue {issue_id}: no such data issue in this project; see 'truthset issues list'")
    return row


def move(project: Project, issue_id: int, to: str, *, note: str = "", author_id: int | None = None) -> dict[str, Any]:
    """Move an issue to status ``to``; a move :data:`TRANSITIONS` does not allow is refused."""
    _choice("status", to, STATUSES)
    now = utcnow()
    with project.store.write() as tx:
        issue = _require(tx, project, issue_id)
        allowed = TRANSITIONS[issue.status]
        if to not in allowed:
            raise Conflict(f"issue {issue_id} is {issue.status}; it can move to {', '.join(allowed)}, not {to}")
        repo.change(tx, issue_id, status=to, updated_at=now)
        repo.add_event(
            tx, issue_id, event="moved", author_id=author_id, at=now, from_status=issue.status, to_status=to, note=note
        )
    return get_issue(project, issue_id)


def assign(project: Project, issue_id: int, owner: str | None, *, author_id: int | None = None) -> dict[str, Any]:
    """Make the active user ``owner`` the issue's owner (None: nobody)."""
    now = utcnow()
    with project.store.write() as tx:
        _require(tx, project, issue_id)
        owner_id = None if owner is None else _user(tx, owner, "owner")
        repo.change(tx, issue_id, owner_id=owner_id, updated_at=now)
        repo.add_event(
            tx, issue_id, event="assigned", author_id=author_id, at=now, note=f"owner: {owner}" if owner else "no owner"
        )
    return get_issue(project, issue_id)


def comment(project: Project, issue_id: int, text: str, *, author_id: int | None = None) -> dict[str, Any]:
    """Add a comment to an issue's history."""
    if not text.strip():
        raise InvalidInput("comment: the text is empty; write what you found or decided")
    if len(text) > 10000:
        raise InvalidInput(f"comment: {len(text):,} characters; keep it under 10,000")
    now = utcnow()
    with project.store.write() as tx:
        _require(tx, project, issue_id)
        repo.change(tx, issue_id, updated_at=now)
        repo.add_event(tx, issue_id, event="comment", author_id=author_id, at=now, note=text.strip())
    return get_issue(project, issue_id)


def link(project: Project, issue_id: int, kind: str, target: Any, *, author_id: int | None = None) -> dict[str, Any]:
    """Link an issue to an item, schema version, guide section, finding or batch."""
    pairs = _links([(kind, target)])
    now = utcnow()
    with project.store.write() as tx:
        _require(tx, project, issue_id)
        if repo.add_links(tx, issue_id, pairs, now):
            repo.add_event(tx, issue_id, event="linked", author_id=author_id, at=now, note=f"{kind} {pairs[0][1]}")
    return get_issue(project, issue_id)


def resolve_with_schema(
    project: Project, issue_id: int, *, version: int | None = None, author_id: int | None = None
) -> dict[str, Any]:
    """Resolve a guideline-gap (or ambiguous-definition) issue by the schema edit that fixed it.

    ``version``: the schema version of the edit (default: the project's current one). It must
    be newer than the version the issue was opened under, else no edit has happened since.
    """
    version = project.schema_version if version is None else version
    with project.store.read() as tx:
        issue = _require(tx, project, issue_id)
    kind = kind_of(issue.kind)
    if kind not in SCHEMA_KINDS:
        raise InvalidInput(
            f"issue {issue_id} is a {kind} issue; a schema edit resolves {' or '.join(SCHEMA_KINDS)} "
            "issues. Use 'truthset issues move' instead"
        )
    opened_under = issue.schema_version or 0
    if version <= opened_under or version > project.schema_version:
        raise InvalidInput(
            f"schema version {version}: the issue was opened under version {opened_under} and the "
            f"current version is {project.schema_version}; edit the schema in truthset.yaml "
            "(or 'truthset schema ...') first, then resolve with the new version"
        )
    link(project, issue_id, "schema_version", version, author_id=author_id)
    return move(project, issue_id, "resolved", note=f"resolved by schema version {version}", author_id=author_id)


def export_csv(project: Project, path: Path, issues: Sequence[dict[str, Any]] | None = None) -> int:
    """Write issues (default: all) as CSV for another tracker; returns the number of rows."""
    rows = list_issues(project) if issues is None else issues
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    **{k: r.get(k) for k in CSV_FIELDS},
                    "owner": r.get("owner") or "",
                    "items": " ".join(str(i) for i in r["items"]),
                    "links": "; ".join(f"{k}:{t}" for k, ts in r["links"].items() for t in ts),
                }
            )
    return len(rows)
