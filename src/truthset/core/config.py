"""Settings and the project file ``truthset.yaml``.

Two kinds of configuration:

* **Settings** of the running program (database URL, chunk size, ...): one declared table of
  (name, default, help) in :data:`SETTINGS`. Values come from ``TRUTHSET_<NAME>`` environment
  variables, read when :func:`load_settings` is called, never at import time.
* **The project file** ``truthset.yaml``: the task, the label schema, quality and queue
  options. Validated with pydantic; an error names the file, the key, what was found and
  what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from truthset.core.errors import ConfigError, SchemaError
from truthset.core.schema import LabelSchema, TaskType, require_unique_names

PROJECT_FILE = "truthset.yaml"
STATE_DIR = ".truthset"


@dataclass(frozen=True)
class Setting:
    """One program setting: its name, default and the help shown in docs and ``--help``."""

    name: str
    default: str | int | float | None
    help: str

    @property
    def env(self) -> str:
        return "TRUTHSET_" + self.name.upper()


class Settings(BaseModel):
    """Every program setting, typed; read once from ``TRUTHSET_<NAME>`` variables by
    :func:`load_settings`. The field descriptions are the help in docs/config.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store. Default: SQLite in <project>/.truthset/truthset.db. "
        "Example: postgresql+psycopg://user@host/db",
    )
    import_chunk_rows: int = Field(20000, ge=1, description="Rows per chunk while importing; bounds memory.")
    import_max_field_chars: int = Field(
        1 << 20,
        ge=1,
        description="Longest value (characters) an import accepts; a longer one makes a rejected "
        "row, read without holding it in memory (a line or JSON element may be 4 times this long).",
    )
    import_parallel_bytes: int = Field(
        8 * 2**20, ge=0, description="Files at least this large are read in a second process while the first writes."
    )
    sqlite_busy_timeout_ms: int = Field(30000, ge=0, description="How long a SQLite writer waits for the lock.")
    server_db_threads: int = Field(
        0,
        ge=0,
        description="How many annotation-queue transactions a server process runs at once. 0: one on "
        "SQLite (it has one writer; the thread it waits on when the lock is taken), four on PostgreSQL "
        "(pooled asynchronous connections).",
    )
    account_cache_seconds: float = Field(
        2,
        ge=0,
        description="How long a server process reuses a looked-up API token or session user; a changed "
        "role, a new token or a removed user takes effect within this time. 0 looks up every request.",
    )
    max_body_bytes: int = Field(
        2**20,
        ge=1,
        description="Largest request body the server accepts (bytes), for every route but item "
        "pushes; a larger one is answered 413, also when it is sent without a Content-Length.",
    )
    max_items_body_bytes: int = Field(
        32 * 2**20, ge=1, description="Largest body of an item push (POST /api/items), in bytes; split larger pushes."
    )
    login_concurrency: int = Field(
        2,
        ge=1,
        description="Password checks a server process runs at once (argon2: ~64 MiB and tens of ms of "
        "CPU each); further logins wait their turn (up to 10 s, then 503).",
    )
    login_free_failures: int = Field(
        5,
        ge=0,
        description="Failed logins for one name before each further attempt must wait (1 s, doubling "
        "up to login_backoff_max_seconds; earlier attempts get 429 with Retry-After).",
    )
    login_free_failures_per_address: int = Field(
        20,
        ge=0,
        description="Failed logins from one client address (any names) before the same back-off "
        "applies to the address. Behind a proxy, see docs/security.md so this is the client's address.",
    )
    login_backoff_max_seconds: float = Field(
        300, ge=0, description="Longest wait the login back-off imposes, in seconds."
    )
    https: bool = Field(
        False,
        description="1 when users reach the server over HTTPS (directly or through a proxy that "
        "terminates TLS): the session cookie gets the Secure flag and responses send "
        "Strict-Transport-Security.",
    )
    secret_key: str | None = Field(
        None,
        description="Key that signs session cookies (32+ characters). Default: a random key kept in "
        "<project>/.truthset/secret_key (mode 0600); set it so several servers share sessions.",
    )
    project: str | None = Field(
        None,
        description="Project folder served by `uvicorn --factory truthset.server.app:app_from_env` "
        "(set by `truthset serve --workers N`).",
    )
    password: str | None = Field(
        None,
        description="Password for `truthset user add` and `truthset user password` without a prompt (scripts, CI).",
    )


#: the declared table (name, default, help) of every setting, from :class:`Settings`
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name, f.default, f.description or "") for name, f in Settings.model_fields.items()
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from the environment (``TRUTHSET_*``) or its default."""
    env = os.environ if environ is None else environ
    given = {s.name: env[s.env] for s in SETTINGS if env.get(s.env) not in (None, "")}
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = next(s for s in SETTINGS if s.name == first["loc"][0])
        problem = "is not a whole number" if first["type"].startswith("int_") else first["msg"]
        raise ConfigError(
            f"environment variable {setting.env}={given[setting.name]!r} {problem}; {setting.help}"
        ) from exc


class QualityConfig(BaseModel):
    """Quality-control options of a project."""

    model_config = ConfigDict(extra="forbid")

    gold_threshold: float = Field(0.8, ge=0, le=1, description="Minimum accuracy on gold items.")
    agreement_level: Literal["nominal", "ordinal", "interval", "ratio"] | None = Field(
        None, description="Krippendorff level of this project's labels; unset: nominal for categories."
    )


class QueueConfig(BaseModel):
    """How annotation work is handed out (used by the annotation app)."""

    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(1, ge=1, le=50, description="Annotations wanted per item.")
    gold_rate: float = Field(0.0, ge=0, le=1, description="Share of hidden gold items mixed in.")
    order: Literal["random", "sequential", "uncertainty"] = Field(
        "random",
        description="Order in which items are handed out; uncertainty: most uncertain first, as ranked "
        "by the latest 'truthset prelabel' (items it did not rank follow in random order).",
    )
    lease_minutes: int = Field(30, ge=1, description="How long an assignment is held.")
    max_per_annotator: int | None = Field(
        None, ge=1, description="Most items one annotator is given in the annotate stage (unset: no limit)."
    )


class ActiveConfig(BaseModel):
    """Active learning: retrain the baseline as new labels come in, then re-rank the queue."""

    model_config = ConfigDict(extra="forbid")

    retrain_every: int | None = Field(
        None,
        ge=1,
        description="Retrain after this many new human labels since the last training run (unset: "
        "never automatically). The server retrains in a background thread; 'truthset train --if-due' does it "
        "from the command line or cron.",
    )
    in_server: bool = Field(
        True,
        description="Let the annotation server retrain in a background thread when a "
        "retrain is due (false: only 'truthset train --if-due' retrains).",
    )
    uncertainty: Literal["entropy", "margin", "least_confidence"] = Field(
        "entropy", description="How the refreshed pre-labels rank items when queue.order is uncertainty."
    )
    n_boot: int = Field(200, ge=0, description="Bootstrap replicates for the intervals of an automatic retrain.")


Stage = Literal["annotate", "review", "adjudicate"]
STAGES: tuple[Stage, ...] = ("annotate", "review", "adjudicate")


class ReviewConfig(BaseModel):
    """Which stages a project uses after annotation, and what reviewers see."""

    model_config = ConfigDict(extra="forbid")

    stages: list[Stage] = Field(
        default_factory=lambda: list(STAGES),
        description="review: accept/reject annotations; adjudicate: fix the final label.",
    )
    show_annotator_names: bool = Field(True, description="Show reviewers who gave each label.")


class LabelStudioConfig(BaseModel):
    """How this project's labels map onto a Label Studio labelling config (for round trips)."""

    model_config = ConfigDict(extra="forbid")

    from_name: str = Field("label", description="Label Studio control holding the labels.")
    to_name: str = Field("text", description="Label Studio object the control labels.")
    data_key: str = Field("text", description="Key of the task data holding the text.")


class MediaConfig(BaseModel):
    """Images of an image-classification project (other projects have none)."""

    model_config = ConfigDict(extra="forbid")

    allowed_url_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts whose http(s) image URLs items may name (lower case, e.g. images.example.org); "
        "the browser loads those from there. Empty: images are files imported with the items, or "
        "bytes pushed through the API.",
    )
    max_image_bytes: int = Field(20 * 2**20, ge=1, description="Largest image file accepted, in bytes.")


class AnomaliesConfig(BaseModel):
    """Thresholds of the anomaly flags (``truthset anomalies``; truthset.quality.AnomalyThresholds)."""

    model_config = ConfigDict(extra="forbid")

    min_annotations: int = Field(
        20, ge=1, description="Annotations an annotator needs before the per-annotator flags judge them."
    )
    fast_ratio: float = Field(
        3.0, gt=1, description="fast_annotator: the others' median seconds per item over the annotator's."
    )
    single_label_share: float = Field(
        0.9, gt=0, le=1, description="single_label: share of one label in an annotator's answers."
    )
    single_label_excess: float = Field(
        0.2, ge=0, le=1, description="single_label: points above the other annotators' share."
    )
    pattern_kappa: float = Field(
        0.8, gt=0, le=1, description="fixed_pattern: chance-corrected self-agreement at some lag."
    )
    gold_fail_run: int = Field(6, ge=1, description="gold_failures: gold items wrong in a row.")
    agreement_drop: float = Field(
        0.2, gt=0, description="agreement_drop: fall of a batch's agreement from the previous batch's."
    )
    agreement_min_items: int = Field(50, ge=1, description="agreement_drop: items with 2+ judgements a batch needs.")
    label_shift_js: float = Field(0.1, gt=0, le=1, description="label_shift: Jensen-Shannon distance between batches.")
    label_shift_min_count: int = Field(30, ge=1, description="label_shift: annotations each side needs.")
    stall_hours: float = Field(
        24.0, gt=0, description="stalled_queue: hours without an annotation while items are open."
    )


class DriftConfig(BaseModel):
    """Drift thresholds (``truthset drift`` and the check after each import); Evidently's defaults."""

    model_config = ConfigDict(extra="forbid")

    on_import: bool = Field(True, description="Compare each new batch with the earlier ones and raise a drift issue.")
    wasserstein: float = Field(0.1, gt=0, description="Numeric columns: normalised Wasserstein distance.")
    jensenshannon: float = Field(0.1, gt=0, le=1, description="Categorical columns: Jensen-Shannon distance.")
    domain_auc: float = Field(
        0.55, gt=0.5, lt=1, description="Text columns: cross-validated ROC-AUC of the domain classifier."
    )
    drift_share: float = Field(0.5, gt=0, le=1, description="Share of drifted columns that makes the data set drift.")


RuleKind = Literal[
    "required", "type", "range", "regex", "allowed", "unique", "max_length", "min_text_length", "label_in_schema"
]
#: what each rule kind needs besides ``field`` (label_in_schema needs no field)
RULE_NEEDS: dict[str, tuple[str, ...]] = {
    "required": (),
    "type": ("type",),
    "range": ("min|max",),
    "regex": ("pattern",),
    "allowed": ("values",),
    "unique": (),
    "max_length": ("length",),
    "min_text_length": ("length",),
    "label_in_schema": (),
}


class Rule(BaseModel):
    """A validation rule over the items (``truthset check``); see docs/checks.md."""

    model_config = ConfigDict(extra="forbid")

    kind: RuleKind = Field(description="What the rule checks (docs/checks.md lists each kind).")
    field: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r'^[^"\\]+$',
        description="Payload field checked (every kind but label_in_schema).",
    )
    severity: Literal["blocking", "warning"] = Field(
        "warning", description="blocking: 'truthset check' exits 1 while the rule has violations."
    )
    name: str | None = Field(None, max_length=60, description="Name in reports (default: kind:field).")
    type: Literal["string", "integer", "number", "boolean"] | None = Field(None, description="type: the JSON type.")
    min: float | None = Field(None, description="range: smallest allowed value.")
    max: float | None = Field(None, description="range: largest allowed value.")
    pattern: str | None = Field(None, description="regex: a Python regular expression the whole value matches.")
    values: list[str | int | float | bool] | None = Field(None, description="allowed: the allowed values.")
    length: int | None = Field(None, ge=0, description="max_length / min_text_length: the bound, in characters.")

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        if self.kind != "label_in_schema" and self.field is None:
            raise ValueError(f"a {self.kind} rule needs 'field': the payload field it checks")
        for need in RULE_NEEDS[self.kind]:
            if all(getattr(self, n) is None for n in need.split("|")):
                raise ValueError(f"a {self.kind} rule needs {' or '.join(repr(n) for n in need.split('|'))}")
        if self.pattern is not None:
            import re

            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' {self.pattern!r} is not a regular expression: {exc}") from exc
        return self

    @property
    def label(self) -> str:
        """How reports name the rule."""
        return self.name or (self.kind if self.field is None else f"{self.kind}:{self.field}")


class CostsConfig(BaseModel):
    """What a two-class model's mistakes cost: ``truthset train`` picks the decision threshold
    that minimises the expected cost on validation items and reports the cost on test."""

    model_config = ConfigDict(extra="forbid")

    false_positive: float = Field(ge=0, description="Cost of predicting the positive label for a negative item.")
    false_negative: float = Field(ge=0, description="Cost of missing a positive item.")
    positive: str | None = Field(None, description="The positive label (unset: the second label in sorted order).")


class ProjectConfig(BaseModel):
    """The content of ``truthset.yaml``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, description="Project name; unique within a store.")
    task: TaskType = Field(description="What annotators do; fixed once the project exists.")
    text_field: str = Field("text", description="Payload field holding the text (or image path).")
    schema_: LabelSchema = Field(default_factory=LabelSchema, alias="schema")
    quality: QualityConfig = Field(default_factory=QualityConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    active: ActiveConfig = Field(default_factory=ActiveConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    labelstudio: LabelStudioConfig = Field(default_factory=LabelStudioConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    anomalies: AnomaliesConfig = Field(default_factory=AnomaliesConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    rules: list[Rule] = Field(default_factory=list, description="Validation rules 'truthset check' runs.")
    costs: CostsConfig | None = Field(None, description="Costs of false positives and negatives (two-class tasks).")

    @property
    def schema(self) -> LabelSchema:  # type: ignore[override]
        return self.schema_

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True)
        if not data["rules"]:  # a project without rules keeps a file without the section
            del data["rules"]
        else:  # each rule with only the keys it uses
            data["rules"] = [{k: v for k, v in r.items() if v is not None} for r in data["rules"]]
        if data.get("costs") is None:
            data.pop("costs", None)  # optional section: absent rather than "costs: null"
        if data.get("active") == ActiveConfig().model_dump(mode="json"):
            data.pop("active", None)  # off unless set: files written before it stay as they were
        return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no type hints
    """Writes strings holding NEL/LS/PS in double quotes, escaped.

    PyYAML writes those characters raw with ``allow_unicode`` and reads them back as line
    breaks, which would silently change a definition (and its schema hash) on every save.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at ``parent`` (a pydantic error location) may hold."""
    model: Any = ProjectConfig
    for part in parent:
        if isinstance(part, int):
            continue
        field_ = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field_ is None:
            return []
        ann = field_.annotation
        args = getattr(ann, "__args__", None)
        model = args[0] if args else ann
        if not hasattr(model, "model_fields"):
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _describe(error: Mapping[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    found = error.get("input")
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed_keys = _allowed_keys(tuple(error["loc"][:-1]))
        return f"key '{key}': unknown key; allowed here: {', '.join(allowed_keys)} (remove it or check its spelling)"
    if kind == "missing":
        return f"key '{key}': required but missing"
    allowed = ctx.get("expected")
    text = f"key '{key}': found {found!r}"
    if allowed:
        text += f"; allowed: {allowed}"
    else:
        text += f"; {error.get('msg', 'invalid')}"
    return text


def parse_project_config(data: Any, *, source: str = PROJECT_FILE) -> ProjectConfig:
    """Validate a loaded mapping; errors name ``source``, the key, what was found and allowed."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of keys (name, task, schema, ...), got {type(data).__name__}")
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {details}") from exc
    try:
        require_unique_names(config.schema)
    except SchemaError as exc:
        raise ConfigError(f"{source}: key 'schema.labels': {exc}") from exc
    return config


def read_project_config(path: Path) -> ProjectConfig:
    """Read and validate a ``truthset.yaml`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found; run 'truthset init' to create it") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    return parse_project_config(data, source=str(path))


def write_project_config(path: Path, config: ProjectConfig) -> None:
    """Write ``truthset.yaml`` atomically (a crash never leaves half a file).

    A schema with two labels of the same name is refused (:class:`SchemaError`), so the file
    on disk is never one that :func:`read_project_config` would refuse.
    """
    require_unique_names(config.schema)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(config.to_yaml(), encoding="utf-8")
    os.replace(tmp, path)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(tp))
    if origin in (Union, UnionType):
        names = [_type_name(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in get_args(tp) else "")
    if origin is list:
        return f"list of {_type_name(get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _model_rows(model: Any, prefix: str) -> list[str]:
    rows = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{f.alias or name}"
        sub = f.annotation
        args = getattr(sub, "__args__", None)
        inner = args[0] if args and hasattr(args[0], "model_fields") else sub
        if hasattr(inner, "model_fields"):
            suffix = "[]." if args and inner is args[0] and "list" in str(sub) else "."
            rows.extend(_model_rows(inner, key + suffix))
            continue
        default = f.default if f.default_factory is None else f.default_factory()
        shown = "(required)" if f.is_required() else f"`{default!r}`"
        kind = _type_name(sub)
        rows.append(f"| `{key}` | {kind} | {shown} | {f.description or ''} |")
    return rows


def reference_markdown() -> str:
    """The configuration reference (docs/config.md), generated from the declarations."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `truthset.core.config` (`python -m truthset.core.config > docs/config.md`);",
        "a test fails when this page and the code disagree.",
        "",
        "## Settings (environment variables)",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
        *[f"| `{s.env}` | {s.default!r} | {s.help} |" for s in SETTINGS],
        "",
        f"## The project file `{PROJECT_FILE}`",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        *_model_rows(ProjectConfig, ""),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates docs/config.md
    print(reference_markdown(), end="")
