from __future__ import annotations

import csv
import json
import time
from datetime import UTC
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewise.errors import InputError, NotFitted
from storewise.support import (
    Action,
    Assistant,
    AssistantConfig,
    CustomerCard,
    CustomerProfile,
    IntentConfig,
    IntentModel,
    KnowledgeBase,
    OrderLine,
    OrderSummary,
    Retriever,
    ShopFacts,
    build_card,
    classify_file,
    classify_messages,
    is_double_charge,
    load_kb,
    placeholders,
    read_kb,
    resolve_order,
    with_out_of_scope,
)
from storewise.support.assistant import OUT_OF_SCOPE_KB
from storewise.support.fill import canonical_placeholder
from storewise.support.intents import score_intents
from storewise.support.service import DEMO_KB

from .conftest import TINY_KB_MD, BitextSplit, customer_events, ts


def kinds(actions: list[Action]) -> list[str]:
    return [a.kind for a in actions]


def test_return_names_the_item_order_and_refund_amount(
    tiny_assistant: Assistant, card: CustomerCard
) -> None:
    suggestion = tiny_assistant.suggest("I want to return the lantern", card)
    assert suggestion.intent == "return_item"
    assert not suggestion.needs_human
    assert suggestion.order.how == "item"
    assert suggestion.order.order is not None and suggestion.order.order.order_id == "B200"
    assert [line.item_id for line in suggestion.order.lines] == ["L1"]
    text = suggestion.answers[0].text
    assert "3 × Camping lantern" in text
    assert "73.50" in text  # 3 x 24.50, the lantern line only
    assert "B200" in text
    assert "{{" not in text and "number of days" not in text
    refund = suggestion.actions[0]
    assert (refund.kind, refund.order_id, refund.amount, refund.item_ids) == (
        "refund",
        "B200",
        73.5,
        ["L1"],
    )
    assert "replacement" in kinds(suggestion.actions)
    assert suggestion.priority == "normal"  # CLV 300, churn 0.2: neither valuable nor at risk
    assert suggestion.card is card
    document = json.loads(suggestion.model_dump_json())  # what the API will send
    assert document["answers"][0]["text"] == text


def test_valuable_at_risk_customer_gets_priority_and_coupon(
    tiny_assistant: Assistant, vip_card: CustomerCard
) -> None:
    suggestion = tiny_assistant.suggest("I want to return the lantern", vip_card)
    assert suggestion.priority == "high"
    coupon = next(a for a in suggestion.actions if a.kind == "goodwill_coupon")
    assert coupon.percent == 10
    calm = tiny_assistant.suggest("how do I sign up for the newsletter", vip_card)
    assert calm.priority == "low"
    assert "goodwill_coupon" not in kinds(calm.actions)


def test_complaint_from_vip_is_escalated(tiny_assistant: Assistant, vip_card: CustomerCard) -> None:
    suggestion = tiny_assistant.suggest("this is unacceptable, the gas canisters leaked", vip_card)
    assert suggestion.intent == "complaint"
    assert [line.item_id for line in suggestion.order.lines] == ["G1"]
    assert {"replacement", "goodwill_coupon", "escalate"} <= set(kinds(suggestion.actions))
    # the KB sentence naming the order needed an unknown response time and was dropped; a
    # short line names the order and its real state instead
    assert suggestion.answers[0].text == (
        "Your order B200 of 1 June 2024 (3 × Gas canister) is being packed and should leave "
        "our warehouse on 4 June 2024.\n\nWe're sorry to hear that, Bo."
    )


def test_order_number_in_message_wins(tiny_assistant: Assistant, card: CustomerCard) -> None:
    suggestion = tiny_assistant.suggest("please cancel order #b200", card)
    assert suggestion.intent == "cancel_order"
    assert suggestion.order.how == "number"
    assert suggestion.matched_order is not None and suggestion.matched_order.order_id == "B200"
    assert suggestion.match == "order B200 named"
    text = suggestion.answers[0].text
    assert text.startswith(
        "Your order B200 of 1 June 2024 (3 × Camping lantern and 3 × Gas canister) is being "
        "packed and should leave our warehouse on 4 June 2024.\n\n"
        "Your order B200 of 1 June 2024 can be cancelled"
    )
    assert "3. Press Cancel Order." in text
    cancel = next(a for a in suggestion.actions if a.kind == "cancel_order")
    assert (cancel.order_id, cancel.amount) == ("B200", 88.5)


def test_no_cancellation_once_the_order_left_or_came_back(
    tiny_assistant: Assistant, card: CustomerCard
) -> None:
    returned = tiny_assistant.suggest("please cancel order #a100", card)
    assert returned.intent == "cancel_order" and returned.matched_order is not None
    assert returned.matched_order.status == "returned"
    assert "cancel_order" not in kinds(returned.actions)
    assert returned.answers[0].text.startswith(
        "Your order A100 of 5 March 2024 (Trail tent 2p) was returned on 20 March 2024."
    )
    later = build_card("C1", customer_events(), as_of="2024-06-10T12:00:00+00:00")
    shipped = tiny_assistant.suggest("please cancel order B200", later)
    assert shipped.matched_order is not None and shipped.matched_order.status == "delivered"
    assert "cancel_order" not in kinds(shipped.actions)
    assert "should have arrived by 7 June 2024" in shipped.answers[0].text


def test_most_recent_order_by_default(tiny_assistant: Assistant, card: CustomerCard) -> None:
    suggestion = tiny_assistant.suggest("where is my order?", card)
    assert suggestion.intent == "track_order"
    assert suggestion.order.how == "recent"
    assert suggestion.match.startswith("the message names no order or item")
    assert suggestion.answers[0].text.startswith(
        "Your latest order B200 of 1 June 2024 (3 × Camping lantern and 3 × Gas canister) is "
        "being packed"
    )
    assert "Hi Ana Lopez, your order B200 placed on 1 June 2024" in suggestion.answers[0].text
    assert "refund" not in kinds(tiny_assistant.suggest("refund please", card).actions)


def test_unknown_customer_gets_a_generic_answer(tiny_assistant: Assistant) -> None:
    suggestion = tiny_assistant.suggest("where is my order?")
    assert not suggestion.card.known
    assert suggestion.order.how == "none"
    text = suggestion.answers[0].text
    assert text == "You can follow it in the Order History section of our website."
    mentioned = tiny_assistant.suggest("where is order 98765?")
    assert mentioned.order.how == "unknown_number"
    assert mentioned.order.mentioned_number == "98765"


def test_shop_facts_fill_contact_details(tiny_kb: KnowledgeBase) -> None:
    shop = ShopFacts(phone="0800 123", hours="9am-5pm on weekdays")
    assistant = Assistant(tiny_kb, *_parts(tiny_kb), shop=shop)
    suggestion = assistant.suggest("I want to speak to a human")
    assert suggestion.answers[0].text == (
        "I'm connecting you to a colleague. You can also call us at 0800 123, "
        "we are available 9am-5pm on weekdays."
    )
    assert kinds(suggestion.actions) == ["escalate"]


def _parts(kb: KnowledgeBase) -> tuple[IntentModel, Retriever]:
    return IntentModel().fit(kb), Retriever().fit(kb)


def test_out_of_domain_message_goes_to_a_human(tiny_assistant: Assistant) -> None:
    suggestion = tiny_assistant.suggest("我的订单在哪里")
    assert suggestion.needs_human
    assert suggestion.confidence == 0.0
    escalate = suggestion.actions[-1]
    assert escalate.kind == "escalate" and "not sure" in escalate.reason
    assert suggestion.priority == "normal"
    assert max(p for _, p in suggestion.alternatives) < 0.4
    assert suggestion.answers == []  # no intent is likely enough to suggest a text


def test_uncertain_message_gets_answers_of_likely_intents_only(
    tiny_assistant: Assistant, card: CustomerCard
) -> None:
    assistant = Assistant.from_kb(
        tiny_assistant.kb,
        intent_config=IntentConfig(threshold=1.0),  # every message needs a human
        config=AssistantConfig(min_answer_probability=0.3),
    )
    suggestion = assistant.suggest("where is my order?", card)
    assert suggestion.needs_human
    assert suggestion.answers and suggestion.answers[0].intent == "track_order"


@pytest.mark.parametrize("message", ["", "   \n\t"])
def test_empty_message_is_refused(tiny_assistant: Assistant, message: str) -> None:
    with pytest.raises(InputError, match="empty message"):
        tiny_assistant.suggest(message)


def test_long_message_is_refused(tiny_assistant: Assistant) -> None:
    tiny_assistant.suggest("where is my order " + "x" * 4900)
    with pytest.raises(InputError, match="limit is 5000"):
        tiny_assistant.suggest("x" * 5001)


def test_no_kb_loaded_says_how_to_load_one(tmp_path: Path) -> None:
    with pytest.raises(NotFitted, match=r"storewise support load-kb FILE"):
        Assistant.load(tmp_path / "support")


def test_load_kb_saves_json_and_npz_and_reloads_identically(
    tiny_kb_file: Path, tmp_path: Path, card: CustomerCard
) -> None:
    folder = tmp_path / "support"
    trained = load_kb(tiny_kb_file, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["intents.json", "intents.npz", "kb.json"]
    json.loads((folder / "kb.json").read_text(encoding="utf-8"))
    np.load(folder / "intents.npz", allow_pickle=False).close()
    loaded = Assistant.load(folder)
    for message in ["I want to return the lantern", "cancel A100", "hello there"]:
        assert loaded.suggest(message, card) == trained.suggest(message, card)


def test_load_refits_when_the_model_belongs_to_another_kb(
    tiny_kb_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "support"
    load_kb(tiny_kb_file, folder)
    extra = tmp_path / "extra.md"
    extra.write_text("## opening_hours\n- when are you open\n- opening hours\n\n9 to 5.\n")
    merged = load_kb([tiny_kb_file, extra], tmp_path / "merged")
    assert "opening_hours" in merged.kb.intents
    (tmp_path / "merged" / "kb.json").replace(folder / "kb.json")
    assert "opening_hours" in Assistant.load(folder).intents.classes_


def test_classify_messages_batch(tiny_assistant: Assistant, tmp_path: Path) -> None:
    rows = classify_messages(["where is my order", "", "我的订单在哪里", "  "], tiny_assistant)
    assert [(r.message, r.intent) for r in rows] == [
        ("where is my order", "track_order"),
        ("我的订单在哪里", None),
    ]
    with pytest.raises(InputError, match="line 2"):
        classify_messages(["ok", "x" * 6000], tiny_assistant)
    source = tmp_path / "messages.txt"
    source.write_text("cancel my order\nrefund please\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert classify_file(source, out, tiny_assistant) == 2
    with out.open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [row["intent"] for row in table] == ["cancel_order", "return_item"]
    assert float(table[0]["confidence"]) > 0.6


def test_resolve_order_prefers_the_best_title_match() -> None:
    card = CustomerCard(
        known=True,
        orders=[
            OrderSummary(
                order_id="2",
                date="2024-02-01T00:00:00Z",
                items=[OrderLine(item_id="a", title="Red camping mug")],
            ),
            OrderSummary(
                order_id="1",
                date="2024-01-01T00:00:00Z",
                items=[OrderLine(item_id="b", title="Red camping lantern", price=10, quantity=2)],
            ),
        ],
    )
    match = resolve_order("the red lanterns are broken", card)
    assert match.how == "item" and match.order is not None and match.order.order_id == "1"
    assert resolve_order("the red one", card).order.order_id == "2"  # type: ignore[union-attr]
    assert resolve_order("hello", CustomerCard()).how == "none"
    phone = resolve_order("my phone number is 0770090, where is my order?", card)
    assert phone.how == "recent"  # a number that is not an order reference is ignored
    other = resolve_order("where is order #77-123?", card)
    assert (other.how, other.mentioned_number, other.order) == ("unknown_number", "77-123", None)


def test_custom_intent_roles(tiny_kb: KnowledgeBase, card: CustomerCard) -> None:
    config = AssistantConfig(refund_intents=frozenset(), high_value_spent=10.0)
    assistant = Assistant(tiny_kb, *_parts(tiny_kb), config=config)
    suggestion = assistant.suggest("I want to return the lantern", card)
    assert "refund" not in kinds(suggestion.actions)


# -- a customer never sees a placeholder ------------------------------------------------

_text = st.text(max_size=25)
_lines = st.builds(
    OrderLine,
    item_id=st.text(min_size=1, max_size=8),
    title=st.none() | _text,
    quantity=st.floats(0, 1000, allow_nan=False),
    price=st.none() | st.floats(0, 1e6, allow_nan=False),
)
_orders = st.builds(
    OrderSummary,
    order_id=st.none() | st.text(min_size=1, max_size=12),
    date=st.datetimes(timezones=st.just(UTC)),
    items=st.lists(_lines, max_size=3),
    total=st.floats(0, 1e7, allow_nan=False),
    expected_delivery=st.none() | st.dates(),
)
_cards = st.one_of(
    st.just(CustomerCard.unknown()),
    st.builds(
        CustomerCard,
        known=st.just(True),
        profile=st.builds(CustomerProfile, customer_id=st.just("C"), name=st.none() | _text),
        orders=st.lists(_orders, max_size=3),
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=_cards, message=_text, index=st.integers(min_value=0))
def test_property_tiny_kb_answers_never_show_a_slot(
    tiny_assistant: Assistant, card: CustomerCard, message: str, index: int
) -> None:
    entries = tiny_assistant.kb.entries
    text = tiny_assistant.personalize(entries[index % len(entries)].answer, card, message)
    assert "{{" not in text and "}}" not in text


@pytest.mark.dataset
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=_cards, message=_text, index=st.integers(min_value=0))
def test_property_bitext_answers_never_show_a_slot(
    bitext_kb: KnowledgeBase, card: CustomerCard, message: str, index: int
) -> None:
    assistant = Assistant(bitext_kb, None, None)  # type: ignore[arg-type]  # personalize only
    entries = bitext_kb.entries
    text = assistant.personalize(entries[index % len(entries)].answer, card, message)
    assert "{{" not in text and "}}" not in text


@pytest.mark.dataset
def test_every_bitext_answer_fills_for_empty_and_full_cards(
    bitext_kb: KnowledgeBase, card: CustomerCard
) -> None:
    assistant = Assistant(bitext_kb, None, None)  # type: ignore[arg-type]
    with_slot = filled = 0
    for entry in bitext_kb.entries:
        for each in (None, card):
            text = assistant.personalize(entry.answer, each, "about the lantern")
            assert "{{" not in text and "}}" not in text
            assert text, f"an answer of {entry.intent} lost every sentence"
        if any(canonical_placeholder(p) == "order_number" for p in placeholders(entry.answer)):
            with_slot += 1
            filled += "B200" in text  # the lantern is in order B200
    assert with_slot > 50
    assert filled >= 0.9 * with_slot  # order-number slots get the customer's latest order


@pytest.mark.dataset
def test_bitext_suggestions_are_personal_and_fast(
    bitext_assistant: Assistant, card: CustomerCard
) -> None:
    suggestion = bitext_assistant.suggest("I need to cancel order B200", card)
    assert suggestion.intent == "cancel_order" and not suggestion.needs_human
    assert all("B200" in a.text for a in suggestion.answers)
    assert len(suggestion.answers) == 3
    start = time.perf_counter()
    for _ in range(20):
        bitext_assistant.suggest("I want a refund for the camping lantern", card)
    assert (time.perf_counter() - start) / 20 < 0.25  # generous bound; benchmark has p95


def test_tiny_kb_text_constant_is_markdown() -> None:
    assert TINY_KB_MD.count("\n## ") == 7
    assert build_card("C1").known is False


# -- the starter knowledge base: real states, billing, out of scope ----------------------


@pytest.fixture(scope="module")
def starter() -> Assistant:
    """The starter KB as `load-kb` loads it: with the built-in out-of-scope examples."""
    return Assistant.from_kb(with_out_of_scope(read_kb(DEMO_KB)))


def test_starter_kb_learns_double_charges_and_out_of_scope(starter: Assistant) -> None:
    model = starter.intents  # the model alone, without the assistant's rule
    for message in ("I was charged twice for order 536365", "I've been billed twice"):
        assert model.predict(message).intent == "billing"
    for message in ("what's the wifi password?", "are you hiring at the moment?"):
        assert model.predict(message).intent == "out_of_scope"


@pytest.mark.parametrize(
    "message",
    [
        "charged twice for order B200",
        "you took the money two times for my order",
        "There's a duplicate payment of £88.50 on my statement",
        "I think I was double charged",
    ],
)
def test_double_charges_go_to_billing(starter: Assistant, card: CustomerCard, message: str) -> None:
    assert is_double_charge(message)
    suggestion = starter.suggest(message, card)
    assert (suggestion.intent, suggestion.handoff, suggestion.intent_rule) == (
        "billing",
        "billing",
        "double charge",
    )
    assert not suggestion.needs_human
    review = next(a for a in suggestion.actions if a.kind == "billing_review")
    assert "refund" not in kinds(suggestion.actions)
    if "B200" in message:
        assert (review.order_id, review.amount) == ("B200", 88.5)
        assert "Order B200 of 1 June 2024 came to 88.50" in suggestion.answers[0].text


def test_double_charge_rule_targets_the_kb_billing_intent(
    tiny_kb: KnowledgeBase, starter: Assistant
) -> None:
    assert not is_double_charge("I want to change my order") and not is_double_charge("twice")
    assistant = Assistant(tiny_kb, *_parts(tiny_kb))  # no billing intent in this KB
    suggestion = assistant.suggest("I was charged twice for order 1234")
    assert suggestion.handoff == "billing" and suggestion.intent_rule == "double charge"
    assert kinds(suggestion.actions)[0] == "billing_review"
    assert classify_messages(["I was billed twice"], starter)[0].intent == "billing"


@pytest.mark.parametrize(
    "message", ["can you tell me the wi-fi code", "tell me something funny", "Wo ist mein Paket?"]
)
def test_out_of_scope_goes_to_a_person(
    starter: Assistant, card: CustomerCard, message: str
) -> None:
    suggestion = starter.suggest(message, card)
    assert suggestion.needs_human and suggestion.handoff == "human"
    assert kinds(suggestion.actions) == ["escalate"]
    assert all("B200" not in a.text for a in suggestion.answers)
    assert classify_messages([message], starter)[0].intent is None


def test_starter_answers_use_the_real_state(starter: Assistant, card: CustomerCard) -> None:
    placed = starter.suggest("where is my lantern?", card)
    assert placed.matched_order is not None and placed.matched_order.order_id == "B200"
    assert [line.item_id for line in placed.matched_items] == ["L1"]
    assert placed.answers[0].text.startswith(
        "Hi Ana Lopez, your order B200 of 1 June 2024 (3 × Camping lantern) is being packed and "
        "should leave our warehouse on 4 June 2024."
    )
    assert "on its way" not in " ".join(a.text for a in placed.answers)
    returned = starter.suggest("where is the tent?", card)
    assert "(Trail tent 2p) was returned on 20 March 2024." in returned.answers[0].text
    assert starter.suggest("where is my order?", card).match.startswith("the message names no")


def test_no_match_never_talks_about_another_order(starter: Assistant, card: CustomerCard) -> None:
    suggestion = starter.suggest("I want to return the broken teapot", card)
    assert suggestion.intent == "return_item"
    assert (suggestion.matched_order, suggestion.matched_items) == (None, [])
    assert suggestion.match == "no order or item of yours matches 'teapot'"
    assert "refund" not in kinds(suggestion.actions)
    text = suggestion.answers[0].text
    assert text.startswith('I couldn\'t find "teapot" in any of your orders with us.')
    assert "B200" not in text and "A100" not in text and "lantern" not in text.lower()
    unknown = starter.suggest("where is order 999999?", card)
    assert unknown.matched_order is None and unknown.match == "no order 999999 among your orders"
    assert unknown.answers[0].text.startswith("I couldn't find order 999999 among your orders.")


def test_refunds_only_for_what_was_named_and_not_yet_reversed(starter: Assistant) -> None:
    events = customer_events().vstack(
        pl.DataFrame(
            {
                "event_type": ["return"],
                "item_id": ["G1"],
                "title": ["Gas canister"],
                "quantity": [3],
                "price": [5.0],
                "order_id": ["C900"],
                "ts": [ts(2024, 6, 2)],
            }
        ),
        in_place=False,
    )
    card = build_card("C1", events, as_of="2024-06-20", catalog={"L1": {"title": "lantern"}})
    lantern = starter.suggest("please refund the lantern", card)
    refund = next(a for a in lantern.actions if a.kind == "refund")
    assert (refund.item_ids, refund.amount) == (["L1"], 73.5)  # not the gas, not the order
    gas = starter.suggest("I want a refund for the gas canisters", card)
    assert gas.matched_order is not None and gas.matched_order.status == "partly_cancelled"
    assert "refund" not in kinds(gas.actions)  # already cancelled, nothing left to refund
    assert gas.answers[0].text.startswith(
        "Our records show that 3 × Gas canister from your order B200 of 1 June 2024 was "
        "cancelled on 2 June 2024"
    )


def test_suggestion_json_carries_the_match(starter: Assistant, card: CustomerCard) -> None:
    document = json.loads(starter.suggest("where is my lantern?", card).model_dump_json())
    assert document["matched_order"]["order_id"] == "B200"
    assert document["matched_order"]["status"] == "placed"
    assert [i["item_id"] for i in document["matched_items"]] == ["L1"]
    assert document["match"].startswith("'lantern' matches 3 × Camping lantern in order B200")
    assert document["handoff"] is None and document["intent_rule"] is None
    assert "order_history" not in document["card"] and "product_words" not in document["card"]


def test_load_kb_adds_the_built_in_out_of_scope_examples(
    tiny_kb_file: Path, tmp_path: Path
) -> None:
    assistant = load_kb(tiny_kb_file, tmp_path / "with")
    assert "out_of_scope" in Assistant.load(tmp_path / "with").intents.classes_
    suggestion = assistant.suggest("what's the wifi password here?")
    assert suggestion.handoff == "human" and suggestion.needs_human
    without = load_kb(tiny_kb_file, tmp_path / "without", out_of_scope=False)
    assert "out_of_scope" not in without.kb.intents
    own = tmp_path / "own.md"
    own.write_text("## out_of_scope\n- tell me a joke\n\nNot here, sorry.\n", encoding="utf-8")
    mine = load_kb([tiny_kb_file, own], tmp_path / "own")
    assert [e.answer for e in mine.kb.entries if e.intent == "out_of_scope"] == ["Not here, sorry."]


@pytest.mark.dataset
def test_bitext_with_the_built_in_out_of_scope_examples(
    bitext_kb: KnowledgeBase, bitext_split: BitextSplit, card: CustomerCard
) -> None:
    extra = read_kb(OUT_OF_SCOPE_KB)
    texts, labels = extra.examples()
    model = IntentModel().fit_texts(
        [*bitext_split.train_texts, *texts], [*bitext_split.train_labels, *labels]
    )
    report = score_intents(model, bitext_split.test_texts, bitext_split.test_labels)
    assert report.accuracy >= 0.99 and report.answered_rate >= 0.97
    kb = with_out_of_scope(bitext_kb)
    assistant = Assistant(kb, model, Retriever().fit(kb))
    assert assistant.suggest("what is the wifi password?", card).handoff == "human"
    charged = assistant.suggest("charged twice for order 536365", card)
    assert (charged.intent, charged.handoff) == ("payment_issue", "billing")
