"""The annotated corpus validates, and the validator names file and line for every kind of mistake."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from training.agreement import agreement, read_reviews
from training.corpus import CorpusError, leakage_problems, load_corpus, split_problems
from training.settings import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def test_project_corpus_meets_its_brief():
    corpus = load_corpus(SEEDS)
    stats = corpus.stats()
    assert stats["documents"] >= 300 and stats["stance_triples"] >= 3000
    labels = stats["stance_by_label"]
    assert labels["against"] >= 0.25 * stats["stance_triples"] and labels["favor"] >= 0.25 * stats["stance_triples"]
    assert labels["neutral"] > 0
    assert stats["arenas"] >= 10 and stats["issues_used"] >= 40 and stats["actors"] >= 150
    assert all(n >= 24 for n in stats["phenomena"].values()), stats["phenomena"]  # dozens of each hard case
    assert set(stats["documents_by_split"]) == {"train", "dev", "test"}


def test_splits_are_fixed_and_nothing_leaks_across_them():
    corpus = load_corpus(SEEDS)
    assert split_problems(corpus, SEEDS) == []
    assert leakage_problems(corpus, SEEDS) == []
    by_arena = {}
    for d in corpus.documents:
        by_arena.setdefault(d.arena, set()).add(d.split)
    assert all(splits == {"train", "dev", "test"} for splits in by_arena.values()), by_arena


def test_every_article_has_an_independent_second_pass_and_every_disagreement_a_decision():
    corpus = load_corpus(SEEDS)
    reviews = read_reviews(SEEDS)
    assert {d.id for d in corpus.documents} <= set(reviews)
    report = agreement(corpus, reviews)
    assert report["pairs"] >= 3000 and 0.0 < report["stance_kappa"] <= 1.0
    assert all(d["final"] in ("favor", "against", "neutral") for d in report["disagreements"]), \
        [d for d in report["disagreements"] if not d["final"]]


def test_seed_article_is_in_the_corpus_with_its_gold_stances():
    corpus = load_corpus(SEEDS)
    seed = next(d for d in corpus.documents if d.id == "000_549929fe5eb0465e")
    gold = {(s.actor, s.issue, s.stance) for s in seed.stances}
    assert ("russia", "ukraine_nato_membership", "against") in gold
    assert ("ukraine", "ukraine_nato_membership", "favor") in gold


def _copy_one(tmp_path: Path) -> Path:
    root = tmp_path / "seeds"
    (root / "corpus").mkdir(parents=True)
    shutil.copy(SEEDS / "issues.jsonl", root / "issues.jsonl")
    for suffix in (".txt", ".jsonl"):
        shutil.copy(SEEDS / "corpus" / f"000_549929fe5eb0465e{suffix}", root / "corpus" / f"000_549929fe5eb0465e{suffix}")
    return root


def _rewrite_line(path: Path, lineno: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = new
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r | {"evidence": "words that are not in the article"}, "not an exact substring"),
    (lambda r: r | {"stance": "pro"}, "stance 'pro' is not one of"),
    (lambda r: r | {"issue": "no_such_issue"}, "unknown issue id 'no_such_issue'"),
    (lambda r: r | {"actor": "nobody"}, "actor 'nobody' is not an actor id"),
    (lambda r: {k: v for k, v in r.items() if k != "sentiment"}, "missing field(s) sentiment"),
])
def test_bad_stance_line_is_reported_with_file_and_line(tmp_path, mutate, expected):
    root = _copy_one(tmp_path)
    ann = root / "corpus" / "000_549929fe5eb0465e.jsonl"
    lines = ann.read_text().splitlines()
    lineno = next(n for n, line in enumerate(lines, 1) if json.loads(line)["type"] == "stance")
    _rewrite_line(ann, lineno, json.dumps(mutate(json.loads(lines[lineno - 1]))))
    with pytest.raises(CorpusError) as err:
        load_corpus(root)
    assert any(p.startswith(f"{ann}:{lineno}:") and expected in p for p in err.value.problems), err.value.problems


def test_invalid_json_and_missing_text_are_reported(tmp_path):
    root = _copy_one(tmp_path)
    ann = root / "corpus" / "000_549929fe5eb0465e.jsonl"
    _rewrite_line(ann, 3, '{"type": "actor", "id": ')
    (root / "corpus" / "orphan.jsonl").write_text('{"type": "document"}\n')
    with pytest.raises(CorpusError) as err:
        load_corpus(root)
    assert any(p.startswith(f"{ann}:3: invalid JSON") for p in err.value.problems)
    assert any("orphan.txt is missing" in p for p in err.value.problems)


def test_ambiguous_evidence_needs_a_start_offset(tmp_path):
    root = _copy_one(tmp_path)
    ann = root / "corpus" / "000_549929fe5eb0465e.jsonl"
    lines = ann.read_text().splitlines()
    lineno = next(n for n, line in enumerate(lines, 1) if json.loads(line)["type"] == "stance")
    rec = json.loads(lines[lineno - 1]) | {"evidence": "Ukraine"}
    _rewrite_line(ann, lineno, json.dumps(rec))
    with pytest.raises(CorpusError) as err:
        load_corpus(root)
    assert any(f":{lineno}:" in p and "add \"start\"" in p for p in err.value.problems)
    text = (root / "corpus" / "000_549929fe5eb0465e.txt").read_text()
    _rewrite_line(ann, lineno, json.dumps(rec | {"start": text.index("Ukraine")}))
    load_corpus(root)


def test_validate_command_reads_the_configured_seeds_dir(tmp_path, monkeypatch, capsys):
    from training.corpus import main

    root = _copy_one(tmp_path)
    ann = root / "corpus" / "000_549929fe5eb0465e.jsonl"
    _rewrite_line(ann, 3, '{"type": "actor", "id": ')
    monkeypatch.setenv("STANCE_SEEDS_DIR", str(root))
    assert main(["validate"]) == 1
    assert f"{ann}:3: invalid JSON" in capsys.readouterr().err
