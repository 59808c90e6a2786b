"""Extraction rules on the seed article: actors merged and affiliated, no heading actors, anaphoric issues."""

from __future__ import annotations

import pytest

from training.corpus import Issue
from training.registry import ActorRegistry, Taxonomy
from training.extract import Extractor
from training.features import stance_features
from training.nlp import build_nlp
from training.settings import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def pipeline():
    registry = ActorRegistry.from_jsonl(SEEDS / "actors.jsonl")
    nlp = build_nlp(registry)
    return nlp, Extractor(nlp, registry, Taxonomy.from_jsonl(SEEDS / "issues.jsonl").issues)


@pytest.fixture(scope="module")
def seed_extraction(pipeline, seed_text):
    nlp, extractor = pipeline
    return extractor.extract(nlp(seed_text))


def test_putin_aliases_are_one_actor(seed_extraction):
    putin = seed_extraction.actors["vladimir_putin"]
    texts = {m.text for m in putin.mentions}
    assert {"Putin", "Russia's leader"} <= texts
    assert any("President" in t for t in texts)
    assert putin.affiliation == "russia"


def test_kremlin_and_moscow_speak_for_russia(seed_extraction):
    texts = {m.text for m in seed_extraction.actors["russia"].mentions}
    assert {"Moscow", "Russia"} <= texts
    assert any(t.lower() == "the kremlin" for t in texts)
    assert not any("kremlin" in a for a in seed_extraction.actors if a != "russia")


def test_ushakov_is_affiliated_with_russia(seed_extraction):
    assert seed_extraction.actors["yuri_ushakov"].affiliation == "russia"


def test_von_der_leyen_comes_out_whole(seed_extraction):
    names = {a.name for a in seed_extraction.actors.values()}
    assert "Ursula von der Leyen" in names
    assert not any(n in names for n in ("Leyen", "Ursula von der"))


def test_headings_are_not_actors(seed_extraction):
    mentions = {m.text for a in seed_extraction.actors.values() for m in a.mentions}
    assert not mentions & {"Russian Stance", "Battlefield Context", "Ukrainian Reaction", "European Outlook"}


def test_this_proposal_refers_back_to_nato_membership(seed_extraction):
    hit = next(h for h in seed_extraction.issue_hits if h.text == "This proposal")
    assert hit.anaphoric and hit.issue_id == "ukraine_nato_membership"


def test_issue_phrase_subject_is_not_a_holder(seed_extraction):
    # "Ukraine joining the alliance": Ukraine is part of the issue, not a holder in that sentence.
    cands = [c for c in seed_extraction.candidates if "strongly opposed by Russia" in c.sent.text]
    assert {c.actor_id for c in cands} >= {"russia", "donald_trump"}
    assert "ukraine" not in {c.actor_id for c in cands}


def test_ad_hoc_issue_phrases_are_found(pipeline):
    from training.corpus import Issue

    nlp, extractor = pipeline
    doc = nlp("Germany rejected the proposed tax on private jets, while France backed the jet levy.")
    ex = extractor.extract(doc, {"jet_tax": Issue("jet_tax", "Private jet tax", ("tax on private jets", "jet levy"))})
    assert [h.text for h in ex.issue_hits if h.issue_id == "jet_tax"] == ["tax on private jets", "jet levy"]
    assert {c.actor_id for c in ex.candidates if c.issue_id == "jet_tax"} == {"germany", "france"}


def _extract(pipeline, text, extra=None):
    nlp, extractor = pipeline
    return extractor.extract(nlp(text), extra)


def _holders(ex, issue_id):
    return {c.actor_id for c in ex.candidates if c.issue_id == issue_id}


def test_metonyms_map_to_their_governments(pipeline):
    ex = _extract(pipeline, "Brussels welcomed the decision, and the White House said Beijing had been informed.")
    assert {"european_union", "united_states", "china"} <= set(ex.actors)


def test_title_modifier_gives_affiliation(pipeline):
    ex = _extract(pipeline, "Turkish Foreign Minister Hakan Fidan met US Special Envoy Tom Barrack in Ankara.")
    assert ex.actors["hakan_fidan"].affiliation == "turkey"
    assert ex.actors["tom_barrack"].affiliation == "united_states"


def test_apposition_gives_affiliation(pipeline):
    ex = _extract(pipeline, "Guo Jiakun, a spokesman for China's foreign ministry, rejected the tariffs.")
    assert ex.actors["guo_jiakun"].affiliation == "china"


def test_passive_agent_is_a_holder_candidate(pipeline):
    ex = _extract(pipeline, "The new sanctions package is opposed by Hungary.")
    assert _holders(ex, "sanctions_on_russia") == {"hungary"}


def test_coordinated_subjects_are_each_holders(pipeline):
    ex = _extract(pipeline, "France and Germany support the carbon border tax.")
    assert {"france", "germany"} <= _holders(ex, "carbon_border_tax")


def test_nested_attribution_gives_both_actors_as_candidates(pipeline):
    ex = _extract(pipeline, "Kyiv says Moscow rejects any ceasefire.")
    assert {"ukraine", "russia"} <= _holders(ex, "ukraine_ceasefire")


def test_nationality_groups(pipeline):
    ex = _extract(pipeline, "Russian officials dismissed the peace plan, while European partners backed it.")
    assert "russia" in ex.actors
    assert any(a.kind == "group" and "European" in a.name for a in ex.actors.values())


def test_he_she_it_resolve_to_the_last_fitting_actor(pipeline):
    ex = _extract(pipeline, "Viktor Orban met Putin in Moscow on Friday. He again rejected new sanctions on Russia. "
                            "Hungary has long resisted the measures. It also opposed the reparations loan.")
    he = [m for m in ex.mentions() if m.text == "He"][0]
    it = [m for m in ex.mentions() if m.text == "It"][0]
    assert he.actor_id == "viktor_orban"  # the subject antecedent, not the last name
    assert it.actor_id == "hungary"


def test_multi_sentence_quote_belongs_to_its_speaker(pipeline):
    ex = _extract(pipeline, '"We will not give up our land," Zelensky said. "Territorial concessions are not on the table."')
    cands = [c for c in ex.candidates if c.issue_id == "ukraine_territorial_concessions"]
    assert any(c.actor_id == "volodymyr_zelensky" and c.holder.via == "quote" for c in cands)


def test_interview_answer_belongs_to_the_named_speaker(pipeline):
    ex = _extract(pipeline, "Interview with Kaja Kallas\nQ: Will Europe use the frozen assets?\n"
                            "Kallas: Yes. The frozen assets must pay for Ukraine's reconstruction.")
    assert "kaja_kallas" in _holders(ex, "frozen_russian_assets")


def test_phrase_word_anaphora(pipeline):
    ex = _extract(pipeline, "Washington tightened chip export controls on Tuesday. Nvidia criticised the controls.")
    hits = [h for h in ex.issue_hits if h.anaphoric]
    assert [(h.text, h.issue_id) for h in hits] == [("the controls", "chip_export_controls")]


def test_unknown_places_that_do_not_act_are_not_actors(pipeline):
    ex = _extract(pipeline, "Russian forces advanced near Pokrovsk, Ukrainian officials said.")
    assert not any("pokrovsk" in a for a in ex.actors)


def _texts(ex, actor_id):
    return {m.text for m in ex.actors[actor_id].mentions}


def test_apposition_role_is_a_mention_of_the_person(pipeline):
    ex = _extract(pipeline, "Tomasz Siemoniak, the interior minister, defended the border controls on Monday.")
    (aid,) = [a for a in ex.actors if "siemoniak" in a]
    assert "the interior minister" in _texts(ex, aid)


def test_role_before_the_name_is_a_mention(pipeline):
    ex = _extract(pipeline, "The union is divided. Its president, Cesar Loza, said the union could accept a phase-out.")
    (aid,) = [a for a in ex.actors if "loza" in a]
    assert "Its president" in _texts(ex, aid)


def test_role_phrase_refers_back_to_the_actor_that_carries_the_role(pipeline):
    ex = _extract(pipeline, "The CGIL union called a general strike on Friday. Later the union said it would "
                            "oppose higher military spending.")
    (aid,) = [a for a in ex.actors if "cgil" in a]
    assert "the union" in _texts(ex, aid)


def test_the_government_is_the_country_of_the_person_speaking(pipeline):
    ex = _extract(pipeline, "Germany's Foreign Minister Johann Wadephul met reporters in Munich. "
                            "Wadephul said the government was examining all options.")
    assert "the government" in _texts(ex, "germany")


def test_role_phrase_without_an_antecedent_is_not_an_actor(pipeline):
    ex = _extract(pipeline, "The party said it would vote against the budget.")
    assert not any(m.text == "The party" for a in ex.actors.values() for m in a.mentions)


def test_names_the_recogniser_misses_are_found_from_their_context(pipeline):
    ex = _extract(pipeline, "Ararat Mirzoyan, the foreign minister, has defended the transit corridor. "
                            "Lord Carlile has joined the critics of the bill.")
    names = {a.name for a in ex.actors.values()}
    assert "Ararat Mirzoyan" in names and any("Carlile" in n for n in names)


def test_later_surname_mentions_are_found(pipeline):
    ex = _extract(pipeline, "South Korea's national security adviser Wi Sung-lac spoke in Seoul. "
                            "\"A freeze is a first step,\" Wi said.")
    (aid,) = [a for a in ex.actors if a.startswith("wi_")]
    assert sum(m.text == "Wi" for m in ex.actors[aid].mentions) == 1


def test_group_subjects_become_group_actors(pipeline):
    ex = _extract(pipeline, "In Meghri, opinion is divided. Many residents welcome the railway, but some farmers "
                            "oppose the corridor.")
    assert {"residents", "farmers"} <= {a.name for a in ex.actors.values() if a.kind == "group"}


def test_singular_nationality_noun_is_not_a_group(pipeline):
    ex = _extract(pipeline, "Smotrich has ruled out a Palestinian state as the price of any deal.")
    assert not any(a.kind == "group" for a in ex.actors.values())


def _features_by_holder(pipeline, text, issue_id):
    ex = _extract(pipeline, text)
    return {c.actor_id: stance_features(c) for c in ex.candidates if c.issue_id == issue_id}


def test_reporter_of_another_actors_position_is_marked(pipeline):
    feats = _features_by_holder(pipeline, "Kyiv says Moscow rejects Ukraine's membership in NATO.",
                                "ukraine_nato_membership")
    assert feats["ukraine"].get("attr_reports_other") == 1
    assert feats["russia"].get("attr_subject_of_clause=0") == 1 and "attr_reports_other" not in feats["russia"]


def test_second_conjunct_acts_like_the_first(pipeline):
    feats = _features_by_holder(pipeline, "Ukraine and its European partners advocate for Ukraine's membership "
                                          "in NATO.", "ukraine_nato_membership")
    group = next(f for aid, f in feats.items() if aid != "ukraine")
    assert group.get("h_conj") == 1
    assert group.get("attr_subject_of_clause=0") == feats["ukraine"].get("attr_subject_of_clause=0") == 1


def test_issue_worded_its_own_way_is_what_the_main_verb_is_about(pipeline):
    from training.extract import implicit_issue_hit

    ex = _extract(pipeline, "This proposal to admit Ukraine into NATO is strongly opposed by Russia.")
    (mention,) = ex.actors["russia"].mentions
    sent = ex.doc[mention.tok_start].sent
    hit = implicit_issue_hit(sent, mention, "ukraine_nato_membership")
    assert hit.text.startswith("This proposal") and hit.anaphoric and "Russia" not in hit.text


def test_seed_article_actor_list_is_exactly_the_annotated_one(seed_extraction):
    """One predicted actor per annotated actor, and nothing else (no heading actors, no NATO from "membership
    in NATO", which is what is at stake, not an actor)."""
    from training.corpus import load_corpus
    from training.train import align_actors

    (doc,) = [d for d in load_corpus(SEEDS).documents if d.id.startswith("000_")]
    mapping = align_actors(doc, seed_extraction)
    assert set(seed_extraction.actors) == set(mapping)  # every predicted actor is an annotated one
    assert len(seed_extraction.actors) == len(doc.actors)
    # Registry ids are the annotation's ids; the one group is named after its words ("European ...").
    groups = {a for a, actor in seed_extraction.actors.items() if actor.kind == "group"}
    assert set(seed_extraction.actors) - groups == set(doc.actors) - {"european_partners"}
    assert [mapping[g] for g in groups] == ["european_partners"]


def test_an_organisation_named_only_inside_an_issue_is_not_an_actor(pipeline):
    ex = _extract(pipeline, "Kyiv again pressed for Ukraine's membership in NATO on Monday.")
    assert "nato" not in ex.actors and "ukraine" in ex.actors


def test_an_actor_whose_name_is_an_issue_phrase_stays_an_actor(pipeline):
    # "UNRWA" is a phrase of gaza_humanitarian_access and an organisation that is argued about and acts.
    ex = _extract(pipeline, "The representative of Jordan said UNRWA was irreplaceable. UNRWA said it would keep "
                            "its schools open.")
    assert "unrwa" in ex.actors and len(ex.actors["unrwa"].mentions) >= 2


def test_interview_speaker_labels_are_surname_mentions(pipeline):
    ex = _extract(pipeline, "VILNIUS, March 3 (Wire) - Kestutis Budrys, Lithuania's foreign minister, spoke to us.\n"
                            "Is the idea dead?\nBudrys: Not at all.\nWill Hungary block it?\nBudrys: Studying is "
                            "better than vetoing.")
    (aid,) = [a for a, act in ex.actors.items() if act.kind == "person"]
    assert sum(m.text == "Budrys" for m in ex.actors[aid].mentions) == 2


def test_dateline_date_does_not_swallow_the_name_after_the_dash(pipeline):
    nlp, _ = pipeline
    doc = nlp("Interview: Norway's Eide on Palestine\nOSLO, April 14 - Espen Barth Eide, Norway's foreign minister, "
              "spoke to us.\nEide: Recognition was the beginning.")
    assert all("Eide" not in e.text for e in doc.ents if e.label_ == "DATE")
    ex = _extract(pipeline, doc.text)
    (person,) = [a for a in ex.actors.values() if a.kind == "person"]
    assert "Espen Barth Eide" in {m.text for m in person.mentions} and person.affiliation == "norway"


def test_surname_labelled_a_nationality_is_a_person(pipeline):
    ex = _extract(pipeline, "Interview: Armenia's Mirzoyan says the treaty cannot wait\nYEREVAN, Feb 17 - Ararat "
                            "Mirzoyan, Armenia's foreign minister, spoke to us.\nMirzoyan: Not because of us.")
    (person,) = [a for a in ex.actors.values() if a.kind == "person"]
    assert {"Ararat Mirzoyan", "Mirzoyan"} <= {m.text for m in person.mentions}
    assert sum(m.text == "Mirzoyan" for m in person.mentions) >= 2


def test_role_phrase_addressed_by_an_actor_refers_back(pipeline):
    ex = _extract(pipeline, "The Trump administration raised tariffs on soybeans. The Iowa Soybean Association "
                            "urged the administration to lift the remaining tariffs.")
    assert "the administration" in {m.text for m in ex.actors["united_states"].mentions}


def test_phrase_word_anaphor_reaches_back_past_the_window_and_takes_any_determiner(pipeline):
    ex = _extract(pipeline, "Ministers meet in Athens on Monday. The EU migration pact enters into force in June. "
                            "Ferries arrived overnight. The port was calm. Officials counted arrivals. "
                            "Mitsotakis said the pact was long overdue. Brazil promised a roadmap away from fossil "
                            "fuels. Lula said a roadmap was needed now.")
    anaphoric = {(h.text, h.issue_id) for h in ex.issue_hits if h.anaphoric}
    assert ("the pact", "eu_migration_pact") in anaphoric
    assert ("a roadmap", "fossil_fuel_phaseout") in anaphoric


def test_sentence_sharing_words_with_an_issue_in_play_gets_a_candidate(pipeline):
    metro = Issue("metro_extension", "Metro line extension", ("metro line extension",),
                  description="Extending the metro line to the airport. favor = wants the extension.")
    ex = _extract(pipeline, "The council debated the metro line extension on Monday. Poland has said the airport "
                            "link should wait. Ferries arrived in Lesbos overnight.", {"metro_extension": metro})
    implicit = [c for c in ex.candidates if c.issue is not None and c.issue.implicit]
    assert {(c.actor_id, c.issue_id) for c in implicit} == {("poland", "metro_extension")}
    assert all(not h.implicit for h in ex.issue_hits), "implicit hits are not reported as issue mentions"


def test_stance_sentence_without_shared_words_gets_the_articles_main_issue(pipeline):
    ex = _extract(pipeline, "The IAEA board will vote on a resolution on IAEA inspections in Iran. Diplomats expect "
                            "the IAEA inspections text to pass. Egypt said it would study the text carefully. "
                            "Ferries arrived in Lesbos overnight.")
    implicit = {(c.actor_id, c.issue_id, c.issue.implicit) for c in ex.candidates if c.issue and c.issue.implicit}
    assert ("egypt", "iaea_inspections_iran", "dominant") in implicit


def test_issue_phrases_match_typographic_apostrophes(pipeline):
    bid = Issue("kyiv_bid", "Kyiv's bid", ("Kyiv's NATO bid",))
    ex = _extract(pipeline, "Berlin again backed Kyiv’s NATO bid on Monday.", {"kyiv_bid": bid})
    assert any(h.issue_id == "kyiv_bid" and h.text == "Kyiv’s NATO bid" for h in ex.issue_hits)


def test_the_government_tie_goes_to_the_country_named_last(pipeline):
    # Two countries named once each: the tie is broken by position, never by set order (which varies with
    # PYTHONHASHSEED and made two training runs of the same code differ by one example).
    ex = _extract(pipeline, "Poland met Hungary in Vienna on Monday. The government said the talks were useful.")
    assert "The government" in {m.text for m in ex.actors["hungary"].mentions}


def test_a_noun_phrase_with_its_own_description_is_not_an_anaphor(pipeline):
    # "an agreement to cease Russian gas imports" is about the issue inside it; "an invitation for ... to
    # participate" introduces something new. Neither refers back to an earlier issue.
    ex = _extract(pipeline, "The talks covered security guarantees for Ukraine and Ukraine's NATO membership. "
                            "Von der Leyen announced an agreement to cease Russian gas imports by 2027. "
                            "Washington extended an invitation for Ukrainian officials to participate in talks.")
    anaphors = {h.text for h in ex.issue_hits if h.anaphoric}
    assert "an agreement" not in anaphors and "an invitation" not in anaphors
    assert any(h.issue_id == "russian_gas_phaseout" for h in ex.issue_hits)


def test_a_holder_is_paired_with_the_named_issue_mention_before_an_anaphor(seed_extraction):
    # "This proposal is strongly opposed by Russia, and former President Donald Trump has also indicated
    # opposition to Ukraine joining the alliance": Trump speaks about "joining the alliance".
    (trump,) = [c for c in seed_extraction.candidates
                if c.actor_id == "donald_trump" and c.issue_id == "ukraine_nato_membership"]
    assert trump.issue.text == "joining the alliance" and not trump.issue.anaphoric
    (russia,) = [c for c in seed_extraction.candidates
                 if c.actor_id == "russia" and c.issue_id == "ukraine_nato_membership" and "opposed by" in c.sent.text]
    assert russia.issue.text == "This proposal"


def test_link_pairs_say_where_the_issue_was_last_named(pipeline):
    from training.extract import link_pairs, quote_speakers

    nlp, extractor = pipeline
    doc = nlp("EU ministers met in Brussels to discuss the migration pact. Dinner ran late. "
              "Poland has said it will not take part at all.")
    ex = extractor.extract(doc)
    mentions = sorted(ex.mentions(), key=lambda m: m.tok_start)
    pairs = link_pairs(doc, ex.issue_hits, mentions, quote_speakers(doc, mentions),
                       extractor.issue_finder.topic_words())
    poland = next(p for p in pairs if "Poland" in p.sent.text and p.issue_id == "eu_migration_pact")
    assert poland.features["dprev=2"] == 1 and poland.features["dnext=none"] == 1
    assert poland.features["last_named"] == 1 and poland.features["top"] == 1
    assert poland.features["names_other"] == 0
    # The sentence that names the pact is not paired with it.
    assert not any(p.issue_id == "eu_migration_pact" and "migration pact" in p.sent.text for p in pairs)


@pytest.mark.parametrize("text, holder", [
    ("According to the Kremlin, a ceasefire would only help the other side rearm.", "russia"),
    ("A ceasefire is out of the question, according to Dmitry Peskov, the Kremlin spokesman.", "dmitry_peskov"),
])
def test_the_source_of_according_to_is_marked_as_the_holder(pipeline, text, holder):
    feats = _features_by_holder(pipeline, text, "ukraine_ceasefire")
    assert feats[holder].get("attr_according_to") == 1


@pytest.mark.parametrize("text, holder, polarity", [
    ("Kyiv advocates a ceasefire.", "ukraine", "favor"),
    ("Turkey welcomed the ceasefire in Gaza.", "turkey", "favor"),
    ("Hungary has rejected the new sanctions package.", "hungary", "against"),
    ("Moscow accused Kyiv of sabotaging the ceasefire.", "russia", "against"),
])
def test_the_subject_of_a_stance_verb_holds_the_verbs_polarity(pipeline, text, holder, polarity):
    ex = _extract(pipeline, text)
    (cand,) = [c for c in ex.candidates if c.actor_id == holder]
    f = stance_features(cand)
    assert any(k.startswith("attr_subject_of_clause=") for k in f)
    assert f.get(f"path_lex_{polarity}", 0) >= 1


def test_an_actor_added_to_the_registry_is_recognised_with_its_aliases_and_affiliation(tmp_path):
    import json

    lines = (SEEDS / "actors.jsonl").read_text(encoding="utf-8").splitlines()
    lines += [json.dumps({"id": "freedonia", "name": "Freedonia", "kind": "country", "aliases": ["Fredville"],
                          "demonyms": ["Freedonian"]}),
              json.dumps({"id": "zelda_marr", "name": "Zelda Marr", "kind": "person", "affiliation": "freedonia",
                          "aliases": ["Marr"]})]
    (tmp_path / "actors.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    registry = ActorRegistry.from_jsonl(tmp_path / "actors.jsonl")
    nlp = build_nlp(registry)
    extractor = Extractor(nlp, registry, Taxonomy.from_jsonl(SEEDS / "issues.jsonl").issues)
    ex = extractor.extract(nlp("Fredville rejected the new sanctions package on Monday. Zelda Marr, who leads the "
                               "delegation, said Marr had warned Brussels for months."))
    assert {m.text for m in ex.actors["freedonia"].mentions} == {"Fredville"}
    assert ex.actors["zelda_marr"].affiliation == "freedonia"
    assert len([m for m in ex.actors["zelda_marr"].mentions if m.via != "pronoun"]) == 2


def test_an_issue_named_without_phrases_matches_the_parts_of_its_name():
    from training.extract import phrases_from_name

    assert phrases_from_name("Security guarantees for Ukraine") == (
        "Security guarantees for Ukraine", "Security guarantees", "guarantees for Ukraine")
    assert "NATO membership" in phrases_from_name("Ukraine's NATO membership")
    assert phrases_from_name("company") == ("company",)


_EXTRACT_SCRIPT = """
import json, sys
from training.corpus import load_corpus
from training.extract import Extractor
from training.features import stance_features
from training.nlp import build_nlp
from training.registry import ActorRegistry, Taxonomy
from training.settings import PROJECT_ROOT
seeds = PROJECT_ROOT / "seeds"
registry = ActorRegistry.from_jsonl(seeds / "actors.jsonl")
nlp = build_nlp(registry)
extractor = Extractor(nlp, registry, Taxonomy.from_jsonl(seeds / "issues.jsonl").issues)
corpus = load_corpus(seeds)
# Every 8th train article, plus articles where "the government" once went to one of two equally named
# countries by set order.
docs = sorted(corpus.split("train"), key=lambda d: d.id)[::8]
docs += [d for d in corpus.documents if d.id in ("asi_011", "cm2_008", "me2_006", "dm2_031")]
out = []
for d in docs:
    ex = extractor.extract(nlp(d.text))
    out.append([(c.actor_id, c.issue_id, c.sent.start_char, sorted(stance_features(c).items())) for c in ex.candidates])
print(json.dumps(out))
"""


def test_extraction_and_features_do_not_depend_on_the_hash_seed():
    """The same text gives the same candidates and features in every process: set order (which follows
    PYTHONHASHSEED) once decided a tie, and two trainings of the same code differed."""
    import os
    import subprocess
    import sys

    outs = [subprocess.run([sys.executable, "-c", _EXTRACT_SCRIPT], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True, cwd=PROJECT_ROOT).stdout
            for seed in ("1", "2", "3")]
    assert outs[0] and outs[0] == outs[1] == outs[2]
