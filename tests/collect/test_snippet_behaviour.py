"""storewise.js run by node against a stand-in browser (cookies, storage, fetch, sendBeacon):
nothing is sent and no cookie is set before analytics consent, batches carry client event ids
that a retry keeps, withdrawal clears everything, and no public function throws."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from storewise.collect.snippet import load_snippet

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

HARNESS = r"""
const src = require("fs").readFileSync(0, "utf8");
const jar = {};
const storage = {};
const sent = [];
let failNext = false;
const document = {
  get cookie() { return Object.entries(jar).map(([k, v]) => k + "=" + v).join("; "); },
  set cookie(text) {
    const [pair] = text.split("; ");
    const [name, value] = pair.split("=");
    if (/Max-Age=0(;|$)/.test(text)) delete jar[name]; else jar[name] = value;
  },
  readyState: "complete", currentScript: null, visibilityState: "visible",
  documentElement: { lang: "en" }, head: { appendChild() {} },
  querySelectorAll: () => [], addEventListener() {},
  createElement: () => ({ setAttribute() {} }),
};
const window = {
  document,
  location: { protocol: "https:", origin: "https://shop.example" },
  localStorage: {
    getItem: (k) => (k in storage ? storage[k] : null),
    setItem: (k, v) => { storage[k] = String(v); },
    removeItem: (k) => { delete storage[k]; },
  },
  navigator: {
    sendBeacon: (url, blob) => {
      const entry = { via: "beacon", url, body: null };
      sent.push(entry);
      blob.text().then((text) => { entry.body = text; });
      return true;
    },
  },
  fetch: (url, options) => {
    sent.push({ via: "fetch", url, body: options && options.body });
    if (failNext) { failNext = false; return Promise.reject(new Error("offline")); }
    return Promise.resolve({ status: 202, ok: true, json: () => Promise.resolve({ items: [] }) });
  },
  addEventListener() {},
  crypto: require("crypto").webcrypto,
};
new Function("window", "document", src)(window, document);
const sw = window.storewise;
const posts = () => sent.filter((s) => s.url.endsWith("/v1/collect"))
  .map((s) => JSON.parse(s.body || "{}"));
const snap = (label) => ({ label, cookie: document.cookie, storage: Object.keys(storage),
  posts: posts() });
const out = [];
const tick = () => new Promise((r) => setTimeout(r, 0));
(async () => {
  sw.init({ key: "sw_test", endpoint: "https://reco.example/" });
  sw.track("view_item", { item_id: "A" });
  sw.identify("C-1", "sig-from-the-server");
  sw.flush();
  sw.consent({ analytics: false, personalization: false });
  sw.track("view_item", { item_id: "B" });
  sw.flush();
  await tick();
  out.push(snap("refused"));
  sw.consent({ analytics: true, personalization: true, marketing: false });
  sw.track("view_item", { item_id: "A", price: 2 });
  sw.track("purchase", { transaction_id: "T-1",
    items: [{ item_id: "A", price: 2, quantity: 1 }, { item_id: "B", price: 3 }] });
  failNext = true;
  sw.flush();
  await tick(); await tick();
  sw.flush();
  await tick(); await tick();
  out.push(snap("granted"));
  sw.identify("C-1", "sig-from-the-server");
  sw.flush();
  await tick(); await tick();
  sw.consent({ analytics: false });
  await tick(); await tick();
  out.push(snap("withdrawn"));
  let threw = null;
  try {
    sw.init(); sw.track(); sw.track(null, 5); sw.identify(); sw.consent("x"); sw.render(7);
  } catch (error) { threw = String(error); }
  out.push({ label: "threw", threw });
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})();
"""


@pytest.fixture(scope="module")
def steps() -> dict[str, Any]:
    done = subprocess.run(
        ["node", "-e", HARNESS],
        input=load_snippet().text,
        text=True,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return {step["label"]: step for step in json.loads(done.stdout)}


def test_nothing_is_sent_or_kept_before_consent(steps: dict[str, Any]) -> None:
    refused = steps["refused"]
    assert refused["cookie"] == "" and refused["storage"] == [] and refused["posts"] == []


def test_after_consent_batches_carry_client_ids_and_a_retry_keeps_them(
    steps: dict[str, Any],
) -> None:
    granted = steps["granted"]
    assert granted["cookie"].startswith("sw_aid=")
    first, retry = granted["posts"]  # the first attempt failed (offline), then the retry
    assert first["events"] == retry["events"]
    assert first["key"] == "sw_test" and first["anonymous_id"] == granted["cookie"][7:]
    rows = first["events"]
    assert [r["type"] for r in rows] == ["view_item", "purchase", "purchase"]
    assert rows[1]["event_id"].endswith(".0") and rows[2]["event_id"].endswith(".1")
    assert rows[1]["event_id"][:-2] == rows[2]["event_id"][:-2]
    assert {r["order_id"] for r in rows[1:]} == {"T-1"}
    assert len({r["event_id"] for r in rows}) == 3


def test_identify_carries_the_consent_and_withdrawal_clears_everything(
    steps: dict[str, Any],
) -> None:
    *_, login, withdrawal = steps["withdrawn"]["posts"]
    identify = login["events"][0]
    assert identify["type"] == "identify" and identify["customer_id"] == "C-1"
    assert identify["signature"] == "sig-from-the-server"
    assert identify["consent"] == {"analytics": True, "personalization": True, "marketing": False}
    # the withdrawal is recorded for the identified customer, then nothing is kept
    (row,) = withdrawal["events"]
    assert row["type"] == "consent" and row["consent"]["analytics"] is False
    assert withdrawal["anonymous_id"] == login["anonymous_id"]
    assert steps["withdrawn"]["cookie"] == "" and steps["withdrawn"]["storage"] == []


def test_no_public_function_throws(steps: dict[str, Any]) -> None:
    assert steps["threw"]["threw"] is None
