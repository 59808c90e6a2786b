"""Public benchmarks run from the project: our pipeline vs a plain baseline vs the published anchor.

Each benchmark trains the project's own feature path (the same candidates and feature functions the
service uses: target_features for ClassifySentiment, author candidates + stance_features for
ClassifyStance) on the dataset's train split and scores its dev split; one MLflow run per benchmark,
in an experiment of its own."""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from training.corpus import Issue
from training.datasets import (DatasetMissing, TargetExample, TopicExample, load_ibm, load_newsmtsc, load_ruw,
                               load_vast)
from training.extract import Mention, author_candidates
from training.parsecache import parse_cached
from training.settings import Settings

logger = logging.getLogger(__name__)

SENTIMENT = ("positive", "negative", "neutral")
STANCE3 = ("favor", "against", "neutral")
# Phrases that name RUW's two targets in tweets: the kind of ad-hoc issue a user would define.
RUW_TOPICS = {
    "Russia": ("Russia", "Russian", "Russians", "Moscow", "Kremlin", "Putin", "Russian army", "Russian forces"),
    "Ukraine": ("Ukraine", "Ukrainian", "Ukrainians", "Kyiv", "Kiev", "Zelensky", "Zelenskyy", "Ukrainian army"),
}


@dataclass
class Row:
    benchmark: str
    split: str
    metric: str
    ours: float | None
    baseline: float | None
    anchor: str
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    # Our predictions on the rows behind the figure: per-class metrics and a confusion matrix in MLflow.
    gold: list[str] = field(default_factory=list, repr=False)
    predicted: list[str] = field(default_factory=list, repr=False)
    labels: tuple[str, ...] = ()
    # The probability our model gave each prediction: expected calibration error and a reliability plot.
    confidence: list[float] = field(default_factory=list, repr=False)
    # Size of the fitted classifier(s) behind the figure, pickled.
    model_bytes: int = 0


def _clf(C: float, seed: int) -> Pipeline:
    from training.train import make_pipeline

    return make_pipeline(C, "balanced", 3000, seed)


def _baseline(train_texts: list[str], y: list[str], seed: int) -> Pipeline:
    return Pipeline([("features", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                     ("clf", LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000, random_state=seed))]
                    ).fit(train_texts, y)


class FeaturePath:
    """The service's spaCy pipeline and extraction, applied to dataset examples (parses cached)."""

    def __init__(self, settings: Settings, model=None):
        from training.model import StanceModel
        from training.registry import ActorRegistry, Taxonomy

        seeds = settings.seeds_dir
        self.model = model or StanceModel(ActorRegistry.from_jsonl(seeds / "actors.jsonl"),
                                          Taxonomy.from_jsonl(seeds / "issues.jsonl"), None)
        self.cache = settings.cache_dir
        self.champion = None  # the served model, when one is registered: scored on NewsMTSC as it is

    def docs(self, texts: list[str], tag: str) -> dict[str, object]:
        unique = list(dict.fromkeys(texts))
        return dict(zip(unique, parse_cached(self.model.nlp, unique, self.cache, tag)))

    def target_feats(self, examples: list[TargetExample], tag: str, featurizer=None) -> list[dict]:
        """Sentiment-toward-target features, by this path's featurizer or another model's (the champion's)."""
        docs = self.docs([e.text for e in examples], tag)
        items = []
        for e in examples:
            doc = docs[e.text]
            span = doc.char_span(e.start, e.end, alignment_mode="expand")
            items.append((doc, span.sent, Mention(span.start_char, span.end_char, span.text, span.start, span.end,
                                                  "target")))
        return (featurizer or self.model.featurizer).target(items)

    def topic_feats(self, examples: list[TopicExample], tag: str, phrases=None) -> list[list[dict]]:
        """Per example, the feature dicts of its author candidates (one per sentence naming the topic)."""
        docs = self.docs([e.text for e in examples], tag)
        finder = self.model.extractor.issue_finder
        cands, topics, sizes = [], [], []
        for e in examples:
            doc = docs[e.text]
            issue = Issue("topic", e.topic, tuple((phrases or {}).get(e.topic, (e.topic,))))
            hits = [h for h in finder.find(doc, {"topic": issue}) if h.issue_id == "topic"]
            mine = author_candidates(doc, hits, "topic")
            cands.extend(mine)
            topics.extend([e.topic] * len(mine))
            sizes.append(len(mine))
        flat = self.model.featurizer.stance(cands, topics)
        out, k = [], 0
        for n in sizes:
            out.append(flat[k:k + n])
            k += n
        return out


def _fit_multi(feats: list[list[dict]], y: list[str], C: float, seed: int) -> Pipeline:
    X = [f for fs in feats for f in fs]
    Y = [lab for fs, lab in zip(feats, y) for _ in fs]
    return _clf(C, seed).fit(X, Y)


def _predict_multi(pipe: Pipeline, feats: list[list[dict]]) -> tuple[list[str], list[float]]:
    """Labels and their probabilities, averaging each example's candidates."""
    flat = [f for fs in feats for f in fs]
    probs = pipe.predict_proba(flat)
    out, conf, k = [], [], 0
    for fs in feats:
        mean = probs[k:k + len(fs)].mean(axis=0)
        k += len(fs)
        out.append(pipe.classes_[int(np.argmax(mean))])
        conf.append(float(mean.max()))
    return out, conf


def _predict(pipe: Pipeline, X: list[dict]) -> tuple[list[str], list[float]]:
    probs = pipe.predict_proba(X)
    return [pipe.classes_[int(k)] for k in probs.argmax(axis=1)], [float(p) for p in probs.max(axis=1)]


def _size(*models) -> int:
    return sum(len(pickle.dumps(m)) for m in models)


def _macro(y_true, y_pred, labels) -> float:
    return float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0))


def _limit(examples: list, limit: int | None) -> list:
    return examples if not limit else examples[:limit]


def bench_newsmtsc(path: FeaturePath, root: Path, C: float, seed: int, limit: int | None) -> list[Row]:
    train = _limit(load_newsmtsc(root, "train"), limit)
    X = path.target_feats(train, "newsmtsc-train")
    y = [e.label for e in train]
    ours = _clf(C, seed).fit(X, y)
    base = _baseline([e.text for e in train], y, seed)
    rows = []
    anchors = {"dev_rw": "83.1 (GRU-TSC, RoBERTa; test-rw)", "dev_mt": "82.5 (GRU-TSC, RoBERTa; test-mt)"}
    for split in ("dev_rw", "dev_mt"):
        dev = _limit(load_newsmtsc(root, split), limit)
        yt = [e.label for e in dev]
        pred, conf = _predict(ours, path.target_feats(dev, f"newsmtsc-{split}"))
        bpred = base.predict([e.text for e in dev])
        rows.append(Row("newsmtsc", split, "F1m", _macro(yt, pred, SENTIMENT), _macro(yt, bpred, SENTIMENT),
                        anchors[split], extra={"accuracy": float(np.mean([a == b for a, b in zip(yt, pred)]))},
                        gold=yt, predicted=pred, labels=SENTIMENT, confidence=conf, model_bytes=_size(ours)))
        if path.champion is not None:
            served = path.champion.classifiers.sentiment.predict(
                path.target_feats(dev, f"newsmtsc-{split}", path.champion.featurizer))
            rows.append(Row("newsmtsc", f"{split} (served model)", "F1m", _macro(yt, served, SENTIMENT), None,
                            anchors[split], note="ClassifySentiment's champion"))
    return rows


def bench_vast(path: FeaturePath, root: Path, C: float, seed: int, limit: int | None) -> list[Row]:
    train = _limit(load_vast(root, "train"), limit)
    dev = _limit(load_vast(root, "dev"), limit)
    ours = _fit_multi(path.topic_feats(train, "vast-train"), [e.label for e in train], C, seed)
    pred, conf = _predict_multi(ours, path.topic_feats(dev, "vast-dev"))
    base = _baseline([f"{e.topic} || {e.text}" for e in train], [e.label for e in train], seed)
    bpred = list(base.predict([f"{e.topic} || {e.text}" for e in dev]))
    rows = []
    for name, sel in (("dev", lambda e: True), ("dev zero-shot", lambda e: e.seen == 0),
                      ("dev few-shot", lambda e: e.seen == 1)):
        idx = [k for k, e in enumerate(dev) if sel(e)]
        if not idx:
            continue
        yt = [dev[k].label for k in idx]
        rows.append(Row("vast", name, "macro-F1", _macro(yt, [pred[k] for k in idx], STANCE3),
                        _macro(yt, [bpred[k] for k in idx], STANCE3),
                        "0.666 (TGA-Net, test; figure from the issue, not verified here)" if name == "dev" else "",
                        note=f"{len(idx)} rows", gold=yt, predicted=[pred[k] for k in idx], labels=STANCE3,
                        confidence=[conf[k] for k in idx], model_bytes=_size(ours)))
    return rows


def bench_ruw(path: FeaturePath, root: Path, C: float, seed: int, limit: int | None) -> list[Row]:
    train = _limit(load_ruw(root, "train"), limit)
    dev = _limit(load_ruw(root, "dev"), limit)
    ours = _fit_multi(path.topic_feats(train, "ruw-train", RUW_TOPICS), [e.label for e in train], C, seed)
    pred, conf = _predict_multi(ours, path.topic_feats(dev, "ruw-dev", RUW_TOPICS))
    base = _baseline([f"{e.topic} || {e.text}" for e in train], [e.label for e in train], seed)
    bpred = list(base.predict([f"{e.topic} || {e.text}" for e in dev]))
    rows = []
    for target in ("Russia", "Ukraine"):
        idx = [k for k, e in enumerate(dev) if e.topic == target]
        yt = [dev[k].label for k in idx]
        p, b = [pred[k] for k in idx], [bpred[k] for k in idx]
        rows.append(Row("ruw", f"dev {target}", "macro-F1", _macro(yt, p, STANCE3), _macro(yt, b, STANCE3),
                        "78.21 (KDCL; metric undefined)" if target == "Russia" else "",
                        extra={"f1_favor_against": _macro(yt, p, ("favor", "against"))},
                        gold=yt, predicted=p, labels=STANCE3, confidence=[conf[k] for k in idx],
                        model_bytes=_size(ours)))
    yt = [e.label for e in dev]
    rows.append(Row("ruw", "dev both (F1 favor/against)", "F1avg", _macro(yt, pred, ("favor", "against")),
                    _macro(yt, bpred, ("favor", "against")), "78.21 (KDCL; metric undefined)"))
    return rows


def bench_ibm(path: FeaturePath, root: Path, C: float, seed: int, limit: int | None) -> list[Row]:
    data = _limit(load_ibm(root, "train"), limit)
    feats = path.topic_feats(data, "ibm-train")
    y = np.array([e.label for e in data])
    groups = [e.group for e in data]
    pred = np.empty(len(data), dtype=object)
    bpred = np.empty(len(data), dtype=object)
    conf = np.zeros(len(data))
    sizes = []
    texts = [f"{e.topic} || {e.text}" for e in data]
    for tr, te in GroupKFold(n_splits=5).split(feats, y, groups):
        ours = _fit_multi([feats[k] for k in tr], list(y[tr]), C, seed)
        pred[te], conf[te] = _predict_multi(ours, [feats[k] for k in te])
        sizes.append(_size(ours))
        bpred[te] = _baseline([texts[k] for k in tr], list(y[tr]), seed).predict([texts[k] for k in te])
    labels = ("favor", "against")
    return [Row("ibm_claim_stance", "train, 5-fold CV by topic", "macro-F1", _macro(y, pred, labels),
                _macro(y, bpred, labels), "none comparable (papers report accuracy vs coverage)",
                extra={"accuracy": float(np.mean(pred == y))}, gold=list(y), predicted=list(pred), labels=labels,
                confidence=[float(c) for c in conf], model_bytes=int(np.mean(sizes)))]


BENCHMARKS = {"newsmtsc": bench_newsmtsc, "vast": bench_vast, "ruw": bench_ruw, "ibm": bench_ibm}
DATASET_FILES = {"newsmtsc": "newsmtsc/train.jsonl", "vast": "vast/train.csv", "ruw": "ruw/train.csv",
                 "ibm": "ibm_claim_stance/train.csv"}


def run_benchmarks(settings: Settings, names: list[str] | None = None, C: float = 1.0,
                   limit: int | None = None, log: bool = True, encoder: str = "") -> list[Row]:
    """Run the named benchmarks (all by default); absent datasets give a 'skipped' row with the reason."""
    import mlflow

    from training.datasets import file_digest

    mlflow.set_tracking_uri(settings.tracking_uri)
    path = None
    rows: list[Row] = []
    for name in names or list(BENCHMARKS):
        data_file = settings.datasets_dir / DATASET_FILES[name]
        if not data_file.exists():
            rows.append(Row(name, "-", "-", None, None, "", note=f"skipped: {data_file} not found"))
            continue
        if path is None:
            from training.serving import load_served

            path = FeaturePath(settings)
            if encoder:
                path.model.use_encoder(encoder, settings.cache_dir, threads=settings.workers)
            champion = load_served(settings)
            path.champion = champion.model if champion else None
        t0 = time.perf_counter()
        try:
            result = BENCHMARKS[name](path, settings.datasets_dir, C, settings.seed, limit)
        except DatasetMissing as exc:
            rows.append(Row(name, "-", "-", None, None, "", note=f"skipped: {exc}"))
            continue
        seconds = time.perf_counter() - t0
        rows.extend(result)
        if log:
            _log_run(settings, name, result, C, limit, seconds, data_file, file_digest(data_file), encoder)
    return rows


def _metric_key(split: str) -> str:
    """An MLflow metric name from a row's split ("dev zero-shot" -> "dev_zero-shot")."""
    return split.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "").replace("/", "_")


def _log_run(settings: Settings, name: str, rows: list[Row], C: float, limit: int | None, seconds: float,
             data_file: Path, digest: str, encoder: str = "") -> None:
    """One MLflow run per benchmark: params, the dataset with its digest, the git commit, every figure,
    the training time, the fitted model's size, and per row our per-class metrics, expected calibration
    error, a confusion matrix and a reliability plot."""
    import tempfile

    import mlflow

    from training.datasets import file_dataset
    from training.evaluate import expected_calibration_error, per_class
    from training.train import _confusion_plot, _git_commit, _reliability_plot, ensure_experiment

    exp_id = ensure_experiment(settings, f"benchmark-{name}")
    with mlflow.start_run(experiment_id=exp_id):
        mlflow.log_params({"C": C, "limit": limit or 0, "seed": settings.seed, "dataset_digest": digest,
                           "encoder": encoder or "none"})
        mlflow.set_tags({"git_commit": _git_commit(), "dataset": str(data_file)})
        mlflow.log_input(file_dataset(data_file, name), context="benchmark")
        metrics = {"seconds": seconds, "model_size_bytes": float(max((r.model_bytes for r in rows), default=0))}
        with tempfile.TemporaryDirectory() as tmp:
            for r in rows:
                key = _metric_key(r.split)
                if r.ours is not None:
                    metrics[f"{key}_ours"] = r.ours
                if r.baseline is not None:
                    metrics[f"{key}_baseline"] = r.baseline
                for k, v in r.extra.items():
                    metrics[f"{key}_{k}"] = v
                if r.gold:
                    metrics.update(per_class(f"{key}_ours", list(r.gold), list(r.predicted), r.labels))
                    path = _confusion_plot(list(r.gold), list(r.predicted), r.labels, f"{name} {r.split} (ours)",
                                           Path(tmp) / f"confusion_{key}.png")
                    mlflow.log_artifact(str(path), artifact_path="plots")
                if r.confidence:
                    correct = [g == p for g, p in zip(r.gold, r.predicted)]
                    metrics[f"{key}_ours_ece"] = expected_calibration_error(correct, r.confidence)
                    path = _reliability_plot(list(r.gold), list(r.predicted), r.confidence,
                                             f"{name} {r.split} (ours)", Path(tmp) / f"reliability_{key}.png")
                    mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_metrics(metrics)
