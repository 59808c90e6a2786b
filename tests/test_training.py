"""MLflow lifecycle: promotion gate, failed runs leave the registry alone, save/reload gives identical predictions."""

from __future__ import annotations

import dataclasses
import shutil

import mlflow
import pytest
from mlflow import MlflowClient

from training.settings import PROJECT_ROOT
from training.corpus import load_corpus
from training.train import run_training
from tests.conftest import make_settings


def _versions(settings):
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{settings.model_name}'"))
    alias = str(client.get_model_version_by_alias(settings.model_name, settings.model_alias).version)
    return versions, alias


def test_first_run_logs_params_metrics_plots_and_model(store):
    mlflow.set_tracking_uri(store.tracking_uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias(store.model_name, store.model_alias)
    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert {"C", "corpus_version", "seed"} <= set(run.data.params)
    for key in ("dev_stance_macro_f1", "dev_stance_favor_f1", "dev_stance_against_f1", "dev_stance_neutral_f1",
                "dev_triple_f1", "dev_sentiment_macro_f1", "dev_stance_ece"):
        assert 0.0 <= run.data.metrics[key] <= 1.0
    # The extraction benchmark, on dev and on test, is logged with the training run.
    for split in ("dev", "test"):
        for key in ("actor_mention_f1", "actor_entity_f1", "holder_accuracy", "issue_mention_recall", "triple_f1"):
            assert 0.0 < run.data.metrics[f"{split}_{key}"] <= 1.0
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert "plots/confusion_stance_dev.png" in plots and "plots/reliability_stance_dev.png" in plots
    inputs = {i.dataset.name: i.dataset.digest for i in run.inputs.dataset_inputs}
    assert inputs["seeds-corpus"] == run.data.params["corpus_version"]
    if run.data.params["sentiment_extra"] == "newsmtsc":
        assert "newsmtsc-train" in inputs


def test_sentiment_task_has_its_own_experiment_linked_to_the_model_run(store):
    mlflow.set_tracking_uri(store.tracking_uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias(store.model_name, store.model_alias)
    experiment = client.get_experiment_by_name(f"{store.experiment}-sentiment")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.stance_run_id = '{version.run_id}'")
    assert run.info.status == "FINISHED" and run.data.tags["model_version"] == str(version.version)
    assert 0.0 <= run.data.metrics["dev_sentiment_macro_f1"] <= 1.0 and run.data.metrics["dev_sentiment_records"] > 0
    assert not any(k.startswith("dev_stance") for k in run.data.metrics)
    assert run.data.params["corpus_version"] == client.get_run(version.run_id).data.params["corpus_version"]
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/confusion_sentiment_dev.png", "plots/reliability_sentiment_dev.png"} <= plots
    assert 0.0 <= run.data.metrics["dev_sentiment_ece"] <= 1.0


def test_worse_challenger_is_registered_but_not_promoted(tmp_path, store):
    settings = make_settings(tmp_path)
    first = run_training(settings)
    assert first.promoted
    # Same corpus and seed as the session's store: the same figures, to the last digit.
    client = MlflowClient(tracking_uri=store.tracking_uri)
    version = client.get_model_version_by_alias(store.model_name, store.model_alias)
    logged = client.get_run(version.run_id).data.metrics
    for key, value in first.metrics.items():
        if key.startswith("dev_"):
            assert logged[key] == pytest.approx(value, abs=1e-12), key
    # The same dev articles, but only three training articles: a genuinely weaker model.
    starved = tmp_path / "starved"
    shutil.copytree(settings.seeds_dir, starved)
    train_docs = [d.id for d in load_corpus(starved).split("train")]
    for doc_id in train_docs[3:]:
        for suffix in (".txt", ".jsonl"):
            (starved / "corpus" / f"{doc_id}{suffix}").unlink()
    worse = run_training(dataclasses.replace(settings, seeds_dir=starved))
    assert not worse.promoted and "does not beat" in worse.reason
    assert worse.metrics["dev_score"] < first.metrics["dev_score"]
    versions, alias = _versions(settings)
    assert versions == [1, 2] and alias == "1"


def test_failed_run_leaves_registry_as_it_was(store, tmp_path):
    before = _versions(store)
    broken = tmp_path / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", broken)
    (broken / "actors.jsonl").write_text('{"id": "x"\n')
    settings = dataclasses.replace(store, seeds_dir=broken)
    with pytest.raises(ValueError, match="actors.jsonl:1"):
        run_training(settings)
    assert _versions(store) == before
    client = MlflowClient()
    exp = client.get_experiment_by_name(store.experiment)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
    assert runs[0].info.status == "FAILED"


def test_reload_from_registry_gives_identical_predictions(store, served, seed_text):
    from training.serving import load_served

    again = load_served(store)
    a = served.model.analyze(seed_text)
    b = again.model.analyze(seed_text)
    assert [(s.actor_id, s.issue_id, s.stance, round(s.confidence, 6)) for s in a.stances] == \
        [(s.actor_id, s.issue_id, s.stance, round(s.confidence, 6)) for s in b.stances]
    assert [(s.actor_id, s.sentiment) for s in a.sentiments] == [(s.actor_id, s.sentiment) for s in b.sentiments]


def test_issue_linker_is_trained_logged_and_links_a_sentence_that_names_no_issue(store, served):
    from training.corpus import Issue

    mlflow.set_tracking_uri(store.tracking_uri)
    run = MlflowClient().get_run(served.run_id)
    assert run.data.params["issue_linker"] == "True"
    assert 0.0 < run.data.metrics["dev_link_precision"] <= 1.0 and 0.0 < run.data.metrics["dev_link_recall"] <= 1.0
    model = served.model
    # Issue-agnostic: trained on the taxonomy's issues, it links a request's own issue too.
    metro = Issue("metro_extension", "Metro line extension", ("metro line extension",),
                  description="Extending the metro line to the airport. favor = wants the extension.")
    ex = model.extract(model.parse("The council debated the metro line extension on Monday. Mayor Anne Hidalgo "
                                   "said the airport link should wait. The weather was fine."),
                       {"metro_extension": metro})
    linked = [c for c in ex.candidates if c.issue is not None and c.issue.implicit == "linked"]
    assert [(c.actor_id, c.issue_id) for c in linked] == [("anne_hidalgo", "metro_extension")]
    assert linked[0].issue.link >= model.classifiers.linker.threshold


def test_pyfunc_predict_follows_the_signature(store):
    import pandas as pd

    mlflow.set_tracking_uri(store.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{store.model_name}@{store.model_alias}")
    out = model.predict(pd.DataFrame([{"text": "Hungary blocked the new sanctions package against Russia.",
                                       "holder": "Hungary", "issue": "sanctions_on_russia"}]))
    assert list(out.columns) == ["stance", "favor", "against", "neutral"]
    assert out.stance[0] in ("favor", "against", "neutral")


def test_evaluate_command_filters_articles_by_split_and_id_prefix(store, monkeypatch, capsys, tmp_path):
    import json

    from training.__main__ import main
    from training.corpus import load_corpus

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    corpus = load_corpus(store.seeds_dir)
    first = corpus.split("dev")[0].id[:3]
    expected = [d for d in corpus.split("dev") + corpus.split("test") if d.id.startswith(first)]
    assert main(["evaluate", "--split", "dev,test", "--ids", first]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == len(expected) and 0.0 <= out["dev_test_stance_macro_f1"] <= 1.0
    assert main(["evaluate", "--split", "dev,bogus"]) == 2
    assert "expected train, dev or test" in capsys.readouterr().err
    # Another taxonomy file with the same classifiers: one issue's phrases find fewer of the gold issues.
    one = tmp_path / "issues.jsonl"
    one.write_text((store.seeds_dir / "issues.jsonl").read_text(encoding="utf-8").splitlines()[0] + "\n")
    recall = out["dev_test_issue_mention_recall"]
    assert main(["evaluate", "--split", "dev,test", "--ids", first, "--issues", str(one)]) == 0
    assert json.loads(capsys.readouterr().out)["dev_test_issue_mention_recall"] < recall
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"\n')
    assert main(["evaluate", "--issues", str(bad)]) == 2
    assert f"{bad}:1: invalid JSON" in capsys.readouterr().err
    assert main(["evaluate", "--issues", str(tmp_path / "none.jsonl")]) == 2
    assert "is not a file" in capsys.readouterr().err
    # Whole splits (no filter, the model's own taxonomy): the figures join the model's training run.
    assert main(["evaluate", "--split", "dev,test"]) == 0
    whole = json.loads(capsys.readouterr().out)
    mlflow.set_tracking_uri(store.tracking_uri)
    client = MlflowClient()
    run = client.get_run(client.get_model_version_by_alias(store.model_name, store.model_alias).run_id)
    assert run.data.metrics["dev_test_triple_f1"] == pytest.approx(whole["dev_test_triple_f1"], abs=1e-4)
    assert run.info.status == "FINISHED"
