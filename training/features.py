"""Candidate -> feature dict: target-aware features for the stance, tone and sentiment classifiers."""

from __future__ import annotations

import string
import threading
from functools import lru_cache

from spacy.tokens import Span, Token
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from training.extract import Candidate, Mention, lowest_common_ancestor

FAVOR_LEX = {
    "support", "back", "endorse", "welcome", "advocate", "favor", "favour", "champion", "push", "urge", "demand",
    "accept", "agree", "embrace", "praise", "approve", "call", "insist", "seek", "want", "propose", "promote",
    "defend", "pledge", "commit", "sign", "ratify", "announce", "willingness", "willing", "ready", "open",
    "press", "vote", "applaud", "hail", "supportive", "backing", "support", "approval", "endorsement", "productive",
    "positive", "constructive", "necessary", "essential", "vital", "encourage", "secure", "deliver", "restore",
}
AGAINST_LEX = {
    "oppose", "opposition", "reject", "rejection", "dismiss", "rule", "condemn", "criticize", "criticise",
    "veto", "block", "refuse", "resist", "warn", "denounce", "slam", "attack", "accuse", "object", "halt",
    "suspend", "scrap", "abandon", "withdraw", "stall", "obstruct", "undermine", "sabotage", "hinder",
    "unacceptable", "opposed", "against", "never", "blast", "decry", "fight", "stop", "end", "cease", "ban",
    "protest", "boycott", "threaten", "retaliate", "delay", "freeze", "cut", "lift", "hostile", "illegal",
    "dangerous", "provocation", "provocative", "red", "non-starter", "deny", "challenge",
}
NEUTRAL_LEX = {
    "study", "consider", "review", "undecided", "decline", "comment", "unclear", "acceptable", "discuss",
    "examine", "assess", "evaluate", "weigh", "noncommittal", "mixed", "cautious", "balanced", "wait",
}
SPEECH_LEX = {"say", "state", "note", "tell", "add", "announce", "claim", "argue", "insist", "write", "report",
              "confirm", "suggest", "assert", "declare", "relay", "describe", "characterize", "according"}
NEGATIONS = {"not", "n't", "never", "no", "without", "neither", "nor"}


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _vader_words() -> tuple[dict[str, float], frozenset[str]]:
    vader = _vader()
    return vader.lexicon, frozenset(e for e in vader.emojis if len(e) == 1)


def _no_vader_word(text: str) -> bool:
    """True when VADER would score `text` 0.0: no word of it (split, stripped of punctuation and lowercased
    as VADER does) is in its lexicon, and no emoji brings one in. Nearly half of the texts scored (the
    windows round each mention) are such, and this costs a twentieth of a full scoring."""
    lexicon, emojis = _vader_words()
    if not emojis.isdisjoint(text):
        return False
    for word in text.split():
        stripped = word.strip(string.punctuation)
        if (stripped if len(stripped) > 2 else word).lower() in lexicon:
            return False
    return True


def _vader_compound(text: str) -> float:
    if _no_vader_word(text):
        return 0.0
    return _vader().polarity_scores(text)["compound"]


@lru_cache(maxsize=8192)
def _vader_word(word: str) -> float:
    """One word's score: words recur across documents, unlike sentences."""
    return _vader_compound(word)


def _lemma(t: Token) -> str:
    return t.lemma_.lower()


class _Tokens:
    """What the feature functions read of every token, looked up once per document: candidates and targets
    share sentences, and spaCy's attribute lookups dominated the features' cost."""

    def __init__(self, doc):
        self.doc = doc
        self.lemma = [t.lemma_.lower() for t in doc]
        self.word = [t.is_alpha and not t.is_stop for t in doc]
        self.alpha = [t.is_alpha for t in doc]
        # Heads of a negation ("not", "never", a `neg` dependent).
        self.negated = {t.head.i for t in doc if t.head.i != t.i and (t.dep_ == "neg" or t.lower_ in NEGATIONS)}
        self.has_neg = [t.dep_ == "neg" for t in doc]
        self.first_person = [t.lower_ in FIRST_PERSON for t in doc]
        # Each token's sentence (start, and root) without spaCy's per-call search for the boundaries.
        self.sent_start = [0] * len(doc)
        self.sent_root = [0] * len(doc)
        for sent in doc.sents:
            root = sent.root.i
            for j in range(sent.start, sent.end):
                self.sent_start[j], self.sent_root[j] = sent.start, root
        self._sentences: dict[tuple[int, int], tuple[str, dict[str, float], dict[int, tuple[str, ...]]]] = {}
        self._vader: dict[str, float] = {}

    def vader(self, text: str) -> float:
        """VADER's compound score of a text of this document. Each sentence is scored for every candidate
        and mention in it, so the scores are kept, for this document only: a text seen again in another
        document costs what a new one does."""
        score = self._vader.get(text)
        if score is None:
            score = self._vader[text] = _vader_compound(text)
        return score

    def sentence(self, sent: Span) -> tuple[str, dict[str, float], dict[int, tuple[str, ...]]]:
        """A sentence's text, its unmasked word and lexicon features, and what each token adds to them:
        candidates and targets in one sentence share these."""
        key = (sent.start, sent.end)
        cached = self._sentences.get(key)
        if cached is None:
            base: dict[str, float] = {}
            parts: dict[int, tuple[str, ...]] = {}
            for j in range(sent.start, sent.end):
                keys = _lexicon_keys("sent_", self.lemma[j], j in self.negated)
                if self.word[j]:
                    keys.append(f"w={self.lemma[j]}")
                for k in keys:
                    base[k] = base.get(k, 0) + 1
                if keys:
                    parts[j] = tuple(keys)
            cached = self._sentences[key] = (sent.text, base, parts)
        return cached


_token_cache = threading.local()


def _tokens(doc) -> _Tokens:
    cached = getattr(_token_cache, "tokens", None)
    if cached is None or cached.doc is not doc:
        cached = _token_cache.tokens = _Tokens(doc)
    return cached


def _negated(t: Token) -> bool:
    """Whether a negation ("not", "never", a `neg` dependent) hangs off `t`."""
    return t.i in _tokens(t.doc).negated


def _bucket(x: float) -> str:
    return "pos" if x >= 0.3 else "neg" if x <= -0.3 else "mid"


def _path(a: Token, b: Token) -> tuple[list[Token], list[Token], Token | None]:
    lca = lowest_common_ancestor(a, b)
    if lca is None:
        return [], [], None
    up, t = [], a
    while t.i != lca.i:
        up.append(t)
        t = t.head
    down, t = [], b
    while t.i != lca.i:
        down.append(t)
        t = t.head
    return up, down, lca


FIRST_PERSON = {"i", "we", "me", "us", "my", "our"}
SUBJECTS = ("nsubj", "nsubjpass")


def conj_head(t: Token) -> Token:
    """The first conjunct: "Ukraine and its European partners advocate" -> partners acts like Ukraine."""
    while t.dep_ == "conj" and t.head.i != t.i:
        t = t.head
    return t


def acting_token(t: Token) -> Token:
    """The token that acts for a mention: "European" in "European partners" acts through "partners", "CGIL"
    in "The CGIL union" through "union"."""
    while t.dep_ in ("amod", "compound") and t.head.pos_ in ("NOUN", "PROPN") and t.head.i != t.i:
        t = t.head
    return t


def _clauses_above(t: Token) -> list[Token]:
    """The verbs (and the root) that govern `t`, nearest first: the clauses a position could sit in."""
    out = []
    for a in t.ancestors:
        if a.pos_ in ("VERB", "AUX") or a.dep_ == "ROOT":
            out.append(a)
    return out


def _according_to(h: Token) -> bool:
    """`h` is the source in "according to X" (or a word of its apposition or compound: "according to
    Dmitry Peskov, the Kremlin spokesman")."""
    seen = set()
    while h.dep_ in ("appos", "compound", "conj", "det", "amod", "poss") and h.head.i != h.i and h.i not in seen:
        seen.add(h.i)
        h = h.head
    return h.dep_ == "pobj" and h.head.lower_ == "to" and h.head.head.lower_ == "according"


def attribution_features(h: Token, i: Token, f: dict[str, float]) -> None:
    """Where the holder stands relative to the clauses that govern the issue: the subject of the nearest
    one ("Russia rejects X"), the reporter of someone else's position ("Kyiv says Moscow rejects X": Kyiv's
    clause is above a clause with its own subject), the source of "according to X", a possessor ("Putin's
    willingness for talks"), or off the path."""
    if _according_to(h):
        f["attr_according_to"] = 1
    clauses = _clauses_above(i)
    for k, verb in enumerate(clauses):
        subjects = [conj_head(c) for c in verb.children if c.dep_ in SUBJECTS]
        subjects += [g for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"]
        if h in subjects:
            f[f"attr_subject_of_clause={min(k, 2)}"] = 1
            nearer = [v for v in clauses[:k] if any(c.dep_ in SUBJECTS and c.tag_ not in ("WDT", "WP")
                                                   for c in v.children)]
            if nearer:
                f["attr_reports_other"] = 1
            return
        if h.dep_ == "poss" and h.head.head.i == verb.i:
            f[f"attr_possessor_in_clause={min(k, 2)}"] = 1
            return
    f["attr_off_path"] = 1


def _lexicon_keys(prefix: str, lemma: str, flip: bool) -> list[str]:
    """The stance-lexicon counts a word adds to, a negated word counting for the other side."""
    keys = []
    if lemma in FAVOR_LEX:
        keys.append(f"{prefix}lex_{'against' if flip else 'favor'}")
    if lemma in AGAINST_LEX:
        keys.append(f"{prefix}lex_{'favor' if flip else 'against'}")
    if lemma in NEUTRAL_LEX:
        keys.append(f"{prefix}lex_neutral")
    return keys


def _add_lexicon(f: dict[str, float], prefix: str, tokens: _Tokens, idx, negated: bool) -> None:
    """Counts of stance words among the tokens `idx`, a negated one counting for the other side."""
    for j in idx:
        for key in _lexicon_keys(prefix, tokens.lemma[j], negated or j in tokens.negated):
            f[key] = f.get(key, 0) + 1


def _sentence_features(f: dict[str, float], tokens: _Tokens, sent: Span, masked: set[int]) -> None:
    """The sentence's own words and lexicon counts, the holder/issue/target masked out."""
    _, base, parts = tokens.sentence(sent)
    counts = dict(base)
    for j in masked:
        for k in parts.get(j, ()):
            counts[k] -= 1
    for k, n in counts.items():
        if n:
            f[k] = 0.5 if k.startswith("w=") else f.get(k, 0) + n


def stance_features(c: Candidate) -> dict[str, float]:
    """Features of one (holder, issue, sentence) candidate; holder or issue may be absent."""
    sent: Span = c.sent
    doc = c.doc
    tokens = _tokens(doc)
    f: dict[str, float] = {"bias": 1.0}
    masked: set[int] = set()
    h = i = None
    if c.holder is not None:
        h = doc[c.holder.tok_start:c.holder.tok_end].root
        masked.update(range(c.holder.tok_start, c.holder.tok_end))
        f[f"h_dep={h.dep_}"] = 1
        f[f"h_head={_lemma(h.head)}"] = 1
        if c.holder.via == "pronoun":
            f["h_pronoun"] = 1
        if c.holder.via == "quote":
            # The speaker of the quotation this sentence is part of, named in a neighbouring sentence.
            f["h_quote_speaker"] = 1
        if h.head.dep_ == "agent":
            f["h_agent"] = 1
            f[f"h_agent_of={_lemma(h.head.head)}"] = 1
        if h.dep_ == "poss":
            f[f"h_poss_of={_lemma(h.head)}"] = 1
        if any(t.dep_ == "appos" for t in (h, *h.ancestors) if t.i != tokens.sent_root[h.i]):
            # "Gregory Bovino, the chief of the Border Patrol's El Centro Sector, ...": inside a description.
            f["h_in_appos"] = 1
        if h.head.dep_ == "pobj" or h.dep_ == "pobj":
            f[f"h_prep={_lemma(h.head)}"] = 1
    else:
        f["no_holder"] = 1
    if c.issue is not None:
        i = doc[c.issue.tok_start:c.issue.tok_end].root
        # The whole issue phrase ("Ukraine's potential NATO membership") is the target, not context.
        masked.update(range(min(c.issue.scope[0], c.issue.tok_start), max(c.issue.scope[1], c.issue.tok_end)))
        f[f"i_dep={i.dep_}"] = 1
        f[f"i_head={_lemma(i.head)}"] = 1
        if c.issue.implicit:
            # Not named in the sentence: the issue in play (sharing words with it, or the article's main issue).
            f[f"i_implicit={c.issue.implicit}"] = 1
            if c.issue.link:
                f["i_link"] = c.issue.link
        elif c.issue.anaphoric:
            f["i_anaphoric"] = 1
        if _negated(i.head):
            f["i_head_neg"] = 1
    else:
        f["no_issue"] = 1
    if h is not None and i is not None and tokens.sent_start[h.i] == tokens.sent_start[i.i]:
        actor = acting_token(h)
        attribution_features(conj_head(actor), i, f)
        if actor.dep_ == "conj":
            f["h_conj"] = 1
    if c.holder is not None and c.holder.via == "quote" and any(tokens.first_person[sent.start:sent.end]):
        # '"We want the curbs gone," Greer said': the speaker talks about their own side.
        f["quote_first_person"] = 1
    if h is not None and i is not None:
        up, down, lca = _path(conj_head(h), i)
        if lca is not None:
            steps = [f"{t.dep_}^" for t in up] + [f"v{t.dep_}" for t in reversed(down)]
            f[f"path={' '.join(steps[:5])}"] = 1
            f[f"lca={_lemma(lca)}"] = 1
            f[f"path_len={min(len(steps), 8)}"] = 1
            neg = _negated(lca) or any(_negated(t) for t in up[1:] + down[1:])
            if neg:
                f["path_neg"] = 1
                f[f"lca_neg={_lemma(lca)}"] = 1
            on_path = [lca, *up[1:], *down[1:]]
            for t in on_path:
                if t.pos_ in ("VERB", "NOUN", "ADJ", "AUX"):
                    f[f"pv={_lemma(t)}"] = 1
            _add_lexicon(f, "path_", tokens, [t.i for t in on_path], neg)
            f["holder_first"] = float(h.i < i.i)
            if _lemma(lca) in SPEECH_LEX and h in up[:1] and i in down:
                f["reported_speech"] = 1
            lo, hi = sorted((h.i, i.i))
            for j in range(lo + 1, hi):
                if j not in masked and tokens.word[j]:
                    f[f"b={tokens.lemma[j]}"] = 1
    if i is not None:
        for j in range(max(sent.start, c.issue.tok_start - 3), c.issue.tok_start):
            f[f"pre_i={tokens.lemma[j]}"] = 1
    if i is not None:
        # The clause that governs the issue ("... membership was a key question"): its own polarity words.
        clause = i.head
        while clause.pos_ not in ("VERB", "AUX") and clause.dep_ != "ROOT" and clause.head.i != clause.i:
            clause = clause.head
        f[f"i_clause={_lemma(clause)}"] = 1
        # The parser is projective: a subtree is the span from its left edge to its right edge.
        subtree = range(clause.left_edge.i, clause.right_edge.i + 1)
        _add_lexicon(f, "clause_", tokens, [j for j in subtree if j not in masked], _negated(clause))
    if any(tokens.has_neg[sent.start:sent.end]):
        f["sent_neg"] = 1
    _sentence_features(f, tokens, sent, masked)
    text = tokens.sentence(sent)[0]
    compound = tokens.vader(text)
    f["vader"] = compound
    f[f"vader_{_bucket(compound)}"] = 1
    if '"' in text or "“" in text:
        f["has_quote"] = 1
    return f


def target_features(doc, sent: Span, target: Mention | None) -> dict[str, float]:
    """Features for the sentiment of `sent` toward the target mention (None: the sentence as a whole)."""
    f: dict[str, float] = {"bias": 1.0}
    tokens = _tokens(doc)
    masked: set[int] = set()
    if target is not None:
        masked.update(range(target.tok_start, target.tok_end))
        root = doc[target.tok_start:target.tok_end].root
        f[f"t_dep={root.dep_}"] = 1
        f[f"t_head={_lemma(root.head)}_{root.dep_}"] = 1
        f[f"t_head_lemma={_lemma(root.head)}"] = 1
        if _negated(root.head):
            f["t_head_neg"] = 1
        head_c = _vader_word(root.head.text)
        if head_c:
            f["t_head_vader"] = head_c
        for j in range(max(sent.start, target.tok_start - 6), target.tok_start):
            if tokens.alpha[j]:
                f[f"l={tokens.lemma[j]}"] = 1
        for j in range(target.tok_end, min(sent.end, target.tok_end + 6)):
            if tokens.alpha[j]:
                f[f"r={tokens.lemma[j]}"] = 1
        window = doc[max(sent.start, target.tok_start - 8):min(sent.end, target.tok_end + 8)]
        wc = tokens.vader(window.text)
        f["win_vader"] = wc
        f[f"win_vader_{_bucket(wc)}"] = 1
        if root.dep_ in ("dobj", "pobj", "nsubjpass"):
            f[f"t_obj_of={_lemma(root.head if root.dep_ != 'pobj' else root.head.head)}"] = 1
    else:
        f["no_target"] = 1
    _sentence_features(f, tokens, sent, masked)
    c = tokens.vader(tokens.sentence(sent)[0])
    f["vader"] = c
    f[f"vader_{_bucket(c)}"] = 1
    return f


# ----- one featurizer for training, serving and benchmarks ---------------------------------------------------
def candidate_text(c: Candidate) -> str:
    """The candidate's sentence for the sentence encoder, its holder replaced by a marker: "[HOLDER] rejects
    Ukraine's membership in NATO"."""
    return _with_marker(c.sent, c.holder, "[HOLDER]")


def target_text(sent: Span, target: Mention | None) -> str:
    """The sentence with the target replaced by a marker (the representation that scored best on NewsMTSC)."""
    return _with_marker(sent, target, "[TGT]")


def _with_marker(sent: Span, mention: Mention | None, marker: str) -> str:
    """`sent`'s text with `mention` (if it lies in the sentence) replaced by `marker`."""
    if mention is None or not sent.start_char <= mention.start < sent.end_char:
        return sent.text.strip()
    start, end = mention.start - sent.start_char, mention.end - sent.start_char
    return (sent.text[:start] + marker + sent.text[end:]).strip()


class Featurizer:
    """Feature dicts for candidates and targets: the sparse, target-aware features above, plus (when a model
    was trained with the optional sentence encoder) the encoder's vectors, computed in batches."""

    def __init__(self, encoder=None):
        self.encoder = encoder

    @property
    def encoder_name(self) -> str:
        return self.encoder.name if self.encoder is not None else ""

    def stance(self, candidates: list[Candidate], issue_texts: list[str]) -> list[dict[str, float]]:
        feats = [stance_features(c) for c in candidates]
        if self.encoder is not None and candidates:
            from training.encoder import dense

            sents = self.encoder.encode([candidate_text(c) for c in candidates])
            topics = self.encoder.encode([t or "" for t in issue_texts])
            # The author holds what the whole text says: author candidates also see the text's vector.
            authored = [k for k, c in enumerate(candidates) if c.holder is None]
            texts = dict(zip(authored, self.encoder.encode([candidates[k].doc.text.strip() for k in authored])))
            for k, (f, s, t) in enumerate(zip(feats, sents, topics)):
                f.update(dense("es", s))
                f.update(dense("et", t))
                f.update(dense("ex", s * t))
                if k in texts:
                    f.update(dense("ed", texts[k]))
                    f.update(dense("edx", texts[k] * t))
        return feats

    def target(self, items: list[tuple[object, Span, Mention | None]]) -> list[dict[str, float]]:
        """`items`: (doc, sentence, target mention or None)."""
        feats = [target_features(doc, sent, m) for doc, sent, m in items]
        if self.encoder is not None and items:
            from training.encoder import dense

            vecs = self.encoder.encode([target_text(sent, m) for _, sent, m in items])
            for f, v in zip(feats, vecs):
                f.update(dense("es", v))
        return feats
