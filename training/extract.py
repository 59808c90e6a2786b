"""Text -> actors, issue mentions and (holder, issue) candidates: the one path shared by training and serving."""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from training import nominals
from training.corpus import Issue
from training.nlp import is_heading_line
from training.registry import ActorRegistry, normalize_alias, slug
from training.vectorize import predict_proba

logger = logging.getLogger(__name__)

ACTOR_LABELS = {"PERSON", "ORG", "GPE", "NORP"}
LABEL_TO_KIND = {"PERSON": "person", "GPE": "country", "ORG": "organization", "NORP": "group"}
# Nouns that make a nationality adjective a collective holder: "Russian officials", "European partners".
GOVERNMENT_NOUNS = {"official", "government", "diplomat", "negotiator", "authority", "force", "troop", "military",
                    "side", "delegation", "leadership", "ministry", "administration", "army", "envoy"}
GROUP_NOUNS = {"partner", "ally", "nation", "state", "country", "leader", "government", "capital", "lawmaker",
               "member", "counterpart", "neighbour", "neighbor"}
# Definite or demonstrative noun phrases that refer back to an issue named earlier ("This proposal", "the plan").
ANAPHOR_HEADS = {"proposal", "plan", "idea", "deal", "agreement", "alliance", "bill", "pact", "measure", "move",
                 "initiative", "truce", "scheme", "policy", "law", "legislation", "offer", "demand", "framework",
                 "arrangement", "accord", "treaty", "package", "reform", "programme", "program", "option",
                 "step", "curb", "restriction", "request", "project", "target", "goal", "mechanism", "talk"}
ANAPHOR_DETS = {"this", "that", "the", "such", "these", "those"}
# With a head that is a word of an issue's phrases, any determiner refers back ("a roadmap", "his pact").
INDEFINITE_DETS = {"a", "an", "any", "no"}
# What an indefinite noun phrase may carry and still refer back ("a new roadmap"): no complement of its own.
BARE_NOUN_DEPS = {"det", "amod", "compound", "nummod", "poss", "punct", "advmod"}
SPECIFIC_DETS = ANAPHOR_DETS | INDEFINITE_DETS | {"its", "their", "his", "her", "our", "your", "my"}
PRONOUNS = {"he": "person", "she": "person", "it": "thing", "they": "thing"}
SPEECH_VERBS = {"say", "tell", "add", "state", "note", "insist", "argue", "write", "declare", "warn", "reply",
                "answer", "continue", "stress", "explain", "tweet", "post", "conclude", "respond"}
QUOTE_CHARS = {'"', "“", "”"}
ANAPHOR_WINDOW_SENTS = 2
ANAPHOR_DISTANCE_PENALTY = 2
STANCE_WORDS = {"support", "back", "endorse", "welcome", "oppose", "reject", "block", "veto", "accept", "refuse",
                "criticize", "criticise", "condemn", "urge", "demand", "study", "consider", "praise", "vote",
                "sign", "favor", "favour", "push", "call", "warn", "rule", "commit", "agree", "insist", "want"}


@dataclass
class Mention:
    """One mention of an actor: character offsets into the text plus the spaCy token range."""

    start: int
    end: int
    text: str
    tok_start: int
    tok_end: int
    actor_id: str = ""
    via: str = "ner"  # ner | registry | demonym | pronoun | quote | appos | role | group


@dataclass
class Actor:
    id: str
    name: str
    kind: str
    affiliation: str = ""
    mentions: list[Mention] = field(default_factory=list)


@dataclass
class IssueHit:
    issue_id: str
    start: int
    end: int
    text: str
    tok_start: int
    tok_end: int
    anaphoric: bool = False
    # Tokens that belong to the issue's noun phrase ("Ukraine's membership in NATO"): never holders.
    scope: tuple[int, int] = (0, 0)
    # Not a mention of the issue: the sentence carries a position without naming it, and this is the issue
    # in play there ("topic_hits"). Only candidates use it; it is not reported as an issue mention.
    implicit: str = ""
    # For a linked implicit hit: the issue linker's probability that the sentence speaks to the issue.
    link: float = 0.0


@dataclass
class Candidate:
    """A (holder, issue) pair in one sentence: the unit the stance classifier labels."""

    doc: Doc
    sent: Span
    holder: Mention | None
    issue: IssueHit | None

    @property
    def actor_id(self) -> str:
        return self.holder.actor_id if self.holder else ""

    @property
    def issue_id(self) -> str:
        return self.issue.issue_id if self.issue else ""


@dataclass
class Extraction:
    doc: Doc
    actors: dict[str, Actor]
    issue_hits: list[IssueHit]
    candidates: list[Candidate]

    def mentions(self) -> list[Mention]:
        return sorted((m for a in self.actors.values() for m in a.mentions), key=lambda m: m.start)


class IssueFinder:
    """Phrase matching over the taxonomy (built once) and the request's ad-hoc issues (per call)."""

    def __init__(self, nlp, issues: dict[str, Issue]):
        self.nlp = nlp
        self.issues = dict(issues)
        self.matcher = self._matcher(issues.values())
        # Match ids resolved without the StringStore: strings a request adds vanish with its memory zone.
        self.key_of = {self._key(i): i for i in issues}
        self.phrase_words = {i.id: _phrase_words(i) for i in issues.values()}
        self.topic_vocab = {i.id: _topic_words(i) for i in issues.values()}

    def _matcher(self, issues) -> PhraseMatcher:
        matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for issue in issues:
            # Issue ids are labels, not text: keep them past the request's memory zone (cached matchers).
            self.nlp.vocab.strings.add(issue.id, allow_transient=False)
            matcher.add(issue.id, list(self.nlp.tokenizer.pipe(_with_curly_quotes(issue))))
        return matcher

    def _key(self, issue_id: str) -> int:
        """The matcher's id for an issue (spaCy symbols like "ORTH" map to small ints, not to their hash),
        stored permanently: issue ids are labels, not text, and cached matchers outlive memory zones."""
        return self.nlp.vocab.strings.add(issue_id, allow_transient=False)

    @functools.lru_cache(maxsize=256)
    def _extra_matchers(self, key: tuple) -> tuple[PhraseMatcher, PhraseMatcher]:
        issues = [Issue(iid, name, phrases) for iid, name, phrases in key]
        return self._matcher(issues), self._lemma_matcher(issues)

    def _lemma_matcher(self, issues) -> PhraseMatcher:
        matcher = PhraseMatcher(self.nlp.vocab, attr="LEMMA")
        with self.nlp.select_pipes(enable=["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]):
            for issue in issues:
                self.nlp.vocab.strings.add(issue.id, allow_transient=False)
                matcher.add(issue.id, list(self.nlp.pipe(_with_curly_quotes(issue))))
        return matcher

    def words(self, extra: dict[str, Issue] | None = None) -> dict[str, set[str]]:
        """Each issue's phrase words (taxonomy and the request's own issues)."""
        return _with_extra(self.phrase_words, _phrase_words, extra)

    def topic_words(self, extra: dict[str, Issue] | None = None) -> dict[str, tuple[set[str], set[str]]]:
        """Each issue's vocabulary for recognising it unnamed: its phrases, name and description."""
        return _with_extra(self.topic_vocab, _topic_words, extra)

    def find(self, doc: Doc, extra: dict[str, Issue] | None = None) -> list[IssueHit]:
        by_span: dict[tuple[int, int], set[str]] = defaultdict(set)
        for match_id, s, e in self.matcher(doc):
            by_span[(s, e)].add(self.key_of[match_id])
        extra_ids: set[str] = set()
        if extra:
            extra_ids = set(extra)
            extra_keys = {self._key(i): i for i in extra}
            key = tuple((i.id, i.name, tuple(i.phrases)) for i in extra.values())
            # Caller-defined phrases also match inflected forms ("companies" for the topic "company").
            for matcher in self._extra_matchers(key):
                for match_id, s, e in matcher(doc):
                    by_span[(s, e)].add(self.key_of.get(match_id) or extra_keys[match_id])
        # The document's arenas are voted by specific matches only: multi-word phrases of a single issue
        # ("Gaza ceasefire", "chip export controls"). A phrase shared by several issues ("ceasefire") goes to
        # the issue of the dominant arena; a one-word phrase ("talks", "disarmament") counts only in an
        # arena the document is already about.
        arena_votes: Counter[str] = Counter()
        for (s, e), ids in by_span.items():
            if len(ids) == 1 and e - s > 1:
                (only,) = ids
                if only in self.issues:
                    arena_votes[self.issues[only].arena] += 1
        if arena_votes:
            for (s, e), ids in list(by_span.items()):
                if e - s == 1:
                    kept = {i for i in ids if i in extra_ids or arena_votes[self.issues[i].arena] > 0}
                    if kept:
                        by_span[(s, e)] = kept
                    else:
                        del by_span[(s, e)]
        order = {iid: n for n, iid in enumerate(self.issues)}

        def rank(iid: str) -> tuple:
            if iid in extra_ids:
                return (0, 0, 0)
            return (1, -arena_votes[self.issues[iid].arena], order.get(iid, 0))

        chosen = []
        for (s, e), ids in by_span.items():
            chosen.append((s, e, min(ids, key=rank)))
        # Longest match wins where matches overlap ("sanctions on Russia" over "sanctions").
        chosen.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
        taken: set[int] = set()
        hits = []
        for s, e, iid in chosen:
            if any(i in taken for i in range(s, e)):
                continue
            taken.update(range(s, e))
            span = doc[s:e]
            hits.append(IssueHit(iid, span.start_char, span.end_char, span.text, s, e, scope=_issue_scope(span)))
        hits.sort(key=lambda h: h.start)
        hits.extend(_anaphoric_hits(doc, hits, taken, self.words(extra)))
        hits.sort(key=lambda h: h.start)
        return hits


def _with_extra(table: dict, make, extra: dict[str, Issue] | None) -> dict:
    """A per-issue table built once for the taxonomy, plus the request's own issues."""
    if not extra:
        return table
    return {**table, **{i.id: make(i) for i in extra.values()}}


NAME_STOP = {"the", "of", "on", "in", "to", "for", "a", "an", "and", "or", "with", "from", "by", "at", "its",
             "their", "over", "about", "against", "between", "into"}


def phrases_from_name(name: str) -> tuple[str, ...]:
    """Phrases for an issue defined by its name alone: the name and every run of two or more of its words
    that starts and ends with a content word ("Ukraine's NATO membership" -> also "NATO membership";
    "Security guarantees for Ukraine" -> also "Security guarantees", "guarantees for Ukraine"). A name is
    rarely written verbatim, its parts often are."""
    words = name.split()
    out = [name.strip()]
    for i in range(len(words)):
        for j in range(i + 2, len(words) + 1):
            if words[i].lower() in NAME_STOP or words[j - 1].lower() in NAME_STOP:
                continue
            out.append(" ".join(words[i:j]))
    return tuple(dict.fromkeys(p for p in out if p))


def _with_curly_quotes(issue: Issue) -> list[str]:
    """The issue's phrases (or its name), plus each with typographic apostrophes ("Ukraine’s NATO bid")."""
    phrases = list(issue.phrases) or [issue.name]
    return phrases + [p.replace("'", "’") for p in phrases if "'" in p]


STOP_PHRASE_WORDS = {"the", "of", "on", "in", "to", "for", "a", "an", "and", "with", "from", "by", "at", "its", "new",
                     "us", "eu", "un"}


def _phrase_words(issue: Issue) -> set[str]:
    return {_crude(w) for p in issue.phrases for w in p.replace("-", " ").split()
            if w.lower() not in STOP_PHRASE_WORDS and w.isalpha()}


# Words of issue descriptions that say how to read a position, not what the issue is about.
DESCRIPTION_STOP = {"favor", "against", "want", "wants", "support", "supports", "oppose", "opposes", "more", "less",
                    "it", "them", "its", "their", "be", "is", "are", "or", "not", "any", "all", "which", "that",
                    "this", "e", "g", "eg", "ie", "etc", "stop", "end", "keep", "keeping", "make", "making", "whether"}


def _topic_words(issue: Issue) -> tuple[set[str], set[str]]:
    """(phrase words, other common words of its name and description): proper names in a description
    ("Ukraine", "NATO") say little about which issue an unnamed sentence is on."""
    words = set()
    for text in (issue.name, issue.description):
        words |= {_crude(w) for w in re.findall(r"[A-Za-z]+", text) if len(w) > 2 and w.islower()
                  and w not in STOP_PHRASE_WORDS | DESCRIPTION_STOP}
    phrase = _phrase_words(issue)
    return phrase, words - phrase


def _issue_scope(span: Span) -> tuple[int, int]:
    """The noun phrase around an issue phrase, so the "Ukraine" of "Ukraine joining NATO" is not a holder."""
    head = span.root
    doc = span.doc
    if span[0].tag_ == "VBG" and span.start > 0 and doc[span.start - 1].pos_ == "PROPN":
        # "Ukraine joining the alliance": the gerund's subject belongs to the issue.
        return doc[span.start - 1].left_edge.i, span.end
    if head.dep_ == "ROOT" or not (head.pos_ in ("NOUN", "PROPN") or head.tag_ == "VBG"):
        return span.start, span.end
    left, right = head.left_edge.i, head.right_edge.i + 1
    if right - left > 15:
        return span.start, span.end
    return min(left, span.start), max(right, span.end)


def _crude(word: str) -> str:
    """A cheap stem for matching anaphor heads to issue phrase words ("curbs" ~ "curb")."""
    w = word.lower()
    return w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w


def _anaphoric_hits(doc: Doc, hits: list[IssueHit], taken: set[int],
                    phrase_words: dict[str, set[str]]) -> list[IssueHit]:
    """Definite noun phrases that refer back to an issue named in the two sentences before (or earlier in
    the same one): generic heads ("This proposal", "the plan") take the latest issue, heads that are words
    of an issue's phrases ("the curbs" after "chip curbs") take the latest mention of that issue."""
    out: list[IssueHit] = []
    sents = list(doc.sents)
    sent_index = {s.start: n for n, s in enumerate(sents)}
    for tok in doc:
        if tok.i not in taken and tok.lower_ in ("it", "them") and tok.dep_ in ("dobj", "pobj"):
            # "voted for it", "would not support it": an object pronoun after an issue in this or the last
            # sentence is that issue (subject "it" is left to actors: "it rejected the plan").
            n = sent_index[tok.sent.start]
            recent = [h for h in hits if sents[max(0, n - 1)].start <= h.tok_start < tok.i and not h.anaphoric]
            if recent:
                out.append(IssueHit(recent[-1].issue_id, tok.idx, tok.idx + len(tok.text), tok.text, tok.i, tok.i + 1,
                                    anaphoric=True, scope=(tok.i, tok.i + 1)))
            continue
        if tok.i in taken or tok.pos_ != "NOUN":
            continue
        dets = [c for c in tok.children if c.dep_ in ("det", "poss") and c.lower_ in SPECIFIC_DETS]
        if not dets:
            continue
        if any(i in taken for i in range(tok.left_edge.i, tok.right_edge.i + 1)):
            continue  # "an agreement to cease Russian gas imports": described by the issue inside it
        if dets[0].lower_ in INDEFINITE_DETS and any(c.dep_ not in BARE_NOUN_DEPS for c in tok.children):
            continue  # "an invitation for officials to visit": a new thing, introduced with its own description
        n = sent_index[tok.sent.start]
        window_start = sents[max(0, n - ANAPHOR_WINDOW_SENTS)].start
        earlier = [h for h in hits if h.tok_start < tok.i and not h.anaphoric]
        previous = [h for h in earlier if window_start <= h.tok_start]
        head = _crude(tok.text)
        # A word of an issue's own phrases ("the subsidies" after "ACA subsidies", "a roadmap" after "roadmap
        # away from fossil fuels") refers back anywhere in the article, the nearest such issue first. A
        # generic head ("this proposal", "the pact") takes an issue of the last two sentences whose phrases
        # have the word, else the latest issue there, and only then an earlier issue whose phrases have it.
        specific = [h for h in earlier if head in phrase_words.get(h.issue_id, ())]
        near = [h for h in specific if window_start <= h.tok_start]
        generic = tok.lemma_.lower() in ANAPHOR_HEADS and dets[0].lower_ in ANAPHOR_DETS
        if near:
            antecedent = near[-1]
        elif generic and previous:
            antecedent = previous[-1]
        elif specific:
            antecedent = specific[-1]
        else:
            continue
        start = min(d.i for d in dets)
        span = doc[start : tok.i + 1]
        out.append(IssueHit(antecedent.issue_id, span.start_char, span.end_char, span.text, span.start, span.end,
                            anaphoric=True, scope=(span.start, span.end)))
    return out


class ActorFinder:
    """Groups entity mentions into actors: registry aliases and metonyms, surnames, demonyms, he/she."""

    def __init__(self, registry: ActorRegistry):
        self.registry = registry

    def find(self, doc: Doc) -> dict[str, Actor]:
        actors: dict[str, Actor] = {}
        surnames: dict[str, str] = {}
        # First words of names, for family-name-first names ("Wi Sung-lac" ... "Wi said"); surnames win.
        first_words: dict[str, str] = {}
        names = [(ent, ent.label_) for ent in doc.ents if ent.label_ in ACTOR_LABELS]
        text = doc.text
        names += [(n.span, n.label) for n in nominals.unlabelled_names(doc, lambda sp: is_heading_line(sp, text))]
        for ent, label in sorted(names, key=lambda x: x[0].start):
            span = _strip_possessive(ent)
            if span is None:
                continue
            actor_id, via, name, kind = self._resolve(span, label, surnames)
            if not actor_id:
                continue
            actor = self._actor(actors, actor_id, name, kind)
            actor.mentions.append(Mention(span.start_char, span.end_char, span.text, span.start, span.end, actor_id, via))
            if actor.kind == "person":
                for part in name.split()[-1:]:
                    surnames.setdefault(part, actor_id)
                if via != "registry" and len(span) > 1:
                    surnames.setdefault(span[-1].text, actor_id)
                    if span[0].lower_ not in nominals.ROLES | nominals.HONORIFICS:
                        first_words.setdefault(span[0].text, actor_id)
        for aid in [aid for aid, a in actors.items() if aid not in self.registry.actors and a.kind == "country"]:
            # Unknown places ("Pokrovsk") are actors only when they act: subject, agent or possessor.
            if not any(doc[m.tok_start:m.tok_end].root.dep_ in ("nsubj", "nsubjpass", "poss") or
                       doc[m.tok_start:m.tok_end].root.head.dep_ == "agent" for m in actors[aid].mentions):
                del actors[aid]
        for aid in [aid for aid, a in actors.items() if a.kind in ("country", "organization")]:
            # Named only as a modifier ("US proposals", "EU membership"): a description, not an actor here.
            # A modifier of a role noun names the body that acts ("The CGIL union", "US officials").
            if all(doc[m.tok_start:m.tok_end].root.dep_ in ("compound", "amod", "nmod", "npadvmod")
                   and m.via != "demonym" and not nominals.role_of(doc[m.tok_start:m.tok_end].root.head)
                   for m in actors[aid].mentions):
                del actors[aid]
        covered = _covered(actors)
        for tok, aid in nominals.surname_tokens(doc, {**first_words, **surnames}, covered):
            if aid in actors:
                actors[aid].mentions.append(_mention(doc[tok.i:tok.i + 1], aid, "ner"))
        self._affiliations(doc, actors)
        self._descriptions(doc, actors)
        self._pronouns(doc, actors)
        for a in actors.values():
            a.mentions.sort(key=lambda m: m.start)
        return actors

    def _actor(self, actors: dict[str, Actor], actor_id: str, name: str, kind: str) -> Actor:
        actor = actors.get(actor_id)
        if actor is None:
            known = self.registry.actors.get(actor_id)
            actor = Actor(actor_id, known.name, known.kind, known.affiliation) if known else Actor(actor_id, name, kind)
            actors[actor_id] = actor
        return actor

    def _descriptions(self, doc: Doc, actors: dict[str, Actor]) -> None:
        """Mentions by description: appositions ("X, the interior minister"), role phrases that refer back
        ("the party", "the vice premier", "this country") and group subjects ("Many residents")."""
        covered = _covered(actors)
        roles: dict[str, set[str]] = defaultdict(set)
        for a in list(actors.values()):
            known = self.registry.actors.get(a.id)
            if known:
                roles[a.id] |= {w.lower() for alias in (known.name, *known.aliases, *known.roles)
                                for w in alias.split() if w.lower() in nominals.ROLES}
            for m in list(a.mentions):
                span = doc[m.tok_start:m.tok_end]
                roles[a.id] |= nominals.role_words(span)
                for appos in nominals.apposition_spans(doc, span.root, covered):
                    a.mentions.append(_mention(appos, a.id, "appos"))
                    covered.update(range(appos.start, appos.end))
                    roles[a.id] |= {t.lemma_.lower() for t in appos if t.lemma_.lower() in nominals.ROLES}
        first_at = {aid: min(m.tok_start for m in a.mentions) for aid, a in actors.items()}
        for span, head in nominals.role_descriptions(doc, covered):
            aid = self._refer_back(doc, actors, roles, span, head)
            if aid and first_at[aid] < head.i:
                actors[aid].mentions.append(_mention(span, aid, "role"))
                covered.update(range(span.start, span.end))
        for span, name in nominals.group_phrases(doc, covered):
            actor = self._actor(actors, slug(name), name, "group")
            actor.mentions.append(_mention(span, actor.id, "group"))

    def _refer_back(self, doc: Doc, actors: dict[str, Actor], roles: dict[str, set[str]], span: Span,
                    head: Token) -> str | None:
        """The actor a role phrase refers to: the latest one earlier in the text carrying that role
        ("the union" after "The CGIL union"); for "the government" or "this country" without one, the
        country of a person in the sentence, else the country mentioned most so far."""
        lemma, kind = head.lemma_.lower(), nominals.role_of(head)
        latest: dict[str, int] = {}
        for a in actors.values():
            before = [m.tok_start for m in a.mentions if m.tok_start < head.i and m.via != "pronoun"]
            if before:
                latest[a.id] = max(before)
        carrying = [aid for aid in latest if lemma in roles.get(aid, ())
                    and (actors[aid].kind == "person") == (kind == "person")]
        if carrying:
            return max(carrying, key=latest.get)
        if kind != "state":
            return None
        countries = {aid for aid in latest if actors[aid].kind == "country"}
        for m in sorted((m for a in actors.values() for m in a.mentions), key=lambda m: -m.tok_start):
            if m.tok_start < head.i and doc[m.tok_start].sent == head.sent:
                aff = actors[m.actor_id].affiliation
                if aff in countries:
                    return aff
        # Ties go to the country named last (not to set order, which changes from process to process).
        counts = {aid: sum(m.tok_start < head.i for m in actors[aid].mentions) for aid in countries}
        return max(counts, key=lambda aid: (counts[aid], latest[aid])) if counts else None

    def _resolve(self, span: Span, label: str, surnames: dict[str, str]) -> tuple[str, str, str, str]:
        if span.root.ent_id_ and span.root.ent_id_ in self.registry.actors:
            return span.root.ent_id_, "registry", "", ""
        text = normalize_alias(span.text)
        known = self.registry.lookup(text)
        if known:
            return known, "registry", "", ""
        if label in ("NORP", "GPE") and text.lower() in self.registry.by_demonym:
            head = span.root.head
            if head.lemma_.lower() in GOVERNMENT_NOUNS:
                return self.registry.by_demonym[text.lower()], "demonym", "", ""
            if label == "GPE":
                return "", "", "", ""
        if label == "NORP":
            head = span.root.head
            # "European partners", "Arab states": a plural group; "a Palestinian state" is no actor.
            plural_group = head.lemma_.lower() in GROUP_NOUNS and head.tag_ == "NNS"
            if (plural_group or head.lemma_.lower() in GOVERNMENT_NOUNS) and head.i == span.end:
                name = f"{text} {head.text}"
                return slug(text) + "_group", "demonym", name, "group"
            return "", "", "", ""
        if label == "PERSON":
            words = text.split()
            if len(words) == 1 and words[0] in surnames:
                return surnames[words[0]], "ner", "", ""
            if words and words[-1] in surnames and len(words) > 1:
                # "President Putin" / "Vladimir Putin" after "Putin": same person.
                return surnames[words[-1]], "ner", "", ""
            return slug(text), "ner", text, "person"
        return slug(text), "ner", text, LABEL_TO_KIND[label]

    def _affiliations(self, doc: Doc, actors: dict[str, Actor]) -> None:
        """Affiliation from title modifiers ("US Special Envoy X") and appositions ("X, Putin's adviser")."""
        by_token: dict[int, str] = {}
        for a in actors.values():
            for m in a.mentions:
                for i in range(m.tok_start, m.tok_end):
                    by_token[i] = a.id
        for ent in doc.ents:
            if ent.label_ in ("GPE", "NORP") and ent.start not in by_token:
                country = self.registry.by_demonym.get(ent.text.lower()) or self.registry.lookup(ent.text)
                if country:
                    for i in range(ent.start, ent.end):
                        by_token.setdefault(i, country)
        for a in actors.values():
            if a.kind != "person" or a.affiliation:
                continue
            for m in a.mentions:
                root = doc[m.tok_start:m.tok_end].root
                scope: list[Token] = []
                for child in root.children:
                    if child.dep_ in ("compound", "amod", "nmod") and child.i < m.tok_start:
                        scope.extend(child.subtree)
                    elif child.dep_ == "appos":
                        scope.extend(child.subtree)
                if root.dep_ == "appos":
                    scope.extend(t for t in root.head.subtree if t.i < m.tok_start)
                scope.extend(doc[max(0, m.tok_start - 4):m.tok_start])
                for tok in scope:
                    other = by_token.get(tok.i)
                    if other and other != a.id:
                        target = actors.get(other)
                        if target and target.kind == "person":
                            other = target.affiliation or ""
                        if other:
                            a.affiliation = other
                            break
                if a.affiliation:
                    break

    def _pronouns(self, doc: Doc, actors: dict[str, Actor]) -> None:
        """Subject pronouns: he/she -> the last person mentioned, it/they -> the last country, organisation
        or group, within this and the two previous sentences (a subject antecedent preferred)."""
        sents = list(doc.sents)
        sent_no = {i: n for n, s in enumerate(sents) for i in range(s.start, s.end)}
        by_kind: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
        for a in actors.values():
            group = "person" if a.kind == "person" else "thing"
            for m in a.mentions:
                by_kind[group].append((m.tok_start, a.id, doc[m.tok_start:m.tok_end].root.dep_ in ("nsubj", "nsubjpass")))
        for group in by_kind:
            by_kind[group].sort()
        for tok in doc:
            kind = PRONOUNS.get(tok.lower_)
            if kind is None or tok.dep_ not in ("nsubj", "nsubjpass"):
                continue
            before = [(i, aid, subj) for i, aid, subj in by_kind.get(kind, ())
                      if i < tok.i and sent_no[tok.i] - sent_no[i] <= 2]
            if not before:
                continue
            subjects = [b for b in before if b[2]]
            aid = (subjects or before)[-1][1]
            actors[aid].mentions.append(Mention(tok.idx, tok.idx + len(tok.text), tok.text, tok.i, tok.i + 1, aid, "pronoun"))


def _covered(actors: dict[str, Actor]) -> set[int]:
    return {i for a in actors.values() for m in a.mentions for i in range(m.tok_start, m.tok_end)}


def _mention(span: Span, actor_id: str, via: str) -> Mention:
    return Mention(span.start_char, span.end_char, span.text, span.start, span.end, actor_id, via)


def _strip_possessive(ent: Span) -> Span | None:
    end = ent.end
    while end > ent.start and ent.doc[end - 1].tag_ == "POS":
        end -= 1
    return ent.doc[ent.start:end] if end > ent.start else None


def quote_speakers(doc: Doc, mentions: list[Mention]) -> dict[int, Mention]:
    """Sentence start -> the speaker of the quote or Q&A answer it belongs to.

    A quotation running over several sentences belongs to the subject of the speech verb next to it
    ('"We will not cede an inch," Zelensky said. "Not Donbas, not Crimea."'); an interview line
    "Stubb: ..." belongs to the name before the colon."""
    by_token = {i: m for m in mentions for i in range(m.tok_start, m.tok_end)}
    sents = list(doc.sents)
    out: dict[int, Mention] = {}
    # Quote regions: straight quotes alternate open/close; curly quotes say which they are.
    regions, open_at = [], None
    for tok in doc:
        if tok.text in QUOTE_CHARS:
            if open_at is None and tok.text != "”":
                open_at = tok.i
            elif open_at is not None and tok.text != "“":
                regions.append((open_at, tok.i))
                open_at = None

    def speaker_of(sent: Span) -> Mention | None:
        for tok in sent:
            if tok.lemma_.lower() in SPEECH_VERBS and tok.pos_ == "VERB":
                for child in tok.children:
                    if child.dep_ == "nsubj" and child.i in by_token:
                        return by_token[child.i]
        return None

    for start, end in regions:
        inside = [n for n, s in enumerate(sents) if s.start <= end and s.end > start]
        if len(inside) < 1:
            continue
        speaker = None
        for n in inside + [inside[-1] + 1] + [inside[0] - 1]:
            if 0 <= n < len(sents):
                speaker = speaker_of(sents[n])
                if speaker:
                    break
        if speaker:
            for n in inside:
                out.setdefault(sents[n].start, speaker)
    # Interview lines: "Name: answer ..." at the start of a line.
    for n, sent in enumerate(sents):
        first = sent[0] if not sent[0].is_space else (sent[1] if len(sent) > 1 else sent[0])
        line_start = first.i == 0 or "\n" in doc[first.i - 1].text_with_ws
        if not line_start:
            continue
        colon = next((t for t in doc[first.i:min(first.i + 6, len(doc))] if t.text == ":"), None)
        if colon is None:
            continue
        speaker = next((by_token[i] for i in range(first.i, colon.i) if i in by_token), None)
        if speaker is None:
            continue
        m = n
        while m < len(sents) and (m == n or "\n" not in doc[sents[m].start - 1].text_with_ws):
            out.setdefault(sents[m].start, speaker)
            m += 1
    return out


def build_candidates(doc: Doc, mentions: list[Mention], hits: list[IssueHit],
                     speakers: dict[int, Mention]) -> list[Candidate]:
    """One candidate per (actor, issue, sentence): the actor's mention closest to the issue mention, plus
    the speaker of a quotation or interview answer the sentence belongs to (`speakers`, from
    `quote_speakers`). `mentions`: every actor mention, in text order."""
    out: list[Candidate] = []
    for sent in doc.sents:
        sent_hits = [h for h in hits if sent.start <= h.tok_start < sent.end]
        if not sent_hits:
            continue
        sent_mentions = [m for m in mentions if sent.start <= m.tok_start < sent.end]
        best: dict[tuple[str, str], tuple[int, Mention, IssueHit]] = {}
        # A mention inside any mention of an issue ("Ukraine joining the alliance") never holds that issue.
        inside: dict[str, set[int]] = defaultdict(set)
        for h in sent_hits:
            inside[h.issue_id].update(range(min(h.scope[0], h.tok_start), max(h.scope[1], h.tok_end)))
        for m in sent_mentions:
            for h in sent_hits:
                if m.tok_start in inside[h.issue_id]:
                    continue
                d = tree_distance(doc[m.tok_start:m.tok_end].root, doc[h.tok_start:h.tok_end].root)
                if h.anaphoric:
                    # A named mention of the issue is better evidence of what the holder speaks about than
                    # an anaphor or an implicit one ("... and Trump has also indicated opposition to Ukraine
                    # joining the alliance", after "This proposal is strongly opposed by Russia").
                    d += ANAPHOR_DISTANCE_PENALTY
                key = (m.actor_id, h.issue_id)
                if key not in best or d < best[key][0]:
                    best[key] = (d, m, h)
        speaker = speakers.get(sent.start)
        if speaker is not None and not sent.start <= speaker.tok_start < sent.end:
            for h in sent_hits:
                if (speaker.actor_id, h.issue_id) not in best:
                    quoted = Mention(speaker.start, speaker.end, speaker.text, speaker.tok_start, speaker.tok_end,
                                     speaker.actor_id, "quote")
                    best[(speaker.actor_id, h.issue_id)] = (99, quoted, h)
        for _, m, h in best.values():
            out.append(Candidate(doc, sent, m, h))
    return out


def implicit_issue_hit(sent: Span, holder: Mention, issue_id: str) -> IssueHit | None:
    """The caller names the issue but the sentence words it its own way ("This proposal to admit Ukraine into
    NATO is opposed by Russia"): the issue is the phrase the main verb is about (passive subject, object,
    subject other than the holder, clausal complement), as an anaphoric mention."""
    child = _governed(sent, set(range(holder.tok_start, holder.tok_end)),
                      ("nsubjpass", "dobj", "nsubj", "attr", "ccomp", "xcomp", "prep"))
    if child is None:
        return None
    span = sent.doc[child.left_edge.i:child.right_edge.i + 1]
    return IssueHit(issue_id, span.start_char, span.end_char, span.text, child.i, child.i + 1,
                    anaphoric=True, scope=(span.start, span.end))


def _governed(sent: Span, excluded: set[int], deps: tuple[str, ...]) -> Token | None:
    """The main verb's first dependent with one of `deps` (in that order of preference) whose subtree holds
    none of the `excluded` tokens."""
    for dep in deps:
        for child in sent.root.children:
            if child.dep_ == dep and not excluded & set(range(child.left_edge.i, child.right_edge.i + 1)):
                return child
    return None


def author_candidates(doc: Doc, hits: list[IssueHit], issue_id: str) -> list[Candidate]:
    """The author as holder: one candidate per sentence mentioning the issue, else the whole text."""
    cands = [Candidate(doc, doc[h.tok_start:h.tok_end].sent, None, h) for h in hits if h.issue_id == issue_id]
    return cands or [Candidate(doc, doc[:], None, None)]


def tree_distance(a: Token, b: Token) -> int:
    up_a = [a, *a.ancestors]
    up_b = [b, *b.ancestors]
    pos_b = {t.i: n for n, t in enumerate(up_b)}
    for n, t in enumerate(up_a):
        if t.i in pos_b:
            return n + pos_b[t.i]
    return len(up_a) + len(up_b) + 10


def lowest_common_ancestor(a: Token, b: Token) -> Token | None:
    seen = {t.i for t in (b, *b.ancestors)}
    for t in (a, *a.ancestors):
        if t.i in seen:
            return t
    return None


class Extractor:
    """The whole extraction step for one parsed document."""

    def __init__(self, nlp, registry: ActorRegistry, issues: dict[str, Issue]):
        self.actor_finder = ActorFinder(registry)
        self.issue_finder = IssueFinder(nlp, issues)
        # Set from the trained model; models without one (v15 and older) use the word-overlap rules.
        self.linker: IssueLinker | None = None

    def extract(self, doc: Doc, extra_issues: dict[str, Issue] | None = None) -> Extraction:
        actors = self.actor_finder.find(doc)
        hits = self.issue_finder.find(doc, extra_issues)
        _drop_actors_only_at_stake(actors, hits)
        mentions = sorted((m for a in actors.values() for m in a.mentions), key=lambda m: m.tok_start)
        speakers = quote_speakers(doc, mentions)
        vocab = self.issue_finder.topic_words(extra_issues)
        if self.linker is not None:
            topical = self.linker.hits(link_pairs(doc, hits, mentions, speakers, vocab), mentions)
        else:
            topical = topic_hits(doc, hits, mentions, speakers, vocab)
        return Extraction(doc, actors, hits, build_candidates(doc, mentions, hits + topical, speakers))

    def link_pairs(self, ex: Extraction, extra_issues: dict[str, Issue] | None = None) -> list[LinkPair]:
        """The (sentence, issue) pairs the linker scores in this extraction (what training labels)."""
        mentions = sorted(ex.mentions(), key=lambda m: m.tok_start)
        return link_pairs(ex.doc, ex.issue_hits, mentions, quote_speakers(ex.doc, mentions),
                          self.issue_finder.topic_words(extra_issues))


@dataclass
class LinkPair:
    """A sentence with an actor and an issue the article names elsewhere but this sentence does not."""

    sent: Span
    issue_id: str
    features: dict[str, float]


LINK_MAX_PER_SENTENCE = 2


def _sentences_bucket(d: int | None) -> str:
    if d is None:
        return "none"
    return str(d) if d <= 3 else ("4-6" if d <= 6 else "7+")


def link_pairs(doc: Doc, hits: list[IssueHit], mentions: list[Mention], speakers: dict[int, Mention],
               vocab: dict[str, tuple[set[str], set[str]]]) -> list[LinkPair]:
    """Every sentence with an actor or a quote speaker, paired with every issue the article names (explicitly
    or by anaphora) that the sentence does not, with what says whether the sentence speaks to it: the words
    it shares with the issue's phrases and description, how much of the article is about the issue, how
    many sentences back and ahead it was last and next named, whether it was the issue named last, whether
    the sentence names another issue, has a stance verb, or is part of a quote. Issue-agnostic, so the
    linker trained on the corpus applies to a request's own issues."""
    if not hits:
        return []
    sents = list(doc.sents)
    sent_no = [n for n, s in enumerate(sents) for _ in range(s.start, s.end)]
    named_at: dict[str, set[int]] = defaultdict(set)
    for h in hits:
        named_at[h.issue_id].add(sent_no[h.tok_start])
    counts = Counter(h.issue_id for h in hits if not h.anaphoric)
    total = sum(counts.values()) or 1
    top = max(counts, key=lambda iid: (counts[iid], iid)) if counts else ""
    with_actor = {sent_no[m.tok_start] for m in mentions} | {sent_no[s] for s in speakers}
    out = []
    for n in sorted(with_actor):
        sent = sents[n]
        words, common = _sentence_words(sent)
        here = {iid for iid, at in named_at.items() if n in at}
        stance = float(any(t.lemma_.lower() in STANCE_WORDS for t in sent))
        before = {iid: max((k for k in at if k < n), default=None) for iid, at in named_at.items()}
        latest = [iid for iid, k in before.items() if k is not None]
        last = max(latest, key=lambda iid: (before[iid], iid)) if latest else ""
        for iid in sorted(named_at.keys() - here):
            phrase, other = vocab.get(iid, (set(), set()))
            prev = before[iid]
            nxt = min((k for k in named_at[iid] if k > n), default=None)
            out.append(LinkPair(sent, iid, {
                "ov_phrase": min(len(words & phrase), 3), "ov_other": min(len(common & other), 3),
                "share": counts[iid] / total, "top": float(iid == top), "n_issues": len(named_at),
                f"dprev={_sentences_bucket(None if prev is None else n - prev)}": 1,
                f"dnext={_sentences_bucket(None if nxt is None else nxt - n)}": 1,
                "last_named": float(iid == last), "names_other": float(bool(here)), "stance": stance,
                "quote": float(sent.start in speakers), "position": n / len(sents),
                "top_stance": float(iid == top) * stance, "last_stance": float(iid == last) * stance,
            }))
    return out


@dataclass
class IssueLinker:
    """Which of the article's issues a sentence that names none of them speaks to ("Poland has said it will
    not take part in relocations at all", in an article on the migration pact): a classifier trained on the
    corpus' (sentence, issue) pairs, true where the annotators recorded a position on that issue there."""

    pipeline: object  # scikit-learn Pipeline: DictVectorizer -> LogisticRegression over LinkPair.features
    threshold: float

    def scores(self, pairs: list[LinkPair]) -> list[float]:
        if not pairs:
            return []
        k = list(self.pipeline.classes_).index(True)
        return [float(p[k]) for p in predict_proba(self.pipeline, [p.features for p in pairs])]

    def hits(self, pairs: list[LinkPair], mentions: list[Mention]) -> list[IssueHit]:
        """Implicit hits for the pairs scoring at least the threshold, the best two per sentence, each on what
        the sentence's main verb is about."""
        by_sent: dict[int, list[tuple[float, LinkPair]]] = defaultdict(list)
        for pair, score in zip(pairs, self.scores(pairs)):
            if score >= self.threshold:
                by_sent[pair.sent.start].append((score, pair))
        out = []
        for start in sorted(by_sent):
            best = sorted(by_sent[start], key=lambda x: (-x[0], x[1].issue_id))[:LINK_MAX_PER_SENTENCE]
            out.extend(_implicit_hit(pair.sent, mentions, pair.issue_id, "linked", score) for score, pair in best)
        return out


def topic_hits(doc: Doc, hits: list[IssueHit], mentions: list[Mention], speakers: dict[int, Mention],
               vocab: dict[str, tuple[set[str], set[str]]]) -> list[IssueHit]:
    """The rules that models without an `IssueLinker` (v15 and older) use for the issue in play in sentences
    that carry a position without naming it ("Poland has said it will not
    take part in relocations at all", in an article on the migration pact): for each sentence with an actor
    or a quote speaker but no issue mention, the issue named in the article that shares the most words with
    it (its phrases count double); failing that, if the sentence has a stance verb ("Egypt said it would
    study the text"), the article's main issue. One implicit hit per sentence, on what the main verb is
    about; the classifier decides whether the sentence takes a position on it. (Taking instead the issue
    named in the sentences just before found more holders but lowered triple precision: dev triple F1 -0.005.)"""
    if not hits:
        return []
    sents = list(doc.sents)
    sent_no = [n for n, s in enumerate(sents) for _ in range(s.start, s.end)]
    named = {sent_no[h.tok_start] for h in hits}
    with_actor = {sent_no[m.tok_start] for m in mentions} | {sent_no[s] for s in speakers}
    in_article = {h.issue_id for h in hits}
    # The article's main issue: at least half of its named mentions.
    counts = Counter(h.issue_id for h in hits if not h.anaphoric)
    top, top_n = counts.most_common(1)[0] if counts else ("", 0)
    dominant = top if top_n >= 0.5 * sum(counts.values()) else ""
    out = []
    for n in sorted(with_actor - named):
        sent = sents[n]
        words, common = _sentence_words(sent)
        overlap = {}
        for iid in in_article:
            phrase, other = vocab.get(iid, (set(), set()))
            overlap[iid] = 2 * len(words & phrase) + len(common & other)
        best = max(overlap, key=lambda iid: (overlap[iid], iid)) if overlap else ""
        how = "words"
        if not best or overlap[best] < 1:
            if not dominant or not any(t.lemma_.lower() in STANCE_WORDS for t in sent):
                continue
            best, how = dominant, "dominant"
        out.append(_implicit_hit(sent, mentions, best, how))
    return out


def _implicit_hit(sent: Span, mentions: list[Mention], issue_id: str, how: str, link: float = 0.0) -> IssueHit:
    """An implicit hit of `issue_id` on what the sentence's main verb is about, its holders excluded: its
    object or complement, else the verb."""
    holders = {i for m in mentions if sent.start <= m.tok_start < sent.end for i in range(m.tok_start, m.tok_end)}
    tok = _governed(sent, holders, ("dobj", "nsubjpass", "ccomp", "xcomp", "attr", "prep")) or sent.root
    return IssueHit(issue_id, tok.idx, tok.idx + len(tok.text), tok.text, tok.i, tok.i + 1, anaphoric=True,
                    scope=(tok.i, tok.i + 1), implicit=how, link=link)


def _sentence_words(sent: Span) -> tuple[set[str], set[str]]:
    """The sentence's content words (crudely stemmed), and those of them that are not proper nouns."""
    words = {_crude(t.text): t.pos_ != "PROPN" for t in sent if t.is_alpha and not t.is_stop}
    return set(words), {w for w, is_common in words.items() if is_common}


def _drop_actors_only_at_stake(actors: dict[str, Actor], hits: list[IssueHit]) -> None:
    """An organisation or country named only inside the issues ("Ukraine's membership in NATO", "sanctions
    on Iran") is what is at stake, not an actor of this article. A name that is itself an issue phrase
    ("UNRWA" for aid access to Gaza) stays an actor: it is both."""
    inside = {i for h in hits for i in range(min(h.scope[0], h.tok_start), max(h.scope[1], h.tok_end))}
    whole = {(h.tok_start, h.tok_end) for h in hits}
    for aid in [aid for aid, a in actors.items() if a.kind in ("organization", "country")]:
        named = [m for m in actors[aid].mentions if m.via != "pronoun"]
        if named and all(m.tok_start in inside and (m.tok_start, m.tok_end) not in whole for m in named):
            del actors[aid]
