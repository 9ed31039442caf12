"""``storewise keys identity-secret``: the secret a shop's server signs logins with."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storewise.app import Settings, build
from storewise.cli.main import app

runner = CliRunner()


def test_the_identity_secret_signs_what_the_store_accepts(
    trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOREWISE_HOME", str(trained_home))
    made = runner.invoke(
        app, ["keys", "create", "--scope", "collect", "--origin", "https://shop.example", "--json"]
    )
    assert made.exit_code == 0, made.output
    key_id = made.output[made.output.index("{") :].split('"key_id": "')[1].split('"')[0]
    answer = runner.invoke(app, ["keys", "identity-secret", key_id])
    assert answer.exit_code == 0, answer.output
    secret = answer.output.strip()
    signature = hmac.new(secret.encode(), b"C-42", hashlib.sha256).hexdigest()
    with build(Settings(home=trained_home)) as services:
        assert services.collect.signer.verify(key_id, "C-42", signature)
        assert not services.collect.signer.verify(key_id, "C-43", signature)
    reader = runner.invoke(app, ["keys", "create", "--scope", "read", "--json"])
    read_id = reader.output[reader.output.index("{") :].split('"key_id": "')[1].split('"')[0]
    assert runner.invoke(app, ["keys", "identity-secret", read_id]).exit_code == 2
    assert runner.invoke(app, ["keys", "identity-secret", "000000000000"]).exit_code == 3
