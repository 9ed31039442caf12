"""Schemathesis against the OpenAPI schema: no generated request may cause a 5xx.

Each operation gets a few valid (positive) and schema-violating (negative) requests sent with
an admin key; every answer must be below 500 and every error must have the one shape.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from storewise.api import create_app
from tests.api.shop import Shop

EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 5}


@pytest.fixture(scope="module")
def fuzz(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, str]:
    """The API over its own copy of the shop (fuzzing writes and erases), and an admin key."""
    copy = shop.copy(tmp_path_factory.mktemp("fuzz") / "home")
    return create_app(copy.settings()), copy.keys["admin"]


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_no_server_errors(fuzz: tuple[FastAPI, str], mode: GenerationMode) -> None:
    """Every operation, fuzzed: no 5xx, and errors in the one shape."""
    app, key = fuzz
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {key}", "X-API-Key": key})
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:200]}")
            elif response.status_code >= 400 and case.path != "/metrics":
                body = response.json()
                if set(body) != {"error"} or set(body["error"]) != {"code", "message", "details"}:
                    failures.append(f"{where}: not the error shape: {response.text[:200]}")

        try:
            run()
        except Unsatisfiable:  # nothing in the operation can be made invalid (e.g. /health)
            assert mode is GenerationMode.NEGATIVE
    assert operations >= 15
    assert statuses[401] == 0  # the key was sent, so the fuzzing reached the routes
    if mode is GenerationMode.POSITIVE:
        assert statuses[200] >= 3 * operations, statuses
    assert not failures, "\n".join(failures[:20])
