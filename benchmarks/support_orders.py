"""Benchmark: does the support assistant pick the order and items a message names?

Run from the repository root: ``python -m benchmarks.support_orders``. It reads the
hand-written cases of ``tests/support/messages.jsonl`` (messages about real UCI Online Retail
customers' real orders, written for this test, none taken from Bitext), ingests those
customers' rows with the ``online-retail`` preset (cancellation invoices ``C...`` become
returns, as in a full import) plus the whole catalog into a temporary SQLite store, builds
each customer's card through :class:`SupportService` as of 10 December 2011 (the day after
the data ends, so the last orders are still on their way) and reports, for the starter
knowledge base (``demo_kb.md``), the Bitext corpus, and both merged:

* the named order or item matched (target at least 0.90), wrong-order answers (target 0),
  refunds of items the customer did not name;
* intent, order state and hand-over agreement (starter KB; the cases' intents are its labels);
* how many out-of-scope messages (a held-out list, not the KB's examples) go to a person;
* Bitext's held-out intent accuracy once the built-in out-of-scope examples join its training;
* every case the starter KB gets wrong, with the match explanation.

Data: UCI Online Retail (Chen, Sain & Guo 2012, CC BY 4.0) and the Bitext customer-support
sample (CDLA-Sharing-1.0), read from ``../shared/datasets/``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from storewise.errors import NotFound
from storewise.ingest.pipeline import ingest
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.results import RankedList
from storewise.store import SqlStore
from storewise.support import Assistant, CustomerCard, KnowledgeBase, read_kb, with_out_of_scope
from storewise.support.assistant import OUT_OF_SCOPE_KB
from storewise.support.intents import IntentModel, score_intents, split_examples
from storewise.support.order_eval import OrderEvalReport, read_cases, score_cases
from storewise.support.service import DEMO_KB, SupportService

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RETAIL = DATASETS / "online-retail" / "online_retail.csv.gz"
BITEXT = DATASETS / "customer-support" / "bitext_customer_support_sample.csv.gz"
CASES = ROOT / "tests" / "support" / "messages.jsonl"
#: The day after the last Online Retail invoice: the order states are those of that day.
AS_OF = datetime(2011, 12, 10, tzinfo=UTC)

#: Messages outside what a shop's support answers, never used as KB examples.
OUT_OF_SCOPE_HELD_OUT: list[str] = [
    "can you tell me the wi-fi code for the café",
    "is the shop's internet down? I can't connect",
    "do you have any vacancies for a part-time assistant",
    "will it rain in London on Saturday",
    "what's a good pub near your warehouse",
    "tell me something funny",
    "who is going to win the league this year",
    "can you solve this maths problem for me",
    "is there parking near your office",
    "which bus goes to the city centre",
    "can you order me a pizza",
    "what is the capital of Australia",
    "Wo ist meine Bestellung?",
    "Où est ma commande ?",
    "我的订单在哪里？",
    "asdf qwer zxcv",
]


class _NoPicks:
    """Serving port without a trained model: the card carries no recommendations."""

    def recommend(self, customer_id: str, n: int = 10) -> RankedList:
        raise NotFound("no model in this benchmark")

    def similar(self, item_id: str, n: int = 10) -> RankedList:
        raise NotFound("no model in this benchmark")


class _NoValue:
    """Marketing port without figures."""

    def customer_value(self, customer_id: str) -> dict[str, Any] | None:
        return None


def online_retail_cards(
    customer_ids: Iterable[str], folder: Path, *, path: Path = RETAIL, as_of: datetime = AS_OF
) -> dict[str, CustomerCard]:
    """Cards of some Online Retail customers, as the support service builds them after an
    import with the ``online-retail`` preset (their rows) and the whole catalog."""
    wanted = sorted(set(customer_ids))
    raw = pl.read_csv(path, infer_schema=False)
    rows = raw.filter(pl.col("CustomerID").is_in([f"{c}.0" for c in wanted] + wanted))
    catalog = (
        raw.filter(pl.col("Description").is_not_null())
        .group_by("StockCode")
        .agg(pl.col("Description").mode().sort().first().alias("title"))
        .rename({"StockCode": "item_id"})
        .sort("item_id")
    )
    folder.mkdir(parents=True, exist_ok=True)
    rows.write_csv(folder / "orders.csv")
    catalog.write_csv(folder / "items.csv")
    store = SqlStore.open(f"sqlite:///{folder / 'store.db'}")
    try:
        ingest(store, "items", [folder / "items.csv"])
        ingest(store, "orders", [folder / "orders.csv"], preset="online-retail")
        service = SupportService(
            store,
            _NoPicks(),
            _NoValue(),
            folder=folder / "support",
            policy=ConsentPolicy(),
            clock=lambda: as_of,
        )
        return {customer: service.card(customer) for customer in wanted}
    finally:
        store.close()


def _figures(name: str, report: OrderEvalReport, *, intents: bool) -> None:
    print(f"\n## {name}")
    print(
        f"named order or item matched   {report.matched}/{report.n_order_cases} = "
        f"{report.match_rate:.3f}   (target >= 0.90)"
    )
    print(
        f"wrong-order answers           {report.wrong_order}/{report.n_order_cases} = "
        f"{report.wrong_order_rate:.3f}   (target 0)"
    )
    print(f"refunds of items not named    {report.wrong_item_refunds}")
    if intents:
        n = report.n_cases
        print(f"intent (or hand-over) right   {round(report.intent_accuracy * n)}/{n}")
        print(f"hand-over right               {report.handoff_ok}/{n}")
        print(f"order state right             {report.status_ok}/{report.n_status}")
    kinds = ", ".join(f"{k} {hits}/{total}" for k, (hits, total) in report.by_kind.items())
    print(f"matched by kind: {kinds}")
    splits = ", ".join(f"{k} {hits}/{total}" for k, (hits, total) in report.by_split.items())
    print(f"matched by split: {splits}")


#: The starter KB's labels of the cases and the Bitext intents that answer the same request.
BITEXT_LABELS: dict[str, set[str]] = {
    "track_order": {"track_order", "delivery_period"},
    "return_item": {"get_refund"},
    "cancel_order": {"cancel_order"},
    "billing": {"payment_issue"},
}


def _bitext_intents(report: OrderEvalReport) -> tuple[int, int]:
    """Cases whose intent a Bitext-trained assistant got right (automatically): the starter
    label or its Bitext equivalent; out-of-scope cases must go to a person."""
    right = 0
    for r in report.results:
        if r.case.kind == "out_of_scope":
            right += r.handoff == "human"
        else:
            wanted = BITEXT_LABELS.get(r.case.intent, set()) | {r.case.intent}
            right += (r.intent in wanted) and not r.needs_human
    return right, len(report.results)


def _failures(report: OrderEvalReport) -> None:
    failures = report.failures()
    print(f"\ncases not fully right: {len(failures)}")
    for r in failures:
        case = r.case
        print(f"- {case.id} [{case.kind}] {case.message!r} (customer {case.customer_id})")
        print(
            f"    expected {case.order} {case.items} {case.intent} {case.status or ''}; got "
            f"{r.matched_order} {r.matched_items} {r.intent} {r.status or ''} "
            f"handoff {r.handoff}{' WRONG ORDER' if r.wrong_order else ''}"
            f"{' WRONG REFUND' if r.wrong_item_refund else ''}"
        )
        print(f"    match: {r.explanation}")


def _out_of_scope(assistant: Assistant, card: CustomerCard) -> tuple[int, list[str]]:
    leaked = []
    for message in OUT_OF_SCOPE_HELD_OUT:
        suggestion = assistant.suggest(message, card)
        if suggestion.handoff != "human":
            leaked.append(f"{message!r} -> {suggestion.intent} ({suggestion.confidence:.2f})")
    return len(OUT_OF_SCOPE_HELD_OUT) - len(leaked), leaked


def main() -> int:
    """Run the benchmark and print a report."""
    for path in (RETAIL, BITEXT):
        if not path.is_file():
            print(f"{path} not found; see shared/datasets/README.md")
            return 1
    cases = read_cases(CASES)
    customers = {c.customer_id for c in cases}
    print(f"{len(cases)} hand-written cases about {len(customers)} Online Retail customers")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        cards = online_retail_cards(customers, Path(folder))
    print(f"cards built through the online-retail import in {time.perf_counter() - start:.1f} s")
    starter = read_kb(DEMO_KB)
    bitext = read_kb(BITEXT)
    kbs: list[tuple[str, KnowledgeBase, bool]] = [
        (
            "Starter KB (demo_kb.md + built-in out-of-scope, as load-kb loads it)",
            with_out_of_scope(starter),
            True,
        ),
        ("Bitext KB as is", bitext, False),
        (
            "Bitext KB + built-in out-of-scope (as load-kb loads it)",
            with_out_of_scope(bitext),
            False,
        ),
        (
            "Bitext + starter KB (+ built-in out-of-scope)",
            with_out_of_scope(bitext.merge(starter)),
            False,
        ),
    ]
    starter_report: OrderEvalReport | None = None
    for name, kb, intents in kbs:
        assistant = Assistant.from_kb(kb)
        start = time.perf_counter()
        report = score_cases(assistant, cases, cards)
        elapsed = (time.perf_counter() - start) / len(cases) * 1000
        _figures(name, report, intents=intents)
        if not intents:
            right, total = _bitext_intents(report)
            print(f"intent, in Bitext's labels        {right}/{total}")
        print(f"suggest, mean over the cases  {elapsed:.1f} ms")
        routed, leaked = _out_of_scope(assistant, next(iter(cards.values())))
        total = len(OUT_OF_SCOPE_HELD_OUT)
        print(f"held-out out-of-scope messages handed to a person {routed}/{total}")
        for line in leaked:
            print(f"    not handed over: {line}")
        if intents:
            starter_report = report
    _bitext_held_out(bitext)
    if starter_report is not None:
        _failures(starter_report)
    return 0


def _bitext_held_out(bitext: KnowledgeBase) -> None:
    """Bitext's held-out intent accuracy (stratified 20%, seed 0, as support_intents) when the
    built-in out-of-scope examples join its training split, as `load-kb` adds them."""
    x_train, x_test, y_train, y_test = split_examples(bitext, test_size=0.2, seed=0)
    texts, labels = read_kb(OUT_OF_SCOPE_KB).examples()
    model = IntentModel().fit_texts([*x_train, *texts], [*y_train, *labels])
    report = score_intents(model, x_test, y_test)
    print("\n## Bitext held-out intents with the built-in out-of-scope examples in training")
    print(
        f"accuracy {report.accuracy:.4f} ({round(report.accuracy * report.n_test)}/"
        f"{report.n_test}), macro-F1 {report.macro_f1:.4f}, answered automatically "
        f"{report.answered_rate:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
