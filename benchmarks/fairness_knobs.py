"""Each serving fairness control's accuracy cost against its fairness gain, on the retail
protocol's split of Online Retail.

Trains exactly as :mod:`benchmarks.retail_protocol` does (its cleaning, its split at
2011-11-01, ``storewise ingest orders train.csv --preset generic`` and ``storewise train``
through the CLI), so the baseline row is the protocol's discovery figure. Online Retail has
no categories or brands, so after training (the model never sees them) each item gets:

- a **category**, its product type from the description: the first of the keyword groups in
  :data:`PRODUCT_TYPES` whose word it contains (``other`` when none);
- a **brand stand-in**, its stock code's first three digits (the shop's code ranges, 111
  values of about 90 items each, much like brands), only to measure what a brand cap costs.

Then every test customer of the discovery scenario gets a "for you" list from the served
engine (``Engine.recommend_many``, as ``storewise recommend`` does) under each setting, and
the lists are scored with the protocol's metrics and the fairness figures of
:mod:`storewise.evaluate.fairness`'s definitions (head = the served popular model's most
popular items making 20% of interactions). Usage::

    python -m benchmarks.fairness_knobs [--work DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.retail_protocol import (
    DATA,
    REPO,
    clean,
    run,
    score,
    truth_sets,
    write_train_csv,
)
from storewise.app import RuleSet, Settings, build, single_threaded_blas
from storewise.evaluate.metrics import gini, miscalibration, ndcg

#: Product types by keyword, first match wins (Online Retail descriptions are upper case).
PRODUCT_TYPES: dict[str, str] = {
    "jewellery": "NECKLACE BRACELET EARRINGS RING CHARM BEAD BEADED DIAMANTE HAIR",
    "bags": "BAG BAGS PURSE SHOPPER HANDBAG",
    "candles & lights": "CANDLE CANDLES LIGHT LIGHTS LANTERN INCENSE",
    "cards & wrap": "CARD CARDS WRAP PAPER ENVELOPE TAGS RIBBON RIBBONS TISSUE TISSUES TAPE",
    "kitchen & table": "MUG CUP CUPS BOWL PLATE PLATES CUTLERY TEA COFFEE JAR BOTTLE TRAY TIN "
    "TINS LUNCH CAKE BAKING NAPKINS TEAPOT KITCHEN PANTRY JUG SPOON CASES DISH PAN",
    "stationery": "NOTEBOOK PEN PENCIL PENCILS STICKERS BOOK MAGNETS",
    "toys & kids": "DOLLY TOY GAME JIGSAW CHILDRENS SPACEBOY FELTCRAFT SEWING KIT",
    "garden": "GARDEN PLANT WATERING POT PLANTER",
    "home furnishing": "CUSHION COVER CLOCK MIRROR FRAME DOORMAT SIGN DRAWER CABINET HOOK "
    "STORAGE TABLE SHELF PLAQUE HOLDER BOX BOXES BASKET DOORSTOP RACK TRINKET WALL TILE",
    "decorations": "DECORATION GARLAND BUNTING ORNAMENT WREATH TREE HANGING CHRISTMAS EASTER",
}
#: The settings measured: the baseline, then each control alone at a few strengths.
SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("baseline (no rules)", {}),
    *((f"long_tail_boost {v}", {"long_tail_boost": v}) for v in (0.1, 0.2, 0.3, 0.5)),
    *((f"calibration {v}", {"calibration": v}) for v in (0.1, 0.3, 0.5, 0.9)),
    *((f"max_per_category {v}", {"max_per_category": v}) for v in (5, 3, 2)),
    *((f"max_per_brand {v} (code range)", {"max_per_brand": v}) for v in (5, 3, 2)),
    *((f"diversity {v} (MMR, existing)", {"diversity": v}) for v in (0.3, 0.6)),
)


def product_type(description: str | None) -> str:
    """The first keyword group a description names, else ``other``."""
    words = set(re.findall(r"[A-Z]+", (description or "").upper()))
    for name, keywords in PRODUCT_TYPES.items():
        if words.intersection(keywords.split()):
            return name
    return "other"


def item_facts(frame: pl.DataFrame) -> pl.DataFrame:
    """item_id, category (product type) and brand (code-range stand-in) per item."""
    described = frame.group_by("item_id").agg(
        pl.col("Description").drop_nulls().mode().sort().first().alias("description")
    )
    return described.select(
        "item_id",
        pl.col("description").map_elements(product_type, return_dtype=pl.Utf8).alias("category"),
        pl.col("item_id").str.slice(0, 3).alias("brand"),
    )


def prepare(work: Path, frame: pl.DataFrame, cutoff: str, reuse: bool) -> Path:
    """Ingest and train through the CLI as the retail protocol does; returns the home."""
    home = work / "home"
    if reuse and (home / "models").exists():
        return home
    work.mkdir(parents=True, exist_ok=True)
    write_train_csv(frame, cutoff, work / "train.csv")
    env = dict(os.environ, STOREWISE_HOME=str(home))
    cli = [sys.executable, "-m", "storewise.cli.main"]
    for name, cmd in {
        "ingest": [*cli, "ingest", "orders", str(work / "train.csv"), "--preset", "generic", "-q"],
        "train": [*cli, "train"],
    }.items():
        seconds, peak = run(cmd, env)
        print(f"{name}: {seconds:.1f}s, peak RSS {peak} MB", flush=True)
    return home


def fairness_figures(
    lists: dict[str, list[int]],
    popularity: np.ndarray,
    head: np.ndarray,
    categories: np.ndarray,
    brands: np.ndarray,
    mixes: dict[str, list[str]],
) -> dict[str, float]:
    """ARP, long-tail share, Gini of exposure, miscalibration and concentration of lists."""
    flat = np.asarray([i for items in lists.values() for i in items], dtype=np.int64)
    exposure = np.bincount(flat, minlength=popularity.size)
    interacted = popularity > 0
    top_category, top_brand, miscal = [], [], []
    for customer, items in lists.items():
        if not items:
            continue
        top_category.append(Counter(categories[items].tolist()).most_common(1)[0][1] / len(items))
        top_brand.append(Counter(brands[items].tolist()).most_common(1)[0][1] / len(items))
        if mixes.get(customer):
            miscal.append(miscalibration(mixes[customer], categories[items].tolist()))
    return {
        "arp": float(np.mean([popularity[items].mean() for items in lists.values() if items])),
        "long_tail_share": float(np.mean(~head[flat])),
        "gini": gini(exposure[interacted]),
        "miscalibration": float(np.mean(miscal)),
        "top_category_share": float(np.mean(top_category)),
        "top_brand_share": float(np.mean(top_brand)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "fairness")
    parser.add_argument("--cutoff", default="2011-11-01")
    parser.add_argument("--reuse", action="store_true", help="Keep a home trained before.")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    single_threaded_blas()
    frame = clean(DATA)
    discovery, _, known = truth_sets(frame, args.cutoff)
    home = prepare(args.work, frame, args.cutoff, args.reuse)
    facts = item_facts(frame)
    with build(Settings(home=home)) as services:
        with services.store.writer() as writer:  # the model was trained without these
            writer.upsert_items(facts)
        engine = services.serving
        engine.refresh_catalog()
        catalog = engine.catalog
        categories = catalog.categories
        brands = catalog.fields["brand"]
        popularity = engine.served.slot("popular").popularity.astype(np.float64)
        head = engine.head()
        users = sorted(discovery)
        bought = (
            frame.filter(pl.col("ts") < pl.lit(args.cutoff).str.to_datetime("%Y-%m-%d"))
            .select("customer_id", "item_id")
            .unique()
        )
        mixes: dict[str, list[str]] = {}
        for customer, item in bought.iter_rows():
            idx = catalog.index(item)
            if idx is not None and categories[idx]:
                mixes.setdefault(customer, []).append(str(categories[idx]))
        types = Counter(facts["category"].to_list())
        print(f"product types of {facts.height} items: {dict(types.most_common())}")
        print(f"head: {int(head.sum())} of {head.size} items make 20% of interactions")
        rows: list[dict[str, Any]] = []
        baseline: np.ndarray | None = None
        for name, knobs in SETTINGS:
            started = time.perf_counter()
            answers = engine.recommend_many(users, 10, rules=RuleSet(**knobs))
            seconds = time.perf_counter() - started
            path = args.work / "lists.csv"
            with path.open("w", newline="") as handle:
                out = csv.writer(handle)
                out.writerow(["customer_id", "rank", "item_id"])
                for answer in answers:
                    for item in answer.items:
                        out.writerow([answer.customer_id, item.rank, item.item_id])
            accuracy = score(path, discovery, known)
            lists = {
                str(a.customer_id): [catalog.index(i.item_id) or 0 for i in a.items]
                for a in answers
            }
            # per-customer NDCG (the protocol's definition), for the paired standard error
            per_user = np.asarray(
                [ndcg(a.item_ids, discovery[str(a.customer_id)], 10) for a in answers]
            )
            assert abs(per_user.mean() - accuracy["ndcg"]) < 1e-9  # the same NDCG as the protocol
            baseline = per_user if baseline is None else baseline
            change = per_user - baseline
            row = {
                "setting": name,
                "ndcg": accuracy["ndcg"],
                "ndcg_change_se": float(change.std(ddof=1) / np.sqrt(change.size)),
                "recall": accuracy["recall"],
                "coverage": accuracy["coverage"],
                **fairness_figures(lists, popularity, head, categories, brands, mixes),
                "seconds": seconds,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    (args.work / "results.json").write_text(json.dumps(rows, indent=2))
    base = rows[0]
    print(
        "\n| setting | NDCG@10 | vs baseline (paired SE) | recall | coverage | ARP | "
        "long-tail share | Gini of exposure | miscalibration | top category share | "
        "top code-range share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        change = (row["ndcg"] / base["ndcg"] - 1) * 100
        print(
            f"| {row['setting']} | {row['ndcg']:.4f} | {change:+.1f}% "
            f"({row['ndcg'] - base['ndcg']:+.4f} ± {row['ndcg_change_se']:.4f}) | "
            f"{row['recall']:.4f} | "
            f"{row['coverage']:.3f} | {row['arp']:.1f} | {row['long_tail_share']:.3f} | "
            f"{row['gini']:.3f} | {row['miscalibration']:.3f} | "
            f"{row['top_category_share']:.3f} | {row['top_brand_share']:.3f} |"
        )


if __name__ == "__main__":
    main()
