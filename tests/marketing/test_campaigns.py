"""Campaign audiences: explicit marketing consent only, filters, rows and the e-mail-tool CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.errors import InputError, NotFound
from storewise.marketing.campaigns import (
    EMAIL_HEADER,
    ads_rows,
    audience_rows,
    csv_header,
    explain_audience,
    hashed_email,
    normalise_email,
    render_audience,
    select_audience,
    write_ads_audience,
    write_audience,
    write_audience_csv,
)
from storewise.marketing.rfm import SEGMENTS
from storewise.privacy.consent import ConsentPolicy

CONSENT_SCHEMA = {"customer_id": pl.Utf8, "purpose": pl.Utf8, "granted": pl.Boolean}
# Per customer: no record, granted or withdrawn, for marketing and (as noise) other purposes.
STATES = st.sampled_from(["absent", "granted", "withdrawn"])


def scored(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "segment": [SEGMENTS[i % len(SEGMENTS)] for i in range(n)],
            "clv": [None if i % 7 == 3 else float(i * 10) for i in range(n)],
            "churn_risk": [None if i % 7 == 3 else (i % 10) / 10 for i in range(n)],
        }
    )


def consent_frame(states: dict[str, dict[str, str]]) -> pl.DataFrame:
    rows = [
        {"customer_id": cid, "purpose": purpose, "granted": state == "granted"}
        for cid, purposes in states.items()
        for purpose, state in purposes.items()
        if state != "absent"
    ]
    return pl.DataFrame(rows, schema=CONSENT_SCHEMA)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=0, max_value=30),
    min_clv=st.none() | st.floats(min_value=0, max_value=300),
    segment=st.none() | st.sampled_from(SEGMENTS),
)
def test_only_explicit_marketing_grants_are_ever_included(
    data: st.DataObject, n: int, min_clv: float | None, segment: str | None
) -> None:
    table = scored(n)
    states = {
        f"c{i}": {
            "marketing": data.draw(STATES),
            "personalization": data.draw(STATES),
            "analytics": data.draw(STATES),
        }
        for i in range(n)
    }
    granted = {cid for cid, s in states.items() if s["marketing"] == "granted"}
    selected = select_audience(table, consent_frame(states), segment=segment, min_clv=min_clv)
    ids = set(selected.get_column("customer_id").to_list())
    assert ids <= granted
    expected = table.filter(pl.col("customer_id").is_in(sorted(granted)))
    if segment is not None:
        expected = expected.filter(pl.col("segment") == segment)
    if min_clv is not None:
        expected = expected.filter(pl.col("clv").is_not_null() & (pl.col("clv") >= min_clv))
    assert ids == set(expected.get_column("customer_id").to_list())
    emails = {f"c{i}": f"c{i}@example.org" for i in range(0, n, 2)}
    rows = audience_rows(selected, emails=emails, n_items=2)
    assert {r["customer_id"] for r in rows} == ids
    for row in rows:
        assert row["email"] == emails.get(row["customer_id"])
        assert states[row["customer_id"]]["marketing"] == "granted"


def test_latest_decision_and_no_record_mean_what_they_say() -> None:
    consents = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "purpose": ["marketing", "marketing", "personalization", "marketing"],
            "granted": [True, False, True, None],
        },
        schema=CONSENT_SCHEMA,
    )
    # b withdrew, c only allowed personalisation, d has an undecided (null) marketing row.
    assert ConsentPolicy().allowed_ids(["a", "b", "c", "d"], consents, "marketing") == ["a"]


def test_filters_order_and_limit() -> None:
    table = scored(30)
    everyone = pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(30)], "purpose": "marketing", "granted": True},
        schema=CONSENT_SCHEMA,
    )
    top = select_audience(table, everyone, limit=3)
    assert top.get_column("customer_id").to_list() == ["c29", "c28", "c27"]
    rich = select_audience(table, everyone, min_clv=250)
    assert rich.get_column("clv").min() == 250  # type: ignore[operator]
    assert "c3" not in rich.get_column("customer_id").to_list()  # unknown CLV is not >= 250
    lost = select_audience(table, everyone, segment="lost")  # case-insensitive
    assert set(lost.get_column("segment").to_list()) == {"Lost"}
    with pytest.raises(NotFound, match="valid segments are: Champions, Loyal"):
        select_audience(table, everyone, segment="Sleepers")
    with pytest.raises(InputError, match="limit"):
        select_audience(table, everyone, limit=0)


def test_rows_carry_offer_picks_and_reasons() -> None:
    table = scored(2).with_columns(
        pl.lit("At risk").alias("segment"), pl.lit(0.8).alias("churn_risk")
    )
    picks = {"c1": [{"item_id": "i9", "title": "Tea", "reasons": ["bought with Mug", "popular"]}]}
    offers = {"c1": {"offer_id": "10-percent-off", "expected_value": 3.456, "reason": "uplift"}}
    rows = audience_rows(table, emails={}, picks=picks, offers=offers, n_items=2)
    assert [r["customer_id"] for r in rows] == ["c0", "c1"]  # the selection's order is kept
    plain, first = rows
    assert first["item_1_id"] == "i9" and first["item_1_title"] == "Tea"
    assert first["item_1_reason"] == "bought with Mug; popular"
    assert first["item_2_id"] is None  # fewer picks than asked: empty cells
    assert first["offer"] == "10-percent-off" and first["offer_value"] == 3.46
    assert "At risk: spent well" in first["reasons"] and "churn risk 80%" in first["reasons"]
    assert first["reasons"].endswith("uplift")
    assert first["email"] is None
    assert plain["offer"] is None and plain["item_1_id"] is None
    with pytest.raises(InputError, match="n_items"):
        audience_rows(table, emails={}, n_items=21)


def test_csv_has_the_email_tool_header_first(tmp_path: Path) -> None:
    rows = audience_rows(
        select_audience(
            scored(4),
            pl.DataFrame(
                {"customer_id": ["c1", "c2"], "purpose": "marketing", "granted": True},
                schema=CONSENT_SCHEMA,
            ),
        ),
        emails={"c2": "two@example.org"},
        n_items=1,
    )
    out = tmp_path / "audience.csv"
    assert write_audience_csv(rows, out, n_items=1) == 2
    parsed = list(csv.DictReader(out.open(encoding="utf-8")))
    assert next(iter(parsed[0])) == EMAIL_HEADER
    assert list(parsed[0]) == csv_header(1)
    assert [(r[EMAIL_HEADER], r["customer_id"]) for r in parsed] == [
        ("two@example.org", "c2"),
        ("", "c1"),
    ]
    buffer = io.StringIO()
    assert write_audience(rows, buffer, n_items=1, email_only=True) == 1
    assert "two@example.org" in buffer.getvalue() and ",c1," not in buffer.getvalue()
    with pytest.raises(InputError, match="does not exist"):
        write_audience_csv(rows, tmp_path / "missing" / "a.csv", n_items=1)
    assert not list(tmp_path.glob(".*.tmp"))


def test_module_example_runs() -> None:
    import doctest

    from storewise.marketing import campaigns

    result = doctest.testmod(campaigns)
    assert result.attempted > 0 and result.failed == 0


def test_ad_platform_files_hold_only_normalised_hashed_emails() -> None:
    # SHA-256 of "jane.doe@example.com", as Google Customer Match and Meta hash it.
    digest = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    assert hashed_email(" Jane.Doe@EXAMPLE.com\t") == digest
    assert normalise_email("jane .doe@example.com") == "jane.doe@example.com"
    assert normalise_email("no-at-sign") is None and normalise_email("@example.com") is None
    rows = [
        {"customer_id": "a", "email": "Jane.Doe@example.com"},
        {"customer_id": "b", "email": None},
        {"customer_id": "c", "email": "jane.doe@example.com "},  # the same person twice
        {"customer_id": "d", "email": "=cmd|' /C calc'!A0@x.io"},
    ]
    assert ads_rows(rows)[0] == digest and len(ads_rows(rows)) == 2
    for platform, header in (("google", "Email"), ("meta", "email")):
        out = io.StringIO()
        assert write_ads_audience(rows, out, platform=platform) == 2
        lines = out.getvalue().splitlines()
        assert lines[0] == header and lines[1] == digest
        assert all(len(line) == 64 and int(line, 16) >= 0 for line in lines[1:])
        assert "a" not in out.getvalue().split()  # no customer id leaves
        text, written = render_audience(rows, platform, n_items=0)
        assert text == out.getvalue() and written == 2
    with pytest.raises(InputError, match="use google, meta"):
        write_ads_audience(rows, io.StringIO(), platform="tiktok")
    with pytest.raises(InputError, match="use mailchimp, google, meta"):
        render_audience(rows, "xlsx", n_items=0)


def test_an_empty_audience_says_why_and_how_to_import_consent() -> None:
    ids = [f"c{i}" for i in range(10)]
    nobody = explain_audience(ids, pl.DataFrame(schema=CONSENT_SCHEMA), rows=0, with_email=0)
    assert (nobody["considered"], nobody["without_consent_record"], nobody["rows"]) == (10, 10, 0)
    assert nobody["note"].startswith("none of the 10 customers selected may be contacted: 10 have")
    assert "consent_marketing" in nobody["note"] and "storewise ingest customers" in nobody["note"]
    states = {"c0": {"marketing": "granted"}, "c1": {"marketing": "withdrawn"}}
    some = explain_audience(ids, consent_frame(states), rows=1, with_email=1)
    assert (some["with_marketing_consent"], some["withdrew_marketing_consent"]) == (1, 1)
    assert some["without_consent_record"] == 8
    assert some["note"].startswith("8 of the 10 customers selected have no marketing consent")
    refused = explain_audience(["c1"], consent_frame(states), rows=0, with_email=0)
    assert "1 withdrew it" in refused["note"]
    empty = explain_audience([], consent_frame(states), rows=0, with_email=0)
    assert "no customer matches" in empty["note"]
    mail = explain_audience(["c0"], consent_frame(states), rows=0, with_email=0, email_only=True)
    assert "has an e-mail address" in mail["note"]
