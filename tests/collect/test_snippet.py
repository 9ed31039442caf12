"""storewise.js as shipped: small, versioned, self-contained, every public function guarded."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from storewise.collect.snippet import UNVERSIONED_CACHE, VERSIONED_CACHE, load_snippet

MAX_GZIPPED = 10 * 1024


def test_the_snippet_is_small() -> None:
    assert len(load_snippet().gzipped) <= MAX_GZIPPED


def test_versioned_urls_are_immutable_others_revalidate() -> None:
    snippet = load_snippet()
    assert snippet.cache_control(snippet.version) == VERSIONED_CACHE
    assert snippet.cache_control(None) == UNVERSIONED_CACHE
    assert snippet.cache_control("0.0.1") == UNVERSIONED_CACHE
    assert snippet.version in snippet.etag


def test_no_external_asset_and_no_dynamic_code() -> None:
    text = load_snippet().text
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    assert "http://" not in code and "https://" not in code.replace('"https:"', "")
    for banned in ("eval(", "new Function", "innerHTML", "document.write"):
        assert banned not in code


def test_every_public_function_is_guarded() -> None:
    text = load_snippet().text
    api = text[text.index("var api = {") : text.index("w.storewise = api")]
    members = re.findall(r"^\s{4}(\w+):\s*(.+)$", api, flags=re.MULTILINE)
    assert {name for name, _ in members} >= {
        "init", "consent", "track", "identify", "reset", "flush", "render",
    }  # fmt: skip
    assert all(value.startswith("guard(") for name, value in members if name != "version")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to check the syntax")
def test_the_snippet_parses() -> None:
    done = subprocess.run(
        ["node", "--check", "-"], input=load_snippet().text, text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr
