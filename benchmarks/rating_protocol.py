"""A rating dataset through the same CLI as the retail protocol, against tuned peers.

MovieLens 100K (``storewise datasets fetch movielens-100k``, cached; ``--from FILE`` takes a
local copy). Protocol, the retail one carried over to ratings:

- a rating of 4 or 5 stars is a positive ("liked"), as storewise and most top-N studies read
  them; split by time: train = ratings before ``--cutoff`` (default 1998-03-01), test = from it;
  items known = items in train;
- rating-discovery: test users have a train rating and at least one known item liked in the
  test period that they never rated in train; truth = those items; 10 items are recommended,
  never one rated in train; metrics as in the retail protocol;
- peers are tuned on a validation split cut from train (train before one month before the
  cutoff, validation = that month, same rules), then refitted on all of train;
- storewise runs exactly ``storewise ingest items ml-100k-items.csv.gz`` (the films: title,
  genres, year), ``storewise ingest events train.csv``, ``storewise train`` and
  ``storewise recommend --customers test_users.txt --n 10``.

Usage: ``python -m benchmarks.rating_protocol [--work DIR] [--from FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from benchmarks.retail_protocol import run, score
from storewise.datasets.fetch import fetch, movielens_items_path

REPO = Path(__file__).resolve().parents[1]
LIKED = 4.0
Scorer = Callable[[sp.csr_matrix], np.ndarray]


def load(from_path: Path | None) -> tuple[pl.DataFrame, Path]:
    """The ratings as (customer_id, item_id, value, ts), and the films' catalog file."""
    path = fetch("movielens-100k", REPO / "benchmarks" / ".cache" / "datasets", from_path=from_path)
    frame = pl.read_csv(path, schema_overrides={"customer_id": pl.Utf8, "item_id": pl.Utf8})
    ratings = frame.with_columns(pl.col("timestamp").str.to_datetime().alias("ts"))
    return ratings, movielens_items_path(path)


def truth_of(train: pl.DataFrame, test: pl.DataFrame) -> tuple[dict[str, set[str]], set[str]]:
    """Discovery truth per user and the known items."""
    known = set(train["item_id"].to_list())
    rated: dict[str, set[str]] = {}
    for c, i in train.select("customer_id", "item_id").iter_rows():
        rated.setdefault(c, set()).add(i)
    truth: dict[str, set[str]] = {}
    liked = test.filter(pl.col("value") >= LIKED).select("customer_id", "item_id").unique()
    for c, i in liked.iter_rows():
        if c in rated and i in known and i not in rated[c]:
            truth.setdefault(c, set()).add(i)
    return truth, known


class Matrix:
    """Index maps and the users x items matrices a peer trains on."""

    def __init__(self, train: pl.DataFrame) -> None:
        self.users = sorted(set(train["customer_id"].to_list()))
        self.items = sorted(set(train["item_id"].to_list()))
        u = {x: n for n, x in enumerate(self.users)}
        i = {x: n for n, x in enumerate(self.items)}
        rows = np.asarray([u[x] for x in train["customer_id"].to_list()])
        cols = np.asarray([i[x] for x in train["item_id"].to_list()])
        values = train["value"].to_numpy()
        shape = (len(self.users), len(self.items))
        self.rated = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        self.rated.data[:] = 1.0
        liked = values >= LIKED
        self.liked = sp.csr_matrix(
            (np.ones(int(liked.sum()), np.float32), (rows[liked], cols[liked])), shape=shape
        )
        self.liked.sum_duplicates()
        self.liked.data[:] = 1.0
        ts = train["ts"].dt.epoch("s").to_numpy().astype(np.float64)
        age = (ts.max() - ts) / 86_400.0
        self.cols, self.age, self.is_liked = cols, age, liked  # for recent popularity

    def lists(self, scores: np.ndarray, users: list[str], k: int = 10) -> dict[str, list[str]]:
        """Top-k per user, never an item they rated."""
        index = {x: n for n, x in enumerate(self.users)}
        out: dict[str, list[str]] = {}
        for user in users:
            row = index[user]
            values = scores[row].astype(np.float64).copy()
            values[self.rated[row].indices] = -np.inf
            top = np.argsort(-values, kind="stable")[:k]
            out[user] = [self.items[j] for j in top if np.isfinite(values[j])]
        return out


def ndcg(lists: dict[str, list[str]], truth: dict[str, set[str]], k: int = 10) -> float:
    """Mean NDCG@k (binary relevance, log2 discount)."""
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for user, items in truth.items():
        top = lists.get(user, [])[:k]
        dcg = sum(disc[n] for n, item in enumerate(top) if item in items)
        total += dcg / disc[: min(len(items), k)].sum()
    return total / max(len(truth), 1)


def peers() -> dict[
    str, list[tuple[dict[str, Any], Callable[[Matrix, dict[str, Any]], np.ndarray]]]
]:
    """Each peer's grid: (parameters, fit-and-score function)."""
    import warnings

    import implicit.cpu.als as als
    import implicit.cpu.bpr as bpr
    import implicit.nearest_neighbours as nn

    warnings.filterwarnings("ignore", module="implicit")  # CSR conversion and BLAS notes

    def inputs(m: Matrix, p: dict[str, Any]) -> sp.csr_matrix:
        return m.liked if p["input"] == "liked" else m.rated

    def popularity(m: Matrix, p: dict[str, Any]) -> np.ndarray:
        """Most rated (or liked) items over the last ``days`` (RecTools' PopularModel period)."""
        keep = m.age <= float(p["days"])
        if p["input"] == "liked":
            keep &= m.is_liked
        counts = np.bincount(m.cols[keep], minlength=m.rated.shape[1]).astype(np.float64)
        return np.tile(counts, (m.rated.shape[0], 1))

    def ease(m: Matrix, p: dict[str, Any]) -> np.ndarray:
        x = inputs(m, p)
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += float(p["l2"])
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)
        weights[np.diag_indices_from(weights)] = 0.0
        return np.asarray(x @ weights)

    def knn(m: Matrix, p: dict[str, Any]) -> np.ndarray:
        x = inputs(m, p)
        cls = nn.BM25Recommender if p["kind"] == "bm25" else nn.CosineRecommender
        model = cls(K=int(p["k"]))
        model.fit(x, show_progress=False)
        return np.asarray((x @ model.similarity).toarray())

    def mf(m: Matrix, p: dict[str, Any]) -> np.ndarray:
        x = inputs(m, p)
        if p["kind"] == "als":
            model = als.AlternatingLeastSquares(
                factors=int(p["factors"]),
                regularization=float(p["reg"]),
                alpha=float(p["alpha"]),
                iterations=15,
                random_state=0,
            )
        else:
            model = bpr.BayesianPersonalizedRanking(
                factors=int(p["factors"]),
                learning_rate=0.01,
                regularization=float(p["reg"]),
                iterations=100,
                random_state=0,
            )
        model.fit(x, show_progress=False)
        return np.asarray(model.user_factors @ model.item_factors.T)

    grid: dict[str, list[tuple[dict[str, Any], Callable[[Matrix, dict[str, Any]], np.ndarray]]]] = {
        "popularity": [
            ({"input": i, "days": d}, popularity)
            for i in ("liked", "rated")
            for d in (7, 14, 30, 60, 1e9)
        ],
        "EASE": [
            ({"input": i, "l2": l2}, ease)
            for i in ("liked", "rated")
            for l2 in (50, 200, 500, 1000)
        ],
        "implicit BM25 item-kNN": [
            ({"input": i, "kind": "bm25", "k": k}, knn)
            for i in ("liked", "rated")
            for k in (50, 200)
        ],
        "implicit cosine item-kNN": [
            ({"input": i, "kind": "cosine", "k": k}, knn)
            for i in ("liked", "rated")
            for k in (50, 200)
        ],
        "implicit ALS": [
            ({"input": i, "kind": "als", "factors": f, "reg": r, "alpha": a}, mf)
            for i in ("liked", "rated")
            for f in (32, 64)
            for r in (0.01, 0.1)
            for a in (1.0, 10.0)
        ],
        "implicit BPR": [
            ({"input": i, "kind": "bpr", "factors": f, "reg": 0.01}, mf)
            for i in ("liked", "rated")
            for f in (32, 64)
        ],
    }
    return grid


def tuned_peers(
    frame: pl.DataFrame, cutoff: pl.Expr, valid_from: pl.Expr
) -> dict[str, dict[str, Any]]:
    """Each peer tuned on the validation month, then refitted on all of train and tested."""
    train = frame.filter(pl.col("ts") < cutoff)
    test = frame.filter(pl.col("ts") >= cutoff)
    fit_part = train.filter(pl.col("ts") < valid_from)
    valid_part = train.filter(pl.col("ts") >= valid_from)
    valid_truth, _ = truth_of(fit_part, valid_part)
    test_truth, _ = truth_of(train, test)
    valid_matrix, test_matrix = Matrix(fit_part), Matrix(train)
    results: dict[str, dict[str, Any]] = {}
    for name, grid in peers().items():
        best: tuple[float, dict[str, Any]] | None = None
        for params, fit in grid:
            lists = valid_matrix.lists(fit(valid_matrix, params), sorted(valid_truth))
            value = ndcg(lists, valid_truth)
            if best is None or value > best[0]:
                best = (value, params)
        assert best is not None
        params = best[1]
        fit = next(f for p, f in grid if p == params)
        lists = test_matrix.lists(fit(test_matrix, params), sorted(test_truth))
        results[name] = {"params": params, "validation": best[0], "test": ndcg(lists, test_truth)}
        print(f"{name}: {results[name]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "ml100k")
    parser.add_argument("--from", dest="from_path", type=Path, default=None)
    parser.add_argument("--cutoff", default="1998-03-01")
    parser.add_argument("--valid-days", type=int, default=30)
    args = parser.parse_args()
    frame, films = load(args.from_path)
    cutoff = pl.lit(args.cutoff).str.to_datetime("%Y-%m-%d")
    valid_from = cutoff - pl.duration(days=args.valid_days)
    work: Path = args.work
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    train = frame.filter(pl.col("ts") < cutoff)
    test = frame.filter(pl.col("ts") >= cutoff)
    truth, known = truth_of(train, test)
    train.select("customer_id", "item_id", "event_type", "value", "timestamp").write_csv(
        work / "train.csv"
    )
    (work / "test_users.txt").write_text("\n".join(sorted(truth)) + "\n")
    env = dict(os.environ, STOREWISE_HOME=str(work / "home"))
    cli = [sys.executable, "-m", "storewise.cli.main"]
    timings: dict[str, float] = {}
    steps = {
        "ingest items": [*cli, "ingest", "items", str(films), "-q"],
        "ingest": [*cli, "ingest", "events", str(work / "train.csv"), "-q"],
        "train": [*cli, "train"],
        "recommend": [
            *cli,
            "recommend",
            "--customers",
            str(work / "test_users.txt"),
            "--n",
            "10",
            "--out",
            str(work / "recs.csv"),
        ],
    }
    for name, cmd in steps.items():
        timings[name], _ = run(cmd, env)
        print(f"{name}: {timings[name]:.1f}s", flush=True)
    ours = score(work / "recs.csv", truth, known)
    models = work / "home" / "models"
    current = (models / "CURRENT").read_text().strip()
    manifest = json.loads((models / current / "manifest.json").read_text())
    started = time.perf_counter()
    results = {
        "storewise": ours,
        "storewise_choice": manifest.get("chosen", {}).get("discovery"),
        "peers": tuned_peers(frame, cutoff, valid_from),
        "peer_seconds": time.perf_counter() - started,
        "seconds": timings,
        "test_users": len(truth),
    }
    print(json.dumps(results, indent=2, default=str))
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
