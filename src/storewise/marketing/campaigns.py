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
4. :func:`write_ads_audience` writes the same customers for ad platforms instead: only their
   e-mail, normalised (whitespace removed, lower case) and SHA-256-hashed as hex, under the
   header each platform names: ``Email`` for a Google Ads Customer Match list, ``email`` for a
   Meta custom audience customer list. Nothing else leaves (no id, no value), duplicates and
   customers without an e-mail are dropped.

:func:`explain_audience` says why an audience is small or empty: how many customers the
selection had, how many lack a recorded marketing grant (marketing is opt-in) or withdrew it,
and how to import consent.

>>> import polars as pl
>>> scored = pl.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["Lost"] * 3,
...                        "clv": [5.0, 50.0, None], "churn_risk": [0.9, 0.2, None]})
>>> consents = pl.DataFrame({"customer_id": ["a", "b"], "purpose": ["marketing"] * 2,
...                          "granted": [True, False]})
>>> select_audience(scored, consents).get_column("customer_id").to_list()
['a']
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
#: Export formats: the e-mail tool CSV, and hashed e-mail lists for ad platforms.
AUDIENCE_FORMATS: tuple[str, ...] = ("mailchimp", "google", "meta")
#: The hashed e-mail column each ad platform's customer-list upload expects.
ADS_HEADERS: dict[str, str] = {"google": "Email", "meta": "email"}
#: How a retailer records marketing consent, for messages about empty audiences.
CONSENT_HINT = (
    "import consent with a customers file that has customer_id and consent_marketing columns "
    "(`storewise ingest customers FILE`), or record it per customer with PUT "
    '/v1/customers/{customer_id}/consents and {"marketing": true}'
)


def filter_scored(
    scored: pl.DataFrame, *, segment: str | None = None, min_clv: float | None = None
) -> pl.DataFrame:
    """The scored customers in ``segment`` (NotFound listing the names when unknown) with
    CLV >= ``min_clv`` (customers without a CLV left out then), before any consent check."""
    require_columns(scored, ("customer_id", "segment", "clv"), what="scored customers")
    if min_clv is not None and min_clv != min_clv:  # NaN
        raise InputError("min_clv must be a number")
    frame = scored
    if segment is not None:
        frame = frame.filter(pl.col("segment") == resolve_segment(segment))
    if min_clv is not None:
        frame = frame.filter(pl.col("clv").is_not_null() & (pl.col("clv") >= float(min_clv)))
    return frame


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
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    require_columns(consents, ("customer_id", "purpose", "granted"), what="consents")
    frame = filter_scored(scored, segment=segment, min_clv=min_clv)
    ids = frame.get_column("customer_id").cast(pl.Utf8).to_list()
    allowed = (policy or ConsentPolicy()).allowed_ids(ids, consents, MARKETING)
    frame = frame.filter(pl.col("customer_id").is_in(allowed))
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
            "offer_exploring": bool(offer.get("exploring")) if offer else None,
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


def explain_audience(
    considered: Sequence[str],
    consents: pl.DataFrame,
    *,
    rows: int,
    with_email: int,
    policy: ConsentPolicy | None = None,
    email_only: bool = False,
) -> dict[str, Any]:
    """Counts behind an audience and, when it is empty, a sentence saying why and what to do.

    ``considered`` are the customers the segment and CLV filters kept, before consent; ``rows``
    and ``with_email`` what the audience ended with. Keys: ``considered, with_marketing_consent,
    without_consent_record, withdrew_marketing_consent, with_email, rows, note``.
    """
    policy = policy or ConsentPolicy()
    ids = [str(c) for c in considered]
    allowed = len(policy.allowed_ids(ids, consents, MARKETING))
    refused = policy.excluded_ids(consents, MARKETING) if consents.height else set()
    withdrew = sum(1 for c in ids if c in refused)
    missing = len(ids) - allowed - withdrew
    note = None
    if not ids:
        note = "no customer matches the segment and minimum CLV asked for"
    elif allowed == 0:
        parts = []
        if missing:
            parts.append(f"{missing:,} have no marketing consent recorded")
        if withdrew:
            parts.append(f"{withdrew:,} withdrew it")
        note = (
            f"none of the {len(ids):,} customers selected may be contacted: "
            f"{' and '.join(parts)}. Marketing is opt-in, so only a recorded grant counts; "
            + CONSENT_HINT
        )
    elif rows == 0 and email_only:
        note = f"none of the {allowed:,} customers with marketing consent has an e-mail address"
    elif missing and allowed < len(ids):
        note = (
            f"{missing:,} of the {len(ids):,} customers selected have no marketing consent "
            "recorded and are left out (marketing is opt-in); " + CONSENT_HINT
        )
    return {
        "considered": len(ids),
        "with_marketing_consent": allowed,
        "without_consent_record": missing,
        "withdrew_marketing_consent": withdrew,
        "with_email": with_email,
        "rows": rows,
        "note": note,
    }


def normalise_email(email: str | None) -> str | None:
    """An e-mail as ad platforms hash it: all whitespace removed, lower case; None if empty
    or not an address (no ``@`` with text on both sides).

    >>> normalise_email("  Jane.Doe@Example.COM ")
    'jane.doe@example.com'
    """
    if email is None:
        return None
    text = "".join(str(email).split()).lower()
    local, at, domain = text.rpartition("@")
    return text if at and local and domain else None


def hashed_email(email: str) -> str:
    """SHA-256 of the normalised e-mail as 64 lower-case hex digits (Google Customer Match and
    Meta custom audiences both match on this).

    >>> hashed_email("Jane.Doe@example.com ")[:16]
    '86e0b9e56c17cc4d'
    """
    normal = normalise_email(email)
    if normal is None:
        raise InputError(f"not an e-mail address: {email!r}")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def ads_rows(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The distinct hashed e-mails of audience rows, in row order (rows without one skipped)."""
    seen: dict[str, None] = {}
    for row in rows:
        email = row.get("email")
        if email and normalise_email(str(email)) is not None:
            seen.setdefault(hashed_email(str(email)), None)
    return list(seen)


def write_ads_audience(rows: Iterable[Mapping[str, Any]], handle: TextIO, *, platform: str) -> int:
    """Write a hashed-e-mail customer list for ``platform`` (``google`` or ``meta``) to an open
    text handle; returns the e-mails written."""
    header = ADS_HEADERS.get(platform)
    if header is None:
        raise InputError(f"unknown ad platform {platform!r}; use {', '.join(ADS_HEADERS)}")
    writer = csv_writer(handle)
    writer.writerow([header])
    hashes = ads_rows(rows)
    writer.writerows([h] for h in hashes)
    return len(hashes)


def render_audience(
    rows: Iterable[Mapping[str, Any]], fmt: str, *, n_items: int, email_only: bool = False
) -> tuple[str, int]:
    """The audience as the text of a ``fmt`` file (see :data:`AUDIENCE_FORMATS`) and the number
    of customers in it."""
    buffer = io.StringIO(newline="")
    if fmt == "mailchimp":
        written = write_audience(rows, buffer, n_items=n_items, email_only=email_only)
    elif fmt in ADS_HEADERS:
        written = write_ads_audience(rows, buffer, platform=fmt)
    else:
        raise InputError(f"unknown audience format {fmt!r}; use {', '.join(AUDIENCE_FORMATS)}")
    return buffer.getvalue(), written


def save_text(text: str, path: str | Path) -> None:
    """Write an export to ``path`` through a temporary file renamed into place, so a
    half-written audience is never picked up."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name for the audience")
    if not target.parent.exists():
        raise InputError(f"folder {target.parent} does not exist")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8", newline="")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Audience:
    """An audience ready to export: its rows in ``format`` (audience rows for ``mailchimp``,
    ``{header: hashed e-mail}`` for an ad platform) and the counts behind it
    (:func:`explain_audience`)."""

    format: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    n_items: int = 0
    email_only: bool = False

    def write(self, handle: TextIO) -> int:
        """Write the export file's text to an open handle; returns the customers written."""
        if self.format == "mailchimp":
            return write_audience(
                self.rows, handle, n_items=self.n_items, email_only=self.email_only
            )
        header = ADS_HEADERS[self.format]
        writer = csv_writer(handle)
        writer.writerow([header])
        writer.writerows([row[header]] for row in self.rows)
        return len(self.rows)

    def text(self) -> str:
        """The export file's text."""
        buffer = io.StringIO(newline="")
        self.write(buffer)
        return buffer.getvalue()

    def save(self, path: str | Path) -> int:
        """Write the export file atomically (see :func:`save_text`); returns customers written."""
        buffer = io.StringIO(newline="")
        written = self.write(buffer)
        save_text(buffer.getvalue(), path)
        return written


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
        "offer_exploring",
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
    text, written = render_audience(rows, "mailchimp", n_items=n_items, email_only=email_only)
    save_text(text, path)
    return written


__all__ = [
    "ADS_HEADERS",
    "AUDIENCE_FORMATS",
    "CONSENT_HINT",
    "EMAIL_HEADER",
    "MARKETING",
    "Audience",
    "ads_rows",
    "audience_rows",
    "csv_header",
    "explain_audience",
    "filter_scored",
    "hashed_email",
    "normalise_email",
    "render_audience",
    "save_text",
    "select_audience",
    "write_ads_audience",
    "write_audience",
    "write_audience_csv",
]
