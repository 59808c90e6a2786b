"""Public datasets through the project's loaders, and the benchmark command end to end on small slices."""

from __future__ import annotations

import dataclasses

import mlflow
import pytest

from training.benchmark import run_benchmarks
from training.datasets import load_ibm, load_newsmtsc, load_ruw, load_vast
from training.settings import load_settings
from tests.conftest import make_settings

DATASETS = load_settings().datasets_dir
needs_datasets = pytest.mark.skipif(not (DATASETS / "newsmtsc" / "train.jsonl").exists(),
                                    reason=f"public datasets not found under {DATASETS} (STANCE_DATASETS_DIR)")


@needs_datasets
def test_loaders_match_the_dataset_readmes():
    assert len(load_newsmtsc(DATASETS, "dev_rw")) == 343 and len(load_newsmtsc(DATASETS, "dev_mt")) == 442
    assert len(load_vast(DATASETS, "dev")) == 2062
    assert len(load_ruw(DATASETS, "dev")) == 2 * 600
    ibm = load_ibm(DATASETS)
    assert len(ibm) == 1039 and {e.label for e in ibm} == {"favor", "against"}
    ex = load_newsmtsc(DATASETS, "dev_rw")[0]
    assert ex.text[ex.start:ex.end] == "Cruz" and ex.label == "neutral"


@needs_datasets
def test_benchmark_runs_and_logs_to_mlflow(tmp_path):
    settings = make_settings(tmp_path, cache_dir=tmp_path / "cache")
    rows = run_benchmarks(settings, ["newsmtsc", "ibm"], limit=150)
    assert {r.benchmark for r in rows} == {"newsmtsc", "ibm_claim_stance"}
    for r in rows:
        assert 0.0 <= r.ours <= 1.0 and 0.0 <= r.baseline <= 1.0
    mlflow.set_tracking_uri(settings.tracking_uri)
    exp = mlflow.get_experiment_by_name("benchmark-newsmtsc")
    run = mlflow.search_runs([exp.experiment_id], output_format="list")[0]
    assert "dev_rw_ours" in run.data.metrics and run.inputs.dataset_inputs
    for label in ("positive", "negative", "neutral"):
        assert 0.0 <= run.data.metrics[f"dev_rw_ours_{label}_f1"] <= 1.0
    assert 0.0 <= run.data.metrics["dev_rw_ours_ece"] <= 1.0 and run.data.metrics["model_size_bytes"] > 1000
    assert run.data.metrics["seconds"] > 0
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert {"plots/confusion_dev_rw.png", "plots/confusion_dev_mt.png", "plots/reliability_dev_rw.png"} <= plots
    assert list((tmp_path / "cache").glob("newsmtsc-train-*.spacy")), "parses are cached as DocBin"


def test_absent_datasets_are_skipped_with_a_reason(tmp_path):
    settings = dataclasses.replace(make_settings(tmp_path), datasets_dir=tmp_path / "nowhere")
    rows = run_benchmarks(settings)
    assert len(rows) == 4 and all(r.note.startswith("skipped:") and "not found" in r.note for r in rows)
