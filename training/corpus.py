"""The annotated corpus: load, validate (reporting file:line) and split the articles in `seeds/`."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

STANCES = ("favor", "against", "neutral")
SENTIMENTS = ("positive", "negative", "neutral")
ACTOR_KINDS = ("person", "country", "organization", "group")
SPLITS = ("train", "dev", "test")
STYLES = ("wire", "analysis", "liveblog", "interview", "press_release", "feature")
# Hard cases a stance triple can exemplify (optional tags, counted by `stats`).
PHENOMENA = ("passive_agent", "reported_speech", "direct_quote", "multi_sentence_quote", "according_to",
             "apposition", "metonymy", "pronoun", "anaphoric_issue", "negation", "hedging", "conditional",
             "opposite_stances", "nested_attribution", "coordinated_holders", "nationality_group", "headline")
NON_STANCE_REASONS = ("journalist_framing", "heading", "mention_only", "reported_by_other")
# The user's own article stays out of training: it is what the product is judged on first.
PINNED_SPLITS = {"000_549929fe5eb0465e": "dev"}
# Shares of dev and test; the rest is train. Assigned once per article by `split`, kept in seeds/splits.json.
SPLIT_SHARES = (("test", 0.15), ("dev", 0.15))
NEAR_DUPLICATE_JACCARD = 0.5


class CorpusError(ValueError):
    """One or more annotation problems, each reported as `file:line: message`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Issue:
    id: str
    name: str
    phrases: tuple[str, ...]
    arena: str = ""
    description: str = ""


@dataclass(frozen=True)
class GoldActor:
    id: str
    name: str
    kind: str
    affiliation: str
    mentions: tuple[str, ...]


@dataclass(frozen=True)
class GoldStance:
    actor: str
    issue: str
    stance: str
    sentiment: str
    start: int
    end: int
    phenomena: tuple[str, ...] = ()


@dataclass(frozen=True)
class NonStance:
    """A passage that looks like a position but is nobody's stance (framing, heading, bare mention)."""

    reason: str
    start: int
    end: int


@dataclass(frozen=True)
class GoldSentiment:
    target: str
    sentiment: str
    start: int
    end: int


@dataclass
class Document:
    id: str
    text: str
    title: str
    arena: str
    split: str
    style: str
    actors: dict[str, GoldActor] = field(default_factory=dict)
    stances: list[GoldStance] = field(default_factory=list)
    sentiments: list[GoldSentiment] = field(default_factory=list)
    non_stances: list[NonStance] = field(default_factory=list)


@dataclass
class Corpus:
    issues: dict[str, Issue]
    documents: list[Document]

    def split(self, name: str) -> list[Document]:
        return [d for d in self.documents if d.split == name]

    def digest(self) -> str:
        """A short content hash of taxonomy + articles + annotations: the corpus version logged with each run."""
        h = hashlib.sha256()
        for issue in sorted(self.issues.values(), key=lambda i: i.id):
            h.update(repr(issue).encode())
        for doc in sorted(self.documents, key=lambda d: d.id):
            h.update(repr((doc.id, doc.text, doc.split, doc.actors, doc.stances, doc.sentiments)).encode())
        return h.hexdigest()[:12]

    def stats(self) -> dict[str, object]:
        labels = Counter(s.stance for d in self.documents for s in d.stances)
        return {
            "documents": len(self.documents),
            "documents_by_split": dict(Counter(d.split for d in self.documents)),
            "stance_triples": sum(labels.values()),
            "stance_by_label": dict(labels),
            "sentiment_records": sum(len(d.sentiments) for d in self.documents),
            "arenas": len({d.arena for d in self.documents}),
            "issues_used": len({s.issue for d in self.documents for s in d.stances}),
            "actors": len({a for d in self.documents for a in d.actors}),
            "non_stance_records": sum(len(d.non_stances) for d in self.documents),
            "phenomena": dict(Counter(p for d in self.documents for s in d.stances for p in s.phenomena)),
            "styles": dict(Counter(d.style for d in self.documents)),
        }


def _read_jsonl(path: Path, problems: list[str]) -> list[tuple[int, dict]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            problems.append(f"{path}:{lineno}: blank line (not allowed in annotation files)")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{lineno}: invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            continue
        rows.append((lineno, obj))
    return rows


def _require(obj: dict, keys: tuple[str, ...], where: str, problems: list[str]) -> bool:
    missing = [k for k in keys if k not in obj]
    if missing:
        problems.append(f"{where}: missing field(s) {', '.join(missing)}")
        return False
    return True


def load_issues(path: Path, problems: list[str] | None = None) -> dict[str, Issue]:
    """Read an issue taxonomy JSONL file (id, name, phrases, optional arena/description)."""
    own = problems is None
    problems = [] if own else problems
    issues: dict[str, Issue] = {}
    for lineno, obj in _read_jsonl(path, problems):
        where = f"{path}:{lineno}"
        if not _require(obj, ("id", "name", "phrases"), where, problems):
            continue
        phrases = obj["phrases"]
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            problems.append(f"{where}: 'phrases' must be a non-empty list of non-empty strings")
            continue
        if obj["id"] in issues:
            problems.append(f"{where}: duplicate issue id {obj['id']!r}")
            continue
        issues[obj["id"]] = Issue(obj["id"], obj["name"], tuple(phrases), obj.get("arena", ""), obj.get("description", ""))
    if own and problems:
        raise CorpusError(problems)
    return issues


def _span(text: str, evidence: object, start: object, where: str, problems: list[str]) -> tuple[int, int] | None:
    if not isinstance(evidence, str) or not evidence.strip():
        problems.append(f"{where}: 'evidence' must be a non-empty string")
        return None
    if start is not None:
        if not isinstance(start, int) or text[start : start + len(evidence)] != evidence:
            problems.append(f"{where}: evidence not found at start={start!r}: {evidence[:60]!r}")
            return None
        return start, start + len(evidence)
    count = text.count(evidence)
    if count == 0:
        problems.append(f"{where}: evidence is not an exact substring of the article: {evidence[:80]!r}")
        return None
    if count > 1:
        problems.append(f"{where}: evidence occurs {count} times; add \"start\" (character offset): {evidence[:60]!r}")
        return None
    i = text.index(evidence)
    return i, i + len(evidence)


def load_document(ann_path: Path, issues: dict[str, Issue], problems: list[str]) -> Document | None:
    """Read one article (`<id>.txt`) and its annotation (`<id>.jsonl`), appending problems as file:line."""
    txt_path = ann_path.with_suffix(".txt")
    if not txt_path.exists():
        problems.append(f"{ann_path}:1: article text {txt_path.name} is missing")
        return None
    text = txt_path.read_text(encoding="utf-8")
    rows = _read_jsonl(ann_path, problems)
    if not rows or rows[0][1].get("type") != "document":
        problems.append(f"{ann_path}:1: the first line must be the 'document' record")
        return None
    lineno, meta = rows[0]
    where = f"{ann_path}:{lineno}"
    if not _require(meta, ("id", "title", "arena", "split", "style"), where, problems):
        return None
    if meta["id"] != ann_path.stem:
        problems.append(f"{where}: document id {meta['id']!r} does not match the file name {ann_path.stem!r}")
    if meta["split"] not in SPLITS:
        problems.append(f"{where}: split {meta['split']!r} is not one of {SPLITS}")
    if meta["style"] not in STYLES:
        problems.append(f"{where}: style {meta['style']!r} is not one of {STYLES}")
    if not text.startswith(meta["title"]):
        problems.append(f"{where}: the article's first line must be the title {meta['title'][:60]!r}")
    doc = Document(meta["id"], text, meta["title"], meta["arena"], meta["split"], meta["style"])
    pending: list[tuple[str, str, str]] = []  # (where, kind, actor id) to check once all actors are read
    seen: set[str] = set()
    for lineno, obj in rows[1:]:
        where = f"{ann_path}:{lineno}"
        kind = obj.get("type")
        key = json.dumps(obj, sort_keys=True)
        if key in seen:
            problems.append(f"{where}: duplicate record")
            continue
        seen.add(key)
        if kind == "actor":
            if not _require(obj, ("id", "name", "kind", "affiliation", "mentions"), where, problems):
                continue
            if obj["id"] in doc.actors:
                problems.append(f"{where}: duplicate actor id {obj['id']!r}")
                continue
            if obj["kind"] not in ACTOR_KINDS:
                problems.append(f"{where}: actor kind {obj['kind']!r} is not one of {ACTOR_KINDS}")
            mentions = obj["mentions"]
            if not isinstance(mentions, list) or not mentions:
                problems.append(f"{where}: 'mentions' must be a non-empty list")
                continue
            for m in mentions:
                if not isinstance(m, str) or m not in text:
                    problems.append(f"{where}: mention {m!r} does not occur in the article")
            if obj["affiliation"]:
                pending.append((where, "affiliation", obj["affiliation"]))
            doc.actors[obj["id"]] = GoldActor(obj["id"], obj["name"], obj["kind"], obj["affiliation"], tuple(mentions))
        elif kind == "stance":
            if not _require(obj, ("actor", "issue", "stance", "evidence", "sentiment"), where, problems):
                continue
            ok = True
            if obj["issue"] not in issues:
                problems.append(f"{where}: unknown issue id {obj['issue']!r} (add it to seeds/issues.jsonl first)")
                ok = False
            if obj["stance"] not in STANCES:
                problems.append(f"{where}: stance {obj['stance']!r} is not one of {STANCES}")
                ok = False
            if obj["sentiment"] not in SENTIMENTS:
                problems.append(f"{where}: sentiment {obj['sentiment']!r} is not one of {SENTIMENTS}")
                ok = False
            phenomena = obj.get("phenomena", [])
            if not isinstance(phenomena, list) or any(p not in PHENOMENA for p in phenomena):
                problems.append(f"{where}: phenomena must be a list of {PHENOMENA}")
                ok = False
            span = _span(text, obj["evidence"], obj.get("start"), where, problems)
            pending.append((where, "actor", obj["actor"]))
            if ok and span:
                doc.stances.append(GoldStance(obj["actor"], obj["issue"], obj["stance"], obj["sentiment"], *span,
                                              phenomena=tuple(phenomena)))
        elif kind == "non_stance":
            if not _require(obj, ("evidence", "reason"), where, problems):
                continue
            if obj["reason"] not in NON_STANCE_REASONS:
                problems.append(f"{where}: reason {obj['reason']!r} is not one of {NON_STANCE_REASONS}")
                continue
            span = _span(text, obj["evidence"], obj.get("start"), where, problems)
            if span:
                doc.non_stances.append(NonStance(obj["reason"], *span))
        elif kind == "sentiment":
            if not _require(obj, ("target", "sentiment", "evidence"), where, problems):
                continue
            if obj["sentiment"] not in SENTIMENTS:
                problems.append(f"{where}: sentiment {obj['sentiment']!r} is not one of {SENTIMENTS}")
                continue
            span = _span(text, obj["evidence"], obj.get("start"), where, problems)
            pending.append((where, "target", obj["target"]))
            if span:
                doc.sentiments.append(GoldSentiment(obj["target"], obj["sentiment"], *span))
        else:
            problems.append(f"{where}: unknown record type {kind!r} (expected actor, stance, sentiment or non_stance)")
    for where, what, actor_id in pending:
        if actor_id not in doc.actors:
            problems.append(f"{where}: {what} {actor_id!r} is not an actor id of this document")
    return doc


def load_corpus(root: Path) -> Corpus:
    """Load `root/issues.jsonl` and every article under `root/corpus/`; raise CorpusError listing all problems."""
    problems: list[str] = []
    issues = load_issues(root / "issues.jsonl", problems)
    docs = []
    for ann in sorted((root / "corpus").glob("*.jsonl")):
        doc = load_document(ann, issues, problems)
        if doc is not None:
            docs.append(doc)
    for txt in sorted((root / "corpus").glob("*.txt")):
        if not txt.with_suffix(".jsonl").exists():
            problems.append(f"{txt}:1: article has no annotation file {txt.with_suffix('.jsonl').name}")
    texts = Counter(d.text.strip() for d in docs)
    for d in docs:
        if texts[d.text.strip()] > 1:
            problems.append(f"{root / 'corpus' / (d.id + '.txt')}:1: duplicate article text")
    if problems:
        raise CorpusError(problems)
    return Corpus(issues, docs)


def _hash(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode()).hexdigest()


def read_manifest(root: Path) -> dict[str, str]:
    path = root / "splits.json"
    return json.loads(path.read_text()) if path.exists() else {}


def assign_splits(corpus: Corpus, manifest: dict[str, str]) -> dict[str, str]:
    """Fixed, arena-stratified splits: existing entries never move; each new article (in hash order)
    goes to the split furthest below its target share in its arena (70/15/15)."""
    out = dict(manifest)
    targets = {"train": 1 - sum(s for _, s in SPLIT_SHARES), **dict(SPLIT_SHARES)}
    by_arena: dict[str, list[Document]] = {}
    for d in corpus.documents:
        by_arena.setdefault(d.arena, []).append(d)
    for docs in by_arena.values():
        counts = Counter(out[d.id] for d in docs if d.id in out)
        for d in sorted((d for d in docs if d.id not in out), key=lambda d: _hash(d.id)):
            split = PINNED_SPLITS.get(d.id)
            if split is None:
                n = sum(counts.values()) + 1
                split = max(targets, key=lambda k: (targets[k] * n - counts[k], k == "train"))
            out[d.id] = split
            counts[split] += 1
    return dict(sorted(out.items()))


def split_problems(corpus: Corpus, root: Path) -> list[str]:
    manifest = read_manifest(root)
    problems = []
    for d in corpus.documents:
        ann = root / "corpus" / (d.id + ".jsonl")
        if d.id not in manifest:
            problems.append(f"{ann}:1: article has no fixed split yet (run `python -m training.corpus split`)")
        elif d.split != manifest[d.id]:
            problems.append(f"{ann}:1: split is {d.split!r}, seeds/splits.json fixes it as {manifest[d.id]!r}")
    return problems


def _shingles(text: str, n: int = 5) -> set[int]:
    words = text.lower().split()
    return {hash(tuple(words[i:i + n])) for i in range(max(1, len(words) - n + 1))}


def leakage_problems(corpus: Corpus, root: Path) -> list[str]:
    """Near-identical articles (5-gram Jaccard >= 0.5) in different splits would leak evaluation data."""
    sh = [(d, _shingles(d.text)) for d in corpus.documents]
    problems = []
    for i, (a, sa) in enumerate(sh):
        for b, sb in sh[i + 1:]:
            if a.split == b.split:
                continue
            jac = len(sa & sb) / max(1, len(sa | sb))
            if jac >= NEAR_DUPLICATE_JACCARD:
                problems.append(f"{root / 'corpus' / (b.id + '.txt')}:1: near-duplicate of {a.id} "
                                f"(Jaccard {jac:.2f}) across splits {a.split}/{b.split}")
    return problems


def write_splits(root: Path) -> Counter:
    """Fix the split of every new article in seeds/splits.json and in its document record."""
    corpus = load_corpus(root)
    manifest = assign_splits(corpus, read_manifest(root))
    (root / "splits.json").write_text(json.dumps(manifest, indent=1) + "\n")
    moved: Counter = Counter()
    for ann in sorted((root / "corpus").glob("*.jsonl")):
        lines = ann.read_text(encoding="utf-8").splitlines()
        meta = json.loads(lines[0])
        target = manifest[meta["id"]]
        if meta.get("split") != target:
            moved[f"{meta.get('split')}->{target}"] += 1
            meta["split"] = target
            lines[0] = json.dumps(meta, ensure_ascii=False)
            ann.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return moved


def default_seeds_dir() -> Path:
    """The corpus folder of the settings (STANCE_SEEDS_DIR), where every command looks unless told otherwise."""
    from training.settings import load_settings

    return load_settings().seeds_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check every span, id and label; print file:line for each problem")
    val.add_argument("--root", type=Path, default=None,
                     help="folder with issues.jsonl and corpus/ (default: STANCE_SEEDS_DIR, else the project's seeds/)")
    val.add_argument("--strict", action="store_true",
                     help="also require the fixed splits and no near-duplicates across splits (CI)")
    st = sub.add_parser("stats", help="print corpus statistics as JSON")
    st.add_argument("--root", type=Path, default=None)
    sp = sub.add_parser("split", help="write each article's fixed train/dev/test split into its annotation")
    sp.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    args.root = args.root or default_seeds_dir()
    if args.command == "split":
        print(dict(write_splits(args.root)) or "all splits already fixed")
        return 0
    try:
        corpus = load_corpus(args.root)
    except CorpusError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    extra = split_problems(corpus, args.root) + leakage_problems(corpus, args.root)
    if extra and args.command == "validate" and args.strict:
        for p in extra:
            print(p, file=sys.stderr)
        print(f"{len(extra)} problem(s)", file=sys.stderr)
        return 1
    if args.command == "stats":
        by_arena: dict[str, Counter] = {}
        for d in corpus.documents:
            by_arena.setdefault(d.arena, Counter())[d.split] += 1
        print(json.dumps({"version": corpus.digest(), **corpus.stats(),
                          "splits_by_arena": {k: dict(v) for k, v in sorted(by_arena.items())}}, indent=2))
    else:
        s = corpus.stats()
        print(f"ok: {s['documents']} articles, {s['stance_triples']} stance triples, version {corpus.digest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
