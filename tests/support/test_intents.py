from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from storewise.errors import ArtifactError, InputError, NotFitted
from storewise.support import (
    Assistant,
    IntentConfig,
    IntentModel,
    KBEntry,
    KnowledgeBase,
    evaluate_intents,
)
from storewise.support.intents import (
    INTENTS_ARRAYS,
    INTENTS_FILENAME,
    _normalize_text,
    score_intents,
)

from .conftest import BitextSplit


@pytest.fixture(scope="module")
def model(tiny_kb: KnowledgeBase) -> IntentModel:
    return IntentModel().fit(tiny_kb)


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("where's my parcel??", "track_order"),
        ("I would like to return the tent", "return_item"),
        ("please cancel order 555", "cancel_order"),
        ("can I talk to a real human", "contact_human_agent"),
        ("do you accept paypal", "check_payment_methods"),
    ],
)
def test_tiny_kb_recognises_paraphrases(model: IntentModel, message: str, intent: str) -> None:
    prediction = model.predict(message)
    assert prediction.intent == intent
    assert prediction.alternatives[0][0] == intent
    assert 0 <= prediction.confidence <= prediction.probability <= 1


def test_probabilities_are_a_distribution(model: IntentModel) -> None:
    probs = model.probabilities(["where is my order", "hello", ""])
    assert probs.shape == (3, len(model.classes_))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_message_without_known_features_goes_to_a_human(model: IntentModel) -> None:
    prediction = model.predict("我的订单在哪里")
    assert prediction.in_domain == 0.0
    assert prediction.confidence == 0.0
    assert prediction.needs_human


def test_classify_routes_unknown_to_none(model: IntentModel) -> None:
    rows = model.classify(["track my order", "我想退货"])
    assert rows[0].message == "track my order"
    assert rows[0].intent == "track_order"
    assert rows[1].intent is None
    _, intent, confidence = rows[1]  # a plain 3-tuple too
    assert intent is None and confidence < model.config.threshold


def test_featurizer_matches_sklearn_tfidf(model: IntentModel, tiny_kb: KnowledgeBase) -> None:
    texts, _ = tiny_kb.examples()
    ours = model._require().transform(texts).toarray()
    word = TfidfVectorizer(preprocessor=_normalize_text, ngram_range=(1, 2), sublinear_tf=True)
    word.fit(texts)
    n_word = len(word.vocabulary_)
    expected = word.transform(texts).toarray() / np.sqrt(2)
    np.testing.assert_allclose(ours[:, :n_word], expected, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0)


def test_save_load_gives_same_predictions_without_pickle(
    model: IntentModel, tmp_path: Path
) -> None:
    model.save(tmp_path)
    document = json.loads((tmp_path / INTENTS_FILENAME).read_text(encoding="utf-8"))
    assert document["classes"] == model.classes_
    with np.load(tmp_path / INTENTS_ARRAYS, allow_pickle=False) as arrays:
        assert arrays["coef"].shape == model.coef_.shape
    loaded = IntentModel.load(tmp_path)
    messages = ["where is my order", "refund the lantern", "blah", "cancel"]
    np.testing.assert_allclose(loaded.probabilities(messages), model.probabilities(messages))
    assert loaded.predict_many(messages) == model.predict_many(messages)
    assert loaded.kb_checksum_ == model.kb_checksum_


def test_corrupt_or_missing_model_is_artifact_error(model: IntentModel, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no intent model"):
        IntentModel.load(tmp_path)
    model.save(tmp_path)
    arrays = tmp_path / INTENTS_ARRAYS
    arrays.write_bytes(arrays.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        IntentModel.load(tmp_path)


def test_a_changed_document_is_refused(model: IntentModel, tmp_path: Path) -> None:
    model.save(tmp_path)
    path = tmp_path / INTENTS_FILENAME
    document = json.loads(path.read_text(encoding="utf-8"))
    document["temperature"] = 1.0
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"intents\.json: checksum mismatch"):
        IntentModel.load(tmp_path)


def test_a_model_saved_before_documents_had_checksums_loads(
    model: IntentModel, tmp_path: Path
) -> None:
    model.save(tmp_path)
    path = tmp_path / INTENTS_FILENAME
    document = json.loads(path.read_text(encoding="utf-8"))
    del document["document_sha256"]  # the old layout: only the arrays' SHA-256
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    messages = ["where is my order", "refund the lantern", "blah"]
    assert IntentModel.load(tmp_path).predict_many(messages) == model.predict_many(messages)


def test_unfitted_model_says_what_to_call() -> None:
    with pytest.raises(NotFitted, match=r"IntentModel\.fit"):
        IntentModel().predict("hello")


def test_bad_training_input() -> None:
    with pytest.raises(InputError):
        IntentModel().fit_texts(["a", "b"], ["x"])


def test_one_and_two_intent_kbs() -> None:
    one = KnowledgeBase(
        entries=(KBEntry(intent="hours", examples=("when are you open",), answer="9-5"),)
    )
    prediction = IntentModel().fit(one).predict("when are you open today")
    assert prediction.intent == "hours"
    assert prediction.probability == 1.0
    two = KnowledgeBase(
        entries=(
            KBEntry(intent="hours", examples=("when are you open", "opening hours"), answer="9-5"),
            KBEntry(intent="track", examples=("where is my order", "track parcel"), answer="Soon"),
        )
    )
    fitted = IntentModel(IntentConfig(threshold=0.0)).fit(two)
    assert fitted.predict("where is my parcel").intent == "track"
    assert fitted.predict("what are your opening hours").intent == "hours"


def test_evaluate_intents_on_tiny_kb(tiny_kb: KnowledgeBase) -> None:
    report = evaluate_intents(tiny_kb, test_size=0.3, seed=0)
    assert report.n_train + report.n_test == len(tiny_kb.examples()[0])
    assert report.labels == tiny_kb.intents
    assert sum(map(sum, report.confusion)) == report.n_test
    assert 0.0 <= report.macro_f1 <= 1.0 and 0.5 <= report.accuracy <= 1.0


@pytest.mark.dataset
def test_bitext_held_out_accuracy(bitext_split: BitextSplit) -> None:
    report = score_intents(bitext_split.model, bitext_split.test_texts, bitext_split.test_labels)
    assert report.n_test == 903
    assert report.accuracy >= 0.99  # a plain TF-IDF + linear SVM reaches 0.991
    assert report.macro_f1 >= 0.99
    assert report.answered_rate >= 0.97  # few in-domain messages go to a human
    assert report.expected_calibration_error < 0.03
    confusion = np.array(report.confusion)
    assert confusion.shape == (27, 27)
    assert confusion.trace() == round(report.accuracy * report.n_test)


@pytest.mark.dataset
def test_bitext_out_of_domain_goes_to_a_human(bitext_assistant: Assistant) -> None:
    messages = [
        "does the lantern come in blue?",
        "Wo ist meine Bestellung?",
        "Où est ma commande ?",
        "quiero devolver la linterna",
        "我的订单在哪里？",
        "tell me a joke",
    ]
    routed = [p.needs_human for p in bitext_assistant.intents.predict_many(messages)]
    assert sum(routed) >= len(messages) - 1
    assert not bitext_assistant.intents.predict("I want to track order 12345").needs_human
