"""Shared fixtures of the support tests: a tiny in-test KB, a card, the Bitext corpus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from storewise.support import (
    Assistant,
    CustomerCard,
    IntentModel,
    KnowledgeBase,
    Retriever,
    build_card,
    read_kb,
)
from storewise.support.intents import split_examples
from storewise.support.kb import read_kb_markdown
from tests.conftest import shared_file

REPO = Path(__file__).resolve().parents[2]
BITEXT = REPO.parent / "shared" / "datasets" / "customer-support"
BITEXT_FILE = BITEXT / "bitext_customer_support_sample.csv.gz"

TINY_KB_MD = """\
# Lumen Outdoor FAQ

Text before the first section is ignored.

## track_order
- where is my order?
- where is my parcel
- track my order
- has my order shipped yet
- when will my package arrive
- status of order 1234
- I haven't received my delivery

Hi {{Customer Name}}, your order {{Order Number}} placed on {{Order Date}} is on its way.
It should arrive by {{Delivery Date}}. You can follow it in the {{Order History}} section of
our {{Website Name}}.

## return_item
- I want to return the lantern
- how do I return an item
- can I send this back
- return my purchase
- I'd like a refund for the tent
- the stove arrived broken, I want my money back
- refund please

I'm sorry the {{Order Items}} did not work out. Once we receive it back we will refund
{{Refund Amount}} for order {{Order Number}}. Returns are free within {{number of days}} days.

## cancel_order
- cancel my order
- I want to cancel order 1234
- please cancel my purchase
- stop my order
- I changed my mind, cancel it

Your order {{Order Number}} of {{Order Date}} can be cancelled until it ships:

1. Go to {{My Orders}}.
2. Open the order placed on {{Order Date}}.
3. Press {{Cancel Order}}.

## complaint
- I want to make a complaint
- your service is terrible
- I am very unhappy with my order
- this is unacceptable
- I want to file a complaint about the delivery

We're sorry to hear that, {{Customer Name}}. A team member will review your complaint about
order {{Order Number}} and reply within {{Response Time}}.

## contact_human_agent
- I want to talk to a person
- can I speak to a human
- connect me to an agent
- real person please
- let me talk to customer service

I'm connecting you to a colleague. You can also call us at {{Customer Support Phone Number}},
we are available {{Customer Support Availability}}.

## newsletter_subscription
- subscribe me to the newsletter
- how do I unsubscribe from emails
- stop sending me newsletters
- sign up for your newsletter
- I want the weekly newsletter

You can manage the newsletter in {{Account Settings}}.

## check_payment_methods
- what payment methods do you accept
- can I pay with paypal
- do you take credit cards
- is apple pay accepted
- can I pay by bank transfer

At {{Company Name}} we accept cards, PayPal and bank transfer.
"""

MS = 1_000
#: The moment the test cards describe: order B200 (1 June 2024) is not yet dispatched.
AS_OF = datetime(2024, 6, 3, 9, tzinfo=UTC)


def ts(year: int, month: int, day: int) -> int:
    """Epoch milliseconds of a UTC day."""
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * MS)


@pytest.fixture(scope="session")
def tiny_kb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "faq.md"
    path.write_text(TINY_KB_MD, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_kb(tiny_kb_file: Path) -> KnowledgeBase:
    return read_kb_markdown(tiny_kb_file)


@pytest.fixture(scope="session")
def tiny_assistant(tiny_kb: KnowledgeBase) -> Assistant:
    return Assistant.from_kb(tiny_kb)


def customer_events() -> pl.DataFrame:
    """Two orders (the latest holds a lantern and gas), one return, one page view."""
    return pl.DataFrame(
        {
            "event_type": ["purchase", "purchase", "purchase", "purchase", "return", "view"],
            "item_id": ["T1", "L1", "G1", "L1", "T1", "S1"],
            "title": [
                "Trail tent 2p",
                "Camping lantern",
                "Gas canister",
                None,
                "Trail tent 2p",
                "Stove",
            ],
            "quantity": [1, 2, 3, 1, 1, 1],
            "price": [120.0, 24.5, 5.0, 24.5, 120.0, 60.0],
            "order_id": ["A100", "B200", "B200", "B200", "A100", None],
            "ts": [
                ts(2024, 3, 5),
                ts(2024, 6, 1),
                ts(2024, 6, 1),
                ts(2024, 6, 1),
                ts(2024, 3, 20),
                ts(2024, 6, 2),
            ],
        }
    )


@pytest.fixture
def card() -> CustomerCard:
    return build_card(
        "C1",
        customer_events(),
        profile={"name": "Ana Lopez", "country": "ES", "created_at": "2023-01-15T10:00:00"},
        insights={"segment": "promising", "clv": 300.0, "churn_risk": 0.2},
        consents={"personalization": True, "marketing": False},
        as_of=AS_OF,
    )


@pytest.fixture
def vip_card() -> CustomerCard:
    return build_card(
        "C2",
        customer_events(),
        profile={"name": "Bo"},
        insights={"clv": 2500.0, "churn_risk": 0.8},
        as_of=AS_OF,
    )


@pytest.fixture(scope="session")
def bitext_file() -> Path:
    """The Bitext corpus; skips when ../shared is absent (fails in CI)."""
    return shared_file("customer-support", BITEXT_FILE.name)


@pytest.fixture(scope="session")
def bitext_kb(bitext_file: Path) -> KnowledgeBase:
    return read_kb(bitext_file)


@dataclass(frozen=True)
class BitextSplit:
    """The intent model trained on the stratified 80% (seed 0) and the held-out 20%."""

    model: IntentModel
    test_texts: list[str]
    test_labels: list[str]
    train_texts: list[str]
    train_labels: list[str]


@pytest.fixture(scope="session")
def bitext_split(bitext_kb: KnowledgeBase) -> BitextSplit:
    x_train, x_test, y_train, y_test = split_examples(bitext_kb, test_size=0.2, seed=0)
    model = IntentModel().fit_texts(x_train, y_train)
    return BitextSplit(model, x_test, y_test, x_train, y_train)


@pytest.fixture(scope="session")
def bitext_assistant(bitext_kb: KnowledgeBase, bitext_split: BitextSplit) -> Assistant:
    """An assistant over the whole Bitext KB whose intent model saw 80% of the examples
    (one fit for the whole test session)."""
    return Assistant(bitext_kb, bitext_split.model, Retriever().fit(bitext_kb))
