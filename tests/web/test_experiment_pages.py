"""The Experiments, Experiment and Recommendations pages over real served lists and feedback:
the figures the services give, the sample-ratio warning, the too-few-units message, and start
and stop only from a signed-in admin's form."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from storewise.app import Plan, Services, Variant
from storewise.errors import InputError
from storewise.web.charts import Interval, interval_chart, line_chart, signed_percent
from tests.web.conftest import sign_in
from tests.web.shop import Shop, csrf_of

CLICK_EVERY = {"control": 4, "popular": 2}  # the challenger's lists are clicked twice as often


@dataclass(frozen=True)
class Lab:
    """The experiments the tests read, built once on the shared shop."""

    even: str  # stopped, units as planned, clicks differ by variant
    skewed: str  # stopped, three times the planned control units
    empty: str  # running, nobody served yet


def counted_customers(services: Services) -> list[str]:
    """The shop's customers whose lists count in analyses (analytics not refused)."""
    store, policy = services.store, services.policy
    ids = sorted(store.customers()["customer_id"].to_list())
    return [c for c in ids if policy.allows(store.consent_of(c), "analytics")]


def run(
    services: Services, experiment_id: str, placement: str, per_variant: dict[str, int]
) -> None:
    """Serve ``per_variant`` customers of each variant one list (the variant each customer
    falls into is known from the experiment's hashing), report every list seen and a click
    on some, then stop the experiment so the placement is free for other tests."""
    experiments = services.experiments
    experiment = experiments.get(experiment_id)
    wanted = dict(per_variant)
    chosen: list[str] = []
    for customer in counted_customers(services):
        name = experiment.variant_for(customer).name
        if wanted.get(name, 0) > 0:
            wanted[name] -= 1
            chosen.append(customer)
    assert not any(wanted.values()), f"the shop has too few customers for {per_variant}"
    try:
        for i, customer in enumerate(chosen):
            answer = experiments.serve(
                placement,
                customer,
                lambda v, c=customer: services.serving.recommend(
                    c, 5, model=v.model if v else None
                ),
            )
            assert answer.experiment == experiment_id and answer.variant is not None
            rows = [{"recommendation_id": answer.recommendation_id, "kind": "impression"}]
            if i % CLICK_EVERY[answer.variant] == 0:
                item = answer.items[0].item_id
                rows.append(
                    {
                        "recommendation_id": answer.recommendation_id,
                        "kind": "click",
                        "item_id": item,
                    }
                )
            report = experiments.feedback(rows)
            assert not report.rejected, report.rejected
    finally:
        experiments.stop(experiment_id)


@pytest.fixture(scope="module")
def lab(shop: Shop) -> Lab:
    """Three experiments: an even one and a skewed one with lists and clicks, and one that
    runs with nobody served yet."""
    experiments = shop.services.experiments
    variants = [{"name": "control"}, {"name": "popular", "model": "popular"}]
    plan = Plan(primary_metric="clicked", guardrails=("clicks", "orders"))
    experiments.create(
        "web-even", placement="for-you", variants=variants, plan=plan, name="Popular picks",
        start=True,
    )  # fmt: skip
    run(shop.services, "web-even", "for-you", {"control": 30, "popular": 30})
    experiments.create("web-skewed", placement="guest", variants=variants, plan=plan, start=True)
    run(shop.services, "web-skewed", "guest", {"control": 45, "popular": 15})
    experiments.create("web-empty", placement="email", variants=variants, start=True)
    return Lab("web-even", "web-skewed", "web-empty")


def row_of(html: str, table_id: str, heading: str) -> str:
    """The text of the row headed ``heading`` in table ``table_id``, whitespace removed."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    for row in table.split("<tr")[1:]:
        if f">{heading}" in row.split("</th>", 1)[0]:
            return re.sub(r"\s+", "", row)
    raise AssertionError(f"no row {heading!r} in #{table_id}")


def test_experiments_page_lists_every_experiment(admin: TestClient, lab: Lab) -> None:
    response = admin.get("/experiments")
    assert response.status_code == 200
    html = response.text
    for experiment_id in (lab.even, lab.skewed, lab.empty):
        assert f'<a href="/experiments/{experiment_id}">{experiment_id}</a>' in html
    even = row_of(html, "experiments", lab.even)
    assert "stopped" in even and "for-you" in even and "Popularpicks" in even
    assert '<strong>control</strong><spanclass="share">50.0%</span>' in even
    assert "model<code>popular</code>" in even and "clicked" in even
    assert "guest" in row_of(html, "experiments", lab.skewed)
    empty = row_of(html, "experiments", lab.empty)
    assert "running" in empty and 'action="/experiments/web-empty/stop"' in empty
    assert 'Stop<spanclass="visually-hidden">experimentweb-empty</span>' in empty
    assert "/start" not in even and "/stop" not in even  # a stopped experiment is final
    assert '<a href="/experiments" aria-current="page">Experiments</a>' in html
    assert 'href="/recommendations"' in html  # in the navigation too
    assert "<script" not in html


def test_experiment_page_shows_units_metrics_and_charts(
    admin: TestClient, shop: Shop, lab: Lab
) -> None:
    results = shop.services.experiments.results(lab.even)
    response = admin.get(f"/experiments/{lab.even}")
    assert response.status_code == 200, response.text
    html = response.text
    assert f"<h1>Experiment {lab.even}</h1>" in html and "Popular picks" in html
    assert 'id="srm-warning"' not in html and "consistent with the planned split" in html
    assert results["units"] == {"control": 30, "popular": 30}
    for variant in ("control", "popular"):
        row = row_of(html, "units", variant)
        assert ">30<" in row and ">50.0%<" in row
    # the primary metric first, then the guardrails, each marked
    ids = re.findall(r'<tr id="metric-([a-z_]+)-popular"', html)
    assert ids[:3] == ["clicked", "clicks", "orders"] and len(ids) == len(results["metrics"])
    primary = results["metrics"]["clicked"]
    row = row_of(html, "metrics", "clicked")
    assert "primary</span>" in row and "guardrail" not in row
    assert "guardrail</span>" in row_of(html, "metrics", "clicks")
    assert f">{signed_percent(primary['relative_lift'])}<" in row
    low, high = (
        signed_percent(primary["relative_ci_low"]),
        signed_percent(primary["relative_ci_high"]),
    )
    assert f">{low}to{high}<" in row
    assert f"{primary['p_value']:.3f}" in row or "&lt;0.001" in row
    sequential = primary["sequential"]
    assert sequential["ci_low"] < primary["ci_low"] < primary["ci_high"] < sequential["ci_high"]
    assert primary["treatment"]["mean"] > primary["control"]["mean"]
    cuped = results["metrics"]["revenue"].get("cuped")
    assert cuped is not None  # revenue is CUPED-adjusted: the column shows its ratio or "-"
    # charts: the forest plot (primary first) and the cumulative lift, with their figures
    assert "Relative lift over control with its 95% interval, per metric</title>" in html
    assert '<g class="interval primary"><title>clicked:' in html
    assert "Cumulative relative lift of clicked over control</title>" in html
    last = results["cumulative"][-1]
    assert last["units"] == 60
    assert f">{signed_percent(last['lift']['popular'])}<" in row_of(
        html, "cumulative", str(last["day"])
    )
    assert '<a href="/experiments" aria-current="page">Experiments</a>' in html
    assert "<script" not in html and "style=" not in html


def test_sample_ratio_mismatch_is_a_prominent_warning(
    admin: TestClient, shop: Shop, lab: Lab
) -> None:
    results = shop.services.experiments.results(lab.skewed)
    assert results["srm_flag"] is True and results["units"] == {"control": 45, "popular": 15}
    html = admin.get(f"/experiments/{lab.skewed}").text
    warning = html.split('id="srm-warning"', 1)[1].split("</div>", 1)[0]
    assert 'role="alert"' in html.split('id="srm-warning"', 1)[0][-60:]
    assert "Sample ratio mismatch" in warning and "not trustworthy" in warning
    assert html.index('id="srm-warning"') < html.index('id="units"')  # before any figure
    assert ">75.0%<" in row_of(html, "units", "control") and ">50.0%<" in row_of(
        html, "units", "control"
    )


def test_too_few_units_shows_the_services_message(admin: TestClient, shop: Shop, lab: Lab) -> None:
    response = admin.get(f"/experiments/{lab.empty}")
    assert response.status_code == 200
    message = response.text.split('id="results-message">', 1)[1].split("</p>")[0]
    assert "fewer than two exposed units" in message
    with pytest.raises(InputError) as raised:
        shop.services.experiments.results(lab.empty)
    assert message == str(escape(raised.value.message))
    assert 'id="units"' not in response.text and 'id="metrics"' not in response.text


def test_unknown_experiment_is_a_friendly_404(admin: TestClient) -> None:
    response = admin.get("/experiments/no-such-experiment")
    assert response.status_code == 404
    assert "no experiment &#39;no-such-experiment&#39;" in response.text
    assert "Traceback" not in response.text


@pytest.fixture
def draft(shop: Shop) -> Iterator[str]:
    """A draft experiment on the trending placement (stopped afterwards if still running)."""
    experiments = shop.services.experiments
    variants = [Variant(name="control"), Variant(name="diverse", rules={"diversity": 0.3})]
    experiments.create("web-switch", placement="trending", variants=variants)
    yield "web-switch"
    if experiments.get("web-switch").status == "running":
        experiments.stop("web-switch")


def test_only_a_signed_in_admin_starts_and_stops(
    client: TestClient, shop: Shop, draft: str
) -> None:
    experiments = shop.services.experiments
    # no session: sent to sign in, nothing changes
    refused = client.post(f"/experiments/{draft}/start", data={"csrf_token": "x.y"})
    assert refused.status_code == 303 and "/sign-in" in refused.headers["location"]
    # a key without the admin scope cannot sign in, so it cannot start either
    form = client.get("/sign-in")
    read = client.post(
        "/sign-in", data={"api_key": shop.read_key, "csrf_token": csrf_of(form.text)}
    )
    assert read.status_code == 401
    again = client.post(f"/experiments/{draft}/start", data={"csrf_token": csrf_of(form.text)})
    assert again.status_code == 303 and "/sign-in" in again.headers["location"]
    assert experiments.get(draft).status == "draft"
    # an admin without the form's token: refused
    sign_in(client, shop.admin_key)
    forged = client.post(f"/experiments/{draft}/start", data={"csrf_token": "abc.def"})
    assert forged.status_code == 403 and "Form expired" in forged.text
    assert experiments.get(draft).status == "draft"
    # an admin's form starts it, then stops it, going back where the form was
    page = client.get("/experiments")
    row = page.text.split(f'id="experiment-{draft}"', 1)[1].split("</tr>", 1)[0]
    assert f'action="/experiments/{draft}/start"' in row
    token = csrf_of(page.text)
    started = client.post(
        f"/experiments/{draft}/start", data={"csrf_token": token, "back": "/experiments"}
    )
    assert started.status_code == 303 and started.headers["location"] == "/experiments"
    assert experiments.get(draft).status == "running"
    detail = client.get(f"/experiments/{draft}")
    assert 'id="experiment-status">running<' in detail.text
    stopped = client.post(
        f"/experiments/{draft}/stop", data={"csrf_token": token, "back": "//evil.example/x"}
    )
    assert stopped.status_code == 303 and stopped.headers["location"] == f"/experiments/{draft}"
    assert experiments.get(draft).status == "stopped"
    # stopping twice is the service's clear refusal, as a page
    twice = client.post(f"/experiments/{draft}/stop", data={"csrf_token": token})
    assert twice.status_code == 400 and "not running" in twice.text


def test_starting_beside_a_running_experiment_is_refused(
    admin: TestClient, shop: Shop, lab: Lab
) -> None:
    experiments = shop.services.experiments
    experiments.create(
        "web-rival", placement="email", variants=[{"name": "control"}, {"name": "b"}]
    )
    token = csrf_of(admin.get("/experiments").text)
    refused = admin.post("/experiments/web-rival/start", data={"csrf_token": token})
    assert refused.status_code == 400 and "already runs" in refused.text
    assert experiments.get("web-rival").status == "draft"


def test_recommendations_page_shows_placement_figures(
    admin: TestClient, shop: Shop, lab: Lab
) -> None:
    analytics = shop.services.experiments.analytics(days=7)
    response = admin.get("/recommendations?days=7")
    assert response.status_code == 200, response.text
    html = response.text
    assert 'aria-current="page">Recommendations</a>' in html
    assert '<option value="7" selected>' in html and '<label for="days">Period</label>' in html
    assert escape(analytics["attribution"]) in html
    placements = {r["placement"] for r in analytics["by_placement"]}
    assert {"for-you", "guest"} <= placements
    for figures in analytics["by_placement"]:
        row = row_of(html, "by-placement", figures["placement"])
        assert f">{figures['model_version']}<" in row
        for column in ("served", "impressions", "clicks"):
            assert f">{figures[column]:,}<" in row, column
        if figures["click_through_rate"] is not None:
            assert f">{figures['click_through_rate'] * 100:.1f}%<" in row
    for_you = next(r for r in analytics["by_placement"] if r["placement"] == "for-you")
    assert for_you["served"] >= 60 and for_you["impressions"] >= 60 and for_you["clicks"] > 0
    for title in (
        "Lists served per day",
        "Click-through rate per day",
        "Attributed revenue per day",
    ):
        assert f"{title}</title>" in html
    assert 'id="by-day"' in html and "<polyline" in html


@pytest.mark.parametrize("days", ["8", "lots", "0"])
def test_bad_period_is_a_friendly_400(admin: TestClient, days: str) -> None:
    response = admin.get(f"/recommendations?days={days}")
    assert response.status_code == 400 and "Check the input" in response.text


@pytest.mark.parametrize("path", ["/experiments", "/experiments/web-even", "/recommendations"])
def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")


def test_interval_chart_centres_zero_and_tells_undefined() -> None:
    svg = interval_chart(
        [
            Interval("clicked", 0.5, 0.1, 0.9, "primary"),
            Interval("orders", float("nan"), float("nan"), float("nan"), "guardrail"),
        ],
        title="Lift",
    )
    assert svg.startswith("<svg") and '<title id="' in svg and ">Lift</title>" in svg
    assert "<title>clicked: +50.0% [+10.0%, +90.0%]</title>" in svg
    assert "<title>orders: undefined</title>" in svg
    assert svg.count("<circle") == 1  # nothing drawn for an undefined estimate
    zero = re.search(r'<line class="zero" x1="([0-9.]+)"', svg)
    ticks = re.findall(r'class="chart-axis" x="([0-9.]+)"', svg)
    assert zero and math.isclose(float(zero.group(1)), float(ticks[2]))  # the middle tick
    assert "style=" not in svg


def test_line_chart_reaches_below_zero() -> None:
    svg = line_chart(["day 1", "day 2"], {"b": [-0.1, 0.2]}, title="Lift", fmt=signed_percent)
    labels = re.findall(r'text-anchor="end">([^<]+)<', svg)
    assert labels == ["-10.0%", "0%", "+10.0%", "+20.0%", "+30.0%"]
    assert '<line class="zero"' in svg
    plain = line_chart(["a", "b"], {"n": [1.0, 3.0]}, title="Counts")
    assert '<line class="zero"' not in plain  # only charts going below zero mark it
    assert re.findall(r'text-anchor="end">([^<]+)<', plain)[0] == "0"


def test_interleaving_page_shows_team_wins(admin: TestClient, shop: Shop, lab: Lab) -> None:
    experiments = shop.services.experiments
    variants = [{"name": "control"}, {"name": "popular", "model": "popular"}]
    experiments.create(
        "web-mix", placement="for-you", variants=variants, method="interleave", start=True
    )
    try:
        for customer in counted_customers(shop.services)[:20]:
            answer = experiments.serve(
                "for-you",
                customer,
                lambda v, c=customer: shop.services.serving.recommend(
                    c, 5, model=v.model if v else None
                ),
            )
            experiments.feedback(
                [
                    {"recommendation_id": answer.recommendation_id, "kind": "impression"},
                    {
                        "recommendation_id": answer.recommendation_id,
                        "kind": "click",
                        "item_id": answer.items[0].item_id,
                    },
                ]
            )
    finally:
        experiments.stop("web-mix")
    response = admin.get("/experiments/web-mix")
    assert response.status_code == 200
    assert "20 interleaved lists" in response.text
    wins = experiments.results("web-mix")["interleaving"]
    assert row_of(response.text, "interleaving", "control (A)").endswith(
        f'<tdclass="num">{wins["wins_a"]}</td></tr>'
    )
    assert 'id="interleaving-verdict"' in response.text and 'id="metrics"' not in response.text
