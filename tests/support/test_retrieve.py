from __future__ import annotations

import pytest

from storewise.errors import NotFitted
from storewise.support import KBEntry, KnowledgeBase, Retriever
from storewise.support.retrieve import tokenize


@pytest.fixture(scope="module")
def retriever(tiny_kb: KnowledgeBase) -> Retriever:
    return Retriever().fit(tiny_kb)


def test_tokenize_drops_stopwords_and_plurals() -> None:
    assert tokenize("Where are my Lanterns, please?") == ["where", "lantern"]


def test_plain_bm25_finds_the_matching_answer(retriever: Retriever) -> None:
    results = retriever.search("how do I subscribe to the newsletter", k=2)
    assert results[0].intent == "newsletter_subscription"
    assert results[0].score == 1.0
    assert "newsletter" in results[0].question


def test_intent_filter_keeps_only_that_intent(retriever: Retriever) -> None:
    results = retriever.search("newsletter order cancel refund", k=5, intent="track_order")
    assert results and {r.intent for r in results} == {"track_order"}


def test_confident_intent_answers_even_without_shared_words(retriever: Retriever) -> None:
    results = retriever.search("zzz qqq", k=3, intent="complaint")
    assert [r.intent for r in results] == ["complaint"]


def test_no_match_without_intent_is_empty(retriever: Retriever) -> None:
    assert retriever.search("zzz qqq", k=3) == []


def test_boost_mode_prefers_the_probable_intent(retriever: Retriever) -> None:
    probs = {"cancel_order": 0.9, "track_order": 0.1}
    results = retriever.search("my order", k=2, intent_probs=probs)
    assert results[0].intent == "cancel_order"
    assert results[0].score > results[1].score


def test_restricted_boost_mode_only_returns_listed_intents(retriever: Retriever) -> None:
    results = retriever.search("newsletter", k=5, intent_probs={"cancel_order": 0.5}, restrict=True)
    assert results and {r.intent for r in results} == {"cancel_order"}


def test_duplicate_answers_are_returned_once() -> None:
    kb = KnowledgeBase(
        entries=(
            KBEntry(intent="a", examples=("open hours",), answer="Same"),
            KBEntry(intent="a", examples=("opening hours",), answer="Same"),
            KBEntry(intent="a", examples=("hours today",), answer="Other"),
        )
    )
    results = Retriever().fit(kb).search("hours", k=3)
    assert [r.text for r in results] == ["Same", "Other"]


def test_unfitted_retriever() -> None:
    with pytest.raises(NotFitted):
        Retriever().search("hello")
