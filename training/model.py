"""The stance & sentiment model: spaCy extraction + scikit-learn classifiers, saved and served as one unit."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from training.corpus import Issue
from training.errors import DeadlineError, InvalidInputError, NotFoundError, StanceError
from training.extract import (Candidate, Extraction, Extractor, IssueLinker, Mention, author_candidates,
                              implicit_issue_hit, phrases_from_name)
from training.features import Featurizer
from training.nlp import build_nlp
from training.registry import ActorRegistry, Taxonomy, normalize_alias
from training.vectorize import predict_proba

logger = logging.getLogger(__name__)

STANCE_LABELS = ("favor", "against", "neutral")
NONE = "none"
SENTIMENT_LABELS = ("positive", "negative", "neutral")
FORMAT_VERSION = 1


@dataclass
class Classifiers:
    """The three fitted scikit-learn pipelines (DictVectorizer -> LogisticRegression)."""

    stance: Pipeline  # favor / against / neutral / none for a (holder, issue, sentence) candidate
    tone: Pipeline  # positive / negative / neutral tone of the holder's statement
    sentiment: Pipeline  # positive / negative / neutral toward a target mention
    encoder: str = ""  # the optional sentence encoder the features include ("" = none, "minilm")
    # Which issue a sentence that names none speaks to (None in models trained before it: word-overlap rules).
    linker: IssueLinker | None = None


@dataclass
class Span:
    start: int
    end: int
    text: str


@dataclass
class ActorResult:
    id: str
    name: str
    kind: str
    affiliation: str
    mentions: list[Span]


@dataclass
class StanceResult:
    actor_id: str
    issue_id: str
    stance: str
    confidence: float
    evidence: list[Span]
    sentiment: str
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class SentimentResult:
    actor_id: str
    sentiment: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class IssueResult:
    issue_id: str
    name: str
    mentions: list[Span]


@dataclass
class Analysis:
    actors: list[ActorResult]
    stances: list[StanceResult]
    sentiments: list[SentimentResult]
    issues: list[IssueResult]


def _proba(pipe: Pipeline, feats: list[dict]) -> list[dict[str, float]]:
    if not feats:
        return []
    probs = predict_proba(pipe, feats)
    classes = list(pipe.classes_)
    return [{c: float(p[k]) for k, c in enumerate(classes)} for p in probs]


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def late_message(where: str) -> str:
    """DeadlineError's message: where the deadline passed, and what to do."""
    return f"the deadline passed {where}; nothing more was done (allow more time or send less text)"


def _three_way(p: dict[str, float]) -> dict[str, float]:
    total = sum(p.get(k, 0.0) for k in STANCE_LABELS) or 1.0
    return {k: p.get(k, 0.0) / total for k in STANCE_LABELS}


def _argmax(p: dict[str, float]) -> str:
    return max(p, key=p.get)


class StanceModel:
    """Everything needed to answer requests. Built once per process; thread-safe for reads."""

    def __init__(self, registry: ActorRegistry, taxonomy: Taxonomy, classifiers: Classifiers | None,
                 max_chars: int = 100_000):
        self.registry = registry
        self.taxonomy = taxonomy
        self.classifiers = classifiers
        self.max_chars = max_chars
        self.nlp = build_nlp(registry)
        self.extractor = Extractor(self.nlp, registry, taxonomy.issues)
        self.extractor.linker = classifiers.linker if classifiers is not None else None
        self.featurizer = Featurizer()
        if classifiers is not None and classifiers.encoder:
            self.use_encoder(classifiers.encoder)
        # spaCy's memory zones (which keep a long-running server's vocabulary from growing) are not safe
        # across threads: one request at a time per process; parallelism comes from worker processes.
        self._lock = threading.RLock()

    # ----- persistence -------------------------------------------------------------------------------
    def save(self, path: Path, registry_file: Path, taxonomy_file: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.classifiers, path / "classifiers.joblib")
        shutil.copy(registry_file, path / "actors.jsonl")
        shutil.copy(taxonomy_file, path / "issues.jsonl")
        (path / "meta.json").write_text(json.dumps({"format_version": FORMAT_VERSION}))

    @classmethod
    def load(cls, path: Path, max_chars: int = 100_000) -> "StanceModel":
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: model format {meta.get('format_version')} is not {FORMAT_VERSION}; retrain")
        classifiers = joblib.load(path / "classifiers.joblib")
        return cls(ActorRegistry.from_jsonl(path / "actors.jsonl"), Taxonomy.from_jsonl(path / "issues.jsonl"),
                   classifiers, max_chars)

    # ----- shared steps ------------------------------------------------------------------------------
    def check_text(self, text: str) -> None:
        if not text or not text.strip():
            raise InvalidInputError("text is empty: send the article or sentence to analyse")
        if len(text) > self.max_chars:
            raise InvalidInputError(f"text has {len(text)} characters; the limit is {self.max_chars} "
                                    "(split the document or raise STANCE_MAX_TEXT_CHARS)")

    def parse(self, text: str):
        return self.nlp(text)

    def extract(self, doc, extra_issues: dict[str, Issue] | None = None) -> Extraction:
        return self.extractor.extract(doc, extra_issues)

    def resolve_issues(self, issues: list[Issue]) -> dict[str, Issue]:
        """Validate request issues: a known id alone refers to the taxonomy; new ids need name or phrases."""
        out: dict[str, Issue] = {}
        for n, issue in enumerate(issues):
            if not issue.id.strip():
                raise InvalidInputError(f"issues[{n}]: id is empty")
            if issue.id in out:
                raise InvalidInputError(f"issues[{n}]: duplicate issue id {issue.id!r}")
            phrases = tuple(p.strip() for p in issue.phrases if p.strip())
            if not phrases and not issue.name.strip():
                if issue.id in self.taxonomy.issues:
                    out[issue.id] = self.taxonomy.issues[issue.id]
                    continue
                raise NotFoundError(f"issues[{n}]: unknown issue id {issue.id!r}; give a name or phrases to define "
                                    "an ad-hoc issue, or use ListIssues for the taxonomy ids")
            if any(len(p) > 200 for p in phrases):
                raise InvalidInputError(f"issues[{n}]: phrases must be at most 200 characters")
            out[issue.id] = Issue(issue.id, issue.name or issue.id, phrases or phrases_from_name(issue.name), "",
                                  issue.description)
        return out

    def use_encoder(self, name: str, cache_dir: Path | None = None, threads: int = 1) -> None:
        """Add the optional sentence encoder's vectors to the features (raises EncoderUnavailable, with what
        to install, when the extra is missing)."""
        from training.encoder import SentenceEncoder

        self.featurizer = Featurizer(SentenceEncoder(name, cache_dir, threads) if name else None)

    def issue_texts(self, candidates: list[Candidate], issues: dict[str, Issue] | None = None) -> list[str]:
        """What each candidate's issue is called (for the encoder): the request's or the taxonomy's name."""
        known = {**self.taxonomy.issues, **(issues or {})}
        return [known[c.issue_id].name if c.issue_id in known else (c.issue.text if c.issue else "")
                for c in candidates]

    def stance_features(self, candidates: list[Candidate], issues: dict[str, Issue] | None = None) -> list[dict]:
        return self.featurizer.stance(candidates, self.issue_texts(candidates, issues))

    def stance_proba(self, candidates: list[Candidate], issues: dict[str, Issue] | None = None) -> list[dict[str, float]]:
        return _proba(self.classifiers.stance, self.stance_features(candidates, issues))

    def tone_proba(self, candidates: list[Candidate], issues: dict[str, Issue] | None = None) -> list[dict[str, float]]:
        return _proba(self.classifiers.tone, self.stance_features(candidates, issues))

    def sentiment_proba(self, doc, mentions: list[Mention]) -> list[dict[str, float]]:
        items = [(doc, doc[m.tok_start:m.tok_end].sent if m.tok_end > m.tok_start else doc[:], m) for m in mentions]
        return _proba(self.classifiers.sentiment, self.featurizer.target(items))

    # ----- requests ----------------------------------------------------------------------------------
    def _prepare(self, text: str, issues) -> dict[str, Issue]:
        """Validate one request; return its ad-hoc issues (taxonomy ids named in the request need none)."""
        self.check_text(text)
        extra = self.resolve_issues(list(issues))
        return {k: v for k, v in extra.items() if k not in self.taxonomy.issues or v is not self.taxonomy.issues[k]}

    def analyze(self, text: str, issues: list[Issue] = (), deadline: float | None = None) -> Analysis:
        """One document. `deadline` (a `time.monotonic()` instant): the work stops between pipeline steps
        once it has passed, with DeadlineError, instead of finishing for a caller who has gone."""
        result = self.analyze_many([(text, list(issues))], deadline)[0]
        if isinstance(result, StanceError):
            raise result
        return result

    def analyze_many(self, requests: list[tuple[str, list[Issue]]],
                     deadline: float | None = None) -> list[Analysis | StanceError]:
        """Analyse several documents as one batch (each pipeline step over all of them, as `nlp.pipe` does);
        a bad document yields its error, in place. Past `deadline` the rest of the batch stops between steps."""
        out: list[Analysis | StanceError | None] = [None] * len(requests)
        for k, result in self.analyze_each(requests, [deadline] * len(requests)):
            out[k] = result
        return out

    def analyze_each(self, requests: list[tuple[str, list[Issue]]],
                     deadlines: list[float | None]) -> Iterator[tuple[int, Analysis | StanceError]]:
        """The batch of `analyze_many`, each document with its own deadline: yields (index, result) as each
        document is done, so its caller can answer before the rest of the batch is. A document whose deadline
        passes gets DeadlineError and leaves the batch at the next step; the others go on."""
        ready = []
        for k, (text, issues) in enumerate(requests):
            try:
                ready.append((k, text, self._prepare(text, issues)))
            except StanceError as exc:
                yield k, exc
        with self._lock, self.nlp.memory_zone():
            live = []
            for k, text, adhoc in ready:
                if _late(deadlines[k]):
                    yield k, DeadlineError(late_message("before parsing (waiting for this worker)"))
                else:
                    live.append((k, adhoc, self.nlp.make_doc(text)))
            for name, component in self.nlp.pipeline:
                late = {item[0] for item in live if _late(deadlines[item[0]])}
                for k in sorted(late):
                    yield k, DeadlineError(late_message(f"while parsing (before {name})"))
                live = [item for item in live if item[0] not in late]
                docs = [doc for _, _, doc in live]
                docs = list(component.pipe(docs)) if hasattr(component, "pipe") else [component(d) for d in docs]
                live = [(k, adhoc, doc) for (k, adhoc, _), doc in zip(live, docs)]
            for k, adhoc, doc in live:
                if _late(deadlines[k]):
                    yield k, DeadlineError(late_message("while analysing"))
                else:
                    yield k, self._analysis(self.extract(doc, adhoc), {**self.taxonomy.issues, **adhoc})

    def _analysis(self, ex: Extraction, issues: dict[str, Issue]) -> Analysis:
        # Features once per candidate: the stance classifier reads all of them, the tone classifier the
        # clearest statement of each position, in one batch.
        feats = self.stance_features(ex.candidates, issues)
        probs = _proba(self.classifiers.stance, feats)
        groups: dict[tuple[str, str], list[tuple[int, dict[str, float]]]] = defaultdict(list)
        for k, (cand, p) in enumerate(zip(ex.candidates, probs)):
            if _argmax(p) != NONE:
                groups[(cand.actor_id, cand.issue_id)].append((k, p))
        stances: list[StanceResult] = []
        clearest: list[int] = []
        for (actor_id, issue_id), items in groups.items():
            # Every statement votes with its probabilities: one confident outlier does not outvote the rest.
            mean = {k: float(np.mean([p[k] for _, p in items])) for k in (*STANCE_LABELS, NONE)}
            label = max(STANCE_LABELS, key=lambda k: mean[k])
            supporting = [(k, p) for k, p in items if max(STANCE_LABELS, key=lambda lab: p[lab]) == label] or items
            evidence = [Span(ex.candidates[k].sent.start_char, ex.candidates[k].sent.end_char,
                             ex.candidates[k].sent.text.strip()) for k, _ in supporting]
            clearest.append(max(supporting, key=lambda kp: kp[1][label])[0])
            stances.append(StanceResult(actor_id, issue_id, label, mean[label], evidence, "", mean))
        for st, tone in zip(stances, _proba(self.classifiers.tone, [feats[k] for k in clearest])):
            st.sentiment = _argmax(tone)
        stances.sort(key=lambda s: (min(e.start for e in s.evidence), s.actor_id, s.issue_id))
        actors = [ActorResult(a.id, a.name, a.kind, a.affiliation, [Span(m.start, m.end, m.text) for m in a.mentions])
                  for a in sorted(ex.actors.values(), key=lambda a: a.mentions[0].start)]
        mention_list = [m for a in ex.actors.values() for m in a.mentions]
        sent_probs = self.sentiment_proba(ex.doc, mention_list)
        per_actor: dict[str, list[dict[str, float]]] = defaultdict(list)
        for m, p in zip(mention_list, sent_probs):
            per_actor[m.actor_id].append(p)
        sentiments = []
        for a in actors:
            ps = per_actor.get(a.id)
            if not ps:
                continue
            mean = {k: float(np.mean([p.get(k, 0.0) for p in ps])) for k in SENTIMENT_LABELS}
            # One clearly polar mention ("Putin accused European nations of ...") decides over many
            # neutral ones; the scores keep the mean over all mentions.
            polar = max(((p.get(k, 0.0), k) for p in ps for k in ("positive", "negative")), default=(0.0, ""))
            if polar[0] > 0.5:
                sentiments.append(SentimentResult(a.id, polar[1], polar[0], mean))
            else:
                sentiments.append(SentimentResult(a.id, "neutral", mean["neutral"], mean))
        by_issue: dict[str, list[Span]] = defaultdict(list)
        for h in ex.issue_hits:
            by_issue[h.issue_id].append(Span(h.start, h.end, h.text))
        issue_results = [IssueResult(iid, issues[iid].name if iid in issues else iid, spans)
                         for iid, spans in by_issue.items()]
        return Analysis(actors, stances, sentiments, issue_results)

    def classify_stance(self, text: str, holder: str, issue: Issue) -> StanceResult:
        self.check_text(text)
        resolved = self.resolve_issues([issue])[issue.id]
        adhoc = {} if self.taxonomy.issues.get(issue.id) is resolved else {issue.id: resolved}
        with self._lock, self.nlp.memory_zone():
            doc = self.parse(text)
            ex = self.extract(doc, adhoc)
            if holder.strip():
                actor_id = self._find_holder(ex, holder)
                cands = [c for c in ex.candidates if c.actor_id == actor_id and c.issue_id == issue.id]
                if not cands:
                    # The issue is not named in the holder's sentences: what their main verb is about stands
                    # for it ("This proposal ... is opposed by Russia").
                    ments = [m for m in ex.actors[actor_id].mentions if m.via != "quote"][:5]
                    cands = []
                    for m in ments:
                        sent = doc[m.tok_start:m.tok_end].sent
                        cands.append(Candidate(doc, sent, m, implicit_issue_hit(sent, m, issue.id)))
            else:
                cands = author_candidates(doc, ex.issue_hits, issue.id)
            probs = self.stance_proba(cands, {issue.id: resolved})
            best = min(range(len(cands)), key=lambda k: probs[k].get(NONE, 0.0))
            scores = _three_way(probs[best])
            label = _argmax(scores)
            tone = _argmax(self.tone_proba([cands[best]], {issue.id: resolved})[0])
            evidence = [Span(cands[best].sent.start_char, cands[best].sent.end_char, cands[best].sent.text.strip())]
            return StanceResult(cands[best].actor_id, issue.id, label, scores[label], evidence, tone, scores)

    def _find_holder(self, ex: Extraction, holder: str) -> str:
        key = normalize_alias(holder)
        known = self.registry.lookup(key)
        if known and known in ex.actors:
            return known
        lowered = key.lower()
        for a in ex.actors.values():
            names = {a.name.lower(), *(normalize_alias(m.text).lower() for m in a.mentions)}
            if lowered in names or any(lowered.split()[-1] == n.split()[-1] for n in names if n):
                return a.id
        raise InvalidInputError(f"holder {holder!r} is not mentioned in the text as an actor; "
                                "use a name as it appears in the text, or leave holder empty for the author")

    def classify_sentiment(self, text: str, target: str, span: tuple[int, int] | None = None) -> SentimentResult:
        self.check_text(text)
        with self._lock, self.nlp.memory_zone():
            doc = self.parse(text)
            if span is not None:
                start, end = span
                if not (0 <= start < end <= len(text)):
                    raise InvalidInputError(f"target_span [{start}, {end}) is outside the text (length {len(text)})")
                cs = doc.char_span(start, end, alignment_mode="expand")
                mentions = [Mention(cs.start_char, cs.end_char, cs.text, cs.start, cs.end, "target")]
            elif target.strip():
                mentions = self._target_mentions(doc, target.strip())
            else:
                mentions = []
            if mentions:
                probs = self.sentiment_proba(doc, mentions)
            else:
                probs = _proba(self.classifiers.sentiment, self.featurizer.target([(doc, s, None) for s in doc.sents]))
            mean = {k: float(np.mean([p.get(k, 0.0) for p in probs])) for k in SENTIMENT_LABELS}
            label = _argmax(mean)
            return SentimentResult(mentions[0].actor_id if mentions else "", label, mean[label], mean)

    def _target_mentions(self, doc, target: str) -> list[Mention]:
        ex_actors = self.extractor.actor_finder.find(doc)
        key = normalize_alias(target).lower()
        for a in ex_actors.values():
            names = {a.name.lower(), *(normalize_alias(m.text).lower() for m in a.mentions)}
            if key in names or (self.registry.lookup(normalize_alias(target)) == a.id):
                return a.mentions
        lowered = doc.text.lower()
        out, pos = [], lowered.find(target.lower())
        while pos != -1 and len(out) < 20:
            cs = doc.char_span(pos, pos + len(target), alignment_mode="expand")
            out.append(Mention(cs.start_char, cs.end_char, cs.text, cs.start, cs.end, "target"))
            pos = lowered.find(target.lower(), pos + len(target))
        if not out:
            raise InvalidInputError(f"target {target!r} does not occur in the text; give a name that appears in it "
                                    "or a target_span")
        return out
