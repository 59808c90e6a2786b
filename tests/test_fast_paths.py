"""The serving fast paths (sparse matrix building, the VADER shortcut) give exactly the slow paths' answers."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training.vectorize import predict_proba, vectorize


def _same(a, b) -> bool:
    return a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices) \
        and np.array_equal(a.data, b.data)


def test_matrix_and_probabilities_equal_the_pipelines_on_numbers_strings_and_unknown_features():
    rows = [{"bias": 1.0, "w=talks": 0.5, "dep": "nsubj", "n": 3, "flag": True},
            {"bias": 1.0, "dep": "dobj", "vader": -0.42},
            {"bias": 1.0, "w=sanctions": 0.5, "dep": "nsubj", "vader": 0.7}]
    pipe = Pipeline([("features", DictVectorizer()), ("clf", LogisticRegression())]).fit(rows, ["a", "b", "c"])
    new = [{"vader": 0.1, "dep": "pobj", "unseen": 2.0, "bias": 1.0, "w=talks": 0.5}, {}, {"dep": "nsubj"}]
    vec = pipe.named_steps["features"]
    assert _same(vectorize(vec, new), vec.transform(new).tocsr())
    assert np.array_equal(predict_proba(pipe, new), pipe.predict_proba(new))
    assert vectorize(vec, []).shape == (0, len(vec.feature_names_))  # DictVectorizer refuses no rows
    # Values DictVectorizer handles in its general way (numpy scalars, lists) take its own path.
    odd = [{"dep": ["nsubj", "dobj"], "n": np.int64(2)}]
    assert _same(vectorize(vec, odd), vec.transform(odd).tocsr())


def test_the_served_models_classifiers_score_real_candidates_exactly_as_scikit_learn(served, seed_text):
    model = served.model
    with model.nlp.memory_zone():
        ex = model.extract(model.parse(seed_text))
        feats = model.stance_features(ex.candidates)
        pairs = [p.features for p in model.extractor.link_pairs(ex)]
    assert feats and pairs
    for pipe, rows in ((model.classifiers.stance, feats), (model.classifiers.tone, feats),
                       (model.classifiers.linker.pipeline, pairs)):
        assert np.array_equal(predict_proba(pipe, rows), pipe.predict_proba(rows))


def test_the_vader_shortcut_scores_exactly_as_vader(seed_text):
    """Texts with no VADER lexicon word are scored 0.0 without running VADER; every other text runs it."""
    from training.features import _no_vader_word, _vader

    words = seed_text.split()
    texts = [" ".join(words[k:k + n]) for n in (1, 3, 8, 17) for k in range(0, len(words) - n, 5)]
    texts += ["Talks ended. :)", "No comment 🙂", "kind of", "NATO", "\"rejected,\"", "ok!!", ""]
    shortcut = [t for t in texts if _no_vader_word(t)]
    assert 0 < len(shortcut) < len(texts)
    assert all(_vader().polarity_scores(t)["compound"] == 0.0 for t in shortcut)
