"""The assistant on hand-written messages about real Online Retail customers' orders
(``messages.jsonl``): the named order or item is matched in at least 90% of the messages and
no answer is about the wrong order. Cards are built as the support service builds them after
an ``online-retail`` import (see ``benchmarks/support_orders.py``, which prints the figures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.support_orders import AS_OF, online_retail_cards
from storewise.support import Assistant, CustomerCard, KnowledgeBase, read_kb, with_out_of_scope
from storewise.support.order_eval import OrderCase, read_cases, score_cases
from storewise.support.service import DEMO_KB
from tests.conftest import shared_file

CASES = Path(__file__).with_name("messages.jsonl")


@pytest.fixture(scope="module")
def cases() -> list[OrderCase]:
    return read_cases(CASES)


@pytest.fixture(scope="module")
def cards(
    cases: list[OrderCase], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, CustomerCard]]:
    path = shared_file("online-retail", "online_retail.csv.gz")
    folder = tmp_path_factory.mktemp("online-retail")
    yield online_retail_cards({c.customer_id for c in cases}, folder, path=path)


def test_the_cases_are_hand_written_and_varied(cases: list[OrderCase]) -> None:
    assert len(cases) >= 40
    assert len({c.customer_id for c in cases}) >= 10
    kinds = {c.kind for c in cases}
    assert {"number", "item", "no_match", "unknown_number", "recent", "out_of_scope"} <= kinds
    assert sum(c.split == "held_out" for c in cases) >= 20


@pytest.mark.dataset
def test_the_cases_are_about_real_orders(
    cases: list[OrderCase], cards: dict[str, CustomerCard]
) -> None:
    for case in cases:
        card = cards[case.customer_id]
        assert card.known and card.as_of == AS_OF, case.id
        if case.order is None:
            continue
        order = next((o for o in card.all_orders if o.order_id == case.order), None)
        assert order is not None, f"{case.id}: {case.order} is not an order of {case.customer_id}"
        assert set(case.items) <= {line.item_id for line in order.items}, case.id


@pytest.mark.dataset
def test_none_of_the_messages_comes_from_bitext(
    cases: list[OrderCase], bitext_kb: KnowledgeBase
) -> None:
    texts, _ = bitext_kb.examples()
    known = {t.strip().lower() for t in texts}
    assert not [c.id for c in cases if c.message.strip().lower() in known]


@pytest.mark.dataset
def test_starter_kb_matches_the_named_order_and_never_a_wrong_one(
    cases: list[OrderCase], cards: dict[str, CustomerCard]
) -> None:
    starter = with_out_of_scope(read_kb(DEMO_KB))  # as `storewise support load-kb` loads it
    report = score_cases(Assistant.from_kb(starter), cases, cards)
    failures = [(r.case.id, r.matched_order, r.matched_items, r.intent) for r in report.failures()]
    assert report.match_rate >= 0.9, failures
    assert report.wrong_order == 0, failures
    assert report.wrong_item_refunds == 0, failures
    held_hits, held_total = report.by_split["held_out"]
    assert held_hits >= 0.9 * held_total, failures
    assert report.intent_accuracy >= 0.9, failures
    assert report.status_ok >= 0.95 * report.n_status, failures


@pytest.mark.dataset
def test_bitext_kb_matches_the_same_orders(
    cases: list[OrderCase], cards: dict[str, CustomerCard], bitext_assistant: Assistant
) -> None:
    report = score_cases(bitext_assistant, cases, cards)
    assert report.match_rate >= 0.9
    assert report.wrong_order == 0 and report.wrong_item_refunds == 0
