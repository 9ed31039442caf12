from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.support import ShopFacts, fill_placeholders, placeholders
from storewise.support.fill import CUSTOMER_FACTS, canonical_placeholder, normalize_placeholder


def test_customer_facts_are_filled() -> None:
    text = "Hi {{Customer Name}}, order {{Order Number Anonymized}} of {{Order Date}}."
    facts = {"customer_name": "Ana", "order_number": "A100", "order_date": "1 June 2024"}
    assert fill_placeholders(text, facts) == "Hi Ana, order A100 of 1 June 2024."


def test_shop_facts_and_extra_names() -> None:
    shop = ShopFacts(phone="+44 20 1234", shop_name="Lumen", extra={"Number of Days": "30"})
    text = (
        "Call {{Customer Support Phone Number}}. "
        "At {{Company Name}}, returns take {{number of days}} days."
    )
    assert fill_placeholders(text, shop=shop) == (
        "Call +44 20 1234. At Lumen, returns take 30 days."
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # missing name: dropped with its comma
        ("Hi {{Customer Name}}, welcome.", "Hi, welcome."),
        ("Don't worry, {{Name Field Anonymized}}, I'm here.", "Don't worry, I'm here."),
        ("Dear {{Customer Name}},", "Dear customer,"),
        # shop facts become generic phrases, aware of a determiner before them
        ("Visit our {{Website Name}}.", "Visit our website."),
        (
            "Call {{Customer Support Phone Number}} or use the {{Live Chat}}.",
            "Call our customer support phone line or use the live chat.",
        ),
        ("Go to our website, {{Website Name}}.", "Go to our website."),
        ("Access our {{Website Name}} website.", "Access our website."),
        # hours are dropped with their preposition
        ("We are available during {{Customer Support Hours}}.", "We are available."),
        # unknown order number: the lead-in goes, a bare noun gets "your"
        ("Locate the order with the number {{Order Number}}.", "Locate the order."),
        ("I can cancel order number {{Order Number}} for you.", "I can cancel your order for you."),
        ("Please share your {{Order Number}}.", "Please share your order number."),
        # interface labels are written as is
        ("Open the {{Order History}} section.", "Open the Order History section."),
        # a field label at the start of a list item keeps its words
        ("1. {{Order Number}}: please provide it.", "1. Order Number: please provide it."),
        # a sentence needing an unknown date or policy detail is removed
        ("Thanks. It arrives on {{Delivery Date}}. Bye.", "Thanks. Bye."),
        ("Refunds take {{Refund Processing Time}}. We care.", "We care."),
        # square-bracket slots of the Bitext answers
        ("Call [Customer Support Phone Number] now.", "Call our customer support phone line now."),
        ("We reply within [response time]. Thanks.", "Thanks."),
        ("See [our policy](https://x.y) here.", "See [our policy](https://x.y) here."),
    ],
)
def test_missing_facts_are_rephrased_or_removed(template: str, expected: str) -> None:
    assert fill_placeholders(template) == expected


def test_field_line_is_removed_and_list_renumbered() -> None:
    template = (
        "Details:\n- Date of purchase: {{Purchase Date Anonymized}}\n- Item: lantern\n\n"
        "1. Log in.\n2. Find the order of {{Order Date}}.\n3. Press cancel.\n4. Confirm."
    )
    assert fill_placeholders(template) == (
        "Details:\n- Item: lantern\n\n1. Log in.\n2. Press cancel.\n3. Confirm."
    )
    filled = fill_placeholders(template, {"order_date": "1 June 2024"})
    assert "2. Find the order of 1 June 2024." in filled
    assert "- Date of purchase: 1 June 2024" in filled


def test_values_cannot_inject_placeholders() -> None:
    text = fill_placeholders("Hi {{Customer Name}}.", {"customer_name": "{{Order Number}}}"})
    assert text == "Hi Order Number."


def test_all_sentences_removed_gives_empty_text() -> None:
    assert fill_placeholders("It arrives on {{Delivery Date}}.") == ""


def test_placeholder_names() -> None:
    assert placeholders("a {{X Y}} b [Live Chat] c {{Z}}") == ["X Y", "Live Chat", "Z"]
    assert normalize_placeholder("Order Number Anonymized") == "order number"
    assert canonical_placeholder("{{113542617735902}}"[2:-2]) == "order_number"
    assert canonical_placeholder("Customer Support Email Address") == "email"
    assert canonical_placeholder("Customer Support Availability") == "hours"
    assert canonical_placeholder("Order History") is None


_names = st.sampled_from(
    [
        "Order Number",
        "Customer Name",
        "Delivery Date",
        "Refund Amount",
        "Order Items",
        "Website Name",
        "Live Chat",
        "Customer Support Availability",
        "number of days",
        "Order History",
        "Purchase ID Anonymized",
        "Case 1",
        "Response Time",
        "{{",
        "}}",
    ]
)
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_pieces = st.lists(
    st.one_of(
        _text,
        _names.map(lambda n: "{{" + n + "}}"),
        st.sampled_from([". ", "\n", ": ", "1. ", ", "]),
    ),
    max_size=15,
)


@settings(max_examples=200, deadline=None)
@given(
    pieces=_pieces,
    facts=st.dictionaries(st.sampled_from(CUSTOMER_FACTS), _text, max_size=4),
)
def test_property_output_never_shows_a_slot(pieces: list[str], facts: dict[str, str]) -> None:
    out = fill_placeholders("".join(pieces), facts)
    assert "{{" not in out
    assert "}}" not in out
    assert "\x00" not in out and "\x01" not in out
