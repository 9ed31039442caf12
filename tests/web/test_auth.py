"""Sign-in, sessions and CSRF: what a browser without the right cookie or token gets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from storewise.web.auth import CSRF_COOKIE, SESSION_COOKIE, Admin, Signer
from tests.web.conftest import sign_in
from tests.web.shop import SECRET, Shop, csrf_of

PAGES = ["/", "/customers", "/customers/C000001", "/products/I00001", "/segments", "/models"]


@pytest.mark.parametrize("path", [*PAGES, "/support"])
def test_no_session_redirects_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


def test_sign_in_returns_to_the_page_asked_for(client: TestClient, shop: Shop) -> None:
    first = client.get("/models")
    form = client.get(first.headers["location"])
    assert 'name="next" value="/models"' in form.text
    done = client.post(
        "/sign-in",
        data={"api_key": shop.admin_key, "csrf_token": csrf_of(form.text), "next": "/models"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/models"
    assert client.get("/models").status_code == 200


def test_session_cookie_is_httponly_lax_and_holds_no_key(client: TestClient, shop: Shop) -> None:
    form = client.get("/sign-in")
    done = client.post(
        "/sign-in", data={"api_key": shop.admin_key, "csrf_token": csrf_of(form.text)}
    )
    cookies = done.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    secret_part = shop.admin_key.split("_", 2)[2]  # sw_<id>_<secret>; "_" may occur in it
    assert secret_part not in session and shop.admin_key not in session


@pytest.mark.parametrize("key", ["", "nonsense", "sw_000000000000_" + "x" * 43])
def test_bad_key_is_refused_with_a_message(client: TestClient, key: str) -> None:
    form = client.get("/sign-in")
    response = client.post("/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text)})
    assert response.status_code == 401
    assert "unknown, revoked, or lacks the admin scope" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert client.get("/").status_code == 303


def test_key_without_admin_scope_is_refused(client: TestClient, shop: Shop) -> None:
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in", data={"api_key": shop.read_key, "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 401


def test_sign_in_without_csrf_token_is_refused(client: TestClient, shop: Shop) -> None:
    client.get("/sign-in")
    response = client.post("/sign-in", data={"api_key": shop.admin_key})
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert SESSION_COOKIE not in response.cookies


def test_sign_in_with_a_token_not_matching_the_cookie_is_refused(
    client: TestClient, shop: Shop
) -> None:
    client.get("/sign-in")
    forged = Signer(SECRET, shop.services.store.url).new_csrf()  # valid, but not this browser's
    response = client.post("/sign-in", data={"api_key": shop.admin_key, "csrf_token": forged})
    assert response.status_code == 403


def test_cross_origin_post_is_refused(client: TestClient, shop: Shop) -> None:
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"api_key": shop.admin_key, "csrf_token": csrf_of(form.text)},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_forms_need_the_sessions_csrf_token(admin: TestClient, shop: Shop) -> None:
    missing = admin.post("/support", data={"message": "where is my order?"})
    assert missing.status_code == 403
    wrong = admin.post("/support", data={"message": "where is my order?", "csrf_token": "abc.def"})
    assert wrong.status_code == 403
    erase = admin.post(f"/customers/{shop.buyer}/erase", data={"confirm": shop.buyer})
    assert erase.status_code == 403
    assert shop.services.store.customer(shop.buyer) is not None  # nothing was erased


def test_tampered_session_cookie_is_ignored(admin: TestClient) -> None:
    value = admin.cookies[SESSION_COOKIE]
    admin.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert admin.get("/").status_code == 303


def test_expired_session_is_ignored(client: TestClient, shop: Shop) -> None:
    signer = Signer(SECRET, shop.services.store.url)
    token = signer.new_csrf()
    info = shop.services.keys.verify(shop.admin_key)
    assert info is not None
    client.cookies.set(SESSION_COOKIE, signer.make_session(Admin(info.key_id), token, -10))
    assert client.get("/").status_code == 303


def test_revoking_the_key_ends_the_session(client: TestClient, shop: Shop) -> None:
    created = shop.services.keys.create(["admin"], name="short-lived")
    sign_in(client, created.key)
    assert client.get("/").status_code == 200
    shop.services.keys.revoke(created.info.key_id)
    assert client.get("/").status_code == 303


def test_sign_out_clears_the_session(admin: TestClient) -> None:
    page = admin.get("/models")
    done = admin.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    admin.cookies.delete(SESSION_COOKIE)  # the browser obeys the expiry in the answer
    assert admin.get("/").status_code == 303


def test_a_saved_cookie_stops_working_after_sign_out(admin: TestClient) -> None:
    """Signing out ends the session on the server: replaying the old cookie is refused."""
    page = admin.get("/models")
    saved = admin.cookies.get(SESSION_COOKIE)
    assert saved
    admin.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    admin.cookies.set(SESSION_COOKIE, saved)  # an attacker replays the copied cookie
    response = admin.get("/models")
    assert response.status_code == 303 and "/sign-in" in response.headers["location"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil"])
def test_no_open_redirect_after_sign_in(client: TestClient, shop: Shop, target: str) -> None:
    form = client.get("/sign-in")
    done = client.post(
        "/sign-in",
        data={"api_key": shop.admin_key, "csrf_token": csrf_of(form.text), "next": target},
    )
    assert done.headers["location"] == "/"


def test_csrf_cookie_is_set_with_the_form(client: TestClient) -> None:
    form = client.get("/sign-in")
    assert client.cookies[CSRF_COOKIE] == csrf_of(form.text)
