"""The one consent policy: opt-out purposes include the undecided, opt-in ones need a grant."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from storewise.app import Settings, build
from storewise.errors import InputError
from storewise.privacy.consent import OPT_OUT, ConsentPolicy
from storewise.schema import CONSENT_SCHEMA, PURPOSES

CONSENTS = pl.DataFrame(
    {
        "customer_id": ["yes", "no", "yes", "no", "undecided-row"],
        "purpose": ["marketing", "marketing", "personalization", "personalization", "marketing"],
        "granted": [True, False, True, False, None],
        "at": [1, 1, 1, 1, 1],
        "source": ["t"] * 5,
    },
    schema=CONSENT_SCHEMA,
)


def test_every_purpose_has_one_documented_default() -> None:
    policy = ConsentPolicy()
    assert set(policy.defaults) == set(PURPOSES)
    for purpose in PURPOSES:
        assert policy.default(purpose) is (purpose in OPT_OUT)
    assert policy.allows({}, "personalization") and policy.allows({}, "analytics")
    assert not policy.allows({}, "marketing")


def test_a_recorded_decision_wins_over_the_default() -> None:
    policy = ConsentPolicy()
    assert not policy.allows({"personalization": False}, "personalization")
    assert policy.allows({"marketing": True}, "marketing")
    assert policy.decision(None, "personalization") and not policy.decision(None, "marketing")
    assert not policy.decision(False, "analytics")


def test_allowed_ids_opt_out_and_opt_in() -> None:
    policy = ConsentPolicy()
    ids = ["yes", "no", "nobody", "undecided-row"]
    assert policy.allowed_ids(ids, CONSENTS, "personalization") == [
        "yes",
        "nobody",
        "undecided-row",
    ]
    assert policy.allowed_ids(ids, CONSENTS, "marketing") == ["yes"]
    assert policy.allowed_ids(ids, CONSENTS.clear(), "marketing") == []
    assert policy.allowed_ids(ids, CONSENTS.clear(), "analytics") == ids


def test_filter_keeps_guests_only_for_opt_out_purposes() -> None:
    events = pl.DataFrame({"customer_id": ["yes", "no", None, "nobody"], "n": [1, 2, 3, 4]})
    policy = ConsentPolicy()
    kept = policy.filter(events, CONSENTS, "personalization")
    assert kept["n"].to_list() == [1, 3, 4]
    assert policy.filter(events, CONSENTS, "marketing")["n"].to_list() == [1]


def test_unknown_purpose_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown consent purpose 'profiling'"):
        ConsentPolicy().allows({}, "profiling")


def test_collection_rule_strips_identity_from_tracking_without_analytics_consent(
    tmp_path: Path,
) -> None:
    with build(Settings(home=tmp_path)) as services:
        services.customers.set_consents("quiet", {"analytics": False})
        events = [
            {"customer_id": "quiet", "anonymous_id": "dev-1", "item_id": "I1",
             "event_type": "view", "timestamp": "2024-05-01T10:00:00Z"},
            {"customer_id": "quiet", "item_id": "I1", "event_type": "purchase",
             "timestamp": "2024-05-01T10:05:00Z", "price": 4.0, "order_id": "O1"},
            {"customer_id": "open", "item_id": "I1", "event_type": "view",
             "timestamp": "2024-05-01T10:06:00Z"},
        ]  # fmt: skip
        report = services.ingest.records("events", events)
        assert report.stored == 3 and report.rejected == []
        assert report.repaired["stored without identity: no analytics consent"] == 1
        quiet = services.customers.history("quiet")
        assert quiet["event_type"].to_list() == ["purchase"]  # the order keeps its owner
        assert services.store.session_history("dev-1").height == 0  # no device id kept
        assert services.customers.history("open").height == 1
        assert services.insights.stats()["events"]["view"] == 2  # the shop's counts stay right
