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


__all__ = ["T975", "auc", "difference", "halving", "interval", "lowest_within", "mean_sd", "t975", "t_cdf",
           "t_quantile"]
