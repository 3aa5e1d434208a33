"""``truthset train``: a baseline on a project's final labels, evaluated and stored as a run.

Steps, each from a pure module: final labels (:mod:`.training_data`: adjudicated, else
consensus, else the latest judgement) -> split (:mod:`truthset.modeling.splits`: the
project's frozen test set once a first run chose it; else group-aware with duplicates on one
side, stratified, or by time) -> the text baseline (TF-IDF + logistic regression), optionally
weighted by each label's confidence -> every metric with a bootstrap interval -> temperature
scaling on validation -> a cost threshold when ``costs:`` is in truthset.yaml -> the model
saved with skops under ``.truthset/runs/<id>/`` and the run row with its predictions.

Everything random is seeded by ``seed``: the same data, config and seed give identical
metrics (a test runs it twice).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from truthset.core.config import STATE_DIR
from truthset.core.errors import InvalidInput, NotFound
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.services.training_data import default_choice, iter_final_labels, resolve
from truthset.services.training_types import WORD_ONLY_ABOVE, Dataset, Fitted
from truthset.services.training_types import (
    text_of as text_of,  # re-exported: other services read it here
)
from truthset.store.repo import runs as repo_runs

SPLITS = ("group", "stratified", "time")
#: near-duplicates for the group split: character 5-gram Jaccard similarity at least this
NEAR_THRESHOLD = 0.7
#: model files live here, under the project folder
RUNS_DIR = Path(STATE_DIR) / "runs"
#: the modules whose types a saved baseline may hold (anything else is refused on load)
TRUSTED_MODULES = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "builtins.",
    "truthset.modeling.",
    "sklearn_crfsuite.",
    "pycrfsuite.",
)


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def load_dataset(project: Project, labels: str | None, fields: list[str]) -> Dataset:
    """Every item with a final label, in item id order (unlabelled items are counted, not used).

    ``y`` is the label for single-label tasks and a stratification key for multi-label and NER
    (:func:`truthset.services.training_tasks.strata_key`); ``targets`` holds the labels as stored.
    Image projects read each item's recorded image (:func:`.training_tasks.attach_images`).
    """
    from truthset.services import training_tasks as tasks

    if project.task not in tasks.TASKS:
        raise InvalidInput(f"truthset train supports {', '.join(tasks.TASKS)} projects; this one is {project.task}")
    if project.task == "ner" and len(fields) != 1:
        raise InvalidInput(f"--field: an NER model reads the one field its spans point into; got {fields}")
    choice = default_choice(project) if labels is None else resolve(project, labels)
    ids, x, y, conf, data, ann, targets = [], [], [], [], [], [], []
    unlabelled = 0
    by_source: dict[str, int] = {}
    for page in iter_final_labels(project, choice):
        for r in page:
            if r.value is None:
                unlabelled += 1
                continue
            ids.append(r.item_id)
            x.append(text_of(r.data, fields))
            y.append(tasks.strata_key(project.task, r.value))
            targets.append(r.value)
            conf.append(1.0 if r.confidence is None else float(r.confidence))
            data.append(r.data)
            ann.append(r.annotators)
            by_source[str(r.source)] = by_source.get(str(r.source), 0) + 1
    ds = Dataset(
        np.asarray(ids, dtype=np.int64),
        x,
        np.asarray(y, dtype=object),
        np.asarray(conf),
        data,
        np.asarray(ann, dtype=np.int64),
        choice,
        unlabelled,
        by_source,
        targets,
    )
    return tasks.attach_images(project, ds) if project.task == tasks.IMAGE_TASK else ds


def dataset_hash(ds: Dataset) -> str:
    """SHA-256 over every labelled item (id, payload, final label): the data version of a run."""
    h = hashlib.sha256()
    for i, d, target in zip(ds.item_ids.tolist(), ds.data, ds.targets, strict=True):
        h.update(f"{i}\t{json.dumps(d, sort_keys=True, ensure_ascii=False)}\t{_label(target)}\n".encode())
    return h.hexdigest()


def code_version() -> str:
    """truthset's version, and the git commit of its source when it runs from a checkout."""
    try:
        version = metadata.version("truthset")
    except metadata.PackageNotFoundError:
        version = "unknown"
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        commit = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version


def frozen_test_ids(project: Project) -> list[int]:
    """Item ids of the project's frozen test set (the first training run's), empty if none."""
    with project.store.read() as tx:
        first = repo_runs.first_training_run_id(tx, project.id)
        if first is None:
            return []
        return [int(r[0]) for r in repo_runs.predictions(tx, first, "test")]


def split_groups(ds: Dataset, *, group_field: str | None, near_threshold: float | None) -> tuple[Any, dict[str, Any]]:
    """Each item's group for the split, and what went into it.

    Exact duplicates (after Unicode, case and spacing normalisation) always share a group;
    with ``near_threshold`` (a Jaccard similarity of character 5-gram sets, via MinHash and
    LSH: :func:`truthset.data.duplicates.near_duplicates`) near-duplicates do too; items that
    share a ``group_field`` value join the same group (connected components of both links).
    Images are grouped by their bytes (``ds.x`` holds each image's sha256) only.
    """
    from truthset.data.clusters import Clusters
    from truthset.data.duplicates import near_duplicates, normalize_texts

    n = len(ds)
    info: dict[str, Any] = {"near_duplicate_threshold": None}
    if near_threshold is not None and ds.inputs is None and n > 1:
        if not 0 < near_threshold < 1:
            raise InvalidInput(
                f"--near-threshold {near_threshold}: give a similarity between 0 and 1 (e.g. 0.7), "
                "or 'none' for exact duplicates only"
            )
        clusters = near_duplicates(ds.x, threshold=near_threshold).clusters
        info["near_duplicate_threshold"] = near_threshold
    else:
        clusters = Clusters.from_keys(normalize_texts(ds.x) if ds.inputs is None else ds.x)
    codes = clusters.cluster
    if group_field is not None:
        if not any(group_field in d for d in ds.data):
            raise InvalidInput(
                f"--group-field {group_field!r}: no item has that field; fields are "
                f"{sorted({k for d in ds.data[:100] for k in d})}"
            )
        import pandas as pd

        field_codes, _ = pd.factorize(
            pd.Series([d.get(group_field) for d in ds.data], dtype=object).map(
                lambda v: None if v is None or str(v) == "" else str(v)
            )
        )
        a, b = [], []
        for key in (codes, np.where(field_codes >= 0, field_codes, -1 - np.arange(n))):
            first = pd.Series(np.arange(n)).groupby(key).transform("min").to_numpy()
            a.append(np.arange(n))
            b.append(first)
        codes = Clusters.from_pairs(n, np.concatenate(a), np.concatenate(b)).cluster
    sizes = np.bincount(codes)
    info.update(groups=int(sizes.size), items_in_shared_groups=int(sizes[sizes > 1].sum()))
    return codes, info


def choose_split(
    project: Project,
    ds: Dataset,
    *,
    method: str,
    seed: int,
    test_size: float,
    val_size: float,
    group_field: str | None,
    time_field: str | None,
    new_test_set: bool,
    near_threshold: float | None = NEAR_THRESHOLD,
) -> Any:
    """The run's split: around the frozen test set when there is one, else by ``method``."""

    if method not in SPLITS:
        raise InvalidInput(f"--split {method!r}: use one of {', '.join(SPLITS)}")
    groups, group_info = split_groups(ds, group_field=group_field, near_threshold=near_threshold)
    sp = _split(
        project,
        ds,
        groups,
        method=method,
        seed=seed,
        test_size=test_size,
        val_size=val_size,
        time_field=time_field,
        new_test_set=new_test_set,
    )
    sp.description.update(group_info)
    return sp


def _split(
    project: Project,
    ds: Dataset,
    groups: Any,
    *,
    method: str,
    seed: int,
    test_size: float,
    val_size: float,
    time_field: str | None,
    new_test_set: bool,
) -> Any:
    from truthset.modeling import frozen_test_split, group_split, stratified_split, time_split

    frozen = [] if new_test_set else frozen_test_ids(project)
    if frozen:
        pos = np.flatnonzero(np.isin(ds.item_ids, np.asarray(frozen, dtype=np.int64)))
        if pos.size == 0:
            raise InvalidInput("none of the frozen test items has a final label now; pass --new-test-set")
        sp = frozen_test_split(len(ds), pos, ds.y, groups=groups, val_size=val_size, seed=seed)
        sp.description.update(frozen=True, frozen_items=len(frozen), frozen_items_labelled=int(pos.size))
        return sp
    if method == "time":
        if time_field is None or not all(time_field in d for d in ds.data):
            raise InvalidInput(
                "--split time needs --time-field naming a payload field every item has "
                "(e.g. a date column of the imported file)"
            )
        return time_split([str(d[time_field]) for d in ds.data], ds.y, test_size=test_size, val_size=val_size)
    first = (
        stratified_split(ds.y, test_size=test_size, val_size=0.0, seed=seed)
        if method == "stratified"
        else group_split(groups, ds.y, test_size=test_size, val_size=0.0, seed=seed)
    )
    if first.test.size == 0:
        return first
    # train / validation drawn exactly as a later run on this frozen test set will draw them,
    # so the same seed gives the same model in the first run and every rerun
    sp = frozen_test_split(len(ds), first.test, ds.y, groups=groups, val_size=val_size, seed=seed)
    sp.description.update(method=method, test_size=test_size, frozen=False)
    return sp


def baseline_for(n_train: int, seed: int) -> Any:
    """The text baseline for ``n_train`` training items (see ``WORD_ONLY_ABOVE``)."""
    from truthset.modeling import text_baseline

    if n_train > WORD_ONLY_ABOVE:
        return text_baseline(seed=seed, char_ngrams=None, min_df=2)
    return text_baseline(seed=seed)


def full_proba(model: Any, x: list[str], classes: list[str]) -> npt.NDArray[np.float64]:
    """Probabilities over ``classes`` (a class the model never saw gets 0)."""
    from truthset.modeling import predict_proba

    p = predict_proba(model, x)
    out = np.zeros((len(x), len(classes)))
    where = [classes.index(str(c)) for c in model.classes_]
    out[:, where] = p
    return out


def model_path(project: Project, run_id: int) -> Path:
    return project.root / RUNS_DIR / str(run_id) / "model.skops"


def save_model(project: Project, run_id: int, model: Any) -> str:
    """Write the fitted pipeline with skops; returns its path relative to the project folder."""
    import skops.io as sio

    path = model_path(project, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    sio.dump(model, tmp)
    tmp.replace(path)
    return str(path.relative_to(project.root))


def _parsed(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(json.loads(value or "{}"))


def load_model(project: Project, run: dict[str, Any]) -> Any:
    """Load a run's model (``run``: :func:`truthset.services.runs.get_run`'s dict), refusing when scikit-learn or skops changed since it was saved."""
    import skops.io as sio

    from truthset.modeling import library_versions

    saved = _parsed(run["library_versions"])
    now = library_versions()
    changed = {k: (saved.get(k), now.get(k)) for k in ("scikit-learn", "skops") if saved.get(k) != now.get(k)}
    if changed:
        raise InvalidInput(
            f"run {run['id']}'s model was saved with "
            + ", ".join(f"{k} {a} (now {b})" for k, (a, b) in changed.items())
            + "; retrain with 'truthset train'"
        )
    rel = _parsed(run["artifacts"]).get("model")
    path = project.root / rel if rel else None
    if path is None or not path.is_file():
        raise NotFound(f"run {run['id']} has no model file ({rel or 'none recorded'}); retrain with 'truthset train'")
    types = sio.get_untrusted_types(file=path)
    foreign = [t for t in types if not t.startswith(TRUSTED_MODULES)]
    if foreign:
        raise InvalidInput(
            f"{rel} holds types a baseline never has ({', '.join(foreign[:5])}); it was not "
            "written by truthset train. Delete it and retrain."
        )
    return sio.load(path, trusted=types)


def train(
    project: Project,
    *,
    seed: int = 0,
    labels: str | None = None,
    split: str = "group",
    test_size: float = 0.2,
    val_size: float = 0.1,
    weight_by_posterior: bool = False,
    fields: list[str] | None = None,
    group_field: str | None = None,
    time_field: str | None = None,
    new_test_set: bool = False,
    n_boot: int = 1000,
    near_threshold: float | None = NEAR_THRESHOLD,
) -> dict[str, Any]:
    """Train, evaluate and store a run; returns its summary (plain names, for ``--json``).

    ``near_threshold``: near-duplicates at this similarity stay on one side of the split
    (None: exact duplicates only); see :func:`split_groups`.
    """
    from truthset.modeling import library_versions

    for name, v in (("--test-size", test_size), ("--val-size", val_size)):
        if not 0 <= v < 1 or (name == "--test-size" and v == 0):
            raise InvalidInput(f"{name} {v}: give a fraction of the labelled items between 0 and 1 (e.g. 0.2)")
    fields = fields or [project.config.text_field]
    with project.store.read() as tx:  # read first: a label arriving while the data loads counts as new
        labels_upto = repo_runs.latest_annotation_id(tx, project.id, JUDGEMENT_SOURCES)
    ds = load_dataset(project, labels, fields)
    structured = project.task in ("multi-label", "ner")
    if len(ds) < 10 or (np.unique(ds.y).size < 2 and not structured):
        raise InvalidInput(
            f"{len(ds)} labelled item(s) in {np.unique(ds.y).size} class(es): training needs at "
            "least 10 items and 2 classes; annotate or import labels first"
            + (f" (skipped: {ds.skipped})" if ds.skipped else "")
        )
    sp = choose_split(
        project,
        ds,
        method=split,
        seed=seed,
        test_size=test_size,
        val_size=val_size,
        group_field=group_field,
        time_field=time_field,
        new_test_set=new_test_set,
        near_threshold=near_threshold,
    )
    if sp.test.size == 0 or sp.train.size == 0:
        raise InvalidInput(
            f"the split left {sp.train.size} training and {sp.test.size} test items; "
            "label more items or change --test-size"
        )
    if structured:
        from truthset.services.training_tasks import fit_structured

        fitted = fit_structured(project, ds, sp, seed=seed, n_boot=n_boot, weighted=weight_by_posterior)
    else:
        fitted = _fit_single(project, ds, sp, seed=seed, n_boot=n_boot, weighted=weight_by_posterior)
    model, metrics, rows = fitted.model, fitted.metrics, fitted.rows
    config = {
        "model": fitted.name,
        "labels": str(ds.choice),
        "split": split,
        "test_size": test_size,
        "val_size": val_size,
        "fields": fields,
        "weight_by_posterior": weight_by_posterior,
        "group_field": group_field,
        "time_field": time_field,
        "n_boot": n_boot,
        "classes": fitted.classes,
        "task": project.task,
        "labels_upto": labels_upto,
        "near_threshold": near_threshold,
        **fitted.config,
    }
    description = {k: v for k, v in sp.description.items() if k != "dropped_leaking"}
    description["dropped_leaking"] = len(sp.description.get("dropped_leaking", []))
    split_doc = {
        "description": description,
        "train": ds.item_ids[sp.train].tolist(),
        "val": ds.item_ids[sp.val].tolist(),
        "test": ds.item_ids[sp.test].tolist(),
    }
    digest = dataset_hash(ds)
    with project.store.write() as tx:
        run_id = repo_runs.add_training_run(
            tx,
            project.id,
            config=config,
            dataset_hash=digest,
            seed=seed,
            metrics=metrics,
            schema_version=project.schema_version,
            code_version=code_version(),
            library_versions=library_versions(),
            split=split_doc,
            predictions=rows,
        )
        repo_runs.set_artifacts(tx, run_id, {"model": save_model(project, run_id, model)})
    return {
        "run": run_id,
        "n_items": len(ds),
        "unlabelled": ds.unlabelled,
        "n_train": int(sp.train.size),
        "n_val": int(sp.val.size),
        "n_test": int(sp.test.size),
        "split": sp.description["method"],
        "labels": str(ds.choice),
        "dataset_hash": digest,
        "seed": seed,
        "task": project.task,
        "model": fitted.name,
        "skipped": ds.skipped,
        "groups": description.get("groups"),
        "items_in_shared_groups": description.get("items_in_shared_groups"),
        "dropped_leaking": description["dropped_leaking"],
        "model_path": str(model_path(project, run_id)),
        **{k: v for k, v in metrics.items() if not isinstance(v, (dict, list))},
    }


def _fit_single(project: Project, ds: Dataset, sp: Any, *, seed: int, n_boot: int, weighted: bool) -> Fitted:
    """One label per item (text or image classification): fit, evaluate, calibrate, costs."""
    from truthset.modeling import evaluate, fit_baseline, image_baseline

    classes = sorted({str(c) for c in ds.y.tolist()})
    if project.task == "image-classification":
        model, name = image_baseline(seed=seed), "image-histogram-pixels"
    else:
        model = baseline_for(int(sp.train.size), seed)
        name = "tfidf-word-min2" if sp.train.size > WORD_ONLY_ABOVE else "tfidf-word-char"
    fit_baseline(
        model,
        ds.model_input(sp.train),
        ds.y[sp.train].astype(str),
        sample_weight=ds.confidence[sp.train] if weighted else None,
    )
    p_test = full_proba(model, ds.model_input(sp.test), classes)
    y_test = ds.y[sp.test].astype(str)
    metrics: dict[str, Any] = evaluate(y_test, proba=p_test, classes=classes, n_boot=n_boot, seed=seed).to_dict()
    p_val = full_proba(model, ds.model_input(sp.val), classes) if sp.val.size else np.zeros((0, len(classes)))
    metrics["calibration"] = _calibration(ds.y[sp.val].astype(str), p_val, y_test, p_test, classes, n_boot, seed)
    metrics["costs"] = _costs(project, ds.y[sp.val].astype(str), p_val, y_test, p_test, classes, n_boot, seed)
    rows: list[tuple[int, str, str, str, str | None]] = [
        (
            int(ds.item_ids[i]),
            side,
            json.dumps(str(ds.y[i])),
            json.dumps(classes[int(np.argmax(p[j]))]),
            json.dumps(p[j].tolist()),
        )
        for side, pos, p in (("test", sp.test, p_test), ("val", sp.val, p_val))
        for j, i in enumerate(pos)
    ]
    return Fitted(model, name, classes, metrics, rows)


def _calibration(
    y_val: Any, p_val: Any, y_test: Any, p_test: Any, classes: list[str], n_boot: int, seed: int
) -> dict[str, Any] | None:
    """Temperature scaling fitted on validation, test ECE before and after (None: too little validation)."""
    from truthset.modeling import temperature_scaling

    if len(y_val) < 10 or len(set(y_val.tolist())) < 2:
        return None
    out: dict[str, Any] = temperature_scaling(y_val, p_val, y_test, p_test, classes=classes, n_boot=n_boot, seed=seed)
    return out


def _costs(
    project: Project, y_val: Any, p_val: Any, y_test: Any, p_test: Any, classes: list[str], n_boot: int, seed: int
) -> dict[str, Any] | None:
    """The cost-minimising threshold on validation and its cost on test, when ``costs:`` is set."""
    from truthset.modeling import cost_threshold

    costs = project.config.costs
    if costs is None:
        return None
    if len(classes) != 2:
        raise InvalidInput(f"costs: in truthset.yaml is for two classes; this project has {len(classes)}")
    positive = costs.positive or classes[1]
    if positive not in classes:
        raise InvalidInput(f"costs.positive {positive!r} in truthset.yaml is not one of the labels {classes}")
    if len(y_val) == 0:
        raise InvalidInput("costs: needs validation items to choose the threshold on; pass --val-size above 0")
    out: dict[str, Any] = cost_threshold(
        y_val,
        p_val,
        y_test,
        p_test,
        cost_fp=costs.false_positive,
        cost_fn=costs.false_negative,
        classes=classes,
        positive=positive,
        n_boot=n_boot,
        seed=seed,
    )
    return out
