"""``storewise keys`` and the start-up checks of ``storewise serve``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from storewise.cli.main import app
from storewise.store import open_store
from tests.api.shop import Shop

runner = CliRunner()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    """A key is printed once, works, is listed without its secret, and can be revoked."""
    home = ["--home", str(tmp_path)]
    created = runner.invoke(
        app, [*home, "keys", "create", "--scope", "read,ingest", "--name", "web"]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sw_")
    listed = runner.invoke(app, [*home, "keys", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["scopes"], r["active"]) for r in rows] == [
        ("web", ["read", "ingest"], True)
    ]
    assert key.split("_", 2)[2] not in listed.stdout
    from storewise.settings import Settings

    store = open_store(Settings(home=tmp_path))
    try:
        assert store.keys().verify(key) is not None
        revoked = runner.invoke(app, [*home, "keys", "revoke", rows[0]["key_id"]])
        assert revoked.exit_code == 0, revoked.output
        assert store.keys().verify(key) is None
    finally:
        store.close()
    assert runner.invoke(app, [*home, "keys", "revoke", "000000000000"]).exit_code == 3
    bad_scope = runner.invoke(app, [*home, "keys", "create", "--scope", "root"])
    assert bad_scope.exit_code == 2


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    """No active key: exit code 7 (configuration) with a message saying what to do."""
    result = runner.invoke(app, ["--home", str(tmp_path), "serve", "--port", "1"])
    assert result.exit_code == 7
    assert "storewise keys create" in result.output


def test_insecure_local_binds_only_to_loopback(shop: Shop) -> None:
    """--insecure-local with a public address is refused before anything starts."""
    result = runner.invoke(
        app, ["--home", str(shop.home), "serve", "--insecure-local", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "127.0.0.1" in result.output
