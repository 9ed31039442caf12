"""The offer book's files: checksummed JSON written atomically; older files still read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from storewise.errors import ArtifactError
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
