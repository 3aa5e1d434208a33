"""Optional MLflow logging of a training run (the ``[mlflow]`` extra).

One MLflow run per truthset run: the config and seed as params; every headline metric and
its interval bounds as metrics; tags for the truthset run id, the dataset hash, the schema
version and the code version; as artifacts the model card (HTML), the metrics document
(JSON) and the skops model file. Any tracking URI MLflow accepts works, e.g. a local folder
(``file:///path/mlruns``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from truthset.core.errors import InvalidInput, missing_extra
from truthset.services.projects import Project
from truthset.services.run_records import get_run


def log_run(
    project: Project, run_id: int | None, tracking_uri: str, *, experiment: str | None = None
) -> dict[str, Any]:
    """Log a stored training run to MLflow; returns the MLflow run id and experiment."""
    try:
        import mlflow
    except ImportError as exc:
        raise missing_extra("mlflow", "mlflow") from exc
    from truthset.services.runs import write_model_card

    run = get_run(project, run_id)
    flat = {
        k: float(v)
        for k, v in run["metrics"].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
    }  # NaN is not logged
    params = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in run["config"].items()}
    name = experiment or f"truthset-{project.config.name}"
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment(name)
    except mlflow.exceptions.MlflowException as exc:  # e.g. a folder store MLflow 3 refuses
        raise InvalidInput(
            f"--mlflow {tracking_uri}: MLflow refused it: {str(exc).splitlines()[0]} "
            "(a local database works: --mlflow sqlite:///mlflow.db)"
        ) from exc
    with mlflow.start_run(run_name=f"truthset run {run['id']}") as active, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({**params, "seed": run["seed"]})
        mlflow.log_metrics(flat)
        mlflow.set_tags(
            {
                "truthset.run": run["id"],
                "truthset.dataset_hash": run["dataset_hash"],
                "truthset.schema_version": run["schema_version"],
                "truthset.code_version": run["code_version"],
                "truthset.project": project.config.name,
            }
        )
        card = Path(tmp) / "model-card.html"
        write_model_card(project, run["id"], card)
        mlflow.log_artifact(str(card))
        metrics = Path(tmp) / "metrics.json"
        metrics.write_text(json.dumps(run["metrics"], default=str), encoding="utf-8")
        mlflow.log_artifact(str(metrics))
        model = run["artifacts"].get("model")
        if model and (project.root / model).is_file():
            mlflow.log_artifact(str(project.root / model), artifact_path="model")
        return {
            "run": run["id"],
            "mlflow_run_id": active.info.run_id,
            "experiment": name,
            "tracking_uri": tracking_uri,
            "metrics_logged": len(flat),
        }
