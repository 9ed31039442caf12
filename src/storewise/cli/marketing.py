"""``storewise segments | clv | offers ... | campaigns build``: marketing over the store.

Every command is a few lines over ``services.marketing`` (the
:class:`~storewise.marketing.service.MarketingService`); ``--json`` prints what the API returns.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from storewise.app import NO_OFFER_ID
from storewise.cli.common import console, err_console, guarded, print_json, state
from storewise.errors import InputError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class Unit(StrEnum):
    """Time unit of the CLV models."""

    day = "day"
    week = "week"


class Learner(StrEnum):
    """Uplift meta-learner."""

    t = "t"
    x = "x"


class Base(StrEnum):
    """Uplift base learner."""

    linear = "linear"
    hgb = "hgb"


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in values or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{option} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


# -- segments and CLV --------------------------------------------------------------------------
@guarded
def segments(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG chart of the segments here.")
    ] = None,
) -> None:
    """RFM segments as of the data's own latest day: customers, revenue, value, churn risk.

    Churn risk is the probability of no purchase in the next 90 days, checked on the shop's
    last 90 days. ``--json`` adds what each segment means, the clock rule and the checks.
    """
    with state(ctx).services() as services:
        result = services.marketing.segments()
        if plot is not None:
            services.marketing.save_segment_chart(result, plot)
    if plot is not None:
        err_console.print(f"chart written to {plot}")
    if as_json:
        print_json(result)
        return
    table = Table(
        "segment",
        "customers",
        "share",
        "revenue",
        "revenue share",
        "mean CLV",
        "churn risk (90 days)",
        title=f"RFM segments as of {result['as_of']} ({result['customers']:,} customers)",
    )
    for row in result["segments"]:
        table.add_row(
            row["name"],
            f"{row['customers']:,}",
            _share(row["share"]),
            _money(row["revenue"]),
            _share(row["revenue_share"]),
            _money(row["mean_clv"]),
            _share(row["mean_churn_risk"]),
        )
    console.print(table)
    if result["excluded_for_consent"]:
        console.print(f"{result['excluded_for_consent']:,} customers left out (analytics consent)")
    check = (result.get("churn") or {}).get("check")
    if check:
        console.print(
            f"churn risk checked on {check['window']}: predicted "
            f"{check['predicted_lapse_share']:.0%} lapsed, observed "
            f"{check['observed_lapse_share']:.0%} (mean gap by decile "
            f"{check['calibration_error'] * 100:.1f} points)"
        )
    _notes(result.get("warnings"), result.get("notes"), result["clv_note"])


def _notes(warnings: list[str] | None, notes: list[str | None] | None, *extra: str | None) -> None:
    """Print warnings (data problems) and notes (how figures were made) after a table."""
    for warning in warnings or []:
        console.print(f"[red]warning:[/] {warning}")
    for note in [*(notes or []), *extra]:
        if note:
            console.print(f"[yellow]note:[/] {note}")


@guarded
def clv(
    ctx: typer.Context,
    horizon: Annotated[
        int, typer.Option("--horizon", help="CLV horizon in days.", min=1, max=3650)
    ] = 365,
    fit_until: Annotated[
        str | None,
        typer.Option("--fit-until", help="Fit on purchases up to this day (YYYY-MM-DD)."),
    ] = None,
    time_unit: Annotated[Unit, typer.Option("--time-unit", help="Model time unit.")] = Unit.week,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Monthly discount rate.", min=0, max=0.99)
    ] = 0.01,
    as_json: JsonOpt = False,
) -> None:
    """Fit BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend); print parameters and CLV."""
    with state(ctx).services() as services:
        result = services.marketing.clv(
            horizon_days=horizon,
            fit_until=fit_until,
            time_unit=time_unit.value,
            discount_rate=discount_rate,
        )
    if as_json:
        print_json(result)
        return
    b, g = result["bgnbd"], result["gamma_gamma"]
    table = Table(title=f"CLV models fitted up to {result['fit_until']}", show_header=False)
    table.add_row(
        "customers (repeat buyers)", f"{result['customers']:,} ({result['repeat_customers']:,})"
    )
    table.add_row("time unit", result["time_unit"])
    table.add_row("BG/NBD r, alpha", f"{b['r']:.4g}, {b['alpha']:.4g}")
    table.add_row("BG/NBD a, b", f"{b['a']:.4g}, {b['b']:.4g}")
    table.add_row("BG/NBD log-likelihood", f"{b['log_likelihood']:.1f}")
    if g is not None:
        table.add_row("Gamma-Gamma p, q, gamma", f"{g['p']:.4g}, {g['q']:.4g}, {g['gamma']:.4g}")
    table.add_row(f"expected purchases, next {result['horizon_months']} months",
                  f"{result['expected_purchases_total']:,.1f}")  # fmt: skip
    if result["clv"] is not None:
        figures = result["clv"]
        table.add_row("CLV total / mean / median", " / ".join(
            _money(figures[k]) for k in ("total", "mean", "median")
        ))  # fmt: skip
        table.add_row("CLV share of the top 10%", _share(figures["top_decile_share"]))
    season = result.get("seasonality") or {}
    if season.get("applied"):
        table.add_row(
            "seasonal index",
            " ".join(f"{month} {factor:.2f}" for month, factor in season["factors"].items()),
        )
    console.print(table)
    _notes(result.get("warnings"), [season.get("note")], result["note"])


# -- offers ------------------------------------------------------------------------------------
offers_app = typer.Typer(
    help="The offer catalog, uplift models from past campaigns, bandit feedback, evaluation."
)


def _show_offers(offers: list[dict[str, Any]]) -> None:
    table = Table("id", "name", "discount", "cost per order", "cost per contact", "description")
    for o in offers:
        table.add_row(
            o["id"],
            o["name"],
            _share(o["discount"]),
            _money(o["cost_per_order"]),
            _money(o["cost_per_contact"]),
            o["description"],
        )
    console.print(table)


@offers_app.command("list")
@guarded
def list_offers(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The offer catalog (a default one until you set offers)."""
    with state(ctx).services() as services:
        offers = services.marketing.offers()
        info = services.marketing.offer_model_info()
        share = services.marketing.exploration_share()
    if as_json:
        print_json({"offers": offers, "uplift_model": info, "exploration_share": share})
        return
    _show_offers(offers)
    if info is None:
        console.print("no uplift model: offers are chosen by the bandit (Thompson sampling)")
    else:
        console.print(f"uplift model trained {info['trained_at']} on {info['rows']:,} rows")
    console.print(
        f"exploration share {share:.0%}: only these customers may get an offer not yet known to "
        "pay (change it with `storewise offers explore --share`)"
    )


@offers_app.command("explore")
@guarded
def explore(
    ctx: typer.Context,
    share: Annotated[
        float,
        typer.Option(
            "--share", help="Share of customers the bandit may explore with (0 to 0.5).", min=0
        ),
    ],
) -> None:
    """Set how many customers the bandit may show an offer it is not yet sure pays.

    Everyone else only gets an offer whose expected value is positive (or no offer).
    """
    with state(ctx).services() as services:
        value = services.marketing.set_exploration_share(share)
    console.print(f"exploration share set to {value:.0%}")


@offers_app.command("set")
@guarded
def set_offer(
    ctx: typer.Context,
    offer_id: Annotated[
        str | None, typer.Argument(help="Offer id to add or change, e.g. 15-percent-off.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name shown to marketers.")] = None,
    discount: Annotated[
        float | None, typer.Option("--discount", help="Share of order value given, e.g. 0.15.")
    ] = None,
    cost_per_order: Annotated[
        float | None, typer.Option("--cost-per-order", help="Fixed cost per order, e.g. shipping.")
    ] = None,
    cost_per_contact: Annotated[
        float | None, typer.Option("--cost-per-contact", help="Cost per customer offered.")
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the offer is.")
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Replace the catalog with this JSON file.")
    ] = None,
) -> None:
    """Add or change one offer, or replace the whole catalog from a JSON file."""
    with state(ctx).services() as services:
        service = services.marketing
        if from_file is not None:
            if offer_id is not None:
                raise InputError("give either an offer id or --from FILE, not both")
            if not from_file.is_file():
                raise InputError(f"{from_file}: no such file")
            try:
                data = json.loads(from_file.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise InputError(f"{from_file} is not JSON: {exc}") from None
            items = data.get("offers") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise InputError(f"{from_file} must hold a list of offers (or {{'offers': [...]}})")
            offers = service.replace_offers(items)
        else:
            if offer_id is None:
                raise InputError("give an offer id to set, or --from FILE")
            current = next((o for o in service.offers() if o["id"] == offer_id), None)
            given = {
                "name": name,
                "discount": discount,
                "cost_per_order": cost_per_order,
                "cost_per_contact": cost_per_contact,
                "description": description,
            }
            offer = dict(current or {"id": offer_id, "name": offer_id})
            offer.update({k: v for k, v in given.items() if v is not None})
            offers = service.set_offer(offer)
    _show_offers(offers)


@offers_app.command("remove")
@guarded
def remove_offer(
    ctx: typer.Context, offer_id: Annotated[str, typer.Argument(help="Offer id to remove.")]
) -> None:
    """Remove an offer from the catalog."""
    with state(ctx).services() as services:
        _show_offers(services.marketing.remove_offer(offer_id))


@offers_app.command("train")
@guarded
def train_offers(
    ctx: typer.Context,
    campaign: Annotated[Path, typer.Option("--campaign", help="Past campaign as CSV.")],
    treatment: Annotated[str, typer.Option("--treatment", help="Column: offer sent (or not).")],
    outcome: Annotated[str, typer.Option("--outcome", help="Column: 0/1 ordered afterwards.")],
    control: Annotated[
        str, typer.Option("--control", help="Treatment value meaning 'no offer'.")
    ] = NO_OFFER_ID,
    arm: Annotated[
        list[str] | None,
        typer.Option("--arm", help="Map a treatment value to an offer: VALUE=OFFER_ID."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Use a file column as a feature: COLUMN=FEATURE."),
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="Feature to use: recency_days, frequency, monetary."),
    ] = None,
    learner: Annotated[Learner, typer.Option("--learner", help="T- or X-learner.")] = Learner.t,
    base: Annotated[Base, typer.Option("--base", help="Base model.")] = Base.linear,
    as_json: JsonOpt = False,
) -> None:
    """Learn each offer's uplift over no offer from a past campaign with a control group."""
    with state(ctx).services() as services, console.status("training uplift models"):
        info = services.marketing.train_offer_model(
            campaign,
            treatment=treatment,
            outcome=outcome,
            control=control,
            arms=_pairs(arm, "--arm"),
            rename=_pairs(mapping, "--map"),
            features=feature or None,
            learner=learner.value,
            base=base.value,
        )
    if as_json:
        print_json(info)
        return
    table = Table(
        "offer",
        "rows",
        "average effect",
        "uplift in top 30%",
        "Qini",
        "beats random",
        title=f"uplift models ({info['learner']}-learner, {info['base']}) on "
        f"{info['rows']:,} rows, features {', '.join(info['features'])}; held-out scores",
    )
    for offer, r in info["report"].items():
        table.add_row(
            offer,
            f"{r['rows']:,}",
            f"{r['ate']:+.4f}",
            f"{r['uplift_at_30pct']:+.4f}",
            f"{r['qini_coefficient']:+.5f}",
            "yes" if r["beats_random"] else "[red]no[/]",
        )
    console.print(table)
    for note in info["notes"]:
        console.print(f"[yellow]note:[/] {note}")


@offers_app.command("evaluate")
@guarded
def evaluate_offers(
    ctx: typer.Context,
    log: Annotated[Path, typer.Option("--log", help="Logged decisions as CSV.")],
    action: Annotated[str, typer.Option("--action", help="Column: offer id shown.")] = "offer",
    reward: Annotated[str, typer.Option("--reward", help="Column: reward observed.")] = "reward",
    propensity: Annotated[
        str, typer.Option("--propensity", help="Column: logging probability of that offer.")
    ] = "propensity",
    customer: Annotated[
        str, typer.Option("--customer", help="Column: customer id.")
    ] = "customer_id",
    policy_column: Annotated[
        str | None,
        typer.Option("--policy-column", help="Column: offer the new policy picks (default: ours)."),
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="Numeric column for the DR reward model (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Off-policy value of a policy on logged offers: IPS, self-normalised IPS, doubly robust."""
    with state(ctx).services() as services:
        result = services.marketing.evaluate_offer_policy(
            log,
            action=action,
            reward=reward,
            propensity=propensity,
            customer=customer,
            policy_column=policy_column,
            features=feature or (),
        )
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"{result['policy']} on {result['n']:,} logged decisions", show_header=False
    )
    table.add_row("value under the logging policy", f"{result['logged_value']:.5f}")
    for key, label in (("ips", "IPS"), ("snips", "self-normalised IPS"), ("dr", "doubly robust")):
        table.add_row(f"estimated value ({label})", f"{result[key]:.5f}")
    table.add_row("effective sample size", f"{result['effective_sample_size']:,.1f}")
    table.add_row("largest weight", f"{result['max_weight']:.2f}")
    console.print(table)


@offers_app.command("respond")
@guarded
def respond(
    ctx: typer.Context,
    offer_id: Annotated[str, typer.Argument(help="The offer shown.")],
    customer_id: Annotated[str, typer.Argument(help="The customer it was shown to.")],
    converted: Annotated[
        bool, typer.Option("--converted/--not-converted", help="Whether the customer ordered.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Record one response to an offer, so the bandit learns (the API's POST does the same)."""
    with state(ctx).services() as services:
        result = services.marketing.record_offer_response(offer_id, customer_id, converted)
    if as_json:
        print_json(result)
        return
    table = Table("offer", "responses", "conversions", "rate", title=f"segment {result['segment']}")
    for name, p in result["posterior"].items():
        table.add_row(name, f"{p['responses']:g}", f"{p['conversions']:g}", f"{p['rate']:.1%}")
    console.print(table)


@offers_app.command("pick")
@guarded
def pick(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    as_json: JsonOpt = False,
) -> None:
    """The next-best offer for one customer, with its expected value and why."""
    with state(ctx).services() as services:
        result = services.marketing.next_best_offer(customer_id)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['name']} ({result['offer_id']}): expected value {result['expected_value']:.2f} "
        f"by {result['policy']}{' (exploring)' if result.get('exploring') else ''}; "
        f"{result['reason']}"
    )


# -- campaigns ---------------------------------------------------------------------------------
campaigns_app = typer.Typer(
    help="Campaign audiences for e-mail tools and ad platforms (marketing consent only)."
)


class Format(StrEnum):
    """Audience file format."""

    mailchimp = "mailchimp"
    google = "google"
    meta = "meta"


@campaigns_app.command("build")
@guarded
def build(
    ctx: typer.Context,
    segment: Annotated[
        str | None, typer.Option("--segment", help="RFM segment, e.g. 'At risk'.")
    ] = None,
    min_clv: Annotated[
        float | None, typer.Option("--min-clv", help="Only customers worth at least this.")
    ] = None,
    n_items: Annotated[
        int, typer.Option("--n-items", help="Product picks per customer.", min=0, max=20)
    ] = 4,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many customers.", min=1)
    ] = None,
    offer: Annotated[
        bool, typer.Option("--offer/--no-offer", help="Choose a next-best offer per customer.")
    ] = True,
    email_only: Annotated[
        bool, typer.Option("--email-only", help="Only customers with an e-mail address.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV file to write (default: standard output).")
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            help="mailchimp: CSV for Mailchimp/Klaviyo with offer and picks; google: Customer "
            "Match list; meta: custom audience list (both SHA-256-hashed e-mails only).",
        ),
    ] = Format.mailchimp,
    as_json: JsonOpt = False,
) -> None:
    """Customers to contact (explicit marketing consent only) with offer and personal picks.

    First CSV column: "Email Address", which Mailchimp and Klaviyo import as the e-mail.
    Customers without an e-mail keep an empty cell unless --email-only. With --format google
    or meta the file holds only normalised, SHA-256-hashed e-mails under the header the
    platform expects ("Email" for Google Customer Match, "email" for Meta).
    """
    with state(ctx).services() as services:
        audience = services.marketing.build_audience(
            segment=segment,
            min_clv=min_clv,
            n_items=n_items,
            limit=limit,
            offer=offer,
            actor="cli",
            email_only=email_only,
            fmt=fmt.value,
        )
    note = audience.summary.get("note")
    if as_json:
        print_json(audience.rows)
        if note:
            err_console.print(f"note: {note}")
        return
    if out is None:
        audience.write(sys.stdout)
    else:
        written = audience.save(out)
        if fmt is Format.mailchimp:
            emails = sum(1 for r in audience.rows if r["email"])
            detail = f"{emails:,} with an e-mail address"
        else:
            detail = f"hashed e-mails for {fmt.value}"
        err_console.print(f"wrote {written:,} customers ({detail}) to {out}")
    if note:
        err_console.print(f"note: {note}")


__all__ = ["campaigns_app", "clv", "offers_app", "segments"]
