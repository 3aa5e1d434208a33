"""SQLAlchemy 2 models: the data model of DESIGN.md.

JSON documents (item payloads, annotation values) are stored as text that truthset
serialises itself: the import computes the content hash over exactly those bytes, and the
same column type works on SQLite and PostgreSQL. Annotations are append-only: a correction
or a label migration writes a new row whose ``supersedes_id`` points at the row it replaces,
so history is never lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive one is taken as UTC already (SQLite hands back naive date-times,
    and it keeps no zone: an aware value must be converted before it is stored)."""
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(String(40))
    config: Mapped[str] = mapped_column(Text, default="{}")
    schema_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SchemaVersion(Base):
    """The label schema and guide at one version. Never updated."""

    __tablename__ = "schema_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    schema: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Batch(Base):
    """One import: where it came from, what it added, what it rejected."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(20))
    options: Mapped[str] = mapped_column(Text, default="{}")
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    items_added: Mapped[int] = mapped_column(Integer, default=0)
    annotations_added: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(20), default="committed")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportFinding(Base):
    """A row of an import that was rejected, merged as a duplicate, or otherwise noted."""

    __tablename__ = "import_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # rejected | duplicate | conflict | skipped
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # an import finds items with the same content by the first 64 bits of the content hash
        # (the full hash is compared in Python): 8-byte keys instead of 64-character text keep
        # this random-order index small enough to stay cached (migration 0011). Not unique: a
        # 64-bit collision of two contents must not stop an import; imports into one project
        # are serialised (SQLite's single writer, an advisory lock on PostgreSQL)
        Index("ix_items_content_key", "project_id", "content_key"),
        # an external id identifies an item: a re-import finds it by its id (migration 0011)
        Index(
            "ix_items_external_id",
            "project_id",
            "external_id",
            postgresql_where=text("external_id IS NOT NULL"),
            sqlite_where=text("external_id IS NOT NULL"),
        ),
        # keyset pagination (exports, listings) walks a project's items by id
        Index("ix_items_project_page", "project_id", "id"),
        # the annotation queue walks a project's not-yet-full items in queue order; id is the
        # tie-break of that order, so PostgreSQL reads the first row off the index instead of
        # sorting groups of 32 (SQLite has it implicitly: the rowid ends every index)
        Index("ix_items_queue", "project_id", "full", "queue_key", "id"),
        # a batch's items; its open items in queue order for due dates (services/batches.py)
        Index("ix_items_batch_queue", "batch_id", "full", "queue_key", "id"),
        # the "sequential" queue order: open items by id, of the project and of a batch. Partial
        # (only items still short of the overlap), so a claim never steps over full items and
        # an item that fills up leaves the index; migration 0008
        Index(
            "ix_items_open_by_id",
            "project_id",
            "id",
            postgresql_where=text('"full" IS false'),
            sqlite_where=text('"full" IS 0'),
        ),
        Index(
            "ix_items_batch_open_by_id",
            "batch_id",
            "id",
            postgresql_where=text('"full" IS false'),
            sqlite_where=text('"full" IS 0'),
        ),
        # PostgreSQL: room in each page, so the queue's n_open updates are HOT (no new index
        # entries, no dead ones for the next claim to step over); migration 0005
        {"postgresql_with": {"fillfactor": 70}},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the first 64 bits of ``content_hash`` as a signed integer (ix_items_content_key)
    content_key: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    payload: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    split: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: order in the annotation queue: the first 31 bits of the content hash (a stable shuffle)
    queue_key: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: annotate-stage assignments leased or done; the queue never lets it pass the overlap k
    n_open: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A person (or script) who annotates, reviews or administers; see services/users.py."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="annotator")
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: active; disabled (no login, no API token; ``truthset user enable`` undoes it); removed
    #: (the same for good: the annotations stay, attributed, and the name stays taken)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    #: sessions carry the generation they were made in; a bump (logout, new password or role,
    #: disable, remove) ends all of them
    session_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


#: the predicate of ix_assignments_open; queries that should use the index spell the status
#: as a literal (``status = 'leased'``), which the planners can match against it
OPEN_STATUSES = "status = 'leased' OR status = 'pending'"


class Assignment(Base):
    """Work to do: item x (user or anyone) x stage, leased while someone holds it."""

    __tablename__ = "assignments"
    __table_args__ = (
        # a project's open assignments (leased, pending re-annotation): the expired-lease sweep
        # and the re-annotation queue. Partial, so it stays as small as the work in hand, a
        # submit drops the row from it instead of adding one, and no plan can take it for a
        # count of done work (PostgreSQL did: the "done" progress count walked every done
        # assignment of the project for each task); migration 0007
        Index(
            "ix_assignments_open",
            "project_id",
            "stage",
            "status",
            "leased_until",
            postgresql_where=text(OPEN_STATUSES),
            sqlite_where=text(OPEN_STATUSES),
        ),
        # an annotator's own work: what they hold, what they have done (asked on every task)
        # user first, then project: a user's held lease and done count are index-only look-ups
        Index("ix_assignments_user", "user_id", "project_id", "stage", "status"),
        # an annotator is never handed the same item twice in a stage
        UniqueConstraint("item_id", "user_id", "stage", name="uq_assignments_item_user_stage"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    # looked up by item through uq_assignments_item_user_stage, whose first column it is
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    stage: Mapped[str] = mapped_column(String(20), default="annotate")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Annotation(Base):
    """One judgement. Append-only: corrections are new rows that supersede old ones."""

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_item_user", "item_id", "user_id"),
        # an item's latest model pre-label, read with every task the queue hands out. Partial:
        # human annotations (nearly all rows) never touch it. Without it PostgreSQL walked
        # the primary key backwards for "ORDER BY id DESC LIMIT 1" (1,000 pages a task at
        # 2,300 annotations); migration 0007
        Index(
            "ix_annotations_prelabel",
            "item_id",
            "id",
            postgresql_where=text("source = 'model'"),
            sqlite_where=text("source = 'model'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    value: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    lead_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="human")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"), nullable=True, index=True)
    #: the queue assignment this answers; unique, so a retried submit can never add a copy
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True, unique=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")
    #: the item's gold answer given as an annotation (Label Studio ``ground_truth``): shown to
    #: admins only, like the gold table; migration 0010
    ground_truth: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Media(Base):
    """The image behind an item of an image project: the only files the app ever serves.

    Recorded when an import named it and checked it (``truthset.data.media``); looked up by
    item id, never by anything in the item's payload. ``kind``: ``file`` (``location`` is the
    resolved path), ``upload`` (bytes pushed through the API, kept in the project's media
    store as ``<sha256>.<ext>``) or ``url`` (an allowed http(s) URL). Migration 0010.
    """

    __tablename__ = "media"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    location: Mapped[str] = mapped_column(Text)
    mime: Mapped[str | None] = mapped_column(String(40), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Gold(Base):
    """The known true value of an item; hidden from annotators."""

    __tablename__ = "gold"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    value: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(40), default="import")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"), nullable=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verdict: Mapped[str] = mapped_column(String(20))  # accept | reject | correct
    reason: Mapped[str] = mapped_column(Text, default="")
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    """A QC or training run: what went in (config, data hash, seed) and what came out."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[str] = mapped_column(Text, default="{}")
    dataset_hash: Mapped[str] = mapped_column(String(64), default="")
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metrics: Mapped[str] = mapped_column(Text, default="{}")
    artifacts: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: training runs (migration 0013): what a rerun must match to give the same numbers
    schema_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    library_versions: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    split: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class Consensus(Base):
    __tablename__ = "consensus"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    method: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    posterior: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataIssue(Base):
    """A ticket about the data: open -> triaged -> escalated -> resolved / wont_fix.

    ``items`` (JSON list of item ids) and ``history`` (JSON list) are what a skip in the queue
    writes; the tracker (services/data_issues.py) keeps its history in ``data_issue_events``
    and its links in ``data_issue_links`` (migration 0015). ``fingerprint`` names what raised an
    automatic issue (an anomaly flag, a drifted batch), so raising it again updates it instead
    of opening a copy.
    """

    __tablename__ = "data_issues"
    __table_args__ = (Index("ix_data_issues_fingerprint", "project_id", "fingerprint"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    items: Mapped[str] = mapped_column(Text, default="[]")
    severity: Mapped[str] = mapped_column(String(20), default="medium")
    status: Mapped[str] = mapped_column(String(20), default="open")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    history: Mapped[str] = mapped_column(Text, default="[]")
    is_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: what raised it: check, anomaly, drift, skip or manual
    source: Mapped[str] = mapped_column(String(20), default="manual", server_default="manual")
    fingerprint: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: the project's schema version when the issue was opened (a fix must come after it)
    schema_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DataIssueEvent(Base):
    """One step in a data issue's history: opened, moved, comment, assigned, linked, updated."""

    __tablename__ = "data_issue_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("data_issues.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    event: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataIssueLink(Base):
    """What a data issue is about: an item, a schema version, a guide section or a finding."""

    __tablename__ = "data_issue_links"
    __table_args__ = (UniqueConstraint("issue_id", "kind", "target", name="uq_data_issue_links_target"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("data_issues.id"), index=True)
    #: item | schema_version | guide_section | finding | batch
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Finding(Base):
    """What a data check (``truthset check``) found: a rule violation, a duplicate cluster, a
    probable label error... with the items it concerns (``finding_items``) and, once a reviewer
    looked, their verdict (the label was wrong / right / ambiguous), from which each check's
    precision is measured. A re-run replaces the findings of the same check version that have
    no verdict; ``key`` identifies the same finding across runs (migration 0012)."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_project_check", "project_id", "check", "check_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    check: Mapped[str] = mapped_column(String(80))
    check_version: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: when ``truthset check --send-to-review`` put the finding's items in the review queue
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    verdict_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    verdict_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FindingItem(Base):
    """An item a finding concerns (a duplicate cluster names several)."""

    __tablename__ = "finding_items"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)


class RunPrediction(Base):
    """A training run's prediction for one evaluated item (migration 0013).

    ``side`` is ``test`` (the frozen test set every later run is compared on) or ``val``;
    ``label`` the final label it was scored against and ``pred`` the prediction (both JSON
    text); ``proba`` the class probabilities as a JSON list in the run's class order.
    """

    __tablename__ = "run_predictions"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    side: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(Text)
    pred: Mapped[str] = mapped_column(Text)
    proba: Mapped[str | None] = mapped_column(Text, nullable=True)


class ProjectMember(Base):
    """A user's role in one project, in place of their role (``users.role``) there: where one
    database holds several projects (PostgreSQL; a workspace), a user may review one project and
    only annotate another. No row: the user's own role. Migration 0014."""

    __tablename__ = "project_members"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
