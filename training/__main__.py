"""Command line for model building: `python -m training {train,evaluate,validate,stats}`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from training.logs import configure_logging
from training.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

SHOWN = ["dev_score", "dev_stance_macro_f1", "dev_stance_favor_f1", "dev_stance_against_f1", "dev_stance_neutral_f1",
         "dev_triple_precision", "dev_triple_recall", "dev_triple_f1", "dev_pair_f1", "dev_tone_macro_f1",
         "dev_sentiment_macro_f1", "dev_stance_ece", "dev_actor_mention_f1", "dev_actor_entity_f1",
         "dev_holder_accuracy", "dev_holder_precision", "dev_issue_mention_recall", "dev_link_precision",
         "dev_link_recall"]


def _train(args, settings) -> int:
    from training.train import TrainConfig, run_training

    cfg = TrainConfig(C=args.C, sentiment_C=args.sentiment_C, search=args.search, encoder=args.encoder)
    if args.link_threshold is not None:
        cfg = dataclasses.replace(cfg, link_threshold=args.link_threshold)
    result = run_training(settings, cfg, promote=not args.no_promote)
    console = Console()
    table = Table(title=f"run {result.run_id} -> {settings.model_name} v{result.version}")
    table.add_column("metric (dev)")
    table.add_column("challenger", justify="right")
    table.add_column("champion", justify="right")
    for key in SHOWN:
        champ = "" if result.champion_metrics is None else f"{result.champion_metrics.get(key, float('nan')):.3f}"
        table.add_row(key, f"{result.metrics.get(key, float('nan')):.3f}", champ)
    console.print(table)
    verdict = "promoted to" if result.promoted else "NOT promoted to"
    console.print(f"v{result.version} {verdict} @{settings.model_alias}: {result.reason}")
    return 0


def _evaluate(args, settings) -> int:
    import json

    import mlflow

    from training.corpus import CorpusError, load_corpus
    from training.evaluate import evaluate_model
    from training.serving import load_served

    splits = args.split.split(",")
    if not set(splits) <= {"train", "dev", "test"}:
        print(f"--split: expected train, dev or test (or several joined by commas), got {args.split!r}", file=sys.stderr)
        return 2
    if args.issues and not args.issues.is_file():
        print(f"--issues: {args.issues} is not a file", file=sys.stderr)
        return 2
    mlflow.set_tracking_uri(settings.tracking_uri)
    served = load_served(settings)
    if served is None:
        print(f"no model at {settings.model_name}@{settings.model_alias}; run `make train` first", file=sys.stderr)
        return 1
    model = served.model
    if args.issues:
        # The champion's classifiers with another taxonomy file: what an extended or older phrase list finds.
        from training.model import StanceModel
        from training.registry import Taxonomy

        try:
            taxonomy = Taxonomy.from_jsonl(args.issues)
        except CorpusError as exc:
            print(f"--issues:\n{exc}", file=sys.stderr)
            return 2
        model = StanceModel(model.registry, taxonomy, model.classifiers)
    corpus = load_corpus(settings.seeds_dir)
    docs = [d for split in splits for d in corpus.split(split)]
    if args.ids:
        docs = [d for d in docs if d.id.startswith(tuple(args.ids))]
    if args.not_ids:
        docs = [d for d in docs if not d.id.startswith(tuple(args.not_ids))]
    if not docs:
        print("no articles match the split and id prefixes", file=sys.stderr)
        return 1
    prefix = args.split.replace(",", "_")
    metrics = evaluate_model(model, docs, prefix=prefix).metrics
    if not (args.ids or args.not_ids or args.issues) and served.run_id:
        # Whole splits with the model's own taxonomy: the figures join the model's training run, so runs
        # trained before the test split was logged with them get it too (`make ui`).
        with mlflow.start_run(run_id=served.run_id):
            mlflow.log_metrics(metrics)
    print(json.dumps({"model_version": served.version, "split": args.split, "documents": len(docs),
                      **{k: round(v, 4) for k, v in metrics.items()}}, indent=2))
    return 0


def _compare(args, settings) -> int:
    """Train on part of the train split (articles whose id starts with a prefix) and on all of it; score
    both on dev and test. Nothing is registered: this answers "did the corpus growth help?"."""
    import json

    from training.corpus import load_corpus
    from training.evaluate import evaluate_model
    from training.model import StanceModel
    from training.registry import ActorRegistry, Taxonomy
    from training.train import TrainConfig, _add_extra_sentiment, build_examples, fit_classifiers, parse_corpus

    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    corpus = load_corpus(settings.seeds_dir)
    model = StanceModel(ActorRegistry.from_jsonl(settings.seeds_dir / "actors.jsonl"), Taxonomy(corpus.issues), None)
    parsed = parse_corpus(model, corpus.documents, settings.cache_dir)
    train = corpus.split("train")
    subset = [d for d in train if d.id.split("_")[0] in args.prefixes]
    keys = ["stance_macro_f1", "triple_precision", "triple_recall", "triple_f1", "tone_macro_f1",
            "sentiment_macro_f1", "holder_accuracy"]
    out = {}
    exp = mlflow.set_experiment(f"{settings.experiment}-corpus-comparison")
    with mlflow.start_run(experiment_id=exp.experiment_id):  # dataset inputs are logged into a throwaway run
        for name, docs in ((f"subset ({','.join(args.prefixes)})", subset), ("full train split", train)):
            ex = build_examples(model, docs, parsed, settings.seed, TrainConfig().neutral_sentiment_ratio)
            _add_extra_sentiment(model, settings, TrainConfig(), ex)
            model.classifiers = fit_classifiers(ex, TrainConfig(), settings.seed)
            row: dict[str, float] = {"train_articles": len(docs)}
            for split in ("dev", "test"):
                m = evaluate_model(model, corpus.split(split), parsed, prefix=split).metrics
                row.update({f"{split}_{k}": round(m[f"{split}_{k}"], 3) for k in keys})
            out[name] = row
    print(json.dumps(out, indent=2))
    return 0


def _benchmark(args, settings) -> int:
    from training.benchmark import run_benchmarks

    rows = run_benchmarks(settings, args.only or None, C=args.C, limit=args.limit, encoder=args.encoder)
    table = Table(title=f"Public benchmarks (datasets: {settings.datasets_dir})")
    for col in ("benchmark", "split", "metric", "ours", "TF-IDF+LR baseline", "published anchor", "note"):
        table.add_column(col)
    fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        table.add_row(r.benchmark, r.split, r.metric, fmt(r.ours), fmt(r.baseline), r.anchor, r.note)
    Console(width=max(Console().width, 160)).print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train and evaluate the stance models.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="one MLflow run: fit on train, evaluate on dev, register, gate promotion")
    tr.add_argument("--C", type=float, default=1.0,
                    help="inverse regularisation of the stance/tone classifiers (stance: the search picks it)")
    tr.add_argument("--sentiment-C", type=float, default=1.0, help="inverse regularisation of the sentiment classifier")
    tr.add_argument("--link-threshold", type=float, default=None,
                    help="issue-linker probability from which a sentence that names no issue gets an implicit "
                         "candidate for one the article names (default: TrainConfig's)")
    tr.add_argument("--no-promote", action="store_true", help="register the new version but never move the alias")
    tr.add_argument("--no-search", dest="search", action="store_false",
                    help="use --C as given instead of choosing it by 5-fold cross-validation grouped by article")
    tr.add_argument("--encoder", choices=["", "minilm"], default="",
                    help="add frozen sentence-encoder vectors to the features (needs the encoder extra)")
    ev = sub.add_parser("evaluate", help="figures of the current champion on a corpus split")
    ev.add_argument("--split", default="dev", help="train, dev or test, or several joined by commas (dev,test)")
    ev.add_argument("--ids", type=lambda v: v.split(","), default=None,
                    help="only articles whose id starts with one of these prefixes (e.g. at,bt: the newer articles)")
    ev.add_argument("--not-ids", type=lambda v: v.split(","), default=None,
                    help="leave out articles whose id starts with one of these prefixes")
    ev.add_argument("--issues", type=Path, default=None,
                    help="use this taxonomy file (issues.jsonl format) instead of the one the model was trained with")
    cp = sub.add_parser("compare", help="train on a subset of the train split vs all of it; dev and test figures")
    cp.add_argument("--prefixes", type=lambda v: v.split(","), default=["000", "rua", "mde", "asi", "glo"],
                    help="article-id prefixes of the subset (default: the first corpus)")
    bm = sub.add_parser("benchmark", help="public datasets: our pipeline vs baseline vs published figure")
    bm.add_argument("--only", action="append", choices=["newsmtsc", "vast", "ruw", "ibm"], help="run just these")
    bm.add_argument("--C", type=float, default=1.0)
    bm.add_argument("--limit", type=int, default=None, help="first N examples per split (smoke runs)")
    bm.add_argument("--encoder", choices=["", "minilm"], default="",
                    help="add frozen sentence-encoder vectors to the features (needs the encoder extra)")
    args = parser.parse_args(argv)
    configure_logging()
    from training.encoder import EncoderUnavailable

    try:
        settings = load_settings()
        return {"train": _train, "evaluate": _evaluate, "benchmark": _benchmark, "compare": _compare}[args.command](
            args, settings)
    except (SettingsError, EncoderUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
