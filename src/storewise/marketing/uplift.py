"""Uplift modelling from a campaign with a control group: T- and X-learners and Qini evaluation.

A campaign frame has feature columns, a treatment column (which arm each customer got, the
control included) and an outcome column (0/1 such as visit or conversion, or an amount such as
spend). :class:`UpliftModel` learns, per customer, how much the arm changes the outcome against
the control; :func:`qini_curve` and :func:`uplift_at_k` say whether targeting by that prediction
beats targeting at random.

- T-learner: one outcome model per group; uplift = mu1(x) - mu0(x).
- X-learner (Kuenzel et al. 2019): imputes individual effects with the other group's model, fits
  an effect model per group and blends them with the propensity (the treated share, since
  campaign assignment is randomised).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from storewise.errors import InputError, NotFitted
from storewise.marketing.transactions import require_columns

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Predictor = Callable[[FloatArray], FloatArray]


class UpliftConfig(BaseModel):
    """Settings of an uplift model: the meta-learner, its base learner and their knobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner: Literal["t", "x"] = Field("t", description="T-learner or X-learner")
    base: Literal["linear", "hgb"] = Field(
        "linear", description="logistic/ridge regression or histogram gradient boosting"
    )
    regularization: float = Field(
        1.0, gt=0, description="C of logistic regression; 1/alpha of ridge"
    )
    hgb_max_iter: int = Field(100, ge=1, description="boosting rounds")
    hgb_learning_rate: float = Field(0.05, gt=0, le=1, description="boosting learning rate")
    hgb_max_leaf_nodes: int = Field(15, ge=2, description="leaves per tree")
    hgb_min_samples_leaf: int = Field(100, ge=1, description="smallest leaf")
    min_rows_per_group: int = Field(30, ge=2, description="fewest rows in the arm and the control")
    seed: int = Field(0, description="random seed of the boosted trees")
    threads: int | None = Field(
        None, ge=1, description="OpenMP threads for boosting (None: library default)"
    )


@dataclass(frozen=True)
class _Encoder:
    """Numeric columns median-imputed and standardised; text one-hot on the training levels."""

    numeric: tuple[str, ...]
    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def fit(cls, frame: pl.DataFrame, features: Sequence[str]) -> _Encoder:
        numeric: list[str] = []
        medians: list[float] = []
        means: list[float] = []
        scales: list[float] = []
        categorical: list[tuple[str, tuple[str, ...]]] = []
        for name in features:
            dtype = frame.schema[name]
            if dtype.is_numeric() or dtype == pl.Boolean:
                values = frame.get_column(name).cast(pl.Float64)
                median = values.median()
                fill = float(median) if isinstance(median, int | float) else 0.0
                filled = values.fill_null(fill).fill_nan(fill).to_numpy()
                numeric.append(name)
                medians.append(fill)
                means.append(float(filled.mean()))
                scales.append(float(filled.std()) or 1.0)
            elif dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
                levels = frame.get_column(name).cast(pl.Utf8).drop_nulls().unique().sort()
                categorical.append((name, tuple(levels.to_list())))
            else:
                raise InputError(f"feature {name!r} has unsupported dtype {dtype}")
        return cls(tuple(numeric), tuple(medians), tuple(means), tuple(scales), tuple(categorical))

    def transform(self, frame: pl.DataFrame) -> FloatArray:
        require_columns(frame, [*self.numeric, *(n for n, _ in self.categorical)], what="frame")
        exprs: list[pl.Expr] = [
            ((pl.col(n).cast(pl.Float64).fill_null(md).fill_nan(md) - mu) / sd).alias(n)
            for n, md, mu, sd in zip(
                self.numeric, self.medians, self.means, self.scales, strict=True
            )
        ]
        for name, levels in self.categorical:
            col = pl.col(name).cast(pl.Utf8)
            exprs.extend(
                (col == level).fill_null(False).cast(pl.Float64).alias(f"{name}={level}")
                for level in levels
            )
        return frame.select(exprs).to_numpy().astype(np.float64, copy=False)


def _constant(value: float) -> Predictor:
    return lambda features: np.full(features.shape[0], value, dtype=np.float64)


def _fit_outcome(
    cfg: UpliftConfig, features: FloatArray, target: FloatArray, *, binary: bool
) -> Predictor:
    """Fit one outcome model; a group with a single outcome value gets a constant prediction."""
    if np.unique(target).size < 2:
        return _constant(float(target[0]))
    if binary:
        if cfg.base == "linear":
            clf: Any = LogisticRegression(C=cfg.regularization, max_iter=2000)
        else:
            clf = HistGradientBoostingClassifier(
                max_iter=cfg.hgb_max_iter, learning_rate=cfg.hgb_learning_rate,
                max_leaf_nodes=cfg.hgb_max_leaf_nodes, min_samples_leaf=cfg.hgb_min_samples_leaf,
                early_stopping=False, random_state=cfg.seed,
            )  # fmt: skip
        clf.fit(features, target.astype(np.int64))
        return lambda x: np.asarray(clf.predict_proba(x)[:, 1], dtype=np.float64)
    return _fit_regression(cfg, features, target)


def _fit_regression(cfg: UpliftConfig, features: FloatArray, target: FloatArray) -> Predictor:
    if cfg.base == "linear":
        reg: Any = Ridge(alpha=1.0 / cfg.regularization)
    else:
        reg = HistGradientBoostingRegressor(
            max_iter=cfg.hgb_max_iter, learning_rate=cfg.hgb_learning_rate,
            max_leaf_nodes=cfg.hgb_max_leaf_nodes, min_samples_leaf=cfg.hgb_min_samples_leaf,
            early_stopping=False, random_state=cfg.seed,
        )  # fmt: skip
    reg.fit(features, target)
    return lambda x: np.asarray(reg.predict(x), dtype=np.float64)


@dataclass(frozen=True)
class UpliftPrediction:
    """Per customer: expected outcome without the arm (baseline), with it, and the difference."""

    baseline: FloatArray
    treated: FloatArray
    uplift: FloatArray


@dataclass(frozen=True)
class _Fitted:
    encoder: _Encoder
    mu0: Predictor
    mu1: Predictor
    tau0: Predictor | None
    tau1: Predictor | None
    propensity: float
    binary: bool


class UpliftModel:
    """Predicts how much one campaign arm changes a customer's outcome against the control."""

    def __init__(self, config: UpliftConfig | None = None) -> None:
        self.config = config or UpliftConfig()
        self._fitted: _Fitted | None = None
        self.features: tuple[str, ...] = ()
        self.arm: Any = None

    def fit(
        self,
        frame: pl.DataFrame,
        *,
        features: Sequence[str],
        treatment: str,
        arm: Any,
        control: Any,
        outcome: str,
    ) -> Self:
        """Learn the uplift of rows with ``treatment == arm`` over ``treatment == control``."""
        cfg = self.config
        if not features:
            raise InputError("an uplift model needs at least one feature column")
        require_columns(frame, [*features, treatment, outcome], what="campaign frame")
        treated, y = _arm_rows(
            frame, treatment=treatment, arm=arm, control=control, outcome=outcome
        )
        rows = frame.filter(pl.col(treatment).is_in([arm, control]))
        for label, count in (("arm", int(treated.sum())), ("control", int((~treated).sum()))):
            if count < cfg.min_rows_per_group:
                value = arm if label == "arm" else control
                raise InputError(
                    f"the {label} {treatment} == {value!r} has {count} rows; at least "
                    f"{cfg.min_rows_per_group} are needed to learn its uplift",
                    details={"group": label, "value": str(value), "rows": count},
                )
        binary = bool(np.isin(np.unique(y), [0.0, 1.0]).all())
        encoder = _Encoder.fit(rows, features)
        x = encoder.transform(rows)
        with threadpool_limits(limits=cfg.threads, user_api="openmp"):
            mu0 = _fit_outcome(cfg, x[~treated], y[~treated], binary=binary)
            mu1 = _fit_outcome(cfg, x[treated], y[treated], binary=binary)
            tau0 = tau1 = None
            if cfg.learner == "x":
                tau1 = _fit_regression(cfg, x[treated], y[treated] - mu0(x[treated]))
                tau0 = _fit_regression(cfg, x[~treated], mu1(x[~treated]) - y[~treated])
        self._fitted = _Fitted(encoder, mu0, mu1, tau0, tau1, float(treated.mean()), binary)
        self.features = tuple(features)
        self.arm = arm
        return self

    def predict(self, frame: pl.DataFrame) -> UpliftPrediction:
        """Baseline, treated and uplift predictions for every row of ``frame``."""
        if self._fitted is None:
            raise NotFitted("uplift model is not fitted; call fit(frame, ...) first")
        f = self._fitted
        x = f.encoder.transform(frame)
        with threadpool_limits(limits=self.config.threads, user_api="openmp"):
            baseline = f.mu0(x)
            if f.tau0 is not None and f.tau1 is not None:
                uplift = f.propensity * f.tau0(x) + (1.0 - f.propensity) * f.tau1(x)
            else:
                uplift = f.mu1(x) - baseline
        return UpliftPrediction(baseline=baseline, treated=baseline + uplift, uplift=uplift)

    def predict_uplift(self, frame: pl.DataFrame) -> FloatArray:
        """The predicted uplift of every row of ``frame``, the score to target by."""
        return self.predict(frame).uplift


def _arm_rows(
    frame: pl.DataFrame, *, treatment: str, arm: Any, control: Any, outcome: str
) -> tuple[BoolArray, FloatArray]:
    if arm == control:
        raise InputError(f"arm and control must differ; both are {arm!r}")
    rows = frame.filter(pl.col(treatment).is_in([arm, control]))
    if not frame.schema[outcome].is_numeric() and frame.schema[outcome] != pl.Boolean:
        raise InputError(f"outcome {outcome!r} must be numeric or boolean")
    y = rows.get_column(outcome).cast(pl.Float64).to_numpy()
    if y.size and not np.isfinite(y).all():
        raise InputError(f"outcome {outcome!r} has missing or non-finite values")
    treated = (rows.get_column(treatment) == arm).to_numpy()
    for value, present in ((arm, treated.any()), (control, (~treated).any())):
        if not present:
            raise InputError(f"no rows with {treatment} == {value!r}: that offer has no data")
    return treated.astype(np.bool_), y


def average_treatment_effect(
    frame: pl.DataFrame, *, treatment: str, arm: Any, control: Any, outcome: str
) -> float:
    """Mean outcome of the arm minus mean outcome of the control (a randomised experiment's ATE)."""
    require_columns(frame, [treatment, outcome], what="campaign frame")
    treated, y = _arm_rows(frame, treatment=treatment, arm=arm, control=control, outcome=outcome)
    return float(y[treated].mean() - y[~treated].mean())


def ate_table(
    frame: pl.DataFrame, *, treatment: str, control: Any, outcomes: Sequence[str]
) -> pl.DataFrame:
    """ATE of every arm against the control for each outcome: ``arm, outcome, ate, ...``."""
    require_columns(frame, [treatment, *outcomes], what="campaign frame")
    arms = [a for a in frame.get_column(treatment).unique().sort().to_list() if a != control]
    records: list[dict[str, Any]] = []
    for arm in arms:
        for outcome in outcomes:
            treated, y = _arm_rows(
                frame, treatment=treatment, arm=arm, control=control, outcome=outcome
            )
            records.append(
                {
                    "arm": str(arm),
                    "outcome": outcome,
                    "arm_mean": float(y[treated].mean()),
                    "control_mean": float(y[~treated].mean()),
                    "ate": float(y[treated].mean() - y[~treated].mean()),
                    "arm_rows": int(treated.sum()),
                    "control_rows": int((~treated).sum()),
                }
            )
    return pl.DataFrame(records)


def stratified_split(
    frame: pl.DataFrame, *, stratify: Sequence[str], test_size: float = 0.3, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows into (train, test) keeping the mix of the ``stratify`` columns in both halves."""
    if not 0 < test_size < 1:
        raise InputError(f"test_size must be between 0 and 1, got {test_size}")
    require_columns(frame, stratify, what="frame")
    if frame.height < 4:
        raise InputError(f"cannot split {frame.height} rows into train and test")
    key = frame.select(pl.concat_str([pl.col(c).cast(pl.Utf8) for c in stratify], separator="|"))
    index = np.arange(frame.height)
    train, test = train_test_split(
        index, test_size=test_size, random_state=seed, stratify=key.to_series().to_numpy()
    )
    return frame[np.sort(train)], frame[np.sort(test)]


@dataclass(frozen=True)
class QiniCurve:
    """Qini and cumulative uplift curves of a targeting score, with their summary areas.

    ``qini[i]`` is the incremental outcome (treated outcomes minus control outcomes scaled to
    the treated count) when targeting the top ``fraction[i]`` of customers; ``random`` is the
    same for random targeting. ``qini_coefficient`` is the area between the two, per customer
    (positive beats random); ``auuc`` is the area under the cumulative uplift curve per customer
    and ``auuc_random`` its value for random targeting (ATE / 2).
    """

    fraction: FloatArray
    qini: FloatArray
    random: FloatArray
    uplift: FloatArray
    qini_coefficient: float
    auuc: float
    auuc_random: float
    n: int

    def to_frame(self) -> pl.DataFrame:
        """The curve points as a frame, for plotting and reports."""
        return pl.DataFrame(
            {
                "fraction": self.fraction,
                "qini": self.qini,
                "random": self.random,
                "uplift": self.uplift,
            }
        )


def _evaluation_arrays(
    score: Any, treated: Any, outcome: Any
) -> tuple[FloatArray, BoolArray, FloatArray]:
    s = np.asarray(score, dtype=np.float64).ravel()
    t = np.asarray(treated).astype(np.bool_).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    if not s.size == t.size == y.size:
        raise InputError(f"score, treated and outcome lengths differ: {s.size}, {t.size}, {y.size}")
    if s.size == 0:
        raise InputError("nothing to evaluate: no rows")
    if not (np.isfinite(s).all() and np.isfinite(y).all()):
        raise InputError("scores and outcomes must be finite")
    if t.all() or not t.any():
        raise InputError("evaluation needs both treated and control rows")
    return s, t, y


def qini_curve(score: Any, treated: Any, outcome: Any, *, n_points: int = 101) -> QiniCurve:
    """The Qini curve of targeting customers by decreasing ``score``, on ``n_points`` points."""
    if n_points < 2:
        raise InputError("n_points must be at least 2")
    s, t, y = _evaluation_arrays(score, treated, outcome)
    order = np.argsort(-s, kind="stable")
    t, y = t[order], y[order]
    n = s.size
    n_t = np.concatenate([[0.0], np.cumsum(t)])
    n_c = np.concatenate([[0.0], np.cumsum(~t)])
    y_t = np.concatenate([[0.0], np.cumsum(y * t)])
    y_c = np.concatenate([[0.0], np.cumsum(y * ~t)])
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
        lift = np.where((n_t > 0) & (n_c > 0), y_t / n_t - y_c / n_c, 0.0)
    k = np.arange(n + 1, dtype=np.float64)
    fraction = k / n
    gain = lift * k
    random = fraction * qini[-1]
    qini_coefficient = float(np.trapezoid(qini - random, fraction) / n)
    auuc = float(np.trapezoid(gain, fraction) / n)
    idx = np.unique(np.round(np.linspace(0, n, n_points)).astype(np.int64))
    return QiniCurve(
        fraction=fraction[idx],
        qini=qini[idx],
        random=random[idx],
        uplift=gain[idx],
        qini_coefficient=qini_coefficient,
        auuc=auuc,
        auuc_random=float(lift[-1] / 2.0),
        n=n,
    )


def uplift_at_k(score: Any, treated: Any, outcome: Any, *, k: float = 0.3) -> float:
    """Observed uplift (arm mean minus control mean) among the top ``k`` share by ``score``."""
    if not 0 < k <= 1:
        raise InputError(f"k must be in (0, 1], got {k}")
    s, t, y = _evaluation_arrays(score, treated, outcome)
    top = np.argsort(-s, kind="stable")[: int(np.ceil(k * s.size))]
    tt, yy = t[top], y[top]
    if tt.all() or not tt.any():
        raise InputError(f"the top {k:.0%} has no {'control' if tt.all() else 'treated'} rows")
    return float(yy[tt].mean() - yy[~tt].mean())


@dataclass(frozen=True)
class UpliftReport:
    """Held-out evaluation of an uplift model: ATE, uplift in the top k and the Qini curve."""

    ate: float
    uplift_at_k: float
    k: float
    qini: QiniCurve

    @property
    def beats_random(self) -> bool:
        """Whether targeting the top k by predicted uplift gains more than the average effect."""
        return self.uplift_at_k > self.ate


def uplift_report(
    model: UpliftModel,
    frame: pl.DataFrame,
    *,
    treatment: str,
    control: Any,
    outcome: str,
    k: float = 0.3,
) -> UpliftReport:
    """Evaluate a fitted model on held-out rows of its arm and the control."""
    rows = frame.filter(pl.col(treatment).is_in([model.arm, control]))
    treated, y = _arm_rows(
        frame, treatment=treatment, arm=model.arm, control=control, outcome=outcome
    )
    score = model.predict_uplift(rows)
    return UpliftReport(
        ate=float(y[treated].mean() - y[~treated].mean()),
        uplift_at_k=uplift_at_k(score, treated, y, k=k),
        k=k,
        qini=qini_curve(score, treated, y),
    )
