"""Marketing commands as a retailer runs them: segments, clv, offers and campaign audiences."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from storewise.app import build
from storewise.cli.main import app
from storewise.settings import Settings
from tests.conftest import shared_file

runner = CliRunner()
DEFAULT_IDS = ["no-offer", "free-shipping", "10-percent-off"]


def run(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.output


def flat(text: str) -> str:
    """Output with rich's line wrapping undone, to match messages."""
    return " ".join(text.split())


def run_json(home: Path, *args: str) -> dict | list:  # type: ignore[type-arg]
    code, output = run(home, *args, "--json")
    assert code == 0, output
    return json.loads(output)  # type: ignore[no-any-return]


def marketing_granted(home: Path) -> set[str]:
    services = build(Settings(home=home))
    try:
        consents = services.store.consents()
    finally:
        services.store.close()
    rows = consents.filter((pl.col("purpose") == "marketing") & pl.col("granted"))
    return set(rows.get_column("customer_id").to_list())


def test_segments_and_clv(trained_home: Path, tmp_path: Path) -> None:
    result = run_json(trained_home, "segments")
    assert isinstance(result, dict)
    assert len(result["segments"]) == 11
    assert sum(s["customers"] for s in result["segments"]) == result["customers"] > 0
    code, output = run(trained_home, "segments", "--plot", str(tmp_path / "segments.png"))
    assert code == 0 and "Champions" in flat(output) and "At risk" in flat(output)
    assert (tmp_path / "segments.png").read_bytes()[:4] == b"\x89PNG"
    fitted = run_json(trained_home, "clv")
    assert isinstance(fitted, dict)
    assert set(fitted["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(fitted["gamma_gamma"]) >= {"p", "q", "gamma"}
    assert fitted["time_unit"] == "week" and fitted["horizon_days"] == 365
    daily = run_json(trained_home, "clv", "--horizon", "90", "--time-unit", "day")
    assert isinstance(daily, dict)
    assert daily["time_unit"] == "day" and daily["horizon_months"] == 3
    assert daily["bgnbd"]["alpha"] == pytest.approx(7 * fitted["bgnbd"]["alpha"], rel=0.02)
    code, output = run(trained_home, "clv")
    assert code == 0 and "BG/NBD r, alpha" in flat(output) and "Gamma-Gamma" in flat(output)
    code, output = run(trained_home, "clv", "--fit-until", "someday")
    assert code == 2 and "fit_until must be a date" in flat(output)
    code, output = run(tmp_path / "empty-home", "segments")
    assert code == 2 and "no purchases in the store yet" in flat(output)


def test_offer_catalog_commands(trained_home: Path, tmp_path: Path) -> None:
    listed = run_json(trained_home, "offers", "list")
    assert isinstance(listed, dict)
    assert [o["id"] for o in listed["offers"]] == DEFAULT_IDS and listed["uplift_model"] is None
    code, output = run(
        trained_home, "offers", "set", "15-off", "--name", "15% off", "--discount", "0.15"
    )
    assert code == 0 and "15-off" in flat(output)
    code, _ = run(trained_home, "offers", "set", "free-shipping", "--cost-per-order", "3")
    assert code == 0
    offers = run_json(trained_home, "offers", "list")["offers"]  # type: ignore[call-overload]
    shipping = next(o for o in offers if o["id"] == "free-shipping")
    assert shipping["cost_per_order"] == 3 and shipping["name"] == "Free shipping"
    code, output = run(trained_home, "offers", "set", "bad", "--discount", "2")
    assert code == 2 and "discount" in flat(output)
    code, output = run(trained_home, "offers", "remove", "gift")
    assert code == 3 and "offers are: no-offer, free-shipping, 10-percent-off, 15-off" in flat(
        output
    )
    assert run(trained_home, "offers", "remove", "15-off")[0] == 0
    catalog = tmp_path / "offers.json"
    catalog.write_text(json.dumps({"offers": [{"id": "vip", "name": "VIP", "cost_per_order": 1}]}))
    code, _ = run(trained_home, "offers", "set", "--from", str(catalog))
    assert code == 0
    offers = run_json(trained_home, "offers", "list")["offers"]  # type: ignore[call-overload]
    assert [o["id"] for o in offers] == ["no-offer", "vip"]
    customer = sorted(marketing_granted(trained_home))[0]
    code, output = run(trained_home, "offers", "respond", "free-shipping", customer, "--converted")
    assert code == 3 and "offers are: no-offer, vip" in flat(output)
    answer = run_json(trained_home, "offers", "respond", "vip", customer, "--converted")
    assert isinstance(answer, dict)
    assert answer["posterior"]["vip"] == {"responses": 1, "conversions": 1, "rate": 0.6667}
    pick = run_json(trained_home, "offers", "pick", customer)
    assert isinstance(pick, dict) and pick["offer_id"] in ("no-offer", "vip")


def _campaign_and_log(home: Path, folder: Path) -> tuple[Path, Path]:
    services = build(Settings(home=home))
    try:
        table = services.marketing.customer_table()
    finally:
        services.store.close()
    rng = np.random.default_rng(3)
    n = 3000
    sample = table[rng.integers(0, table.height, n).tolist()]
    freq = sample.get_column("frequency").to_numpy().astype(float)
    arm = rng.choice(["none", "discount"], size=n)
    logit = -3.0 + 0.8 * freq + np.where(arm == "discount", 2.0 - 0.5 * freq, 0.0)
    campaign = folder / "campaign.csv"
    sample.select("customer_id", "frequency").with_columns(
        pl.Series("arm", arm),
        pl.Series("ordered", (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)),
    ).write_csv(campaign)
    shown = rng.choice(DEFAULT_IDS, size=n)
    rates = np.select([shown == "no-offer", shown == "free-shipping"], [0.1, 0.3], 0.2)
    log = folder / "log.csv"
    pl.DataFrame(
        {
            "customer_id": sample.get_column("customer_id"),
            "offer": shown,
            "reward": (rng.random(n) < rates).astype(int),
            "propensity": 1 / 3,
            "always": "free-shipping",
        }
    ).write_csv(log)
    return campaign, log


def test_offers_train_and_evaluate(trained_home: Path, tmp_path: Path) -> None:
    campaign, log = _campaign_and_log(trained_home, tmp_path)
    args = ["offers", "train", "--campaign", str(campaign), "--treatment", "arm"]
    args += ["--outcome", "ordered", "--control", "none"]
    code, output = run(trained_home, *args)
    assert code == 2 and "['discount'] are not offers" in flat(output)
    args += ["--arm", "discount=10-percent-off"]
    code, output = run(trained_home, *args)
    assert code == 0 and "held-out" in flat(output) and "yes" in flat(output)
    features = ["--feature", "recency_days", "--feature", "frequency", "--feature", "monetary"]
    info = run_json(trained_home, *args, *features)
    assert isinstance(info, dict)
    assert info["arms"] == ["10-percent-off"] and info["rows"] == 3000
    assert info["report"]["10-percent-off"]["beats_random"]
    # recency_days and monetary are not in the file: looked up in the store by customer_id.
    assert info["notes"] == [
        "features ['recency_days', 'monetary'] taken from the store's current data"
    ]
    listed = run_json(trained_home, "offers", "list")
    assert isinstance(listed, dict) and listed["uplift_model"]["sha256"] == info["sha256"]
    pick = run_json(trained_home, "offers", "pick", "C000001")
    assert isinstance(pick, dict) and pick["policy"] in ("uplift model", "bandit")
    result = run_json(trained_home, "offers", "evaluate", "--log", str(log), "--policy-column",
                      "always")  # fmt: skip
    assert isinstance(result, dict)
    assert result["ips"] == pytest.approx(0.3, abs=0.04) and result["n"] == 3000
    code, output = run(trained_home, "offers", "evaluate", "--log", str(log))
    assert code == 0 and "doubly robust" in flat(output)
    code, output = run(trained_home, "offers", "evaluate", "--log", str(tmp_path / "no.csv"))
    assert code == 2 and "no such file" in flat(output)


def test_campaigns_build_exports_consented_customers_only(
    trained_home: Path, tmp_path: Path
) -> None:
    everyone = run_json(
        trained_home, "campaigns", "build", "--segment", "At risk", "--n-items", "0"
    )
    assert isinstance(everyone, list) and everyone
    min_clv = float(np.median([r["clv"] for r in everyone]))
    out = tmp_path / "audience.csv"
    code, output = run(
        trained_home, "campaigns", "build", "--segment", "At risk", "--min-clv", str(min_clv),
        "--n-items", "4", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert "with an e-mail address" in flat(output)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    header = list(rows[0])
    assert header[0] == "Email Address" and "item_4_title" in header and header[-1] == "reasons"
    granted = marketing_granted(trained_home)
    for row in rows:
        assert row["customer_id"] in granted
        assert row["segment"] == "At risk" and float(row["clv"]) >= min_clv
        assert row["item_1_id"] and row["item_1_title"]
        assert row["offer"] in DEFAULT_IDS
    assert any(row["Email Address"] for row in rows)
    with build(Settings(home=trained_home)) as services:
        entry = services.audit.entries(1)[0]
    assert (entry["actor"], entry["action"]) == ("cli", "campaign_audience")
    assert entry["details"]["rows"] == len(rows) and entry["details"]["segment"] == "At risk"
    code, output = run(trained_home, "campaigns", "build", "--segment", "Sleepers")
    assert code == 3 and "valid segments are: Champions, Loyal" in flat(output)
    code, output = run(trained_home, "campaigns", "build", "--limit", "3", "--email-only")
    assert code == 0 and output.splitlines()[0].startswith("Email Address,customer_id")
    assert 1 <= len(output.splitlines()) - 1 <= 3


@pytest.mark.dataset
def test_cdnow_calibration_reproduced_through_the_cli(tmp_path: Path) -> None:
    """Fader, Hardie & Lee (2005): BG/NBD and Gamma-Gamma on CDNOW_sample, 39-week calibration."""
    source = shared_file("cdnow", "CDNOW_sample.txt")
    orders = tmp_path / "cdnow.csv"
    with orders.open("w", newline="") as handle:
        writer = csv.writer(handle)
        # event_id keeps same-day identical purchases apart (ingest would merge exact duplicates).
        writer.writerow(["event_id", "customer_id", "item_id", "timestamp", "quantity", "value"])
        for n, line in enumerate(source.read_text().splitlines()):
            parts = line.split()
            if parts:
                day = f"{parts[2][:4]}-{parts[2][4:6]}-{parts[2][6:]}"
                writer.writerow([f"row{n}", parts[0], "cd", day, parts[3], parts[4]])
    home = tmp_path / "home"
    code, output = run(home, "ingest", "orders", str(orders), "-q")
    assert code == 0, output
    fitted = run_json(home, "clv", "--fit-until", "1997-09-30", "--time-unit", "week")
    assert isinstance(fitted, dict)
    assert fitted["customers"] == 2357 and fitted["gamma_gamma"]["customers"] == 946
    published = {
        "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    }
    for model, params in published.items():
        for name, value in params.items():
            assert fitted[model][name] == pytest.approx(value, rel=0.01), (model, name)
    assert fitted["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)


def test_campaigns_build_for_ad_platforms(trained_home: Path, tmp_path: Path) -> None:
    rows = run_json(trained_home, "campaigns", "build", "--n-items", "0", "--no-offer")
    assert isinstance(rows, list)
    wanted = {
        hashlib.sha256(r["email"].strip().lower().encode()).hexdigest() for r in rows if r["email"]
    }
    assert wanted
    for fmt, header in (("google", "Email"), ("meta", "email")):
        out = tmp_path / f"{fmt}.csv"
        code, output = run(trained_home, "campaigns", "build", "--format", fmt, "--out", str(out))
        assert code == 0, output
        assert f"wrote {len(wanted)} customers (hashed e-mails for {fmt})" in flat(output)
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[0] == header and set(lines[1:]) == wanted
        with build(Settings(home=trained_home)) as services:
            entry = services.audit.entries(1)[0]
        assert (entry["actor"], entry["action"]) == ("cli", "ads_audience")
        assert entry["details"] == {
            "rows": len(wanted), "segment": None, "min_clv": None, "limit": None, "format": fmt,
        }  # fmt: skip
    code, output = run(trained_home, "campaigns", "build", "--format", "meta", "--limit", "2")
    assert code == 0 and output.splitlines()[0] == "email" and len(output.splitlines()) <= 3
    code, output = run(trained_home, "campaigns", "build", "--format", "tiktok")
    assert code == 2


def test_an_empty_audience_says_why(tmp_path: Path) -> None:
    """A shop whose orders came in without customer files has no consent on record."""
    orders = tmp_path / "orders.csv"
    rng = np.random.default_rng(5)
    with orders.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer_id", "item_id", "timestamp", "quantity", "value"])
        for n in range(400):
            day = int(rng.integers(0, 300))
            writer.writerow([f"o{n}", f"c{n % 60}", "sku", _day(day), 1, 10 + n % 7])
    home = tmp_path / "home"
    code, output = run(home, "ingest", "orders", str(orders), "-q")
    assert code == 0, output
    out = tmp_path / "audience.csv"
    code, output = run(home, "campaigns", "build", "--out", str(out))
    assert code == 0, output
    text = flat(output)
    assert "wrote 0 customers" in text
    assert (
        "none of the 60 customers selected may be contacted: 60 have no marketing consent" in text
    )
    assert "consent_marketing" in text and "storewise ingest customers" in text
    code, output = run(home, "segments")
    assert code == 0 and "assume no seasonality" in flat(output)


def _day(offset: int) -> str:
    """A timestamp ``offset`` days after 2023-01-01."""
    return (date(2023, 1, 1) + timedelta(days=offset)).isoformat() + "T10:00:00Z"


def test_offers_exploration_share(trained_home: Path) -> None:
    code, output = run(trained_home, "offers", "explore", "--share", "0.2")
    assert code == 0 and "exploration share set to 20%" in flat(output)
    listed = run_json(trained_home, "offers", "list")
    assert isinstance(listed, dict) and listed["exploration_share"] == 0.2
    code, output = run(trained_home, "offers", "list")
    assert "exploration share 20%" in flat(output)
    code, output = run(trained_home, "offers", "explore", "--share", "0.9")
    assert code == 2 and "between 0 and 0.5" in flat(output)
