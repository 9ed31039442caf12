"""What serving through the experiments service costs, and whether a simulated experiment
finds the better variant at shop scale.

1. **Overhead.** A synthetic shop (``--customers`` customers, 1,000 items) is trained; then
   each customer is answered twice through the engine alone and twice through
   ``Experiments.serve`` with an A/B experiment running on for-you (consent read, sticky
   assignment, tagging, the buffered exposure log; the log written every 500 lists as in a
   server). The first answer of a customer is computed, the second comes from the engine's
   answer cache, so both the model's cost and the experiment path's own cost show.
2. **A simulated experiment** with a known truth: every customer is served once, views the
   list, and buys its first item with probability 20% in control and 22% in the treatment
   (a 10% relative lift); the analysis must report the lift with an interval covering it.

Usage::

    python -m benchmarks.experiments_serving [--customers 5000] [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.trained_shop import trained_shop
from storewise.app import (
    Settings,
    Variant,
    build,
)


def _percentiles(samples: list[float]) -> str:
    values = np.array(samples) * 1000
    return (
        f"p50 {np.percentile(values, 50):.2f} ms, p99 {np.percentile(values, 99):.2f} ms, "
        f"mean {values.mean():.2f} ms"
    )


def main() -> None:
    """Run both parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sw-exp-"))
    home = trained_shop(work, customers=args.customers, seed=4)
    with build(Settings(home=home)) as services:
        engine, experiments = services.serving, services.experiments
        customers = sorted(services.store.customers()["customer_id"].to_list())
        plain: dict[str, list[float]] = {"computed": [], "cached": []}
        for round_name in ("computed", "cached"):
            for customer in customers:
                t0 = time.perf_counter()
                engine.recommend(customer, 10)
                plain[round_name].append(time.perf_counter() - t0)
        experiments.create(
            "overhead",
            placement="for-you",
            variants=[Variant(name="control"), Variant(name="b", rules={"diversity": 0.2})],
            start=True,
        )
        served: dict[str, list[float]] = {"computed": [], "cached": []}
        for round_name in ("computed", "cached"):
            for customer in customers:
                t0 = time.perf_counter()
                experiments.serve(
                    "for-you",
                    customer,
                    lambda v, c=customer: engine.recommend(
                        c, 10, rules=v.rule_set() if v else None
                    ),
                )
                served[round_name].append(time.perf_counter() - t0)
        experiments.log.flush()
        print(f"customers: {len(customers)}")
        for round_name in ("computed", "cached"):
            print(f"engine alone, {round_name}: {_percentiles(plain[round_name])}")
            print(f"through experiments, {round_name}: {_percentiles(served[round_name])}")
        experiments.stop("overhead")

        experiments.create(
            "lift",
            placement="for-you",
            variants=[Variant(name="control"), Variant(name="treatment")],
            start=True,
        )
        rng = np.random.default_rng(9)
        rate = {"control": 0.20, "treatment": 0.22}
        rows = []
        for i, customer in enumerate(customers):
            answer = experiments.serve(
                "for-you", customer, lambda v, c=customer: engine.recommend(c, 10)
            )
            if answer.variant and rng.random() < rate[answer.variant] and answer.items:
                rows.append(
                    {
                        "event_id": f"bench-{i}",
                        "customer_id": customer,
                        "event_type": "purchase",
                        "item_id": answer.items[0].item_id,
                        "quantity": 1,
                        "price": 10.0,
                        "order_id": f"bench-o-{i}",
                        "timestamp": datetime.now(UTC).isoformat(),  # just after the exposure
                    }
                )
        for start in range(0, len(rows), 1000):
            services.ingest.records("events", rows[start : start + 1000])
        t0 = time.perf_counter()
        results = experiments.results("lift")
        print(f"results in {time.perf_counter() - t0:.2f} s; units {results['units']}")
        converted = results["metrics"]["converted"]
        print(
            f"converted: control {converted['control']['mean']:.4f}, treatment "
            f"{converted['treatment']['mean']:.4f}, lift {converted['absolute_lift']:+.4f} "
            f"[{converted['ci_low']:+.4f}, {converted['ci_high']:+.4f}], "
            f"p = {converted['p_value']:.3g}; true lift +0.0200 (only analytics-consenting "
            "customers are units)"
        )
        print(f"sample-ratio p = {results['srm_p_value']:.3g}")


if __name__ == "__main__":
    main()
