"""Campaign audiences: who to contact (marketing consent only), with their offer and picks.

An audience is built in three steps, each a small pure function so it can be tested alone:

1. :func:`select_audience` filters the scored customers (RFM segment, CLV) to those who
   *explicitly granted* ``marketing`` consent. No consent record means no consent: a customer
   is never contacted on a default.
2. :func:`audience_rows` turns the selection into one row per customer with the e-mail (only
   where there is one), segment, CLV, churn risk, the chosen offer, ``n_items`` personalised
   product picks (ids, titles, reasons) and a human-readable ``reasons`` summary.
3. :func:`write_audience_csv` writes the rows for an e-mail tool. The first column is
   ``Email Address``: the exact name of Mailchimp's required field, and the first-column header
   Klaviyo's list upload expects, so both map it without manual work. The customer id follows as
   ``customer_id`` (map it to Klaviyo's "External ID" or a Mailchimp text field); other columns
   import as custom properties / merge fields. Rows without an e-mail are kept (on-site or other
   channels) unless ``email_only``; both tools skip such rows on import and report them.

>>> import polars as pl
>>> scored = pl.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["Lost"] * 3,
...                        "clv": [5.0, 50.0, None], "churn_risk": [0.9, 0.2, None]})
>>> consents = pl.DataFrame({"customer_id": ["a", "b"], "purpose": ["marketing"] * 2,
...                          "granted": [True, False]})
>>> select_audience(scored, consents).get_column("customer_id").to_list()
['a']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from storewise.errors import InputError
from storewise.marketing.rfm import SEGMENT_DESCRIPTIONS, resolve_segment
from storewise.marketing.transactions import require_columns
from storewise.privacy.consent import ConsentPolicy
from storewise.privacy.spreadsheet import csv_writer

#: Header of the e-mail column: Mailchimp's required field name and Klaviyo's first column.
EMAIL_HEADER = "Email Address"
#: The consent purpose a campaign needs, explicitly granted.
MARKETING = "marketing"
#: Most product picks per customer in an audience row.
MAX_ITEMS = 20


def select_audience(
    scored: pl.DataFrame,
    consents: pl.DataFrame,
    *,
    segment: str | None = None,
    min_clv: float | None = None,
    limit: int | None = None,
    policy: ConsentPolicy | None = None,
) -> pl.DataFrame:
    """The scored customers to contact: the consent policy (default :class:`ConsentPolicy`:
    an explicit grant) allows ``marketing``, in ``segment``, CLV >= min.

    ``scored`` needs ``customer_id, segment, clv``. An unknown segment raises NotFound listing
    the valid names. With ``min_clv``, customers without a CLV (too little data to fit) are
    left out. Highest CLV first (unknown CLV last), then by id, cut to ``limit`` rows.
    """
    require_columns(scored, ("customer_id", "segment", "clv"), what="scored customers")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    if min_clv is not None and min_clv != min_clv:  # NaN
        raise InputError("min_clv must be a number")
    require_columns(consents, ("customer_id", "purpose", "granted"), what="consents")
    ids = scored.get_column("customer_id").cast(pl.Utf8).to_list()
    allowed = (policy or ConsentPolicy()).allowed_ids(ids, consents, MARKETING)
    frame = scored.filter(pl.col("customer_id").is_in(allowed))
    if segment is not None:
        frame = frame.filter(pl.col("segment") == resolve_segment(segment))
    if min_clv is not None:
        frame = frame.filter(pl.col("clv").is_not_null() & (pl.col("clv") >= float(min_clv)))
    frame = frame.sort(["clv", "customer_id"], descending=[True, False], nulls_last=True)
    return frame.head(limit) if limit is not None else frame


def _rounded(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _row_reasons(row: Mapping[str, Any], offer: Mapping[str, Any] | None) -> list[str]:
    reasons: list[str] = []
    segment = row.get("segment")
    if segment:
        reasons.append(f"{segment}: {SEGMENT_DESCRIPTIONS.get(str(segment), '')}".rstrip(": "))
    clv = row.get("clv")
    if clv is not None:
        reasons.append(f"predicted 12-month value {float(clv):,.2f}")
    churn = row.get("churn_risk")
    if churn is not None and float(churn) >= 0.5:
        reasons.append(f"churn risk {float(churn):.0%}")
    if offer is not None and offer.get("reason"):
        reasons.append(str(offer["reason"]))
    return reasons


def audience_rows(
    selected: pl.DataFrame,
    *,
    emails: Mapping[str, str],
    picks: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    offers: Mapping[str, Mapping[str, Any]] | None = None,
    n_items: int = 4,
) -> list[dict[str, Any]]:
    """One dict per selected customer: contact, value, offer, ``n_items`` picks and reasons.

    ``emails`` maps customer ids to addresses (customers without one get ``None``); ``picks``
    maps ids to ranked items (dicts with ``item_id``, ``title``, ``reasons``); ``offers`` maps
    ids to the next-best-offer dicts of the marketing service. Missing picks leave empty cells.
    """
    if not 0 <= n_items <= MAX_ITEMS:
        raise InputError(f"n_items must be between 0 and {MAX_ITEMS}, got {n_items}")
    require_columns(selected, ("customer_id", "segment", "clv"), what="audience")
    has_churn = "churn_risk" in selected.columns
    rows: list[dict[str, Any]] = []
    for record in selected.iter_rows(named=True):
        cid = str(record["customer_id"])
        offer = offers.get(cid) if offers is not None else None
        row: dict[str, Any] = {
            "customer_id": cid,
            "email": emails.get(cid) or None,
            "segment": record["segment"],
            "clv": _rounded(record["clv"], 2),
            "churn_risk": _rounded(record["churn_risk"], 4) if has_churn else None,
            "offer": offer.get("offer_id") if offer is not None else None,
            "offer_value": _rounded(offer.get("expected_value"), 2) if offer else None,
        }
        items = list(picks.get(cid, ())) if picks is not None else []
        for k in range(1, n_items + 1):
            item = items[k - 1] if k <= len(items) else None
            row[f"item_{k}_id"] = item.get("item_id") if item else None
            row[f"item_{k}_title"] = item.get("title") if item else None
            reasons = item.get("reasons") if item else None
            row[f"item_{k}_reason"] = "; ".join(reasons) if reasons else None
        row["reasons"] = "; ".join(_row_reasons(record, offer))
        rows.append(row)
    return rows


def csv_header(n_items: int) -> list[str]:
    """The export's columns in order: ``Email Address`` first, then the audience fields."""
    items = [
        f"item_{k}_{part}" for k in range(1, n_items + 1) for part in ("id", "title", "reason")
    ]
    return [
        EMAIL_HEADER,
        "customer_id",
        "segment",
        "clv",
        "churn_risk",
        "offer",
        "offer_value",
        *items,
        "reasons",
    ]


def write_audience(
    rows: Iterable[Mapping[str, Any]], handle: TextIO, *, n_items: int, email_only: bool = False
) -> int:
    """Write audience rows as e-mail-tool CSV to an open text handle; returns rows written."""
    header = csv_header(n_items)
    writer = csv_writer(handle)
    writer.writerow(header)
    written = 0
    for row in rows:
        if email_only and not row.get("email"):
            continue
        values = {**row, EMAIL_HEADER: row.get("email")}
        writer.writerow(["" if values.get(c) is None else values.get(c) for c in header])
        written += 1
    return written


def write_audience_csv(
    rows: Iterable[Mapping[str, Any]], path: str | Path, *, n_items: int, email_only: bool = False
) -> int:
    """Write audience rows to a CSV file (see the module notes); returns rows written.

    Written to a temporary file and renamed, so a half-written audience is never picked up.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name for the audience")
    if not target.parent.exists():
        raise InputError(f"folder {target.parent} does not exist")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with temp.open("w", newline="", encoding="utf-8") as handle:
            written = write_audience(rows, handle, n_items=n_items, email_only=email_only)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return written


__all__ = [
    "EMAIL_HEADER",
    "MARKETING",
    "audience_rows",
    "csv_header",
    "select_audience",
    "write_audience",
    "write_audience_csv",
]
