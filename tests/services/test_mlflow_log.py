"""MLflow logging of a training run against a local file store (the ``[mlflow]`` extra).

Skipped only when mlflow is not installed; any failure with mlflow present fails. Both local
stores: an SQLite database (MLflow 3's default) and a folder (``file://``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.services.test_runs import _sms_slice
from truthset.cli import main
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import init_project

mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")


@pytest.mark.parametrize("store", ["sqlite", "file"])
def test_train_logs_params_metrics_tags_and_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a local store keeps its artifacts under the working folder
    p = init_project(tmp_path / "p", task="text-classification", labels=["ham", "spam"], name="mlflow-log")
    import_file(p, _sms_slice(tmp_path, 500), ImportOptions(annotator="uci-original"))
    p.close()
    if store == "file":  # MLflow 3 keeps the folder store behind an opt-in
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri() if store == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = CliRunner().invoke(
        main, ["-p", str(tmp_path / "p"), "train", "--n-boot", "50", "--mlflow", uri, "--json"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    logged = mlflow.MlflowClient(tracking_uri=uri).get_run(out["mlflow"]["mlflow_run_id"])
    assert logged.data.metrics["accuracy"] == pytest.approx(out["accuracy"])
    assert logged.data.metrics["macro_f1_ci_low"] == pytest.approx(out["macro_f1_ci_low"])
    assert logged.data.params["seed"] == "0" and logged.data.params["labels"] == "latest"
    assert logged.data.tags["truthset.dataset_hash"] == out["dataset_hash"]
    assert logged.data.tags["truthset.schema_version"] == str(p.schema_version)
    names = {a.path for a in mlflow.MlflowClient(tracking_uri=uri).list_artifacts(logged.info.run_id)}
    assert {"model-card.html", "metrics.json", "model"} <= names
