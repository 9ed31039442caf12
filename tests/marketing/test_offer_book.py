"""The offer book's files: checksummed JSON written atomically; older files still read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from storewise.errors import ArtifactError, InputError
from storewise.marketing.bandit import ThompsonBandit
from storewise.marketing.offer_book import DEFAULT_OFFERS, NO_OFFER_ID, OfferBook

DEFAULT_IDS = [o.id for o in DEFAULT_OFFERS]


def _campaign(path: Path, rows: int = 600, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    freq = rng.integers(1, 8, rows).astype(float)
    arm = rng.choice(["none", "discount"], size=rows)
    logit = -2.0 + 0.4 * freq + np.where(arm == "discount", 1.5 - 0.3 * freq, 0.0)
    pl.DataFrame(
        {
            "recency_days": rng.integers(1, 300, rows).astype(float),
            "frequency": freq,
            "monetary": rng.gamma(2.0, 40.0, rows),
            "arm": arm,
            "ordered": (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int),
        }
    ).write_csv(path)


def test_catalog_is_checksummed_and_a_changed_file_refused(tmp_path: Path) -> None:
    book = OfferBook(tmp_path)
    book.set_offer({"id": "15-off", "name": "15% off", "discount": 0.15})
    path = tmp_path / "offers.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert "document_sha256" in saved and [o["id"] for o in saved["offers"]][-1] == "15-off"
    assert [o.id for o in OfferBook(tmp_path).catalog()] == [*DEFAULT_IDS, "15-off"]
    path.write_text(path.read_text(encoding="utf-8").replace("0.15", "0.95"), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"offers\.json: checksum mismatch"):
        OfferBook(tmp_path).catalog()
    assert [p.name for p in tmp_path.iterdir()] == ["offers.json"]


def test_a_catalog_saved_before_checksums_still_reads(tmp_path: Path) -> None:
    old = {"version": 1, "offers": [o.model_dump() for o in DEFAULT_OFFERS[:2]]}
    (tmp_path / "offers.json").write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")
    assert [o.id for o in OfferBook(tmp_path).catalog()] == DEFAULT_IDS[:2]


def test_bandit_state_round_trips_and_old_state_files_read(tmp_path: Path) -> None:
    book = OfferBook(tmp_path)
    book.record("free-shipping", "champions", True)
    book.record("free-shipping", "champions", False)
    path = tmp_path / "bandit.json"
    assert "document_sha256" in json.loads(path.read_text(encoding="utf-8"))
    again = OfferBook(tmp_path).record("free-shipping", "champions", True)
    assert again["posterior"]["free-shipping"]["responses"] == 3
    old = ThompsonBandit(DEFAULT_IDS, seed=0, per_segment=True)
    old.update("10-percent-off", 1.0, segment="loyal")
    path.write_text(old.to_json(), encoding="utf-8")  # as written before checksums
    answer = OfferBook(tmp_path).record("10-percent-off", "loyal", True)
    assert answer["posterior"]["10-percent-off"]["conversions"] == 2


def test_uplift_spec_is_checksummed_and_old_specs_read(tmp_path: Path) -> None:
    campaign = tmp_path / "campaign.csv"
    _campaign(campaign)
    book = OfferBook(tmp_path / "marketing")
    info = book.train(
        campaign,
        treatment="arm",
        outcome="ordered",
        control="none",
        arms={"discount": "10-percent-off"},
    )
    spec = tmp_path / "marketing" / "uplift.json"
    assert "document_sha256" in json.loads(spec.read_text(encoding="utf-8"))
    fresh = OfferBook(tmp_path / "marketing")
    assert fresh.model_info() == info
    uplift = fresh._uplift()
    assert uplift is not None and set(uplift.models) == {"10-percent-off"}
    old = dict(info)  # as written before checksums
    spec.write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")
    assert OfferBook(tmp_path / "marketing").model_info() == info
    spec.write_text(json.dumps({**old, "document_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"uplift\.json: checksum mismatch"):
        OfferBook(tmp_path / "marketing").model_info()
    assert NO_OFFER_ID not in info["arms"]


def _audience(n: int, seed: int = 0) -> tuple[list[str], pl.DataFrame, list[str], np.ndarray]:
    """``n`` customers of four segments with skewed order values (a few large wholesalers)."""
    rng = np.random.default_rng(seed)
    ids = [f"c{k:05d}" for k in range(n)]
    segments = [("At risk", "Lost", "Champions", "New")[k % 4] for k in range(n)]
    values = rng.lognormal(5.0, 1.2, n)  # median 150, some in the thousands
    return ids, pl.DataFrame(schema={"recency_days": pl.Float64}), segments, values


def test_no_negative_value_offer_outside_the_exploration_share(tmp_path: Path) -> None:
    book = OfferBook(tmp_path)
    ids, features, segments, values = _audience(10_000)
    picks = book.decide(ids, features, [], segments, values)
    exploring = [p for p in picks if p["exploring"]]
    settled = [p for p in picks if not p["exploring"]]
    assert 0.085 <= len(exploring) / len(picks) <= 0.115  # the default share: 10%
    # Nothing learned yet: outside the share no offer is worth its cost, so none is sent.
    assert all(p["offer_id"] == NO_OFFER_ID for p in settled)
    assert all(p["expected_value"] >= 0 for p in settled)
    assert all(
        p["reason"].startswith("no offer: none has a positive expected value") for p in settled
    )
    assert {p["offer_id"] for p in exploring} >= {"free-shipping", "10-percent-off"}
    assert all(p["reason"].startswith("exploring: this customer is in the 10% exploration share")
               for p in exploring)  # fmt: skip
    # The segments learn: free shipping pays in "At risk" and "New", nothing in the others
    # (60 responses per offer and segment, saved as the bandit's state in one go).
    bandit = ThompsonBandit(DEFAULT_IDS, seed=0, per_segment=True)
    for _ in range(60):
        for segment in ("At risk", "New"):
            bandit.update("free-shipping", 1.0, segment=segment)
            bandit.update(NO_OFFER_ID, 0.0, segment=segment)
        for segment in ("Lost", "Champions"):
            bandit.update("10-percent-off", 0.0, segment=segment)
            bandit.update("free-shipping", 0.0, segment=segment)
    (tmp_path / "bandit.json").write_text(bandit.to_json(), encoding="utf-8")
    picks = OfferBook(tmp_path).decide(ids, features, [], segments, values)
    settled = [p for p in picks if not p["exploring"]]
    negative = [p for p in settled if p["expected_value"] < 0]
    assert not negative
    sent = [p for p in settled if p["offer_id"] != NO_OFFER_ID]
    assert sent and all(p["expected_value"] > 0 and p["propensity"] == 1.0 for p in sent)
    assert {segments[ids.index(p["customer_id"])] for p in sent} == {"At risk", "New"}
    assert sent[0]["reason"].startswith("Free shipping: expected value")


def test_exploration_share_is_bounded_and_saved_with_the_catalog(tmp_path: Path) -> None:
    book = OfferBook(tmp_path)
    assert book.exploration_share() == 0.10
    book.set_offer({"id": "15-off", "name": "15% off", "discount": 0.15})
    assert book.set_exploration_share(0.0) == 0.0
    again = OfferBook(tmp_path)
    assert again.exploration_share() == 0.0 and [o.id for o in again.catalog()][-1] == "15-off"
    ids, features, segments, values = _audience(2000, seed=1)
    picks = again.decide(ids, features, [], segments, values, propensity=True)
    assert not any(p["exploring"] for p in picks)
    assert all(p["offer_id"] == NO_OFFER_ID and p["propensity"] == 1.0 for p in picks)
    again.set_exploration_share(0.5)
    picks = again.decide(ids[:50], features, [], segments[:50], values[:50], propensity=True)
    chosen = [p for p in picks if p["exploring"]]
    assert chosen and all(0 < p["propensity"] <= 1 for p in chosen)
    with pytest.raises(InputError, match=r"between 0 and 0\.5"):
        again.set_exploration_share(0.6)
    assert again.exploration_share() == 0.5
