"""Actor mentions the entity recogniser does not give: names it misses, appositions ("Tomasz Siemoniak, the
interior minister"), role descriptions that refer back ("the party", "the vice premier", "the government")
and group noun phrases that hold positions ("Many residents", "state regulators").

Each finder returns spans; `ActorFinder` turns them into mentions of existing or new actors, so the rules
stay readable one by one and each has its own unit test."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

# Nouns naming a person by office or role ("the foreign minister", "its president").
PERSON_ROLES = {
    "president", "minister", "premier", "chancellor", "secretary", "spokesman", "spokeswoman", "spokesperson",
    "adviser", "advisor", "envoy", "ambassador", "leader", "chief", "chairman", "chairwoman", "chair", "mayor",
    "governor", "senator", "commander", "general", "archbishop", "bishop", "director", "administrator",
    "candidate", "rival", "head", "speaker", "negotiator", "official", "diplomat", "lawmaker", "founder",
    "executive", "professor", "economist", "analyst", "campaigner", "activist", "king", "prince", "queen",
    "emir", "pope", "judge", "prosecutor", "deputy", "representative", "congressman", "congresswoman",
    "commissioner", "peer", "mp", "mep", "doctor", "physician", "researcher", "fellow", "coordinator",
    "chairperson", "sheikh", "monarch", "vice", "co-leader", "committeeman", "neurosurgeon", "farmer",
}
# Nouns naming an organisation or a state body ("the union", "his agency", "the League").
BODY_ROLES = {
    "ministry", "army", "military", "presidency", "office", "agency", "department", "embassy", "party", "union",
    "movement", "bloc", "alliance", "group", "coalition", "association", "committee", "council", "federation",
    "league", "chamber", "commission", "company", "firm", "court", "parliament", "charity", "lobby",
    "organisation", "organization", "institute", "marketplace", "bank", "caucus", "church", "delegation",
    "militia", "opposition", "junta", "regulator", "network", "foundation", "centre", "center", "body",
}
# Nouns that stand for a country's government ("the government", "this country", "the kingdom").
STATE_ROLES = {"government", "administration", "country", "state", "nation", "kingdom", "republic", "authorities",
               "leadership", "cabinet"}
# Where a role phrase or group acts (and so can hold a position): subject, possessor, passive agent.
ACTING = {"nsubj", "nsubjpass", "poss"}
# Verbs whose object is an actor being addressed or judged.
ADDRESSING = {"urge", "accuse", "ask", "press", "call", "criticize", "criticise", "warn", "tell", "praise", "blame",
              "lobby", "thank", "pressure", "condemn", "attack", "implore"}
# Plural heads that make a group actor when they are the subject of a verb ("Many residents welcome ...").
GROUP_HEADS = {
    "official", "senator", "lawmaker", "minister", "mep", "diplomat", "doctor", "farmer", "resident", "worker",
    "critic", "activist", "state", "country", "nation", "member", "government", "regulator", "commissioner",
    "economist", "analyst", "voter", "union", "group", "party", "leader", "clinician", "campaigner", "refugee",
    "business", "employer", "haulier", "producer", "exporter", "investor", "manufacturer", "grower", "insurer",
    "hospital", "nurse", "teacher", "student", "veteran", "settler", "rebel", "negotiator", "donor", "bishop",
    "mayor", "governor", "republican", "democrat", "conservative", "liberal", "opponent", "supporter", "ally",
    "partner", "neighbour", "neighbor", "family", "parent", "patient", "shopkeeper", "trader", "fisherman",
}
# Titles before a name that the entity recogniser does not tag ("Lord Carlile", "Baroness Ilora Finlay").
HONORIFICS = {"lord", "lady", "baroness", "baron", "archbishop", "bishop", "general", "gen.", "sir", "dame",
              "cardinal", "rabbi", "imam", "sheikh", "king", "queen", "prince", "princess", "president", "senator",
              "sen.", "rep.", "governor", "mayor", "minister", "chancellor", "dr", "dr.", "judge", "ambassador"}
QUANTIFIERS = {"some", "many", "several", "most", "few", "a", "an", "the", "other", "all", "both", "more", "two",
               "three", "four", "dozens", "hundreds", "thousands", "these", "those", "such"}
DEFINITE = {"the", "this", "that"}
POSSESSIVE_PRONOUNS = {"his", "her", "its", "their"}
ROLES = PERSON_ROLES | BODY_ROLES | STATE_ROLES
# The entity label a role next to an unlabelled name gives it ("Ararat Mirzoyan, the foreign minister").
NAME_LABEL = {"person": "PERSON", "body": "ORG"}


@dataclass
class Name:
    """A proper name the entity recogniser missed, with the label the context gives it."""

    span: Span
    label: str  # PERSON | ORG


def role_of(tok: Token) -> str | None:
    """"person", "body" or "state" when the noun names an actor by role."""
    lemma = tok.lemma_.lower()
    if lemma in PERSON_ROLES:
        return "person"
    if lemma in STATE_ROLES:
        return "state"
    if lemma in BODY_ROLES:
        return "body"
    return None


def _acting(tok: Token) -> bool:
    """Whether a role phrase stands for an actor here: it acts (subject, possessor, passive agent) or is
    addressed or judged by one ("urged the administration to", "accused the government of", "called on the
    ministry")."""
    if tok.dep_ in ACTING or (tok.dep_ == "pobj" and tok.head.dep_ == "agent"):
        return True
    verb = tok.head.head if tok.dep_ == "pobj" and tok.head.lower_ == "on" else tok.head if tok.dep_ == "dobj" else None
    return verb is not None and verb.lemma_.lower() in ADDRESSING


def noun_phrase_left(head: Token, covered: set[int]) -> Span | None:
    """The noun phrase up to and including its head ("the Azerbaijani ecology minister"), starting after any
    token another mention already holds ("France's ecological transition minister" -> "ecological ...")."""
    doc = head.doc
    start = head.left_edge.i
    for i in range(head.i - 1, start - 1, -1):
        if i in covered or doc[i].is_punct or doc[i].is_space:
            start = i + 1
            break
    while start < head.i and doc[start].tag_ == "POS":
        start += 1
    if head.i in covered or start > head.i:
        return None
    return head.doc[start:head.i + 1]


def unlabelled_names(doc: Doc, is_heading) -> list[Name]:
    """Runs of capitalised proper nouns outside any entity that the context marks as a person or body: an
    honorific before them, an apposition naming a role, or the subject of a verb ("Ararat Mirzoyan, the
    foreign minister, has defended ...")."""
    taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    out: list[Name] = []
    i = 0
    while i < len(doc):
        tok = doc[i]
        if i in taken or tok.tag_ not in ("NNP", "NNPS") or not tok.text[:1].isalpha() or not tok.text[:1].isupper():
            i += 1
            continue
        j = i + 1
        while j < len(doc) and j not in taken and (
                (doc[j].tag_ in ("NNP", "NNPS") and doc[j].text[:1].isalpha() and doc[j].text[:1].isupper())
                or (doc[j].text == "-" and j + 1 < len(doc) and doc[j + 1].tag_ == "NNP" and not doc[j].whitespace_
                    and not doc[j - 1].whitespace_)):
            j += 1
        span = doc[i:j]
        i = j
        words = [t for t in span if t.text != "-"]
        honorific = words[0].lower_ in HONORIFICS
        if honorific and len(words) == 1:
            continue
        if is_heading(span):
            continue
        root = span.root
        label = None
        for child in root.children:
            if child.dep_ == "appos" and child.pos_ == "NOUN":
                label = NAME_LABEL.get(role_of(child) or "")
        if label is None and root.dep_ == "appos" and root.head.pos_ == "NOUN":
            label = NAME_LABEL.get(role_of(root.head) or "")
        if label is None and honorific:
            label = "PERSON"
        if label is None and len(words) >= 2 and root.dep_ in ("nsubj", "nsubjpass") and root.head.pos_ == "VERB":
            label = "PERSON"
        if label:
            out.append(Name(span, label))
    return out


def surname_tokens(doc: Doc, surnames: dict[str, str], covered: set[int]) -> list[tuple[Token, str]]:
    """Later mentions by surname alone the recogniser missed ("Glaser:" in an interview, "Wi said"). An
    interview's speaker label ("Budrys: Not at all.") counts whatever the tagger made of it."""
    return [(t, surnames[t.text]) for t in doc if t.i not in covered and t.text in surnames and t.text[:1].isupper()
            and (t.tag_ in ("NNP", "NNPS") or _speaker_label(t))]


def _speaker_label(t: Token) -> bool:
    """`t` starts a line and a colon follows it: "Budrys: Not at all." """
    doc = t.doc
    return (t.i + 1 < len(doc) and doc[t.i + 1].text == ":"
            and (t.i == 0 or "\n" in doc[t.i - 1].text_with_ws or doc[t.i - 1].is_space))


def apposition_spans(doc: Doc, root: Token, covered: set[int]) -> list[Span]:
    """Role phrases in apposition to a mention: "X, the interior minister" and "Its president, X"."""
    out = []
    for child in root.children:
        if child.dep_ == "appos" and child.pos_ == "NOUN" and child.i > root.i and role_of(child):
            span = noun_phrase_left(child, covered)
            if span is not None:
                out.append(span)
    if root.dep_ == "appos" and root.head.pos_ == "NOUN" and root.head.i < root.i and role_of(root.head):
        span = noun_phrase_left(root.head, covered)
        if span is not None:
            out.append(span)
    return out


def role_words(span: Span) -> set[str]:
    """The role nouns a mention carries: "President Putin" -> president, "KMT chairwoman Cheng" -> chairwoman,
    "The CGIL union" (mention "CGIL") -> union."""
    words = {t.lemma_.lower() for t in span if t.lemma_.lower() in ROLES}
    words |= {t.lower_ for t in span if t.lower_ in ROLES}
    root = span.root
    for child in root.children:
        if child.dep_ in ("compound", "amod", "appos") and child.lemma_.lower() in ROLES:
            words.add(child.lemma_.lower())
            words |= {t.lemma_.lower() for t in child.subtree if t.lemma_.lower() in ROLES and t.i < root.i + 8}
    if root.dep_ in ("compound", "poss", "nmod") and root.head.lemma_.lower() in ROLES:
        words.add(root.head.lemma_.lower())
    return words


def role_descriptions(doc: Doc, covered: set[int]) -> list[tuple[Span, Token]]:
    """Definite or possessive role phrases that refer back to an actor: "the party", "the vice premier",
    "his agency", "this country". Returns (span, head). Phrases naming their own actor ("the Commerce
    Ministry of China", "China's commerce ministry") are left to the actors inside them."""
    out = []
    for tok in doc:
        if tok.i in covered or tok.pos_ != "NOUN" or tok.tag_ != "NN" or role_of(tok) is None:
            continue
        dets = [c for c in tok.children if c.dep_ in ("det", "poss") and c.lower_ in DEFINITE | POSSESSIVE_PRONOUNS]
        if not dets or any(c.i in covered for c in tok.subtree):
            continue
        if tok.dep_ in ("compound", "appos") or any(c.dep_ == "appos" for c in tok.children):
            continue  # "the party leadership"; appositions belong to the name next to them
        if any(c.dep_ == "prep" and c.lower_ == "of" for c in tok.children):
            continue  # "the president of the bank": a new description, not a reference back
        if not _acting(tok):
            continue  # "19% of the country": a place, not an actor
        out.append((doc[min(d.i for d in dets):tok.i + 1], tok))
    return out


def group_phrases(doc: Doc, covered: set[int]) -> list[tuple[Span, str]]:
    """Plural subjects naming a group that acts ("Many residents welcome", "Some farm-state senators have
    criticized"): (span, name). The name drops quantifiers so "some senators" and "the senators" match."""
    out = []
    for tok in doc:
        if tok.i in covered or tok.tag_ != "NNS" or tok.lemma_.lower() not in GROUP_HEADS:
            continue
        if tok.dep_ not in ("nsubj", "nsubjpass") or tok.head.pos_ not in ("VERB", "AUX") or tok.sent.start == 0:
            continue
        if any(c.dep_ == "poss" or c.lower_ in ("what", "which", "whose") for c in tok.children):
            continue  # "our members", "whose members": someone else's people, not a named group
        if any(c.i in covered for c in tok.subtree if c.i < tok.i):
            continue  # "Irish ministers", "Gulf states": the named actor inside takes them
        span = noun_phrase_left(tok, covered)
        if span is None:
            continue
        words = [t for t in span if t.lower_ not in QUANTIFIERS and not t.like_num and t.dep_ != "predet"]
        if not words or len(words) == 1 and words[0].lemma_.lower() in ("member", "state", "country", "party"):
            continue  # a bare "members" or "states" is too vague to be an actor
        out.append((span, " ".join(t.text for t in words)))
    return out
