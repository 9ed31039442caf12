"""Words of product titles as the order matcher compares them: lower case, plural-insensitive,
neighbouring words also joined ("TEA POT" also gives "teapot")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise

__all__ = ["title_forms", "variants", "words"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case words of a text, apostrophes dropped ("children's" -> "childrens")."""
    return [w.replace("'", "") for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=65536)
def variants(word: str) -> frozenset[str]:
    """The word with its likely singular forms, so plural and singular meet."""
    forms = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
    return frozenset(forms)


def title_forms(titles: Iterable[str]) -> frozenset[str]:
    """Every form of every word of the titles, and of each pair of neighbouring words joined."""
    forms: set[str] = set()
    for title in set(titles):
        forms |= _forms(title)
    return frozenset(forms)


@lru_cache(maxsize=65536)
def _forms(title: str) -> frozenset[str]:
    """The forms of one title (memoised: a shop's titles recur on every card)."""
    forms: set[str] = set()
    found = [w for w in words(title) if not w.isdigit()]
    for word in found:
        forms |= variants(word)
    for left, right in pairwise(found):
        forms |= variants(left + right)
    return frozenset(forms)
