"""A demo shop (``storewise serve --demo-shop``): a few static pages that use ``storewise.js``
exactly as a shop's own pages would, over the store's catalog.

``/demo-shop/`` lists products with a "for you" and a "trending" widget, a consent banner
and a login form (its back end signs the login, then the page calls ``storewise.identify``);
``/demo-shop/items/{id}`` is a product page that tracks ``view_item``, shows "similar" and
"bought together" widgets and has a buy button that tracks the purchase. The pages stand in
for the shop's own site: the only thing they take from storewise besides the snippet is the
catalog, as a shop's site has it.
"""

from __future__ import annotations

import html
import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from starlette.responses import HTMLResponse, JSONResponse

from storewise.api.schemas import Id
from storewise.app import Services, split_key
from storewise.errors import InputError

router = APIRouter(prefix="/demo-shop", include_in_schema=False)

PRODUCTS_SHOWN = 24

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{display:flex;gap:1rem;align-items:center;justify-content:space-between;
  padding:.8rem 1.5rem;background:#1b3a4b;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:700}
main{max-width:70rem;margin:0 auto;padding:1rem 1.5rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem;display:block;
  color:inherit;text-decoration:none}
#consent{position:fixed;bottom:0;left:0;right:0;background:#fff;border-top:2px solid #1b3a4b;
  padding:1rem 1.5rem;display:none;gap:1rem;align-items:center}
section{margin:1.5rem 0}
[data-storewise]{--storewise-columns:4;--storewise-gap:14px;--storewise-accent:#b5361c;
  --storewise-image-ratio:2}
button{font:inherit;padding:.4rem .9rem;cursor:pointer}
"""

SCRIPT = """
(function () {
  var KEY = %(key)s;
  storewise.init({key: KEY, endpoint: location.origin});
  var choice = localStorage.getItem("demo_consent");
  var banner = document.getElementById("consent");
  function decide(yes) {
    storewise.consent({analytics: yes, personalization: yes, marketing: false});
    localStorage.setItem("demo_consent", yes ? "granted" : "refused");
    banner.style.display = "none";
  }
  if (choice === "granted") decide(true);
  else if (choice === "refused") decide(false);
  else banner.style.display = "flex";
  document.getElementById("accept").onclick = function () { decide(true); };
  document.getElementById("refuse").onclick = function () { decide(false); };
  var who = document.getElementById("who");
  var user = localStorage.getItem("demo_user");
  if (user) who.textContent = "signed in as " + user;
  document.getElementById("login").onsubmit = function (event) {
    event.preventDefault();
    var id = document.getElementById("customer").value.trim();
    if (!id) return;
    // the shop's own server signs the login; the page passes the signature on
    fetch("/demo-shop/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({customer_id: id})
    }).then(function (r) { return r.json(); }).then(function (signed) {
      storewise.identify(id, signed.signature);
      localStorage.setItem("demo_user", id);
      who.textContent = "signed in as " + id;
    });
  };
  document.getElementById("logout").onclick = function () {
    storewise.reset();
    localStorage.removeItem("demo_user");
    who.textContent = "";
  };
  %(page)s
})();
"""

PRODUCT_SCRIPT = """
  var ITEM = %(item)s;
  storewise.track("view_item", {item_id: ITEM.item_id, price: ITEM.price});
  document.getElementById("cart").onclick = function () {
    storewise.track("add_to_cart", {item_id: ITEM.item_id, price: ITEM.price, quantity: 1});
    document.getElementById("status").textContent = "added to your cart";
  };
  document.getElementById("buy").onclick = function () {
    storewise.track("purchase", {
      transaction_id: "demo-" + Date.now(),
      items: [{item_id: ITEM.item_id, price: ITEM.price, quantity: 1}]
    });
    storewise.flush();
    document.getElementById("status").textContent = "thank you for your order";
  };
"""


def _js(value: object) -> str:
    """A value as JavaScript inside a ``<script>`` element (no ``</script>`` breakout)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _money(item: dict[str, object]) -> str:
    price = item.get("price")
    return f"{price:.2f} {item.get('currency') or ''}".strip() if isinstance(price, float) else ""


def _page(request: Request, title: str, body: str, page_script: str = "") -> HTMLResponse:
    services: Services = request.app.state.services
    key: str = request.app.state.demo_shop_key
    version = services.collect.snippet().version
    script = SCRIPT % {"key": _js(key), "page": page_script}
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>{html.escape(title)} - storewise demo shop</title><style>{STYLE}</style></head>
<body>
<header><a href="/demo-shop/">storewise demo shop</a>
<form id="login"><label>Customer id <input id="customer" autocomplete="username"></label>
<button type="submit">Log in</button> <span id="who"></span>
<button type="button" id="logout">Log out</button></form></header>
<main>{body}</main>
<div id="consent" role="dialog" aria-label="Cookies and consent">
<span>We use a first-party cookie to recommend products from what you look at.</span>
<button id="accept">Accept</button><button id="refuse">Refuse</button></div>
<script src="/sdk/storewise.js?v={version}"></script>
<script>{script}</script>
</body></html>"""
    return HTMLResponse(document, headers={"Cache-Control": "no-store"})


def _card(item: dict[str, object]) -> str:
    item_id = str(item["item_id"])
    return (
        f'<a class="card" href="/demo-shop/items/{html.escape(item_id, quote=True)}">'
        f"<strong>{html.escape(str(item['title']))}</strong><br>{html.escape(_money(item))}</a>"
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The catalog page, with a "for you" and a "trending" widget."""
    services: Services = request.app.state.services
    products = services.collect.products(limit=PRODUCTS_SHOWN)
    cards = "".join(_card(p) for p in products)
    body = f"""
<section><h2>For you</h2>
<div id="for-you" data-storewise="for-you" data-n="8" data-href="/demo-shop/items/{{item_id}}">
</div></section>
<section><h2>Products</h2><div class="grid">{cards}</div></section>
<section><h2>Trending</h2>
<div id="trending" data-storewise="trending" data-n="4" data-href="/demo-shop/items/{{item_id}}">
</div></section>"""
    return _page(request, "Home", body)


class LoginIn(BaseModel):
    """The demo's login form: a customer id (the demo has no passwords)."""

    customer_id: Id


@router.post("/login")
def login(request: Request, body: LoginIn) -> JSONResponse:
    """The demo shop's back end at login: it signs the customer id with its publishable
    key's identity secret, as a shop's own server does, so the page can identify the
    visitor (storewise refuses an unsigned identify)."""
    services: Services = request.app.state.services
    parts = split_key(request.app.state.demo_shop_key)
    if parts is None:  # the demo creates its own well-formed key at start
        raise InputError("the demo shop has no publishable key")
    signature = services.collect.signer.sign(parts[0], body.customer_id)
    return JSONResponse({"signature": signature}, headers={"Cache-Control": "no-store"})


@router.get("/items/{item_id}", response_class=HTMLResponse)
def product(request: Request, item_id: Annotated[Id, Path()]) -> HTMLResponse:
    """A product page: tracks the view, has cart and buy buttons and two widgets."""
    services: Services = request.app.state.services
    item = services.collect.product(item_id)
    safe = html.escape(item_id, quote=True)
    body = f"""
<article class="card"><h1 id="title">{html.escape(str(item["title"]))}</h1>
<p id="price">{html.escape(_money(item))}</p>
<button id="cart">Add to cart</button> <button id="buy">Buy now</button>
<p id="status" role="status"></p></article>
<section><h2>Similar</h2>
<div id="similar" data-storewise="similar" data-item="{safe}" data-n="4"
 data-href="/demo-shop/items/{{item_id}}"></div></section>
<section><h2>Bought together</h2>
<div id="together" data-storewise="bought-together" data-items="{safe}" data-n="4"
 data-href="/demo-shop/items/{{item_id}}"></div></section>"""
    script = PRODUCT_SCRIPT % {
        "item": _js({"item_id": item["item_id"], "price": item.get("price")})
    }
    return _page(request, str(item["title"]), body, script)
