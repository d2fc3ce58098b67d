"""Small statistics for the comparison and the report (stdlib only, torch-free).

- ``interval``: mean, sample std and the 95 % confidence interval of the mean
  over seeds, ``mean ± t(0.975, n-1) * sd / sqrt(n)`` (Student t); none for one value.
- ``difference``: a method's accuracy minus standard's with its 95 % interval:
  paired by seed (the mean of the per-seed differences) when both have exactly
  the same seeds, each once, and at least two; otherwise Welch's unequal-variance
  interval (Welch-Satterthwaite degrees of freedom; needs two values on each side).
- ``auc``: area under accuracy against strength (trapezoid), divided by the strength range.
- ``halving``: the strength where accuracy first falls to half its reference (linear interpolation).
- ``lowest_within``: the lowest bit width from which every wider width is within a tolerance of full precision.

Bounded summaries over seeds (for the tables' second pass; pure functions):

- ``bounded_interval``: mean, sd and the 95 % t interval of the mean, cut at the
  bounds of what is measured (an accuracy lies in [0, 1]); with fewer than
  MIN_SEEDS values no interval at all, and a note saying so. Why cut rather than
  a logit-scale interval: the mean accuracy lies in [0, 1], so an interval cut
  there covers it exactly when the uncut one does (coverage unchanged), it keeps
  the printed arithmetic mean inside it and equals the plain t interval
  wherever that stayed inside the bounds; a logit interval would change every
  interval, centre on another mean and fails for a seed at exactly 0 or 100 %.
  A cut interval is flagged (``clipped``, a note): its seeds disagree so much
  that the symmetric interval reached past a bound.
- ``bounded_difference``: ``difference`` under the same rules (at least MIN_SEEDS
  seeds, cut at [-1, 1]): the clean-accuracy difference to standard.
- ``paired_difference``: a minus b over the seeds both have, paired by seed (the
  same seeds, and for sweeps the same noise draws: the same sweep seed and
  trials, which the caller checks), as a bounded interval of the per-seed
  differences (bounds [-1, 1] for accuracies).
- ``auc_above`` and ``halving_above``: a sweep measured above chance (CHANCE =
  10 %, CIFAR-10's ten balanced classes): a model at chance has AUC 0 and no
  halving strength, never "robust".
- ``bit_drops``: a quantization sweep as the drop from the unquantized accuracy per bit width.
- ``sweep_summary`` (one run's sweep) and ``over_seeds`` / ``summarize`` (a group's runs,
  with the paired difference to standard).
- ``ranks`` and ``spearman``: Spearman's rank correlation (Pearson's r of the ranks, ties
  given their average rank), e.g. of the runs' sharpness against their robustness.

The t quantile is computed here: scipy is not a dependency and ``statistics``
has no t distribution. ``t_quantile`` inverts the t distribution function,
written with the regularized incomplete beta function (continued fraction,
Numerical Recipes 6.4), by bisection; it works for the fractional degrees of
freedom of Welch's interval and agrees with printed tables (T975, checked by the
tests) to their 4 decimals.
"""

from __future__ import annotations

import math
from typing import Any

# t(0.975, df) from printed tables: the tests check t_quantile against them
T975 = {
    1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622,
    10: 2.2281, 11: 2.2010, 12: 2.1788, 13: 2.1604, 14: 2.1448, 15: 2.1314, 16: 2.1199, 17: 2.1098, 18: 2.1009,
    19: 2.0930, 20: 2.0860, 21: 2.0796, 22: 2.0739, 23: 2.0687, 24: 2.0639, 25: 2.0595, 26: 2.0555, 27: 2.0518,
    28: 2.0484, 29: 2.0452, 30: 2.0423, 40: 2.0211, 60: 2.0003, 120: 1.9799,
}


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lnfront = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lnfront) * _betacf(a, b, x) / a
    return 1 - math.exp(lnfront) * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0.5 < p < 1), by bisection to 1e-10."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive (got {df})")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    while hi - lo > 1e-10:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def t975(df: float) -> float:
    """t(0.975, df): the two-sided 95 % quantile."""
    return t_quantile(0.975, df)


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one value)."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def interval(values: list[float]) -> dict[str, Any]:
    """n, mean, sd and the 95 % CI of the mean (``half`` its half-width); sd and CI None for one value."""
    m, sd = mean_sd(values)
    n = len(values)
    if sd is None:
        return {"n": n, "mean": m, "sd": None, "half": None, "low": None, "high": None}
    half = t975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": m, "sd": sd, "half": half, "low": m - half, "high": m + half}


def difference(a: dict[int, list[float]], b: dict[int, list[float]]) -> dict[str, Any] | None:
    """``a - b`` for two groups of per-seed values ({seed: [values]}): see the module docstring.
    None when there is no interval to give (e.g. one run on each side, not paired)."""
    va = [v for vs in a.values() for v in vs]
    vb = [v for vs in b.values() for v in vs]
    once = all(len(vs) == 1 for vs in (*a.values(), *b.values()))
    if once and set(a) == set(b) and len(a) >= 2:
        d = interval([a[s][0] - b[s][0] for s in sorted(a)])
        return {"test": "paired", "n": d["n"], "diff": d["mean"], "half": d["half"], "low": d["low"],
                "high": d["high"], "df": d["n"] - 1}
    diff = sum(va) / len(va) - sum(vb) / len(vb)
    if len(va) < 2 or len(vb) < 2:
        return {"test": "none", "n": min(len(va), len(vb)), "diff": diff, "half": None, "low": None, "high": None,
                "df": None}
    (_, sa), (_, sb) = mean_sd(va), mean_sd(vb)
    qa, qb = sa * sa / len(va), sb * sb / len(vb)
    se = math.sqrt(qa + qb)
    if se == 0:
        return {"test": "welch", "n": min(len(va), len(vb)), "diff": diff, "half": 0.0, "low": diff, "high": diff,
                "df": float(len(va) + len(vb) - 2)}
    df = (qa + qb) ** 2 / (qa * qa / (len(va) - 1) + qb * qb / (len(vb) - 1))
    half = t975(df) * se
    return {"test": "welch", "n": min(len(va), len(vb)), "diff": diff, "half": half, "low": diff - half,
            "high": diff + half, "df": df}


def auc(xs: list[float], ys: list[float]) -> float | None:
    """Trapezoid area under ys(xs) divided by the range of xs (the mean accuracy over the range);
    None with fewer than two points."""
    if len(xs) < 2 or xs[-1] == xs[0]:
        return None
    area = sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1))
    return area / (xs[-1] - xs[0])


def halving(xs: list[float], ys: list[float], ref: float) -> float | None:
    """The first strength where ys falls to ``ref / 2``, linearly interpolated between
    the two points around it; None when it never does within xs."""
    half = ref / 2
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y <= half:
            if i == 0:
                return x
            x0, y0 = xs[i - 1], ys[i - 1]
            return x0 + (x - x0) * (y0 - half) / (y0 - y)
    return None


def lowest_within(points: dict[int, float], fp: float, tol: float = 0.01) -> int | None:
    """The lowest bit width b such that b and every wider width are within ``tol`` below ``fp``;
    None when even the widest is not."""
    best = None
    for b in sorted(points, reverse=True):
        if points[b] < fp - tol:
            break
        best = b
    return best


# ------------------------------------------------------------ bounded, over seeds
CHANCE = 0.1  # CIFAR-10 (and nawt's synthetic look-alike): ten balanced classes
MIN_SEEDS = 3  # fewer: no interval (two seeds give t(0.975, 1) = 12.7: a meaningless width)
# a clean accuracy less than this above chance has no halving strength to measure: "near chance"
# (the CPU study's trial-to-trial spread was 2-3 points: as large as what would be halved)
AT_CHANCE = 0.05


def bounded_interval(values: list[float], low: float = 0.0, high: float = 1.0,
                     min_n: int = MIN_SEEDS) -> dict[str, Any]:
    """n, mean, sd and the 95 % t interval of the mean (``low``/``high``, ``half`` the uncut
    half-width), cut at [low, high] (``clipped``); the interval None with a ``note`` when
    there are fewer than ``min_n`` values. See the module docstring for why cut."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "half": None, "low": None, "high": None, "clipped": False,
                "note": "no values"}
    m, sd = mean_sd(values)
    out = {"n": n, "mean": m, "sd": sd, "half": None, "low": None, "high": None, "clipped": False, "note": ""}
    if n < min_n:
        out["note"] = f"too few seeds for an interval ({n}; {min_n} needed)"
        return out
    half = t975(n - 1) * sd / math.sqrt(n)
    lo, hi = max(low, m - half), min(high, m + half)
    out.update(half=half, low=lo, high=hi, clipped=(lo, hi) != (m - half, m + half))
    if out["clipped"]:
        out["note"] = f"interval cut at {'the lower' if lo == low else 'the upper'} bound: the seeds disagree widely"
    return out


def _numbers(values: dict[int, float | str | None]) -> tuple[dict[int, float], str]:
    """The numeric values, and a note naming why the others have none (e.g. '1 of 3 seeds: near chance')."""
    nums = {s: float(v) for s, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    why: dict[str, int] = {}
    for v in values.values():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            key = v if isinstance(v, str) and v else "no value"
            why[key] = why.get(key, 0) + 1
    note = "; ".join(f"{k} of {len(values)} seeds: {w}" for w, k in why.items())
    return nums, note


def over_seeds(values: dict[int, float | str | None], low: float = 0.0, high: float = 1.0,
               min_n: int = MIN_SEEDS) -> dict[str, Any]:
    """One metric over a group's seeds ({seed: value}): ``bounded_interval`` of the values.
    A value may be a reason instead (a string such as "near chance" or "beyond 0.1", or None):
    then there is no mean (leaving such seeds out would bias it) and the note counts the reasons."""
    nums, note = _numbers(values)
    if note:
        return {**bounded_interval([], low, high, min_n), "n": len(values), "note": note}
    return {**bounded_interval([nums[s] for s in sorted(nums)], low, high, min_n), "seeds": sorted(nums)}


def paired_difference(a: dict[int, float | str | None], b: dict[int, float | str | None], low: float = -1.0,
                      high: float = 1.0, min_n: int = MIN_SEEDS) -> dict[str, Any]:
    """``a - b`` paired by seed over the seeds both have with a number: the mean per-seed
    difference (``diff``) with its bounded 95 % interval; the note names seeds left out."""
    na, note_a = _numbers(a)
    nb, note_b = _numbers(b)
    common = sorted(set(na) & set(nb))
    res = bounded_interval([na[s] - nb[s] for s in common], low, high, min_n)
    notes = [n for n in (res["note"],) if n]
    alone = sorted((set(a) | set(b)) - set(common))
    if alone:
        notes.append(f"seeds {', '.join(map(str, alone))} left out (not a number on both sides)")
    return {**res, "diff": res["mean"], "seeds": common, "note": "; ".join(notes),
            "why_a": note_a, "why_b": note_b}


def bounded_difference(a: dict[int, list[float]], b: dict[int, list[float]], low: float = -1.0,
                       high: float = 1.0, min_n: int = MIN_SEEDS) -> dict[str, Any]:
    """``difference`` (paired by seed, else Welch) with the reviewer's rules: no interval
    with fewer than ``min_n`` seeds on a side (a ``note`` says so) and the interval cut at
    [low, high] (``clipped``, noted): a difference of accuracies lies in [-1, 1]."""
    d = difference(a, b)
    d.update(clipped=False, note="")
    n = d["n"] if d["test"] == "paired" else min(sum(map(len, a.values())), sum(map(len, b.values())))
    if n < min_n:
        d.update(half=None, low=None, high=None, note=f"too few seeds for an interval ({n}; {min_n} needed)")
        if d["test"] != "paired":
            d["test"] = "none"
        return d
    if d["low"] is not None:
        lo, hi = max(low, d["low"]), min(high, d["high"])
        if (lo, hi) != (d["low"], d["high"]):
            d.update(low=lo, high=hi, clipped=True,
                     note="interval cut at a bound of what can be measured: the seeds disagree widely")
    return d


def auc_above(xs: list[float], ys: list[float], chance: float = CHANCE) -> float | None:
    """The mean accuracy above chance over the strength range: the area between the
    piecewise-linear curve ys(xs) and the chance line, where the curve is above it,
    divided by the range (a model at chance: 0). None with fewer than two points."""
    if len(xs) < 2 or xs[-1] == xs[0]:
        return None
    area = 0.0
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        a, b, dx = y0 - chance, y1 - chance, x1 - x0
        if a >= 0 and b >= 0:
            area += (a + b) / 2 * dx
        elif a > 0 or b > 0:  # the segment crosses the chance line: the triangle above it
            top = max(a, b)
            area += top * dx * top / (abs(a) + abs(b)) / 2
    return area / (xs[-1] - xs[0])


def halving_above(xs: list[float], ys: list[float], ref: float | None = None, chance: float = CHANCE,
                  floor: float = AT_CHANCE) -> tuple[float | None, str]:
    """The first strength where the accuracy above chance falls to half of ``ref``'s
    (default: ys at the first strength), linearly interpolated, and "" ; or (None, why):
    "near chance" when ref is less than ``floor`` above chance (nothing to halve),
    "beyond <largest strength>" when it does not halve within xs."""
    ref = ys[0] if ref is None else ref
    if ref - chance < floor:
        return None, "near chance"
    x = halving(xs, [y - chance for y in ys], ref - chance)
    return (x, "") if x is not None else (None, f"beyond {xs[-1]:g}")


def bit_drops(points: dict[int, float], fp: float) -> dict[int, float]:
    """The accuracy lost at each bit width: unquantized minus quantized (negative: it gained)."""
    return {b: fp - acc for b, acc in sorted(points.items(), reverse=True)}


def sweep_summary(points: dict[float, float], ref: float | None = None, chance: float = CHANCE) -> dict[str, Any]:
    """One run's robustness sweep ({strength: mean accuracy over its trials}) above chance:
    ``auc`` (auc_above), ``halving`` (a number, or the reason there is none: halving_above),
    ``ref`` (the accuracy halved: the first strength's unless given)."""
    xs = sorted(points)
    ys = [points[x] for x in xs]
    value, why = halving_above(xs, ys, ref, chance)
    return {"auc": auc_above(xs, ys, chance), "halving": value if value is not None else why,
            "ref": ys[0] if ref is None else ref}


BOUNDS = {"auc": (0.0, 1.0 - CHANCE), "halving": (0.0, math.inf), "accuracy": (0.0, 1.0), "drop": (-1.0, 1.0)}


def summarize(per_seed: dict[int, dict[str, Any]], standard: dict[int, dict[str, Any]] | None = None,
              bounds: dict[str, tuple[float, float]] | None = None) -> dict[str, dict[str, Any]]:
    """Per metric of a group's runs ({seed: {metric: value}}, e.g. sweep_summary's auc and
    halving, or "drop@4"): ``over_seeds`` within its bounds (``bounds`` by metric name, else
    BOUNDS by the name before any "@", else [0, 1]) and ``vs_standard``, the paired
    difference to the standard group's runs of the same seeds (None without them)."""
    bounds = {**BOUNDS, **(bounds or {})}
    metrics = list(dict.fromkeys(k for row in per_seed.values() for k in row))
    out = {}
    for m in metrics:
        lo, hi = bounds.get(m, bounds.get(m.split("@")[0], (0.0, 1.0)))
        vals = {s: row.get(m) for s, row in per_seed.items()}
        res = over_seeds(vals, lo, hi)
        if standard is not None:
            span = hi - lo
            res["vs_standard"] = paired_difference(vals, {s: row.get(m) for s, row in standard.items()},
                                                   -span, span)
        out[m] = res
    return out


# ------------------------------------------------------------ rank correlation
def ranks(values: list[float]) -> list[float]:
    """1-based ranks; tied values share the average of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation of paired values: Pearson's r of their (average) ranks.
    None with fewer than 3 pairs or when either side has one value only (no ranking)."""
    if len(xs) != len(ys):
        raise ValueError("spearman needs pairs: xs and ys differ in length")
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


__all__ = ["AT_CHANCE", "BOUNDS", "CHANCE", "MIN_SEEDS", "auc_above", "bit_drops", "bounded_difference",
           "bounded_interval",
           "halving_above", "over_seeds", "paired_difference", "summarize", "sweep_summary",
           "T975", "auc", "difference", "halving", "interval", "lowest_within", "mean_sd", "t975", "t_cdf",
           "t_quantile", "ranks", "spearman"]
