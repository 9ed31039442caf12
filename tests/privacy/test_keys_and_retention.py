"""The encryption key is bound to the data; keys rotate; retention keeps aggregates; exports
and logs carry pseudonyms, never ids."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from storewise.app import FieldCipher, Settings, build
from storewise.cli.main import app
from storewise.errors import ConfigError
from storewise.store import SqlStore

PROFILE = pl.DataFrame({"customer_id": ["c1"], "email": ["c1@example.org"], "name": ["Cy"]})


def _store(path: Path, key: str) -> SqlStore:
    return SqlStore.open(f"sqlite:///{path}", cipher=FieldCipher(key))


def test_a_different_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    db, good, bad = tmp_path / "s.db", FieldCipher.generate_key(), FieldCipher.generate_key()
    store = _store(db, good)
    with store.writer() as writer:
        writer.upsert_customers(PROFILE)
    store.close()
    with pytest.raises(ConfigError, match="not the one this store's personal fields"):
        _store(db, bad)
    again = _store(db, good)  # the store stays readable with its own key
    assert (again.customer("c1") or {})["email"] == "c1@example.org"
    again.close()


def test_a_store_written_before_fingerprints_checks_its_data(tmp_path: Path) -> None:
    db, good, bad = tmp_path / "s.db", FieldCipher.generate_key(), FieldCipher.generate_key()
    store = _store(db, good)
    with store.writer() as writer:
        writer.upsert_customers(PROFILE)
    with store.engine.begin() as conn:  # as a store from before fingerprints looked
        conn.exec_driver_sql("DELETE FROM store_meta WHERE key = 'key_fingerprint'")
    store.close()
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        _store(db, bad)
    _store(db, good).close()


def test_cli_refuses_a_wrong_key_with_exit_code_7(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "storewise.toml").write_text(f'encryption_key = "{FieldCipher.generate_key()}"\n')
    with build(Settings(home=home)) as services:
        services.ingest.records("customers", [{"customer_id": "c1", "email": "a@b.org"}])
    (home / "storewise.toml").write_text(f'encryption_key = "{FieldCipher.generate_key()}"\n')
    result = CliRunner().invoke(app, ["--home", str(home), "customers", "export", "c1"])
    assert result.exit_code == 7
    assert "storewise privacy rotate-key" in result.output
    assert "Traceback" not in result.output


def test_rotate_key_re_encrypts_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    old, new = FieldCipher.generate_key(), FieldCipher.generate_key()
    (home / "storewise.toml").write_text(f'encryption_key = "{old}"\n')
    with build(Settings(home=home)) as services:
        services.ingest.records("customers", [{"customer_id": "c1", "email": "a@b.org"}])
    (tmp_path / "new.key").write_text(new)
    result = CliRunner().invoke(
        app,
        ["--home", str(home), "privacy", "rotate-key", "--new-key-file", str(tmp_path / "new.key")],
    )
    assert result.exit_code == 0, result.output
    with pytest.raises(ConfigError):
        _store(home / "storewise.db", old)
    rotated = _store(home / "storewise.db", new)
    assert (rotated.customer("c1") or {})["email"] == "a@b.org"
    rotated.close()


def test_retention_deletes_old_tracking_and_keeps_daily_counts(tmp_path: Path) -> None:
    with build(Settings(home=tmp_path)) as services:
        events = [
            {"customer_id": "c1", "item_id": "I1", "event_type": "view",
             "timestamp": f"2024-01-0{d}T10:00:00Z"}
            for d in (1, 1, 2)
        ] + [
            {"customer_id": "c1", "item_id": "I1", "event_type": "purchase", "price": 2.0,
             "timestamp": "2024-01-01T11:00:00Z"},
            {"customer_id": "c1", "item_id": "I1", "event_type": "view",
             "timestamp": "2024-06-01T10:00:00Z"},
        ]  # fmt: skip
        events[1]["event_id"] = "second-view"  # same fields as the first: not a duplicate
        assert services.ingest.records("events", events).stored == 5
        now = int(datetime(2024, 6, 2, tzinfo=UTC).timestamp() * 1000)
        removed = services.privacy.retain({"view": 30}, now_ms=now)
        assert removed == {"view": 3}
        left = services.customers.history("c1")["event_type"].to_list()
        assert sorted(left) == ["purchase", "view"]  # purchases untouched, a recent view kept
        kept = services.store.retained_aggregates()
        assert kept["events"].to_list() == [2, 1] and kept["event_type"].unique().to_list() == [
            "view"
        ]
        entry = services.privacy.audit_log(1)[0]
        assert entry["action"] == "retention" and entry["details"] == {"removed": {"view": 3}}


def test_retention_from_settings_and_bad_policies(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, retention_days={"search": 10})
    with build(settings) as services:
        assert services.privacy.retention_due()
        assert services.privacy.retain() == {"search": 0}
        assert not services.privacy.retention_due()
        with pytest.raises(Exception, match="unknown event types"):
            services.privacy.retain({"clicks": 3})


def test_pseudonymised_export_and_no_ids_in_logs(
    trained_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with build(Settings(home=trained_home)) as services:
        customer = services.customers.most_active(1)[0]
        expected = services.privacy.pseudonym(customer)
    ids = tmp_path / "ids.txt"
    ids.write_text(customer + "\n")
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app,
        ["--home", str(trained_home), "recommend", "--customers", str(ids), "--out", str(out),
         "--pseudonymise"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert rows and {r["customer_id"] for r in rows} == {expected}
    assert customer not in out.read_text()
    with caplog.at_level(logging.DEBUG, logger="storewise"):
        CliRunner().invoke(app, ["--home", str(trained_home), "customers", "export", "NOBODY-9"])
    assert "NOBODY-9" not in caplog.text
