"""The A/B statistics against independent implementations and simulated experiments."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from storewise.errors import InputError, SchemaError
from storewise.experiments.stats import (
    PrePost,
    Summary,
    UnitData,
    analyze,
    compare,
    cuped_adjust,
    cuped_summary,
    cuped_theta,
    minimum_detectable_effect,
    parse_split,
    plan_power,
    power_of_test,
    read_units_csv,
    sample_ratio_mismatch,
    sample_size_per_arm,
    sequential_interval,
    units_from_arrays,
)


def _welch_by_hand(t: np.ndarray, c: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """An independent Welch interval and delta-method relative interval, written out."""
    vt, vc = t.var(ddof=1) / t.size, c.var(ddof=1) / c.size
    df = (vt + vc) ** 2 / (vt**2 / (t.size - 1) + vc**2 / (c.size - 1))
    d = t.mean() - c.mean()
    q = sps.t.ppf(1 - alpha / 2, df)
    rel = t.mean() / c.mean() - 1
    rel_se = math.sqrt(vt / c.mean() ** 2 + t.mean() ** 2 * vc / c.mean() ** 4)
    z = sps.norm.ppf(1 - alpha / 2)
    return {"ci_low": d - q * math.sqrt(vt + vc), "ci_high": d + q * math.sqrt(vt + vc),
            "relative_ci_low": rel - z * rel_se, "relative_ci_high": rel + z * rel_se}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_and_relative_lift_equal_independent_implementations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = rng.lognormal(2.0, 1.0, 700 + 100 * seed)
    t = rng.lognormal(2.05, 1.2, 1300)
    result = compare(Summary.of(t), Summary.of(c)).as_floats()
    scipy_result = sps.ttest_ind(t, c, equal_var=False)
    interval = scipy_result.confidence_interval()
    assert result["p_value"] == pytest.approx(scipy_result.pvalue, abs=1e-3)
    assert result["ci_low"] == pytest.approx(interval.low, abs=1e-3)
    assert result["ci_high"] == pytest.approx(interval.high, abs=1e-3)
    for key, value in _welch_by_hand(t, c).items():
        assert result[key] == pytest.approx(value, abs=1e-3)
    assert result["relative_lift"] == pytest.approx(t.mean() / c.mean() - 1, abs=1e-9)


def test_the_core_is_vectorised_over_experiments() -> None:
    rng = np.random.default_rng(3)
    t, c = rng.normal(0, 1, (5, 50)), rng.normal(0, 1, (5, 60))
    many = compare(Summary.of(t), Summary.of(c))
    assert many.p_value.shape == (5,)
    for i in range(5):
        one = sps.ttest_ind(t[i], c[i], equal_var=False)
        assert many.p_value[i] == pytest.approx(one.pvalue, rel=1e-9)


def test_aa_false_positive_rate_is_alpha() -> None:
    """1,000 simulated A/A tests of a skewed metric: about 5% come out significant."""
    rng = np.random.default_rng(11)
    spend = rng.gamma(2.0, 10.0, size=(2, 1000, 500))
    result = compare(Summary.of(spend[0]), Summary.of(spend[1]))
    rate = float(np.mean(result.p_value < 0.05))
    assert 0.035 <= rate <= 0.065
    covered = np.mean((result.ci_low < 0) & (result.ci_high > 0))
    assert covered == pytest.approx(1 - rate)


def _looks(rng: np.random.Generator, sims: int, days: int, per_day: int) -> tuple[Summary, ...]:
    """Both arms' moments after each day: arrays of shape (sims, days)."""
    out = []
    for _ in range(2):
        y = rng.normal(5.0, 3.0, size=(sims, days * per_day))
        ends = np.arange(1, days + 1) * per_day - 1
        s1, s2 = np.cumsum(y, axis=1)[:, ends], np.cumsum(y**2, axis=1)[:, ends]
        n = (ends + 1.0)[None, :].repeat(sims, axis=0)
        mean = s1 / n
        out.append(Summary.from_moments(n, mean, (s2 - n * mean**2) / (n - 1)))
    return tuple(out)


def test_sequential_interval_stays_valid_under_daily_peeking() -> None:
    """500 A/A tests looked at after each of 30 days: rejecting at any look is rare."""
    t, c = _looks(np.random.default_rng(5), sims=500, days=30, per_day=100)
    seq = sequential_interval(t, c, tuning_n=6000)
    rejected = np.any((seq.ci_low > 0) | (seq.ci_high < 0), axis=1)
    assert float(rejected.mean()) <= 0.05
    # the p-value says the same as the interval
    assert np.array_equal(seq.p_value < 0.05, (seq.ci_low > 0) | (seq.ci_high < 0))
    # and peeking at the fixed-horizon test is what the interval protects against
    fixed = compare(t, c)
    assert float(np.any(fixed.p_value < 0.05, axis=1).mean()) > 0.12


def test_sequential_interval_equals_the_published_formula() -> None:
    t, c = Summary.from_moments(3100, 10.1, 4.2), Summary.from_moments(3000, 10.0, 3.9)
    alpha, tuning = 0.05, 5000
    n = 6100
    v = 4.2 / 3100 + 3.9 / 3000
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    half = math.sqrt(v * n) * math.sqrt(
        2 * (n * rho2 + 1) * math.log(math.sqrt(n * rho2 + 1) / alpha) / (n**2 * rho2)
    )
    seq = sequential_interval(t, c, alpha=alpha, tuning_n=tuning)
    assert float(seq.ci_low) == pytest.approx(0.1 - half, abs=1e-9)
    assert float(seq.ci_high) == pytest.approx(0.1 + half, abs=1e-9)
    fixed = compare(t, c)
    assert float(seq.ci_high - seq.ci_low) > float(fixed.ci_high - fixed.ci_low)


def test_a_ten_percent_lift_is_detected_with_the_predicted_power() -> None:
    baseline, sd = 10.0, 8.0
    n_c, n_t = sample_size_per_arm(0.1 * baseline, sd, power=0.8)
    predicted = power_of_test(0.1 * baseline, sd, n_c, n_t)
    assert predicted == pytest.approx(0.8, abs=0.005)
    rng = np.random.default_rng(8)
    control = rng.normal(baseline, sd, size=(1000, n_c))
    treatment = rng.normal(1.1 * baseline, sd, size=(1000, n_t))
    result = compare(Summary.of(treatment), Summary.of(control))
    detected = float(np.mean((result.p_value < 0.05) & (result.absolute_lift > 0)))
    assert abs(detected - predicted) <= 0.05


def test_power_calculator_round_trips() -> None:
    assert minimum_detectable_effect(8.0, 1005) <= 1.0 < minimum_detectable_effect(8.0, 1004)
    n_c, n_t = sample_size_per_arm(0.5, 3.0, treatment_share=0.2, power=0.9)
    assert n_t < n_c and n_t / (n_c + n_t) == pytest.approx(0.2, abs=1e-3)
    assert minimum_detectable_effect(3.0, n_c, n_t, power=0.9) <= 0.5
    assert power_of_test(0.5, 3.0, n_c, n_t) == pytest.approx(0.9, abs=0.005)
    assert power_of_test(0.0, 3.0, n_c, n_t) == pytest.approx(0.05)
    with pytest.raises(InputError, match="standard deviation"):
        minimum_detectable_effect(0.0, 100)
    with pytest.raises(InputError, match="power"):
        sample_size_per_arm(1.0, 1.0, power=1.0)


def test_plan_power_takes_exactly_one_question() -> None:
    by_effect = plan_power(10.0, 8.0, mde_absolute=1.0, split="control=0.8,treatment=0.2")
    assert by_effect.n_control == pytest.approx(4 * by_effect.n_treatment, abs=4)
    back = plan_power(10.0, 8.0, total=by_effect.n_total, split="0.8,0.2")
    assert back.mde_absolute == pytest.approx(1.0, abs=0.01) and back.mde_relative is not None
    assert plan_power(0.0, 8.0, n_per_arm=500).mde_relative is None
    with pytest.raises(InputError, match="exactly one of"):
        plan_power(10.0, 8.0, n_per_arm=100, mde=0.1)
    with pytest.raises(InputError, match="not with units per arm"):
        plan_power(10.0, 8.0, n_per_arm=100, split="0.5,0.5")
    with pytest.raises(InputError, match="non-zero baseline"):
        plan_power(0.0, 8.0, mde=0.1)


def _correlated(rng: np.random.Generator, n: int, rho: float, lift: float) -> np.ndarray:
    x = rng.normal(20.0, 4.0, n)
    y = 20.0 + lift + rho * (x - 20.0) + math.sqrt(1 - rho**2) * rng.normal(0.0, 4.0, n)
    return np.stack([y, x])


def test_cuped_narrows_the_interval_by_sqrt_one_minus_rho_squared() -> None:
    rng = np.random.default_rng(21)
    rho = 0.7
    c, t = _correlated(rng, 4000, rho, 0.0), _correlated(rng, 4000, rho, 0.3)
    arms = [PrePost.of(c[0], c[1]), PrePost.of(t[0], t[1])]
    theta, pooled = cuped_theta(arms)
    adjusted = compare(cuped_summary(arms[1], theta, pooled), cuped_summary(arms[0], theta, pooled))
    plain = compare(arms[1].summary, arms[0].summary)
    ratio = float(adjusted.standard_error / plain.standard_error)
    assert ratio == pytest.approx(math.sqrt(1 - rho**2), abs=0.03)
    assert ratio < 0.75
    # the moment path equals adjusting every unit and analysing the adjusted values
    values, theta_values = cuped_adjust(np.r_[c[0], t[0]], np.r_[c[1], t[1]])
    assert theta_values == pytest.approx(float(theta), rel=1e-12)
    direct = compare(Summary.of(values[4000:]), Summary.of(values[:4000]))
    assert float(direct.ci_low) == pytest.approx(float(adjusted.ci_low), abs=1e-9)
    assert float(direct.p_value) == pytest.approx(float(adjusted.p_value), rel=1e-6)
    # through the report: theta and the width ratio are stated
    names = ["control"] * 4000 + ["treatment"] * 4000
    data = units_from_arrays(names, {"spend": np.r_[c[0], t[0]]}, pre={"spend": np.r_[c[1], t[1]]})
    result = analyze(data).results[0]
    assert result.cuped is not None and result.cuped.width_ratio == pytest.approx(ratio, rel=1e-3)


def test_srm_flags_a_52_48_split_and_not_a_balanced_one() -> None:
    assert sample_ratio_mismatch({"control": 10400, "treatment": 9600}).flag
    assert not sample_ratio_mismatch({"control": 10000, "treatment": 10000}).flag
    assert not sample_ratio_mismatch({"control": 10060, "treatment": 9940}).flag
    planned = sample_ratio_mismatch({"control": 10400, "treatment": 9600},
                                    {"control": 0.52, "treatment": 0.48})  # fmt: skip
    assert not planned.flag and planned.p_value == pytest.approx(1.0)
    chi2 = sps.chisquare([10400, 9600])
    assert sample_ratio_mismatch({"a": 10400, "b": 9600}).p_value == pytest.approx(chi2.pvalue)


def test_split_parsing_and_checks() -> None:
    variants = ["control", "a", "b"]
    assert parse_split("0.5,0.25,0.25", variants) == {"control": 0.5, "a": 0.25, "b": 0.25}
    assert parse_split("b=0.2, a=0.3, control=0.5", variants)["b"] == 0.2
    with pytest.raises(InputError, match="add up to 1"):
        parse_split("0.5,0.3,0.3", variants)
    with pytest.raises(InputError, match="4 share"):
        parse_split("0.5,0.5,0.0,0.0", variants)
    with pytest.raises(InputError, match="2 share"):
        parse_split("0.5,0.5", variants)
    with pytest.raises(InputError, match="positive"):
        parse_split("1.2,-0.1,-0.1", variants)
    with pytest.raises(InputError, match="not a number"):
        parse_split("half,0.25,0.25", variants)
    with pytest.raises(InputError, match="missing: b"):
        parse_split("control=0.5,a=0.5", variants)


def _data(counts: dict[str, int], seed: int = 0) -> UnitData:
    rng = np.random.default_rng(seed)
    names = [v for v, k in counts.items() for _ in range(k)]
    return units_from_arrays(names, {"spend": rng.normal(10, 2, len(names))})


def test_bad_experiments_are_input_errors_naming_what() -> None:
    data = _data({"control": 50, "treatment": 50})
    with pytest.raises(InputError, match="control 'ctrl' is not among the variants"):
        analyze(data, control="ctrl")
    with pytest.raises(InputError, match="'holdout', which has no units"):
        analyze(data, split={"control": 0.4, "treatment": 0.4, "holdout": 0.2})
    with pytest.raises(InputError, match="add up to 1"):
        analyze(data, split="0.6,0.6")
    with pytest.raises(InputError, match="'treatment' has 1 unit"):
        analyze(_data({"control": 50, "treatment": 1}))
    with pytest.raises(InputError, match="at least two variants"):
        analyze(_data({"control": 50}))
    with pytest.raises(InputError, match="no units"):
        sample_ratio_mismatch({"control": 10, "treatment": 0})
    with pytest.raises(InputError, match="at least 2 units"):
        Summary.of([1.0])


def test_three_variants_compare_each_to_the_control() -> None:
    report = analyze(_data({"control": 60, "b": 60, "a": 60}), split="0.5,0.25,0.25")
    assert report.variants == ("control", "a", "b")
    assert [r.treatment.name for r in report.results] == ["a", "b"]
    assert report.srm.flag and report.split == {"control": 0.5, "a": 0.25, "b": 0.25}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_streams_in_chunks_to_the_same_moments(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    y, x = rng.gamma(2.0, 5.0, 101), rng.gamma(2.0, 5.0, 101)
    variant = np.where(rng.random(101) < 0.5, "control", "treatment")
    lines = ["unit_id,variant,spend,spend_before"] + [
        f"u{i},{variant[i]},{float(y[i])!r},{float(x[i])!r}" for i in range(101)
    ]
    path = _write(tmp_path / "units.csv", "\n".join(lines) + "\n")
    data = read_units_csv(path, pre={"spend": "spend_before"}, chunk_rows=7)
    assert data.metrics == ("spend",)
    for name in ("control", "treatment"):
        arm, rows = data.arm("spend", name), variant == name
        whole = PrePost.of(y[rows], x[rows])
        for key in ("n", "mean", "var", "pre_mean", "pre_var", "cov"):
            assert float(getattr(arm, key)) == pytest.approx(float(getattr(whole, key)), rel=1e-10)


def test_bad_csv_files_name_the_column_and_line(tmp_path: Path) -> None:
    text = "unit_id,variant,orders,spend\nu1,control,1,2.5\nu2,treatment,2,abc\nu3,control,0,1\n"
    with pytest.raises(InputError, match=r"column 'spend' has 'abc'.* line 3 \(data row 2\)"):
        read_units_csv(_write(tmp_path / "a.csv", text))
    with pytest.raises(InputError, match="column 'orders' is empty on line 2"):
        read_units_csv(_write(tmp_path / "b.csv", "unit_id,variant,orders\nu1,control,\n"))
    with pytest.raises(InputError, match="'inf', which is not a finite number"):
        read_units_csv(_write(tmp_path / "c.csv", "unit_id,variant,orders\nu1,control,inf\n"))
    with pytest.raises(SchemaError, match="no 'variant' column"):
        read_units_csv(_write(tmp_path / "d.csv", "unit_id,arm,orders\nu1,control,1\n"))
    with pytest.raises(InputError, match="unit 'u1' appears again on line 3"):
        read_units_csv(_write(tmp_path / "e.csv", "unit_id,variant,m\nu1,control,1\nu1,b,2\n"))
    with pytest.raises(InputError, match="line 2 has 2 fields"):
        read_units_csv(_write(tmp_path / "f.csv", "unit_id,variant,m\nu1,control\n"))
    with pytest.raises(InputError, match="'variant' is empty on line 2"):
        read_units_csv(_write(tmp_path / "g.csv", "unit_id,variant,m\nu1,,1\n"))
    with pytest.raises(InputError, match="not UTF-8"):
        (tmp_path / "h.csv").write_bytes(b"unit_id,variant,m\nu1,\xff\xfe,1\n")
        read_units_csv(tmp_path / "h.csv")
    with pytest.raises(InputError, match="no such file"):
        read_units_csv(tmp_path / "missing.csv")
    with pytest.raises(SchemaError, match="'before', which is not a column"):
        read_units_csv(
            _write(tmp_path / "i.csv", "unit_id,variant,m\nu1,a,1\n"), pre={"m": "before"}
        )
