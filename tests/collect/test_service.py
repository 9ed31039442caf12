"""The collect service over fakes of its ports: where every row goes, and what a widget's
public answer may hold."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest

from storewise.collect.identity import IdentitySigner
from storewise.collect.service import BOT_REASON, Collect
from storewise.errors import InputError
from storewise.recommend.results import RankedList, Recommendation
from storewise.recommend.rules import RuleSet

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
PUBLIC_FIELDS = {"item_id", "title", "price", "currency", "image_url", "url", "reasons"}


@dataclass
class Outcome:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    linked: int = 0
    repaired: Counter[str] = field(default_factory=Counter)


class FakeRecords:
    """Stores events by id (a repeat is a duplicate); refuses events of item "BAD"."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    def records(
        self, kind: str, records: Sequence[dict[str, Any]], *, source: str = "api"
    ) -> Outcome:
        assert kind == "events" and source == "web"
        out = Outcome(received=len(records))
        for i, record in enumerate(records):
            if record.get("item_id") == "GONE":
                out.rejected.append({"index": i, "reason": "erased"})
            elif record["event_id"] in self.events:
                out.duplicates += 1
            else:
                self.events[record["event_id"]] = record
                out.stored += 1
        return out


@dataclass
class FeedbackOutcome:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


class FakeServed:
    def __init__(self) -> None:
        self.served: list[tuple[str, str | None, bool]] = []
        self.feedback_keys: set[tuple[str, str, str | None]] = set()

    def serve(
        self,
        placement: str,
        unit_id: str | None,
        produce: Callable[[Any], RankedList],
        *,
        customer: bool = True,
    ) -> RankedList:
        self.served.append((placement, unit_id, customer))
        return dataclasses.replace(produce(None), recommendation_id=f"rec-{len(self.served)}")

    def feedback(self, rows: Iterable[Mapping[str, Any]]) -> FeedbackOutcome:
        out = FeedbackOutcome()
        for i, row in enumerate(rows):
            if row["recommendation_id"] == "unknown":
                out.rejected.append({"row": i, "reason": "unknown recommendation_id"})
                continue
            key = (row["recommendation_id"], row["kind"], row["item_id"])
            if key in self.feedback_keys:
                out.duplicates += 1
            else:
                self.feedback_keys.add(key)
                out.stored += 1
        return out


def ranked(scenario: str, customer: str | None = None) -> RankedList:
    items = tuple(
        Recommendation(f"I{i}", 1.0 / i, i, (f"reason {i}",), title=f"Item {i}") for i in (1, 2)
    )
    return RankedList(items, scenario, "itemknn", "v1", customer, "personalised")


class FakeLists:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def recommend(
        self,
        customer_id: str,
        n: int = 10,
        *,
        scenario: str = "for-you",
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList:
        self.calls.append((scenario, customer_id))
        return ranked(scenario, customer_id)

    def recommend_session(
        self,
        anonymous_id: str,
        n: int = 10,
        *,
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList:
        self.calls.append(("session", anonymous_id))
        return ranked("session")

    def similar(self, item_id: str, n: int = 10, *, rules: RuleSet | None = None) -> RankedList:
        self.calls.append(("similar", item_id))
        return ranked("similar")

    def basket(
        self, item_ids: Sequence[str], n: int = 10, *, rules: RuleSet | None = None
    ) -> RankedList:
        self.calls.append(("basket", tuple(item_ids)))
        return ranked("basket")

    def trending(self, n: int = 10, *, rules: RuleSet | None = None) -> RankedList:
        self.calls.append(("trending", None))
        return ranked("trending")


class FakeIdentities:
    def __init__(self, facts: FakeFacts) -> None:
        self.facts = facts
        self.consents: dict[str, dict[str, bool]] = {}

    def identify(self, anonymous_id: str, customer_id: str) -> dict[str, Any]:
        owner = self.facts.links.setdefault(anonymous_id, customer_id)
        return {"events_linked": 2, "already_linked_to_another": owner != customer_id}

    def set_consents(
        self, customer_id: str, decisions: Mapping[str, bool], *, source: str = "api"
    ) -> dict[str, bool]:
        self.consents.setdefault(customer_id, {}).update(decisions)
        return self.consents[customer_id]


class FakeFacts:
    def __init__(self) -> None:
        self.links: dict[str, str] = {}

    def resolve_anonymous(self, anonymous_id: str) -> str | None:
        return self.links.get(anonymous_id)

    def items(self) -> pl.DataFrame:
        attributes = [json.dumps({"image_url": f"https://cdn.example/{i}.jpg"}) for i in "12"]
        return pl.DataFrame(
            {
                "item_id": ["I1", "I2", "GONE"],
                "title": ["Item 1", "Item 2", "Gone"],
                "price": [2.5, 4.0, 1.0],
                "currency": ["EUR", "EUR", "EUR"],
                "in_stock": [True, True, True],
                "is_product": [True, True, True],
                "attributes": [*attributes, None],
            }
        )


KEY_ID = "0123456789ab"
SIGNER = IdentitySigner(lambda text: hashlib.sha256(b"store-secret" + text.encode()).hexdigest())


@pytest.fixture
def parts() -> tuple[Collect, FakeRecords, FakeServed, FakeLists, FakeIdentities, FakeFacts]:
    records, served, lists, facts = FakeRecords(), FakeServed(), FakeLists(), FakeFacts()
    identities = FakeIdentities(facts)
    collect = Collect(
        signer=SIGNER,
        records=records,
        identities=identities,
        served=served,
        lists=lists,
        facts=facts,
        clock=lambda: 1_700_000_000_000,
    )
    return collect, records, served, lists, identities, facts


def body(*rows: dict[str, Any], anonymous_id: str = "guest-0001") -> bytes:
    return json.dumps({"anonymous_id": anonymous_id, "events": list(rows)}).encode()


def accounted(report: dict[str, Any]) -> int:
    """Every row in one place: the parts add up to what was received."""
    return (
        report["stored"]
        + report["duplicates"]
        + report["feedback"]
        + report["identified"]
        + report["consents"]
        + len(report["not_stored"])
        + len(report["rejected"])
    )


MIXED = (
    {"type": "view_item", "event_id": "e-01", "item_id": "I1"},
    {"type": "page_view", "event_id": "e-02"},
    {"type": "view_item", "event_id": "e-03", "item_id": "NOPE"},
    {"type": "view_item", "event_id": "e-04", "item_id": "GONE"},
    {"type": "rec_impression", "recommendation_id": "rec-1"},
    {"type": "rec_click", "recommendation_id": "unknown", "item_id": "I1"},
    {"type": "purchase", "event_id": "e-07", "item_id": "I2", "transaction_id": "T1"},
    {"type": "consent", "consent": {"marketing": True}},
    {
        "type": "identify",
        "customer_id": "C-1",
        "signature": SIGNER.sign(KEY_ID, "C-1"),
        "consent": {"analytics": True},
    },
    {"type": "teleport"},
)


def test_every_row_is_accounted_for(parts: Any) -> None:
    collect, records, _served, _lists, identities, _facts = parts
    report = collect.accept(collect.read(body(*MIXED)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    assert report["received"] == len(MIXED) == accounted(report)
    assert report["stored"] == 2 and report["feedback"] == 1 and report["identified"] == 1
    assert [r["index"] for r in report["rejected"]] == [2, 3, 5, 9]
    assert [r["index"] for r in report["not_stored"]] == [1, 7]  # consent before identify
    assert records.events["web:e-07"]["price"] == 4.0  # the catalog's price, none was sent
    assert identities.consents == {"C-1": {"analytics": True}}


def test_a_retried_batch_stores_nothing_twice(parts: Any) -> None:
    collect, records, *_ = parts
    first = collect.accept(collect.read(body(*MIXED)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    again = collect.accept(collect.read(body(*MIXED)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    assert again["stored"] == 0 and again["feedback"] == 0
    assert again["duplicates"] == first["stored"] + first["feedback"]
    assert again["received"] == accounted(again)
    assert len(records.events) == 2


def test_a_bot_stores_nothing_and_is_told_everything_was_dropped(parts: Any) -> None:
    collect, records, served, _lists, identities, _facts = parts
    report = collect.accept(
        collect.read(body(*MIXED)), user_agent="Googlebot/2.1", key_id=KEY_ID
    ).to_dict()
    assert report["not_stored"] == [{"index": i, "reason": BOT_REASON} for i in range(len(MIXED))]
    assert records.events == {} and served.feedback_keys == set() and identities.consents == {}


def test_consent_is_recorded_once_the_visitor_is_identified(parts: Any) -> None:
    collect, _records, _served, _lists, identities, facts = parts
    facts.links["guest-0001"] = "C-9"
    row = {"type": "consent", "consent": {"marketing": False, "analytics": True}}
    report = collect.accept(collect.read(body(row)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    assert report["consents"] == 1
    assert identities.consents == {"C-9": {"marketing": False, "analytics": True}}


def test_identify_of_an_id_owned_by_another_account_is_reported(parts: Any) -> None:
    collect, _records, _served, _lists, identities, facts = parts
    facts.links["guest-0001"] = "C-1"
    row = {
        "type": "identify",
        "customer_id": "C-2",
        "signature": SIGNER.sign(KEY_ID, "C-2"),
        "consent": {"marketing": True},
    }
    report = collect.accept(collect.read(body(row)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    assert report["identified"] == 0 and "another account" in report["not_stored"][0]["reason"]
    assert identities.consents == {}


def test_public_answers_hold_public_catalog_facts_only(parts: Any) -> None:
    collect, *_ = parts
    for placement, extra in [
        ("for-you", {}),
        ("similar", {"item_id": "I1"}),
        ("bought-together", {"item_ids": ["I1"]}),
        ("trending", {}),
    ]:
        answer = collect.public_list(placement, anonymous_id="guest-0001", n=2, **extra)
        assert set(answer) == {"recommendation_id", "placement", "items"}
        assert answer["recommendation_id"] and answer["placement"] == placement
        assert all(set(item) == PUBLIC_FIELDS for item in answer["items"])
        first = answer["items"][0]
        assert first["price"] == 2.5 and first["image_url"] == "https://cdn.example/1.jpg"
        text = json.dumps(answer)
        assert "itemknn" not in text and "score" not in text and "customer" not in text


def test_for_you_follows_the_session_then_the_account(parts: Any) -> None:
    collect, _records, served, lists, _identities, facts = parts
    collect.public_list("for-you", anonymous_id="guest-0001")
    collect.public_list("for-you")
    facts.links["guest-0001"] = "C-1"
    collect.public_list("for-you", anonymous_id="guest-0001")
    assert served.served == [
        ("guest", "guest-0001", False),
        ("guest", None, False),
        ("for-you", "C-1", True),
    ]
    assert lists.calls == [("session", "guest-0001"), ("trending", None), ("for-you", "C-1")]


def test_buy_again_needs_an_identified_visitor(parts: Any) -> None:
    collect, _records, served, _lists, _identities, facts = parts
    empty = collect.public_list("buy-again", anonymous_id="guest-0001")
    assert empty == {"recommendation_id": None, "placement": "buy-again", "items": []}
    assert served.served == []
    facts.links["guest-0001"] = "C-1"
    assert collect.public_list("buy-again", anonymous_id="guest-0001")["items"]
    assert served.served == [("buy-again", "C-1", True)]


@pytest.mark.parametrize(
    ("placement", "extra", "message"),
    [
        ("checkout", {}, "unknown placement"),
        ("similar", {}, "similar needs the item"),
        ("bought-together", {}, "bought-together needs"),
        ("trending", {"n": 25}, "n must be between"),
    ],
)
def test_bad_widget_requests_are_input_errors(
    parts: Any, placement: str, extra: dict[str, Any], message: str
) -> None:
    collect, *_ = parts
    with pytest.raises(InputError, match=message):
        collect.public_list(placement, **extra)


def test_the_demo_listing_and_product_facts(parts: Any) -> None:
    collect, *_ = parts
    assert [p["item_id"] for p in collect.products(limit=2)] == ["I1", "I2"]
    assert collect.product("I2")["title"] == "Item 2"


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, SIGNER.sign(KEY_ID, "C-someone-else"), SIGNER.sign("ffffffffffff", "C-9")],
)
def test_an_unsigned_or_forged_identify_links_nothing(parts: Any, signature: str | None) -> None:
    collect, *_, facts = parts
    row = {"type": "identify", "customer_id": "C-9", "signature": signature}
    report = collect.accept(collect.read(body(row)), user_agent=BROWSER, key_id=KEY_ID).to_dict()
    assert report["identified"] == 0
    assert "signature" in report["rejected"][0]["reason"]
    assert facts.resolve_anonymous("guest-0001") is None
