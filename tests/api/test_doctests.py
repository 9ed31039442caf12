"""The examples in the API modules' docstrings run."""

from __future__ import annotations

import doctest

import pytest

import storewise.api.app
import storewise.store.keys


@pytest.mark.parametrize("module", [storewise.store.keys, storewise.api.app])
def test_docstring_examples(module: object) -> None:
    """Every docstring example passes."""
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
