"""Run the examples in the marketing modules' docstrings, so the documentation stays true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "storewise.marketing.transactions",
    "storewise.marketing.rfm",
    "storewise.marketing.clv",
    "storewise.marketing.offers",
    "storewise.marketing.bandit",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
