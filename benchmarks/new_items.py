"""How soon items added after training reach a shopper: the exploration share, measured.

A synthetic shop (``--customers`` customers, 1,000 items) is trained; then 50 new products
arrive (``PUT /v1/items``'s path, ``Ingest.records``), and one simulated day of for-you
traffic follows: ``--requests`` requests from customers drawn at random (a shop's day), each
served through the experiments service as the API serves it, every list seen. For each
exploration share the figure is how many of the 50 new items got at least one impression
that day, and after how many requests half of them had. Without exploration a for-you list
cannot show an item the models never saw, so the first row is the baseline.

Usage::

    python -m benchmarks.new_items [--customers 3000] [--requests 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.trained_shop import trained_shop
from storewise.app import (
    Experiments,
    Settings,
    Variant,
    build,
)

SHARES = (0.0, 0.02, 0.05, 0.10)
NEW_ITEMS = 50


def main() -> None:
    """Train once, add the new items, simulate a day per exploration share, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sw-new-"))
    home = trained_shop(work, customers=args.customers, seed=6)
    with build(Settings(home=home)) as services:
        engine = services.serving
        already = len(engine.unseen_items())
        new = [
            {"item_id": f"NEW-{i:03d}", "title": f"New arrival {i}", "price": 15.0}
            for i in range(NEW_ITEMS)
        ]
        services.ingest.records("items", new)
        customers = services.store.customers()["customer_id"].to_list()
        print(
            f"{len(customers)} customers, {NEW_ITEMS} new items (+{already} products the "
            f"models never saw before), {args.requests} for-you requests of 10 items"
        )
        print("| explore_share | new items shown that day | requests until half were shown |")
        print("|---|---|---|")
        for share in SHARES:
            experiments = Experiments(
                services.store,
                policy=services.policy,
                explore_share=share,
                rng=np.random.default_rng(1),
                lists=engine,
            )
            picks = np.random.default_rng(2).choice(customers, size=args.requests)
            first_seen: dict[str, int] = {}
            started = time.perf_counter()
            for request, customer in enumerate(picks.tolist()):

                def produce(v: Variant | None, extra: int = 0, c: str = customer):  # type: ignore[no-untyped-def]
                    return engine.recommend(c, 10 + extra)

                answer = experiments.serve("for-you", customer, produce, extend=produce)
                for item in answer.item_ids:
                    if item.startswith("NEW-"):
                        first_seen.setdefault(item, request + 1)
            seconds = time.perf_counter() - started
            half = (
                sorted(first_seen.values())[NEW_ITEMS // 2 - 1]
                if len(first_seen) >= NEW_ITEMS // 2
                else None
            )
            print(
                f"| {share:.2f} | {len(first_seen)} of {NEW_ITEMS} | "
                f"{half if half is not None else 'never'} | ({seconds:.1f} s)"
            )


if __name__ == "__main__":
    main()
