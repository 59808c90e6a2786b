"""Second, independent annotation pass: blind review tasks, agreement (Cohen's kappa) and disagreements.

Protocol (seeds/GUIDELINES.md, "Process and quality"):
1. `export` writes, per article, the text and the first pass's (actor, issue, evidence) pairs WITHOUT their
   labels; a different annotator labels each pair's stance and tone blind and may flag missed triples.
2. The reviewer's file is `seeds/review/<doc_id>.jsonl`: one `{"type": "label", "actor", "issue", "stance",
   "sentiment"}` per exported pair, optional `{"type": "missing", ...stance record...}` and
   `{"type": "resolution", "actor", "issue", "first", "second", "final", "note"}` and
   `{"type": "missing_resolution", "actor", "issue", "accepted": true|false, "note"}` written at adjudication.
3. `report` computes agreement on the pairs both passes labelled and lists every disagreement."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from training.corpus import Corpus, CorpusError, default_seeds_dir, load_corpus


def export_tasks(corpus: Corpus, out: Path, ids: set[str] | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for doc in corpus.documents:
        if ids and doc.id not in ids:
            continue
        pairs = [{"actor": s.actor, "actor_name": doc.actors[s.actor].name, "issue": s.issue,
                  "issue_name": corpus.issues[s.issue].name, "issue_description": corpus.issues[s.issue].description,
                  "evidence": doc.text[s.start:s.end]} for s in doc.stances]
        (out / f"{doc.id}.json").write_text(json.dumps({"id": doc.id, "text": doc.text, "pairs": pairs}, indent=1,
                                                       ensure_ascii=False))
        n += 1
    return n


def read_reviews(root: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    problems = []
    for path in sorted((root / "review").glob("*.jsonl")):
        rows = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{lineno}: invalid JSON: {exc.msg}")
        out[path.stem] = rows
    if problems:
        raise CorpusError(problems)
    return out


def agreement(corpus: Corpus, reviews: dict[str, list[dict]]) -> dict:
    """Kappa on stance and tone for (actor, issue) pairs labelled by both passes, first label vs second.

    When a resolution exists the first pass's original label is the one recorded in it ("first"),
    so the figure measures the passes, not the adjudicated corpus."""
    first, second, tone1, tone2 = [], [], [], []
    disagreements = []
    by_arena: dict[str, list[tuple[str, str]]] = defaultdict(list)
    missing = 0
    for doc in corpus.documents:
        rows = reviews.get(doc.id)
        if not rows:
            continue
        resolved = {(r["actor"], r["issue"]): r for r in rows if r.get("type") == "resolution"}
        gold = defaultdict(list)
        for s in doc.stances:
            gold[(s.actor, s.issue)].append(s)
        nth: Counter = Counter()
        for r in rows:
            if r.get("type") == "missing":
                missing += 1
            if r.get("type") != "label" or (r["actor"], r["issue"]) not in gold:
                continue
            key = (r["actor"], r["issue"])
            # The n-th label for a pair goes with the pair's n-th record (an actor may state two positions).
            record = gold[key][min(nth[key], len(gold[key]) - 1)]
            nth[key] += 1
            res = resolved.get(key)
            a = res["first"] if res else record.stance
            b = r["stance"]
            first.append(a)
            second.append(b)
            by_arena[doc.arena].append((a, b))
            tone1.append(record.sentiment)
            tone2.append(r.get("sentiment", record.sentiment))
            if a != b:
                disagreements.append({"doc": doc.id, "actor": key[0], "issue": key[1], "first": a, "second": b,
                                      "final": res["final"] if res else None, "note": res.get("note", "") if res else ""})
    if not first:
        return {"pairs": 0}
    return {
        "documents_reviewed": sum(1 for d in corpus.documents if d.id in reviews),
        "pairs": len(first),
        "stance_kappa": float(cohen_kappa_score(first, second)),
        "stance_raw_agreement": sum(a == b for a, b in zip(first, second)) / len(first),
        "tone_kappa": float(cohen_kappa_score(tone1, tone2)),
        "stance_kappa_by_arena": {k: float(cohen_kappa_score(*zip(*v))) if len({x for p in v for x in p}) > 1 else 1.0
                                  for k, v in sorted(by_arena.items())},
        "confusions": dict(Counter(f"{a}->{b}" for a, b in zip(first, second) if a != b)),
        "missing_flags": missing,
        "missing_accepted": sum(1 for rows in reviews.values() for r in rows
                                if r.get("type") == "missing_resolution" and r.get("accepted")),
        "disagreements_resolved": sum(1 for d in disagreements if d["final"]),
        "disagreements": disagreements,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.agreement", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="blind review tasks (text + pairs, no labels)")
    ex.add_argument("--root", type=Path, default=None, help="default: STANCE_SEEDS_DIR, else the project's seeds/")
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--ids", nargs="*", help="only these article ids")
    rp = sub.add_parser("report", help="agreement figures and disagreements as JSON")
    rp.add_argument("--root", type=Path, default=None, help="default: STANCE_SEEDS_DIR, else the project's seeds/")
    rp.add_argument("--summary", action="store_true", help="omit the list of disagreements")
    args = parser.parse_args(argv)
    args.root = args.root or default_seeds_dir()
    try:
        corpus = load_corpus(args.root)
        if args.command == "export":
            print(f"{export_tasks(corpus, args.out, set(args.ids or ()))} task files in {args.out}")
            return 0
        report = agreement(corpus, read_reviews(args.root))
    except CorpusError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    if args.summary:
        report.pop("disagreements", None)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
