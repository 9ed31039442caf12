"""Fill ``{{Placeholder}}`` slots of KB answers so a customer never sees a raw slot.

Each placeholder is normalised (lower case, "Anonymized" dropped: ``{{Order Number
Anonymized}}`` -> "order number") and resolved, in this order:

1. followed by ``:`` it is a field label ("{{Order Number}}: please provide...") and is
   written as its own words;
2. a **customer fact** (order number, customer name, order/dispatch/delivery date, order
   status, order items, order total, refund amount) when the assistant knows it;
3. a **shop fact** (shop name, website, phone, email, live chat, hours) from
   :class:`ShopFacts`, or any placeholder named in ``ShopFacts.extra``;
4. otherwise a fallback that keeps the sentence readable: shop facts become a generic phrase
   ("our customer support phone line"), hours and the customer name are dropped with their
   comma or preposition, an unknown order number drops its "with the number" lead-in, a
   Title-Case interface label ("{{Order History}}") is written as is, and anything else
   (dates, amounts, policy details nobody supplied) removes its sentence, or its line when
   it is a "Label: {{slot}}" line or a list item; numbered lists are then renumbered.

Square-bracket slots found in the Bitext answers (``[Customer Support Phone Number]``,
``[response time]``: a letter, at least three characters, not a Markdown link) are handled
the same way, except that an unknown bracketed phrase always removes its sentence.

The output never contains ``{{`` or ``}}``; inserted values are stripped of braces too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CUSTOMER_FACTS",
    "ShopFacts",
    "canonical_placeholder",
    "fill_placeholders",
    "normalize_placeholder",
    "placeholders",
]

PLACEHOLDER = re.compile(r"\[?\{\{([^{}]{1,200})\}\}\]?|\[([A-Za-z][^\[\]{}()\n]{2,80})\](?!\()")

#: Customer-fact keys the assistant may supply to :func:`fill_placeholders`.
CUSTOMER_FACTS: tuple[str, ...] = (
    "order_number",
    "customer_name",
    "order_date",
    "order_status",
    "shipped_date",
    "delivery_date",
    "order_items",
    "order_total",
    "refund_amount",
)
_SHOP_FACTS = ("shop_name", "website", "website_url", "phone", "email", "live_chat", "hours")

_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "order number",
            "order id",
            "order no",
            "purchase id",
            "purchase number",
            "bill number",
            "invoice number",
        ],
        "order_number",
    ),
    **dict.fromkeys(
        ["customer name", "name field", "name", "client name", "first name", "full name"],
        "customer_name",
    ),
    **dict.fromkeys(["purchase date", "order date", "date of purchase"], "order_date"),
    **dict.fromkeys(["order status", "delivery status", "shipping status"], "order_status"),
    **dict.fromkeys(
        ["shipped date", "shipping date", "dispatch date", "dispatched date"], "shipped_date"
    ),
    **dict.fromkeys(
        ["delivery date", "estimated delivery date", "expected delivery date"], "delivery_date"
    ),
    **dict.fromkeys(["refund amount", "refund value", "amount to refund"], "refund_amount"),
    **dict.fromkeys(["order total", "order amount", "total amount"], "order_total"),
    **dict.fromkeys(["order items", "items ordered", "item name", "product name"], "order_items"),
    **dict.fromkeys(["company name", "store name", "shop name", "brand name"], "shop_name"),
    **dict.fromkeys(
        [
            "website name",
            "website",
            "website or app",
            "website app name",
            "company website",
            "service website",
        ],
        "website",
    ),
    "website url": "website_url",
    "live chat": "live_chat",
}
_HEX_ID = re.compile(r"[0-9a-f]{6,}")
_DETERMINERS = frozenset({"our", "the", "your", "a", "an", "this", "my", "their"})
_CONNECTORS = frozenset({"or", "and", "to", "a", "of", "the", "for", "my", "on", "in", "&"})
_GAP_WORDS = frozenset(
    {
        "time",
        "timeframe",
        "date",
        "days",
        "percentage",
        "amount",
        "period",
        "start",
        "end",
        "weekdays",
        "weekends",
        "holidays",
    }
)
_FALLBACK_PHRASES: dict[str, str] = {
    "shop_name": "store",
    "website": "website",
    "website_url": "website",
    "phone": "customer support phone line",
    "email": "customer support email address",
    "live_chat": "live chat",
}
_ORDER_LEAD_IN = re.compile(
    r"\s+(?:(?:(?:labeled|labelled|bearing|associated|identified as|marked)(?:\s+with)?|with|"
    r"under|of)(?:\s+(?:the|a))?(?:\s+(?:order|purchase))?(?:\s+(?:number|id|#|no\.?))?"
    r"|(?:the\s+)?(?:number|id|#|no\.?))\s*:?[ \t]*$",
    re.IGNORECASE,
)
_BARE_ORDER = re.compile(r"((?:\b[\w']+\s+){1,2})(order|purchase)$", re.IGNORECASE)
_PREPOSITION = re.compile(r"\s+(?:during|from|on|at|between|within|in)\s*$", re.IGNORECASE)
_FIELD_LINE = re.compile(r"^\s*(?:[-*•]|\d+\.)?\s*[^:{}\n]{1,40}:\s*$")
_LIST_MARKER = re.compile(r"^(\s*)(\d+\.|[-*•])\s+")
_CONTEXT = 300
_CUT_SENTENCE = "\x00"
_CUT_LINE = "\x01"


class ShopFacts(BaseModel):
    """Shop-wide facts that fill contact and branding placeholders; all optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shop_name: str | None = Field(default=None, description="{{Company Name}}")
    website: str | None = Field(default=None, description="{{Website Name}}")
    website_url: str | None = Field(default=None, description="{{Website URL}}")
    phone: str | None = Field(default=None, description="{{Customer Support Phone Number}}")
    email: str | None = Field(default=None, description="{{Customer Support Email}}")
    live_chat: str | None = Field(default=None, description="{{Live Chat}}")
    hours: str | None = Field(default=None, description="{{Customer Support Availability}}")
    currency: str = Field(default="", max_length=5, description="prefix of amounts, e.g. £")
    extra: dict[str, str] = Field(
        default_factory=dict, description="any other placeholder by name, e.g. refund period"
    )


@lru_cache(maxsize=4096)
def normalize_placeholder(name: str) -> str:
    """Lower-case words of a placeholder name without "anonymized"."""
    words = re.sub(r"[^0-9a-z#]+", " ", name.lower()).split()
    return " ".join(w for w in words if w != "anonymized")


@lru_cache(maxsize=4096)
def canonical_placeholder(name: str) -> str | None:
    """The fact key a placeholder stands for (e.g. ``order_number``), or None."""
    norm = normalize_placeholder(name)
    if norm in _ALIASES:
        return _ALIASES[norm]
    compact = norm.replace(" ", "")
    if _HEX_ID.fullmatch(compact) and any(c.isdigit() for c in compact):
        return "order_number"
    if "phone number" in norm or norm.endswith("hotline"):
        return "phone"
    if "email" in norm and norm != "email":
        return "email"
    words = norm.split()
    if "availability" in words or (words and words[-1] == "hours"):
        return "hours"
    return None


def placeholders(text: str) -> list[str]:
    """Names of the ``{{...}}`` placeholders in ``text``, in order."""
    return [m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text)]


def _is_label(name: str) -> bool:
    words = name.split()
    if not words or len(words) > 5 or "anonymized" in name.lower():
        return False
    if any(c.isdigit() for c in name) or _GAP_WORDS & {w.lower() for w in words}:
        return False
    return all(w[0].isupper() or w.lower() in _CONNECTORS or not w[0].isalpha() for w in words)


def _clean_value(value: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[{}\x00\x01]", "", value)).strip()


_PREVIOUS_WORD = re.compile(r"(\w+)[ \t]+$")


def _previous_word(text: str) -> str | None:
    match = _PREVIOUS_WORD.search(text)
    return match.group(1).lower() if match else None


def _resolve(
    name: str,
    before: str,
    after: str,
    facts: Mapping[str, str],
    shop: ShopFacts,
    extra: Mapping[str, str],
) -> tuple[str, str]:
    """(text to insert, text preceding the slot, possibly trimmed)."""
    norm = normalize_placeholder(name)
    key = canonical_placeholder(name)
    line_start = before.rfind("\n") + 1
    if after.startswith(":") and not _LIST_MARKER.sub("", before[line_start:]).strip():
        return (name.replace(" Anonymized", "") if _is_label(name) else norm.capitalize()), before
    value = facts.get(key) if key in CUSTOMER_FACTS else None
    if value is None and key in _SHOP_FACTS:
        value = getattr(shop, key)
    if value is None:
        value = extra.get(norm)
    if value is not None and _clean_value(value):
        return _clean_value(value), before
    line_end = after.find("\n")
    rest_of_line = after if line_end < 0 else after[:line_end]
    if _FIELD_LINE.match(before[line_start:]) and not rest_of_line.strip(" .;"):
        return _CUT_LINE, before
    previous = _previous_word(before)
    if key in _FALLBACK_PHRASES:
        phrase = _FALLBACK_PHRASES[key]
        stripped = before.rstrip(" ,:")
        if stripped.lower().endswith(phrase):
            return "", stripped
        if after.lstrip().lower().startswith(phrase):
            return "", before
        return (phrase if previous in _DETERMINERS else f"our {phrase}"), before
    if key == "hours":
        return "", _PREPOSITION.sub("", before)
    if key == "customer_name":
        if previous == "dear":
            return "customer", before
        return "", before.rstrip(" \t")
    if key in CUSTOMER_FACTS and previous in _DETERMINERS:
        return norm, before
    if key == "order_number":
        trimmed = _ORDER_LEAD_IN.sub("", before).rstrip(" \t")
        bare = _BARE_ORDER.search(trimmed)
        if bare and not _DETERMINERS & set(bare.group(1).lower().split()):
            trimmed = trimmed[: bare.start(2)] + "your " + bare.group(2)
        return "", trimmed
    if key is None and _is_label(name):
        return name, before
    return _CUT_SENTENCE, before


def _cut_sentences(line: str) -> str | None:
    """The line without sentences holding a cut marker; None when nothing is left."""
    if _CUT_LINE in line:
        return None
    if _CUT_SENTENCE not in line:
        return line
    marker = _LIST_MARKER.match(line)
    prefix = marker.group(0) if marker else re.match(r"^\s*", line).group(0)  # type: ignore[union-attr]
    body = line[len(prefix) :]
    sentences = re.split(r"(?<=[.!?])\s+(?=\S)", body)
    kept = [s for s in sentences if _CUT_SENTENCE not in s]
    if not kept:
        return None
    return prefix + " ".join(kept)


_TIDY_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[ \t]{2,}", " "),
        (r"\s+([,.;:!?)])", r"\1"),
        (r"\(\s*\)", ""),
        (r"\(\s+", "("),
        (r",\s*(?=[,.;:!?])", ""),
        (r"^[,;:]\s*", ""),
    )
)


def _tidy(line: str) -> str:
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    for pattern, replacement in _TIDY_RULES:
        body = pattern.sub(replacement, body)
    return indent + body.rstrip()


def _renumber(lines: list[str]) -> list[str]:
    out: list[str] = []
    expected: int | None = None
    for line in lines:
        match = re.match(r"^(\s*)(\d+)\.(\s+)", line)
        if match and not match.group(1):
            number = int(match.group(2)) if expected is None else expected
            out.append(f"{number}.{match.group(3)}{line[match.end() :]}")
            expected = number + 1
            continue
        if line.strip() and not line[0].isspace():
            expected = None
        out.append(line)
    return out


def fill_placeholders(
    template: str, facts: Mapping[str, str] | None = None, shop: ShopFacts | None = None
) -> str:
    """The template with every ``{{slot}}`` filled, rephrased or its sentence removed.

    ``facts`` maps keys of :data:`CUSTOMER_FACTS` to display text (``order_number`` ->
    "A100"); ``shop`` supplies contact details. Always returns text without ``{{``/``}}``;
    it is empty only if every sentence needed a missing fact.
    """
    facts = facts or {}
    shop = shop or ShopFacts()
    template = template.replace(_CUT_SENTENCE, "").replace(_CUT_LINE, "")
    extra = {normalize_placeholder(k): v for k, v in shop.extra.items()}
    result = ""
    position = 0
    removed_line = False
    for match in PLACEHOLDER.finditer(template):
        result += template[position : match.start()]
        name, square = (match.group(1), False) if match.group(1) else (match.group(2), True)
        head, tail = result[:-_CONTEXT], result[-_CONTEXT:]  # the rules look back a few words
        value, tail = _resolve(name, tail, template[match.end() :], facts, shop, extra)
        result = head + tail
        if square and value == name:  # a [Bracketed Phrase] that is not a known slot
            value = _CUT_SENTENCE
        removed_line |= value in (_CUT_LINE, _CUT_SENTENCE)
        result += value
        position = match.end()
    result += template[position:]
    lines: list[str] = []
    for line in result.split("\n"):
        kept = _cut_sentences(line)
        if kept is None:
            continue
        tidy = _tidy(kept)
        if _LIST_MARKER.fullmatch(tidy + " ") and not tidy.strip(" -*•0123456789."):
            continue
        lines.append(tidy)
    if removed_line:
        lines = _renumber(lines)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    while "{{" in text or "}}" in text:
        text = text.replace("{{", "").replace("}}", "")
    return text
