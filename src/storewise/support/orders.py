"""Which of the writing customer's orders and lines a message is about, and their state.

:func:`resolve_order` looks, in this order, for

1. **an order number** of the customer's in the message (``536365``, ``#536365``,
   ``order no. 536365``), or the number of one of their cancellation or return documents
   (``C543611``: the order and lines it reverses); a number written as an order reference
   that is not one of theirs is reported (``unknown_number``), never looked up among other
   customers' orders;
2. **the items the message names**, matched against the titles of the customer's *own* order
   lines: the message is cut into product phrases (runs of words that are not support
   vocabulary, stopwords, numbers or dates: "the broken teapot" -> ``teapot``, "12 hand
   warmers" -> ``hand warmers``); a line matches a phrase when the phrase's head noun (its last
   specific word) is in the title, singular/plural, joined compounds ("cake stand" /
   "CAKESTAND") and one-letter typos included; lines are ranked by the IDF over the customer's
   own titles of the words they share with the phrases, and the best order is the most recent
   among those with the best line;
3. **a date** ("the order of 17 May", "my April order", "17/05/2011") narrowing the orders;
4. otherwise **the most recent order**: ``latest`` when the message asks for it ("my last
   order"), else ``recent``, said so in the explanation, only when the message names no
   order, item or date.

When the message names an item or a number and nothing of the customer's matches, the match
is ``no_match``/``unknown_number`` with no order at all: the answer must not talk about an
unrelated order. :attr:`OrderMatch.explanation` says in one line how the order was found or
what did not match ("no order or item of yours matches 'cake stand'").

:func:`status_text` words an order's state with its dates for the answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storewise.support.context import CustomerCard, OrderLine, OrderSummary
from storewise.support.titles import title_forms, variants, words

__all__ = [
    "MatchHow",
    "OrderMatch",
    "day_text",
    "items_text",
    "product_phrases",
    "resolve_order",
    "status_text",
]

MatchHow = Literal[
    "number", "item", "date", "latest", "recent", "unknown_number", "no_match", "none"
]


class OrderMatch(BaseModel):
    """The order (and lines) a message most likely refers to, and how it was found."""

    model_config = ConfigDict(frozen=True)

    order: OrderSummary | None = None
    lines: list[OrderLine] = Field(default_factory=list, description="the items named")
    how: MatchHow = "none"
    mentioned_number: str | None = None
    named: list[str] = Field(
        default_factory=list, description="the product phrases the message names"
    )
    unmatched: list[str] = Field(
        default_factory=list, description="named phrases no line of the matched order has"
    )
    other_orders: list[str] = Field(
        default_factory=list, description="other orders holding the named items, latest first"
    )
    missing_date: str | None = Field(
        default=None, description="a date the message mentions with no order of the customer's"
    )
    explanation: str = Field(default="", description="how it was found, or what did not match")


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"/|&+]|\.\.\.|\s-\s|\n")
_ORDER_REF = re.compile(
    r"(?:\b(?:order|purchase|invoice|parcel|package|transaction)s?\s*(?:number|no\.?|id|#|ref)?"
    r"|#)\s*[:#]?\s*([A-Za-z]?\d[A-Za-z0-9-]{2,})",
    re.IGNORECASE,
)
_LATEST = re.compile(
    r"\b(?:last|latest|most recent|recent|newest)\s+(?:order|purchase|parcel|delivery|package)\b",
    re.IGNORECASE,
)
_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_PAYMENT_CARD = re.compile(
    r"\b(?:credit|debit|bank|visa|mastercard|amex|payment|my|the|same)\s+cards?\b"
    r"|\bcards?\s+(?:payment|statement|number|details)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}|\[[^\[\]]*\]")
_EMAIL = re.compile(r"\S+@\S+")
_IDIOMS = re.compile(
    r"\b(?:in|for)\s+(?:any|what|which|that|this|such|most|some|all|those|these)\s+cases?\b"
    r"|\bjust in case\b|\bin case\b|\bpin (?:code|number)\b",
    re.IGNORECASE,
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(\d{4}))?"
_DATE_PATTERNS = (
    re.compile(rf"\b{_ORDINAL}\s+(?:of\s+)?({_MONTH})\.?{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTH})\.?\s+{_ORDINAL}\b{_YEAR}", re.IGNORECASE),
    re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"),
    re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b"),
    re.compile(
        rf"\b(?:in|of|from|during|since|last|early|mid|late|this|my|the|our|an?)\s+"
        rf"({_MONTH})\b{_YEAR}",
        re.IGNORECASE,
    ),
    re.compile(rf"\b({_MONTH})\s+(?:order|purchase|delivery|parcel)s?\b", re.IGNORECASE),
)

_SUPPORT_WORDS = """
    a able about above accepted access account actually add added address after again against
    agent ago all allowed already also am an and another any anyone anything are arrival arrive
    arrived arrives arriving as asap ask asked assist assistance assistant at available away
    back bad be because been before being best better bill billed billing bills bit both bought
    brand break broke broken but buy buying by call called calling came can cancel canceled
    canceling cancellation cancelled cancelling cannot cant change changed changing charge
    charged charges chat check checked checking cheers chipped claim close code come comes
    coming comment company compensation complain complaint contact correct cost could couldn
    couldnt courier cracked create creating crushed current customer damaged date day days dear
    debited defective delay delayed delete deliver delivered deliveries delivery dented did
    didn didnt dirty dispatch dispatched do does doesn doesnt doing don done dont double down
    download due duplicate during each early edit either else email enter error errors eta even
    ever every exchange exit expect expected expecting faulty fee feedback fees few file filing
    find fine fix for found friday from full get gets getting gift give given go goes going
    gone gonna good got great had half happen happened happy has hasn hasnt have haven havent
    having he hello help her here hey hi him his hope hoping hour hours how however i id if im
    in incomplete inform information instead into invoice invoiced invoices is isn isnt issue
    issues it item items its itself ive just keep kind kindly know last late later leaking
    least leave left less let like list live locate lodge log login lol long look looking lost
    lot lots love made mail make many may maybe me method methods might mine missing mistake
    modify monday money month months more morning most much must my myself need needed never
    new newsletter next nice night no not nothing notify now number of off ok okay on once one
    ones online only open opened opening operator option options or order ordered ordering
    orders other our out over package packaging packet paid parcel password past pay payment
    payments per perhaps person personal phone place placed please policy possible post posted
    pound pounds price problem problems processed product products profile purchase purchased
    put quality question quick quite re reach really reason rebate receive received receiving
    recover reference refund refunded refunds regards registration reimbursement remove report
    request reset restitution restore retrieve return returned returning returns review right
    ripped said same saturday say scratched section see seeing seems send sending sent service
    services setting shall shattered she ship shipment shipped shipping shop should show sign
    signup since site smashed so some somebody someone something soon sorry speak stained
    statement status still store stuff submit subscribe subscription such sunday support
    supposed sure switch take taken takes taking talk talking tell termination than thank
    thanks that the their them then there these they thing things think this those though three
    through thursday time times to today told tomorrow too took torn total touch track tracking
    transaction transfer trouble try trying tuesday twice two under unhappy unsubscribe until
    up update updating upset urgent urgently us use used user very via wait waited waiting
    wanna want wanted wants was wasn wasnt way we wednesday week weekend weeks well went were
    what when where which while who why will with withdrawal within without won wont work
    working worst would wouldn wouldnt write writing wrong year years yes yesterday yet you
    your yours
"""
#: Words of support conversations that never name a product; they end a product phrase.
SUPPORT_WORDS = frozenset(_SUPPORT_WORDS.split())
_MODIFIER_WORDS = """
    assorted assortment asst big black blue brown color colors colour colours cream design
    designs gold gray green grey ivory jumbo large medium mini natural new orange pack packs
    piece pieces pink purple red set sets silver size small style white yellow
"""
#: Title words that describe rather than name a product: never a phrase's head.
MODIFIER_WORDS = frozenset(_MODIFIER_WORDS.split())


def _close(a: str, b: str) -> bool:
    """One edit apart (substitution, insertion, deletion, swap), for words of 5+ letters."""
    if len(a) < 5 or len(b) < 5 or abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@dataclass(frozen=True)
class _Title:
    """A line title's words and their variants, compounds of neighbours included."""

    words: tuple[str, ...]
    forms: frozenset[str]

    @classmethod
    def of(cls, title: str) -> _Title:
        """The title's words and forms (memoised: a shop's titles recur across customers)."""
        return _title_of(title)

    def has(self, word: str) -> bool:
        """Whether the title holds the word, singular/plural, joined or one typo away."""
        return _has(self, word)


@lru_cache(maxsize=65536)
def _title_of(title: str) -> _Title:
    return _Title(tuple(w for w in words(title) if not w.isdigit()), title_forms([title]))


@lru_cache(maxsize=262144)
def _has(title: _Title, word: str) -> bool:
    if variants(word) & title.forms:
        return True
    return len(word) >= 5 and any(_close(word, w) for w in title.words)


def product_phrases(message: str) -> list[list[str]]:
    """The runs of words of a message that may name products, in order.

    Order references, payment-card phrases, dates, numbers, stopwords and support vocabulary
    (:data:`SUPPORT_WORDS`) end a run; a run of modifiers only ("the red one") is dropped.
    """
    text = _PLACEHOLDER.sub(" . ", message.replace("\u2019", "'"))
    text = _EMAIL.sub(" . ", text)
    text = _IDIOMS.sub(" . ", text)
    text = _ORDER_REF.sub(" . ", text)
    text = _PAYMENT_CARD.sub(" . ", text)
    for pattern in _DATE_PATTERNS:
        text = pattern.sub(" . ", text)
    phrases: list[list[str]] = []
    for chunk in _BREAK.split(text.lower()):
        run: list[str] = []
        for raw in _WORD.findall(chunk):
            word = raw.replace("'", "")
            if raw.endswith(("'s", "'t", "'m", "'re", "'ll", "'ve", "'d")) or word.isdigit():
                stem = raw.split("'")[0]
                if stem in SUPPORT_WORDS or word.isdigit() or len(stem) < 3:
                    _close_run(run, phrases)
                    run = []
                    continue
                word = stem
            if len(word) < 3 and word not in SUPPORT_WORDS:
                continue  # "t" of "t-light", "s" of a plural
            if variants(word) & SUPPORT_WORDS or (word in _MONTHS and len(word) > 3):
                _close_run(run, phrases)
                run = []
                continue
            run.append(word)
        _close_run(run, phrases)
    return phrases


def _close_run(run: list[str], phrases: list[list[str]]) -> None:
    if any(w not in MODIFIER_WORDS for w in run):
        phrases.append(list(run))


@dataclass(frozen=True)
class _Phrase:
    """Words of a message that may name a product, and which of them is the head noun."""

    words: tuple[str, ...]
    head: int

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _phrase(
    words: Sequence[str], vocabulary: frozenset[str], own: Sequence[_Title]
) -> _Phrase | None:
    """The phrase with its head: the last word, modifiers skipped, that is a word of the shop's
    titles (or, typos allowed, of the customer's own lines). Without a catalog, the last word
    that does not look like a verb ("leaked", "missing"). None when no word can be a head."""

    def own_word(word: str) -> bool:
        return any(title.has(word) for title in own)

    for index in range(len(words) - 1, -1, -1):
        word = words[index]
        if word in MODIFIER_WORDS:
            continue
        if vocabulary:
            joined = index > 0 and variants(words[index - 1] + word) & vocabulary
            if variants(word) & vocabulary or joined or own_word(word):
                return _Phrase(tuple(words), index)
            continue
        if len(word) > 4 and word.endswith(("ed", "ing")) and not own_word(word):
            continue
        return _Phrase(tuple(words), index)
    return None


def _phrase_hits(phrase: _Phrase, title: _Title) -> list[str]:
    """The phrase's words found in the title (compounds of neighbours included), or [] when
    the head is not there."""
    words = phrase.words
    found = [title.has(word) for word in words]
    for i in range(len(words) - 1):
        if not (found[i] and found[i + 1]) and variants(words[i] + words[i + 1]) & title.forms:
            found[i] = found[i + 1] = True
    if not found[phrase.head]:
        return []
    return [word for word, hit in zip(words, found, strict=True) if hit]


def _day(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def day_text(value: date | datetime) -> str:
    """A date as the answers write it: "1 December 2010"."""
    return _day(value)


def _norm_id(value: str) -> str:
    value = value.strip().lstrip("#").lower()
    return (value.lstrip("0") or value) if value.isdigit() else value


@dataclass(frozen=True)
class _DateMention:
    year: int | None
    month: int
    day: int | None

    def label(self) -> str:
        """ "on 19 May", "in May 2011": the mention as the explanations write it."""
        month = datetime(2000, self.month, 1).strftime("%B")
        parts = ["on", str(self.day)] if self.day else ["in"]
        parts.append(month)
        if self.year:
            parts.append(str(self.year))
        return " ".join(parts)

    def holds(self, moment: datetime, year: int) -> bool:
        return (
            moment.year == year
            and moment.month == self.month
            and (self.day is None or moment.day == self.day)
        )


def _dates(message: str) -> list[_DateMention]:
    found: list[_DateMention] = []
    for index, pattern in enumerate(_DATE_PATTERNS):
        for match in pattern.finditer(message):
            groups = match.groups()
            try:
                if index == 0:
                    day, month, year = int(groups[0]), _MONTHS[groups[1].lower()], groups[2]
                elif index == 1:
                    month, day, year = _MONTHS[groups[0].lower()], int(groups[1]), groups[2]
                elif index == 2:
                    year, month, day = groups[0], int(groups[1]), int(groups[2])
                elif index == 3:
                    day, month, year = int(groups[0]), int(groups[1]), groups[2]
                    if year and len(year) == 2:
                        year = f"20{year}"
                else:
                    day, month = 0, _MONTHS[groups[0].lower()]
                    year = groups[1] if len(groups) > 1 else None
                if not 1 <= month <= 12 or day > 31:
                    continue
                found.append(_DateMention(int(year) if year else None, month, day or None))
            except (KeyError, ValueError):
                continue
    return found


def _orders_on(
    orders: Sequence[OrderSummary], mention: _DateMention, as_of: datetime | None
) -> list[OrderSummary]:
    """Orders placed on a mentioned day or month (the latest such year when none is given)."""
    if mention.year is not None:
        return [o for o in orders if mention.holds(o.date, mention.year)]
    latest = as_of or max((o.date for o in orders), default=None)
    if latest is None:
        return []
    for year in range(latest.year, latest.year - 5, -1):
        hits = [o for o in orders if mention.holds(o.date, year) and o.date <= latest]
        if hits:
            return hits
    return []


class _Lines:
    """The customer's distinct line titles, their word IDF, and each title's score per phrase
    (computed once per title however many orders repeat it)."""

    def __init__(self, orders: Iterable[OrderSummary]) -> None:
        self.titles: dict[str, _Title] = {}
        for order in orders:
            for line in order.items:
                name = line.title or line.item_id
                if name not in self.titles:
                    self.titles[name] = _Title.of(name)
        counts: dict[str, int] = {}
        for title in self.titles.values():
            for word in set(title.words):
                counts[word] = counts.get(word, 0) + 1
        total = max(len(self.titles), 1)
        self.idf = {word: math.log(1.0 + total / count) for word, count in counts.items()}
        self.phrases: list[_Phrase] = []
        self._values: dict[str, list[float]] = {}

    def values(self, line: OrderLine) -> list[float]:
        """The line's score for each phrase (0 when the title lacks the phrase's head)."""
        name = line.title or line.item_id
        found = self._values.get(name)
        if found is None:
            title = self.titles.get(name) or _Title.of(name)
            found = [
                sum(_weight(w, self.idf) for w in _phrase_hits(p, title)) for p in self.phrases
            ]
            self._values[name] = found
        return found


def _weight(word: str, idf: dict[str, float]) -> float:
    weights = [idf[form] for form in variants(word) if form in idf]
    return max(weights) if weights else math.log(2.0)


def _score_order(order: OrderSummary, scorer: _Lines) -> tuple[float, list[OrderLine], list[str]]:
    """(score, best lines, phrases found) of an order.

    A line scores, per phrase whose head its title holds, the IDF of the phrase's words it
    holds. Each phrase keeps its best lines; ties go to the lines that also match the other
    phrases ("dog and ball mug": the mug, not the dog card), then all tied lines stay ("the
    hand warmers": every hand warmer line). The order scores the sum of its phrases' best.
    """
    phrases = scorer.phrases
    table: dict[str, list[float]] = {}
    lines: dict[str, OrderLine] = {}
    for line in order.items:
        values = scorer.values(line)
        if any(values):
            table[line.item_id] = values
            lines[line.item_id] = line
    score = 0.0
    chosen: dict[str, OrderLine] = {}
    found: list[str] = []
    for index, phrase in enumerate(phrases):
        best = max((values[index] for values in table.values()), default=0.0)
        if best <= 0:
            continue
        tied = [item for item, values in table.items() if values[index] >= best - 1e-9]
        total = max(sum(table[item]) for item in tied)
        for item in tied:
            if sum(table[item]) >= total - 1e-9:
                chosen.setdefault(item, lines[item])
        score += best
        found.append(phrase.text)
    return score, list(chosen.values()), found


def _quoted(phrases: Sequence[str]) -> str:
    return " or ".join(f"'{p}'" for p in phrases)


def _lines_text(lines: Sequence[OrderLine]) -> str:
    return items_text(lines, limit=3) or "its lines"


def resolve_order(message: str, card: CustomerCard) -> OrderMatch:
    """Find the order and lines a message is about: number, items named, date, else the
    latest order (only when the message names none of these)."""
    orders = card.all_orders
    raw = product_phrases(message)
    scorer = _Lines(orders if raw else ())
    own = list(scorer.titles.values())
    scorer.phrases = [
        phrase for words in raw if (phrase := _phrase(words, card.product_words, own)) is not None
    ]
    return _resolve(message, card, scorer)


def _resolve(message: str, card: CustomerCard, scorer: _Lines) -> OrderMatch:
    """:func:`resolve_order` once the product phrases are known."""
    orders = card.all_orders
    phrases = scorer.phrases
    named = [p.text for p in phrases]
    by_id = {_norm_id(o.order_id): o for o in orders if o.order_id}
    mentioned = _ORDER_REF.search(message)
    documents: dict[str, list[str]] = {}  # cancellation/return document -> its order, items
    for reversal in card.returns:
        if reversal.order_id and reversal.for_order and reversal.for_order != reversal.order_id:
            entry = documents.setdefault(_norm_id(reversal.order_id), [reversal.for_order])
            entry.append(reversal.item_id)
    for token in _ID_TOKEN.findall(message):
        if not any(c.isdigit() for c in token):
            continue
        document = documents.get(_norm_id(token))
        reversed_order = by_id.get(_norm_id(document[0])) if document else None
        if document is not None and reversed_order is not None:
            lines = [line for line in reversed_order.items if line.item_id in document[1:]]
            return OrderMatch(
                order=reversed_order,
                lines=lines,
                how="number",
                mentioned_number=token,
                explanation=(
                    f"{token} reverses {_lines_text(lines)} of order {reversed_order.order_id}"
                ),
            )
        order = by_id.get(_norm_id(token))
        if order is None:
            continue
        if not phrases:
            return OrderMatch(
                order=order, how="number", explanation=f"order {order.order_id} named"
            )
        _, lines, found = _score_order(order, scorer)
        missing = [p for p in named if p not in found]
        text = f"order {order.order_id} named"
        if lines:
            text += f"; its {_lines_text(lines)} match {_quoted(found)}"
        if missing:
            text += f"; no line of it matches {_quoted(missing)}"
        return OrderMatch(
            order=order, lines=lines, how="number", named=named, unmatched=missing, explanation=text
        )
    number = mentioned.group(1)[:40] if mentioned else None
    if number is not None and _norm_id(number) not in by_id:
        unknown = f"no order {number} among your orders"
        if phrases:
            match = _by_items(orders, orders, scorer, named)
            if match.order is not None:
                text = f"{unknown}; {match.explanation}"
                return match.model_copy(update={"mentioned_number": number, "explanation": text})
        return OrderMatch(
            how="unknown_number",
            mentioned_number=number,
            named=named,
            unmatched=named,
            explanation=unknown,
        )
    candidates = orders
    label: str | None = None  # the date the message mentions, "on 19 May" / "in March"
    dated = False  # whether orders were placed then
    for mention in _dates(message):
        on_day = _orders_on(orders, mention, card.as_of)
        if on_day:
            candidates, label, dated = on_day, mention.label(), True
            break
        label = label or mention.label()
    if phrases:
        return _by_items(candidates, orders, scorer, named, label, dated)
    if dated:
        order = candidates[0]
        others = [o.order_id for o in candidates[1:] if o.order_id]
        text = f"order {order.order_id or 'without number'} placed {label}"
        if others:
            text = f"the latest of {len(candidates)} orders placed {label}: {text}"
        return OrderMatch(order=order, how="date", other_orders=others, explanation=text)
    if label is not None:
        return OrderMatch(
            how="no_match", missing_date=label, explanation=f"no order of yours placed {label}"
        )
    if orders and _LATEST.search(message):
        latest = orders[0]
        return OrderMatch(
            order=latest,
            how="latest",
            explanation=(
                "the message asks about the last order: "
                f"{latest.order_id or 'without number'} of {_day(latest.date)}"
            ),
        )
    if orders:
        latest = orders[0]
        return OrderMatch(
            order=latest,
            how="recent",
            explanation=(
                "the message names no order or item: showing the most recent order, "
                f"{latest.order_id or 'without number'} of {_day(latest.date)}"
            ),
        )
    return OrderMatch(explanation="no orders on record for this customer")


def _by_items(
    candidates: list[OrderSummary],
    orders: list[OrderSummary],
    scorer: _Lines,
    named: list[str],
    label: str | None = None,
    dated: bool = False,
) -> OrderMatch:
    """The order (most recent among the best) whose lines best match the named products;
    among ``candidates`` (the orders of the date the message mentions, ``label``, when
    ``dated``) first, else among all orders."""
    scored = []
    for order in candidates:  # most recent first
        score, lines, found = _score_order(order, scorer)
        if lines:
            scored.append((score, order, lines, found))
    note = f" (placed {label})" if label and dated else ""
    if label and not dated:
        note = f" (no order of yours placed {label})"
    if not scored and dated:
        for order in orders:  # the date was wrong, the item may not be
            score, lines, found = _score_order(order, scorer)
            if lines:
                scored.append((score, order, lines, found))
        note = f" (not among your orders placed {label})"
    missing_date = label if label and not dated else None
    if not scored:
        return OrderMatch(
            how="no_match",
            named=named,
            unmatched=named,
            missing_date=missing_date,
            explanation=f"no order or item of yours matches {_quoted(named)}",
        )
    top = max(s for s, *_ in scored)
    best = [entry for entry in scored if entry[0] >= top - 1e-9]
    _, order, lines, found = best[0]
    holding = {line.item_id for line in lines}
    others = [
        o.order_id
        for _, o, o_lines, _ in scored
        if o is not order and o.order_id and holding & {line.item_id for line in o_lines}
    ]
    missing = [p for p in named if p not in found]
    text = (
        f"{_quoted(found)} matches {_lines_text(lines)} in order "
        f"{order.order_id or 'without number'} of {_day(order.date)}"
    )
    text += note
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        text += f"; also in order{'s' if len(others) > 1 else ''} {shown}"
    if missing:
        text += f"; nothing of yours matches {_quoted(missing)}"
    return OrderMatch(
        order=order,
        lines=lines,
        how="item",
        named=named,
        unmatched=missing,
        other_orders=others,
        missing_date=missing_date,
        explanation=text,
    )


def items_text(lines: Sequence[OrderLine], *, limit: int = 5) -> str | None:
    """ "2 × Lantern and Tent" for a few lines, "… and 12 more items" beyond ``limit``."""
    names = []
    for line in lines:
        title = (line.title or line.item_id).strip()
        quantity = abs(line.quantity)
        qty = int(quantity) if float(quantity).is_integer() else quantity
        names.append(title if qty == 1 else f"{qty} × {title}")
    if not names:
        return None
    if len(names) > limit:
        rest = len(names) - limit + 1
        names = [*names[: limit - 1], f"{rest} more items"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _fulfilment(order: OrderSummary, as_of: datetime | None) -> str:
    """Where the (rest of the) order is in placed -> shipped -> delivered at ``as_of``."""
    today = (as_of or datetime.now(order.date.tzinfo)).date()
    shipped, delivered = order.shipped_date, order.expected_delivery
    if shipped is None or delivered is None:
        return f"was placed on {_day(order.date)}"
    if today < shipped:
        return f"is being packed and should leave our warehouse on {_day(shipped)}"
    if today < delivered:
        return f"left our warehouse on {_day(shipped)} and should arrive by {_day(delivered)}"
    return f"left our warehouse on {_day(shipped)} and should have arrived by {_day(delivered)}"


def _reversed_text(lines: Sequence[OrderLine]) -> str | None:
    """ "3 × RED SPOTTY BISCUIT TIN" for the cancelled or returned part of some lines."""
    return items_text(
        [
            line.model_copy(update={"quantity": abs(line.quantity) - line.open_quantity})
            for line in lines
            if line.open_quantity < abs(line.quantity)
        ],
        limit=3,
    )


def status_text(
    order: OrderSummary, as_of: datetime | None = None, lines: Sequence[OrderLine] = ()
) -> str:
    """The order's state with its dates, to follow "Your order 536365 …": "was cancelled on
    3 May 2011", "left our warehouse on 2 December 2010 and should have arrived by …".

    With ``lines`` (the items the customer named) a partial cancellation or return is told
    from their side: whether they were among the cancelled or returned items or not.
    """
    status = order.status
    since = f" on {_day(order.status_date)}" if order.status_date else ""
    if status in ("cancelled", "returned"):
        verb = "cancelled" if status == "cancelled" else "returned"
        return f"was {verb}{since}"
    if status not in ("partly_cancelled", "partly_returned"):
        return _fulfilment(order, as_of)
    verb = "cancelled" if status == "partly_cancelled" else "returned"
    rest = _fulfilment(order, as_of)
    if lines and all(line.open_quantity <= 0 for line in lines):
        return f"was partly {verb}{since}: these items were {verb}"
    if lines and all(line.open_quantity >= abs(line.quantity) for line in lines):
        other = _reversed_text(order.items)
        return f"{rest} ({other} of the order {verb}{since})"
    part = _reversed_text(lines) if lines else _reversed_text(order.items)
    return f"was partly {verb}{since} ({part}); the rest {rest}"
