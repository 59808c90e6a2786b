"""Dev/test figures: stance on gold pairs, end-to-end triples, tone, sentiment toward targets, calibration."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from training.corpus import Document
from training.extract import Extraction
from training.nlp import is_heading_line
from training.model import NONE, SENTIMENT_LABELS, STANCE_LABELS, StanceModel, _three_way

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    stance_true: list[str] = field(default_factory=list)
    stance_pred: list[str] = field(default_factory=list)
    stance_conf: list[float] = field(default_factory=list)
    sentiment_true: list[str] = field(default_factory=list)
    sentiment_pred: list[str] = field(default_factory=list)
    sentiment_conf: list[float] = field(default_factory=list)


def per_class(prefix: str, y_true: list[str], y_pred: list[str], labels: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    if not y_true:
        return out
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    for k, lab in enumerate(labels):
        out[f"{prefix}_{lab}_precision"] = float(p[k])
        out[f"{prefix}_{lab}_recall"] = float(r[k])
        out[f"{prefix}_{lab}_f1"] = float(f[k])
    out[f"{prefix}_macro_f1"] = float(np.mean(f))
    out[f"{prefix}_accuracy"] = float(np.mean([a == b for a, b in zip(y_true, y_pred)]))
    return out


def expected_calibration_error(correct: list[bool], conf: list[float], bins: int = 10) -> float:
    if not conf:
        return 0.0
    correct_a, conf_a = np.array(correct, dtype=float), np.array(conf)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf_a > lo) & (conf_a <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct_a[sel].mean() - conf_a[sel].mean())
    return float(ece)


def evaluate_model(model: StanceModel, docs: list[Document], parsed: dict[str, Extraction] | None = None,
                   prefix: str = "dev") -> Evaluation:
    """Run the model's own path over `docs` and compare with the gold annotation."""
    from training.train import align_actors, gold_pair_candidate, parse_corpus

    if parsed is None:
        parsed = parse_corpus(model, docs)
    ev = Evaluation({})
    tone_true, tone_pred = [], []
    tp = n_pred = n_gold = 0
    pair_tp = pair_pred = pair_gold = 0
    for doc in docs:
        ex = parsed[doc.id]
        mapping = align_actors(doc, ex)
        # Stance and tone on gold (holder, issue) pairs.
        if doc.stances:
            cands = [gold_pair_candidate(doc, ex, mapping, st) for st in doc.stances]
            probs = model.stance_proba(cands)
            tones = model.tone_proba(cands)
            for st, p, t in zip(doc.stances, probs, tones):
                three = _three_way(p)
                pred = max(three, key=three.get)
                ev.stance_true.append(st.stance)
                ev.stance_pred.append(pred)
                ev.stance_conf.append(three[pred])
                tone_true.append(st.sentiment)
                tone_pred.append(max(t, key=t.get))
        # End to end: the triples the service would return.
        analysis = model._analysis(ex, model.taxonomy.issues)
        predicted = {(mapping.get(s.actor_id, "?" + s.actor_id), s.issue_id, s.stance) for s in analysis.stances}
        gold = {(s.actor, s.issue, s.stance) for s in doc.stances}
        tp += len(predicted & gold)
        n_pred += len(predicted)
        n_gold += len(gold)
        pp, gp = {t[:2] for t in predicted}, {t[:2] for t in gold}
        pair_tp += len(pp & gp)
        pair_pred += len(pp)
        pair_gold += len(gp)
        # Sentiment toward the annotated targets.
        for rec in doc.sentiments:
            targets = [m for a, gid in mapping.items() if gid == rec.target for m in ex.actors[a].mentions
                       if rec.start <= m.start < rec.end and m.via != "pronoun"]
            if not targets:
                continue
            p = model.sentiment_proba(ex.doc, targets[:1])[0]
            ev.sentiment_true.append(rec.sentiment)
            ev.sentiment_pred.append(max(p, key=p.get))
            ev.sentiment_conf.append(max(p.values()))
    m = ev.metrics
    m.update(per_class(f"{prefix}_stance", ev.stance_true, ev.stance_pred, STANCE_LABELS))
    m.update(per_class(f"{prefix}_tone", tone_true, tone_pred, SENTIMENT_LABELS))
    # The corpus annotates sentiment where it is expressed, so gold is almost all positive/negative: the
    # macro average runs over the classes gold actually has (a class with no gold would count as F1 0).
    present = tuple(lab for lab in SENTIMENT_LABELS if lab in set(ev.sentiment_true))
    m.update(per_class(f"{prefix}_sentiment", ev.sentiment_true, ev.sentiment_pred, present or SENTIMENT_LABELS))
    m[f"{prefix}_stance_ece"] = expected_calibration_error(
        [a == b for a, b in zip(ev.stance_true, ev.stance_pred)], ev.stance_conf)
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_gold if n_gold else 0.0
    m[f"{prefix}_triple_precision"] = prec
    m[f"{prefix}_triple_recall"] = rec
    m[f"{prefix}_triple_f1"] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    pp_ = pair_tp / pair_pred if pair_pred else 0.0
    pr_ = pair_tp / pair_gold if pair_gold else 0.0
    m[f"{prefix}_pair_f1"] = 2 * pp_ * pr_ / (pp_ + pr_) if pp_ + pr_ else 0.0
    m[f"{prefix}_score"] = (m.get(f"{prefix}_stance_macro_f1", 0.0) + m[f"{prefix}_triple_f1"]) / 2
    m[f"{prefix}_gold_triples"] = float(n_gold)
    m.update(extraction_metrics(model, docs, parsed, prefix))
    return ev


def _prf(tp_p: int, n_pred: int, tp_r: int, n_gold: int) -> tuple[float, float, float]:
    p = tp_p / n_pred if n_pred else 0.0
    r = tp_r / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _maximal(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop gold occurrences nested in a longer occurrence ("Putin" inside "President Putin")."""
    spans = sorted(set(spans), key=lambda x: (x[0], -(x[1] - x[0])))
    out: list[tuple[int, int, str]] = []
    for s in spans:
        if out and s[0] >= out[-1][0] and s[1] <= out[-1][1]:
            continue
        out.append(s)
    return out


def _on_section_heading(doc, text: str, start: int, end: int) -> bool:
    """Gold names are listed per actor, so their occurrences on section headings and datelines are found too;
    the guidelines (rule 7) say those are not actors, so they are not counted as mentions to find."""
    span = doc.char_span(start, end, alignment_mode="expand")
    return span is not None and text.rfind("\n", 0, start) != -1 and is_heading_line(span, text)


def extraction_metrics(model: StanceModel, docs: list[Document], parsed: dict[str, Extraction],
                       prefix: str) -> dict[str, float]:
    """Actors (mention and entity level, with alias merging), holder accuracy, issue-mention recall."""
    from training.train import align_actors, gold_mention_spans, holder_gold_actor

    mp = mg = m_tp_p = m_tp_r = 0
    ep = eg = e_tp_p = e_tp_r = 0
    holder_ok = holder_n = issue_ok = 0
    attributed = attributed_ok = 0
    for doc in docs:
        ex = parsed[doc.id]
        gold_all = gold_mention_spans(doc)
        text = ex.doc.text
        gold = [g for g in _maximal(gold_all) if not _on_section_heading(ex.doc, text, g[0], g[1])]
        pred = [m for a in ex.actors.values() for m in a.mentions if m.via != "pronoun"]
        mp += len(pred)
        mg += len(gold)
        m_tp_p += sum(any(s < m.end and m.start < e for s, e, _ in gold) for m in pred)
        m_tp_r += sum(any(s < m.end and m.start < e for m in pred) for s, e, _ in gold)
        mapping = align_actors(doc, ex)
        ep += len(ex.actors)
        eg += len(doc.actors)
        e_tp_p += len(set(mapping.values()))  # a gold actor split into two predicted ones counts once
        e_tp_r += len(set(mapping.values()) & set(doc.actors))
        if not doc.stances:
            continue
        probs = model.stance_proba(ex.candidates) if model.classifiers else [{} for _ in ex.candidates]
        # Who the pipeline says holds a position: candidates the classifier does not call "no stance".
        holders_at: dict[tuple[str, int, int], set[str | None]] = defaultdict(set)
        for c, p in zip(ex.candidates, probs):
            if p and max(p, key=p.get) != NONE:
                holders_at[(c.issue_id, c.sent.start_char, c.sent.end_char)].add(holder_gold_actor(doc, c, mapping, gold_all))
        seen: set[tuple[str, int, int]] = set()
        for st in doc.stances:
            holder_n += 1
            if any(h.issue_id == st.issue and h.start < st.end and st.start < h.end for h in ex.issue_hits):
                issue_ok += 1
            keys = {(c.issue_id, c.sent.start_char, c.sent.end_char) for c in ex.candidates
                    if c.issue_id == st.issue and c.sent.start_char < st.end and st.start < c.sent.end_char}
            holder_ok += any(st.actor in holders_at[k] for k in keys)
            for k in keys - seen:
                seen.add(k)
                gold_here = {g.actor for g in doc.stances if g.issue == k[0] and g.start < k[2] and k[1] < g.end}
                attributed += len(holders_at[k])
                attributed_ok += len(holders_at[k] & gold_here)
    out: dict[str, float] = {}
    for name, vals in (("actor_mention", _prf(m_tp_p, mp, m_tp_r, mg)), ("actor_entity", _prf(e_tp_p, ep, e_tp_r, eg))):
        for k, v in zip(("precision", "recall", "f1"), vals):
            out[f"{prefix}_{name}_{k}"] = v
    # Holder accuracy: the gold holder is among those the pipeline attributes a stance on the issue in the
    # evidence sentence; holder precision: the share of those attributions that are gold holders there.
    out[f"{prefix}_holder_accuracy"] = holder_ok / holder_n if holder_n else 0.0
    out[f"{prefix}_holder_precision"] = attributed_ok / attributed if attributed else 0.0
    out[f"{prefix}_issue_mention_recall"] = issue_ok / holder_n if holder_n else 0.0
    return out
