"""The dashboard router: sign-in, the pages, and their forms, over the services.

:func:`create_dashboard` returns a :class:`fastapi.APIRouter`; the API app includes it at the
root (``app.include_router(create_dashboard(lambda: services))``) so the dashboard answers at
``/`` beside ``/v1``. Every handler is a few lines: check the session, ask
:mod:`storewise.web.pages` (which asks the services), render a template. Errors become friendly
HTML pages here (never the API's JSON shape, never a traceback).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from storewise.errors import (
    ConsentError,
    InputError,
    NotFitted,
    NotFound,
    StorewiseError,
)
from storewise.web import pages
from storewise.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    Session,
    Signer,
    load_secret,
    same_origin,
    still_valid,
    verify_key,
)
from storewise.web.charts import number, signed_percent

if TYPE_CHECKING:
    from storewise.app import Services

log = logging.getLogger("storewise.web")

ServicesFactory = Callable[[], "Services"]
SESSION_HOURS = 8.0
STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NAV = (
    ("dashboard.overview", "Overview"),
    ("dashboard.customers", "Customers"),
    ("dashboard.segments", "Segments & campaigns"),
    ("dashboard.models", "Models"),
    ("dashboard.fairness", "Fairness"),
    ("dashboard.experiments", "Experiments"),
    ("dashboard.recommendations", "Recommendations"),
    ("dashboard.support", "Support"),
)
#: A navigation entry stays marked on the pages under it (a customer's, an experiment's).
NAV_SECTIONS = {
    "dashboard.customers": "dashboard.customer",
    "dashboard.experiments": "dashboard.experiment",
}


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return "-"


def _pct(value: Any) -> str:
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "-"


def _num(value: Any) -> str:
    if isinstance(value, Undefined):  # a figure the service left out (e.g. no CUPED)
        return "-"
    if isinstance(value, bool) or value is None:
        return str(value) if value is not None else "-"
    if isinstance(value, int | float):
        return number(float(value))
    return str(value)


def _p_value(value: Any) -> str:
    """A p-value to three places, tiny ones as ``< 0.001`` (more digits mean nothing)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return "-"
    return "<\u00a00.001" if value < 0.001 else f"{float(value):.3f}"  # one line, unbroken


def _signed(value: Any) -> str:
    """A relative lift as a signed percentage; ``-`` when the service left it undefined."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return signed_percent(float(value))


def _nav_active(name: str, current: str | None) -> bool:
    """Whether the navigation entry ``name`` is the section of the page ``current``."""
    if current is None:
        return False
    return current == name or current.startswith(NAV_SECTIONS.get(name, name + "."))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("storewise.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=_money, pct=_pct, num=_num, p_value=_p_value, signed=_signed)
    return env


def _analyse(services: Services) -> None:
    """Have the marketing service compute (and cache) its analysis; no purchases: nothing."""
    with contextlib.suppress(StorewiseError):
        services.marketing.segments()


def _status_of(exc: StorewiseError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotFitted):
        return 503
    if isinstance(exc, ConsentError):
        return 403
    if isinstance(exc, InputError):
        return 400
    return 500


def _local_path(target: str | None, fallback: str) -> str:
    """``target`` when it is a path on this site, else ``fallback`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


class Dashboard:
    """State shared by the dashboard's handlers: the services, the signer, templates, caches."""

    def __init__(
        self, services_factory: ServicesFactory, secret: bytes | None, session_hours: float
    ) -> None:
        self.services_factory = services_factory
        self._secret = secret
        self._signer: Signer | None = None
        self.session_seconds = int(session_hours * 3600)
        self.env = _environment()
        self.cache = pages.OverviewCache()
        self.audits = pages.OverviewCache(pages.AUDIT_CACHE_SECONDS)

    @property
    def services(self) -> Services:
        """The services to ask (the factory decides whether they are shared)."""
        return self.services_factory()

    @property
    def signer(self) -> Signer:
        """The cookie signer, keyed by the configured or the installation's secret."""
        if self._signer is None:
            services = self.services
            secret = self._secret or load_secret(services.settings.home)
            self._signer = Signer(secret, services.store_url)
        return self._signer

    # -- sessions and CSRF -----------------------------------------------------------------
    def session(self, request: Request) -> Session | None:
        """The verified session of a request, or None (also when its key was revoked)."""
        found = self.signer.read_session(request.cookies.get(SESSION_COOKIE))
        if found is None or not still_valid(self.services, found.admin.key_id):
            return None
        if self.services.keys.session_ended(found.csrf):  # signed out: the cookie is dead
            return None
        return found

    def csrf_ok(self, request: Request, token: str, session: Session | None) -> bool:
        """Double submit: the form token equals the cookie, is signed, and fits the session."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not token or token != cookie or not self.signer.csrf_ok(token):
            return False
        if session is not None and token != session.csrf:
            return False
        return same_origin(request.headers.get("origin"), request.headers.get("host"))

    def url(
        self, request: Request, route: str, /, query: dict[str, Any] | None = None, **params: str
    ) -> str:
        """The path of a dashboard route (relative to the site, with the mount prefix)."""
        path = request.url_for(route, **{k: quote(v, safe="") for k, v in params.items()}).path
        if query:
            path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return path

    # -- responses ---------------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        session: Session | None,
        status: int = 200,
        csrf: str | None = None,
    ) -> HTMLResponse:
        """A page from a template, with navigation, the CSRF token and security headers."""
        token = session.csrf if session is not None else csrf
        current = getattr(request.scope.get("route"), "name", None)
        html = self.env.get_template(template).render(
            request=request,
            session=session,
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            nav=[
                (self.url(request, name), label, _nav_active(name, current)) for name, label in NAV
            ],
            current=current,
            url=lambda route, /, query=None, **params: self.url(request, route, query, **params),
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if token:
            self._set_csrf_cookie(request, response, token)
        return response

    def _set_csrf_cookie(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def error(self, request: Request, exc: StorewiseError, session: Session | None) -> HTMLResponse:
        """A friendly error page for a storewise error."""
        status = _status_of(exc)
        titles = {
            404: "Not found",
            503: "Not ready yet",
            403: "Not allowed",
            400: "Check the input",
        }
        return self.render(
            request,
            "message.html",
            {"title": titles.get(status, "Something went wrong"), "message": exc.message},
            session=session,
            status=status,
        )

    def page(
        self,
        request: Request,
        build: Callable[[Services, Session], Response | tuple[str, dict[str, Any]]],
    ) -> Response:
        """Run a page: sign-in check, the builder, errors as pages, server time header."""
        started = time.perf_counter()
        try:
            session = self.session(request)
        except StorewiseError as exc:  # the store is down: say so, plainly
            return self.error(request, exc, None)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                self.url(request, "dashboard.sign_in", {"next": target}), status_code=303
            )
        try:
            result = build(self.services, session)
            response = (
                result
                if isinstance(result, Response)
                else self.render(request, result[0], result[1], session=session)
            )
        except StorewiseError as exc:
            response = self.error(request, exc, session)
        except Exception:
            route = request.scope.get("route")  # the template, never a customer's id
            log.exception("dashboard page %s failed", getattr(route, "path", "?"))
            response = self.render(
                request,
                "message.html",
                {
                    "title": "Something went wrong",
                    "message": "The page could not be shown; the server log has the details.",
                },
                session=session,
                status=500,
            )
        response.headers["Server-Timing"] = (
            f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
        )
        return response

    def warm(self) -> None:
        """Start computing the overview's figures and the marketing analysis (which
        customer pages need) in the background, while someone signs in."""
        try:
            services = self.services
            self.cache.warm(
                {**pages.store_figures(services), "marketing": lambda: _analyse(services)}
            )
        except Exception:  # warming is an optimisation; the page computes what is missing
            log.exception("warming the dashboard figures failed")

    def refuse_csrf(self, request: Request, session: Session | None) -> HTMLResponse:
        """The page shown when a form's CSRF token is missing or wrong."""
        fresh = session.csrf if session is not None else self.signer.new_csrf()
        return self.render(
            request,
            "message.html",
            {
                "title": "Form expired",
                "message": "This form was not sent from this dashboard or has expired; "
                "go back, reload the page and try again.",
            },
            session=session,
            status=403,
            csrf=fresh,
        )


def create_dashboard(
    services_factory: ServicesFactory,
    *,
    secret: bytes | str | None = None,
    session_hours: float = SESSION_HOURS,
) -> APIRouter:
    """The dashboard as a router to include in a FastAPI app (pages at ``/``).

    ``services_factory()`` returns the services to use (called per request; return shared ones).
    ``secret`` signs session cookies; by default a random secret kept in the installation's
    home folder (see :mod:`storewise.web.auth`).

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> app.include_router(create_dashboard(lambda: None, secret=b"x" * 32))  # doctest: +SKIP
    """
    key = secret.encode() if isinstance(secret, str) else secret
    board = Dashboard(services_factory, key, session_hours)
    router = APIRouter(include_in_schema=False)

    # -- assets and sign-in ------------------------------------------------------------------
    @router.get("/static/{name}", name="dashboard.static")
    def static(name: str) -> Response:
        """The stylesheet, shipped inside the package."""
        if name not in STATIC_FILES:
            return Response("not found", status_code=404, media_type="text/plain")
        body = resources.files("storewise.web").joinpath("static", name).read_bytes()
        return Response(
            body,
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/sign-in", name="dashboard.sign_in")
    def sign_in_form(request: Request, next: str | None = None) -> Response:
        """The sign-in form (a fresh CSRF token in a cookie and a hidden field)."""
        board.warm()
        return board.render(
            request,
            "sign_in.html",
            {"next": _local_path(next, ""), "failed": False},
            session=None,
            csrf=board.signer.new_csrf(),
        )

    @router.post("/sign-in", name="dashboard.sign_in_post")
    def sign_in(
        request: Request,
        api_key: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        """Check an admin key; on success start a session and go to the page asked for."""
        if not board.csrf_ok(request, csrf_token, None):
            return board.refuse_csrf(request, None)
        try:
            admin = verify_key(board.services, api_key)
        except StorewiseError as exc:
            return board.error(request, exc, None)
        if admin is None:
            return board.render(
                request,
                "sign_in.html",
                {"next": _local_path(next, ""), "failed": True},
                session=None,
                status=401,
                csrf=board.signer.new_csrf(),
            )
        token = board.signer.new_csrf()
        response = RedirectResponse(
            _local_path(next, board.url(request, "dashboard.overview")), status_code=303
        )
        response.set_cookie(
            SESSION_COOKIE,
            board.signer.make_session(admin, token, board.session_seconds),
            max_age=board.session_seconds,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        board._set_csrf_cookie(request, response, token)
        log.info("dashboard sign-in with key %s", admin.key_id)
        return response

    @router.post("/sign-out", name="dashboard.sign_out")
    def sign_out(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        """End the session."""
        session = board.session(request)
        if not board.csrf_ok(request, csrf_token, session):
            return board.refuse_csrf(request, session)
        if session is not None:  # ends it on the server too: a saved cookie no longer works
            board.services.keys.end_session(session.csrf, session.expires)
        response = RedirectResponse(board.url(request, "dashboard.sign_in"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    # -- pages -----------------------------------------------------------------------------------
    @router.get("/", name="dashboard.overview")
    def overview(request: Request) -> Response:
        """Data health, KPIs and the served model."""
        return board.page(request, lambda e, s: ("overview.html", pages.overview(e, board.cache)))

    @router.get("/customers", name="dashboard.customers")
    def customers(request: Request, q: str = "") -> Response:
        """Search customers by id; an exact match opens their page."""

        def build(services: Services, _s: Session) -> Response | tuple[str, dict[str, Any]]:
            found, matches = pages.find_customer(services, q)
            if found is not None:
                return RedirectResponse(
                    board.url(request, "dashboard.customer", customer_id=found), status_code=303
                )
            if q.strip() and not matches:
                raise NotFound(f"no customer with id {q.strip()!r}")
            return "customers.html", {"q": q, "matches": matches}

        return board.page(request, build)

    @router.get("/customers/{customer_id}", name="dashboard.customer")
    def customer(
        request: Request,
        customer_id: str,
        rules: str = "",
        exclude_purchased: str = "",
        in_stock_only: str = "",
        diversity: str = "0",
        n: str = "10",
    ) -> Response:
        """Customer 360 with rule toggles for the recommendation previews."""

        def build(services: Services, _s: Session) -> tuple[str, dict[str, Any]]:
            toggles = pages.RuleToggles.from_query(
                rules, exclude_purchased, in_stock_only, diversity, n
            )
            return "customer.html", pages.customer(services, customer_id, toggles)

        return board.page(request, build)

    @router.get("/customers/{customer_id}/export", name="dashboard.customer_export")
    def customer_export(request: Request, customer_id: str) -> Response:
        """Everything held about the customer, as a JSON download."""

        def build(services: Services, session: Session) -> Response:
            data = services.customers.export(customer_id, actor=session.admin.actor)
            filename = f"customer-{quote(customer_id, safe='')}.json"
            return JSONResponse(
                data,
                headers={
                    "Content-Disposition": f'attachment; filename="{filename}"',
                    "Cache-Control": "no-store",
                },
            )

        return board.page(request, build)

    @router.get("/customers/{customer_id}/erase", name="dashboard.customer_erase_confirm")
    def customer_erase_confirm(request: Request, customer_id: str) -> Response:
        """Ask for confirmation (typing the id) before erasing a customer."""

        def build(services: Services, _s: Session) -> tuple[str, dict[str, Any]]:
            if pages.find_customer(services, customer_id)[0] is None:
                raise NotFound(f"no customer with id {customer_id!r}")
            return "erase.html", {"customer_id": customer_id, "mismatch": False}

        return board.page(request, build)

    @router.post("/customers/{customer_id}/erase", name="dashboard.customer_erase")
    def customer_erase(
        request: Request,
        customer_id: str,
        confirm: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        """Erase the customer everywhere (store, caches, models) once confirmed."""

        def build(services: Services, session: Session) -> Response | tuple[str, dict[str, Any]]:
            if not board.csrf_ok(request, csrf_token, session):
                return board.refuse_csrf(request, session)
            if confirm.strip() != customer_id:
                return "erase.html", {"customer_id": customer_id, "mismatch": True}
            result = services.customers.erase(customer_id, actor=session.admin.actor)
            board.cache.clear()
            board.audits.clear()
            return "erased.html", {"result": result}

        return board.page(request, build)

    @router.get("/products/{item_id}", name="dashboard.product")
    def product(request: Request, item_id: str) -> Response:
        """Similar items, bought together, and who buys it (counts)."""
        return board.page(request, lambda e, s: ("product.html", pages.product(e, item_id)))

    @router.get("/segments", name="dashboard.segments")
    def segments(request: Request) -> Response:
        """Segment sizes and value, and the audience builder."""
        return board.page(request, lambda e, s: ("segments.html", pages.segments(e)))

    @router.post("/segments/audience", name="dashboard.audience")
    def audience(
        request: Request,
        segment: Annotated[str, Form()] = "",
        min_clv: Annotated[str, Form()] = "",
        n_items: Annotated[str, Form()] = "4",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        """Build a campaign audience and download it as CSV."""

        def build(services: Services, session: Session) -> Response:
            if not board.csrf_ok(request, csrf_token, session):
                return board.refuse_csrf(request, session)
            floor = pages.parse_number(min_clv, "minimum CLV") if min_clv.strip() else None
            picks = int(pages.parse_number(n_items, "items per customer", 0, 20, integer=True))
            text = pages.audience_csv(services, segment, floor, picks, actor=session.admin.actor)
            name = "audience-" + "".join(c if c.isalnum() else "-" for c in segment.lower())
            return Response(
                text,
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{name}.csv"',
                    "Cache-Control": "no-store",
                },
            )

        return board.page(request, build)

    @router.get("/models", name="dashboard.models")
    def models(request: Request) -> Response:
        """Evaluation per model and the training history."""
        return board.page(request, lambda e, s: ("models.html", pages.models(e)))

    @router.get("/fairness", name="dashboard.fairness")
    def fairness(
        request: Request,
        days: str = "30",
        long_tail_boost: str = "",
        calibration: str = "",
        max_per_category: str = "",
        max_per_brand: str = "",
        diversity: str = "",
    ) -> Response:
        """The fairness audit: exposure and quality per group, and rules to try."""

        def build(services: Services, _s: Session) -> tuple[str, dict[str, Any]]:
            knobs = pages.FairnessKnobs.from_query(
                days,
                long_tail_boost=long_tail_boost,
                calibration=calibration,
                max_per_category=max_per_category,
                max_per_brand=max_per_brand,
                diversity=diversity,
            )
            return "fairness.html", pages.fairness(services, board.audits, knobs)

        return board.page(request, build)

    @router.get("/experiments", name="dashboard.experiments")
    def experiments(request: Request) -> Response:
        """Every experiment with its status, placement, variants and split; start and stop."""
        return board.page(request, lambda e, s: ("experiments.html", pages.experiments(e)))

    @router.get("/experiments/{experiment_id}", name="dashboard.experiment")
    def experiment(request: Request, experiment_id: str) -> Response:
        """One experiment's results: units against the split, metrics, cumulative lift."""
        return board.page(
            request, lambda e, s: ("experiment.html", pages.experiment(e, experiment_id))
        )

    def change_experiment(
        request: Request, experiment_id: str, action: str, back: str, csrf_token: str
    ) -> Response:
        """Start or stop an experiment from a form, then go back to the page it came from."""

        def build(services: Services, session: Session) -> Response:
            if not board.csrf_ok(request, csrf_token, session):
                return board.refuse_csrf(request, session)
            change = services.experiments.start if action == "start" else services.experiments.stop
            change(experiment_id)
            log.info(
                "dashboard: key %s did %s on experiment %s",
                session.admin.key_id,
                action,
                experiment_id,
            )
            fallback = board.url(request, "dashboard.experiment", experiment_id=experiment_id)
            return RedirectResponse(_local_path(back, fallback), status_code=303)

        return board.page(request, build)

    @router.post("/experiments/{experiment_id}/start", name="dashboard.experiment_start")
    def experiment_start(
        request: Request,
        experiment_id: str,
        back: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        """Start a draft experiment (refused, with the reason, while another runs there)."""
        return change_experiment(request, experiment_id, "start", back, csrf_token)

    @router.post("/experiments/{experiment_id}/stop", name="dashboard.experiment_stop")
    def experiment_stop(
        request: Request,
        experiment_id: str,
        back: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        """Stop a running experiment: its traffic returns to the default, results stay."""
        return change_experiment(request, experiment_id, "stop", back, csrf_token)

    @router.get("/recommendations", name="dashboard.recommendations")
    def recommendations(request: Request, days: str = "30") -> Response:
        """What each placement and model version served, earned and was clicked, per day."""

        def build(services: Services, _s: Session) -> tuple[str, dict[str, Any]]:
            return "recommendations.html", pages.recommendation_analytics(
                services, pages.parse_days(days)
            )

        return board.page(request, build)

    @router.get("/support", name="dashboard.support")
    def support_form(request: Request, customer: str = "") -> Response:
        """The support console's form."""
        return board.page(
            request,
            lambda e, s: ("support.html", {"customer": customer, "message": "", "result": None}),
        )

    @router.post("/support", name="dashboard.support_ask")
    def support_ask(
        request: Request,
        customer: Annotated[str, Form()] = "",
        message: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        """Suggested answers and the context card for a customer's message."""

        def build(services: Services, session: Session) -> Response | tuple[str, dict[str, Any]]:
            if not board.csrf_ok(request, csrf_token, session):
                return board.refuse_csrf(request, session)
            result = pages.support(services, customer.strip() or None, message)
            return "support.html", {"customer": customer, "message": message, "result": result}

        return board.page(request, build)

    return router


__all__ = ["Dashboard", "create_dashboard"]
