#!/usr/bin/python3
"""Golden values for mrbench's rank tests (tests/unit/test_stats.c), computed
with scipy.stats, an implementation independent of impl/stats.

Run with Debian's python3 (python3-numpy, python3-scipy):
    /usr/bin/python3 tests/golden/stats/make_stats_golden.py > tests/golden/stats/stats_golden.json

Conventions mrbench follows (impl/report/README.md):
- Wilcoxon: zero differences dropped (zero_method='wilcox'); exact p when at
  most 50 non-zero differences and no tied |d| (method='exact'); otherwise the
  normal approximation with tie and continuity correction
  (method='approx', correction=True). Two-sided; statistic min(W+, W-).
- Mann-Whitney U: scipy's defaults (method='auto', use_continuity=True),
  two-sided; statistic U of the first sample.
- Benjamini-Hochberg: the step-up adjustment, computed here with numpy.
"""
import json
import sys

import numpy as np
import scipy
from scipy import stats


def wilcoxon_case(name, d):
    d = np.asarray(d, dtype=float)
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) != len(nz)
    exact = len(nz) <= 50 and not ties and len(nz) == len(d)
    if exact:
        res = stats.wilcoxon(d, method="exact")
    else:
        res = stats.wilcoxon(d, method="approx", correction=True)
    return {"name": name, "d": [float(v) for v in d], "statistic": float(res.statistic),
            "pvalue": float(res.pvalue), "mode": "exact" if exact else "approx"}


def mwu_case(name, x, y):
    res = stats.mannwhitneyu(x, y, alternative="two-sided")
    return {"name": name, "x": [float(v) for v in x], "y": [float(v) for v in y],
            "statistic": float(res.statistic), "pvalue": float(res.pvalue)}


def bh(p):
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    q = np.empty(m)
    running = 1.0
    for k in range(m - 1, -1, -1):
        i = order[k]
        running = min(running, p[i] * m / (k + 1))
        q[i] = running
    return q


def main():
    rng = np.random.RandomState(20171001)
    w = []
    # Exact mode: small n, continuous differences (no ties, no zeros).
    w.append(wilcoxon_case("exact n=5 all positive", [0.5, 1.25, 2.0, 0.75, 3.5]))
    w.append(wilcoxon_case("exact n=6 mixed", [0.3, -1.1, 2.4, -0.2, 1.7, 0.9]))
    w.append(wilcoxon_case("exact n=10 normal", np.round(rng.normal(0.3, 1.0, 10), 6)))
    w.append(wilcoxon_case("exact n=20 normal", np.round(rng.normal(0.0, 1.0, 20), 6)))
    w.append(wilcoxon_case("exact n=30 shifted", np.round(rng.normal(0.5, 1.0, 30), 6)))
    w.append(wilcoxon_case("exact n=50 normal", np.round(rng.normal(0.1, 1.0, 50), 6)))
    w.append(wilcoxon_case("exact n=1", [0.7]))
    w.append(wilcoxon_case("exact n=4 planted -0.5 dB drop", [-0.5000001, -0.4999999, -0.5000002, -0.4999998]))
    # Approximation: ties, zeros, n > 50.
    w.append(wilcoxon_case("approx ties", [1.0, -1.0, 2.0, 2.0, 3.0, -3.0, 3.0, 4.0, 1.0, 2.0]))
    w.append(wilcoxon_case("approx zeros", [0.0, 0.0, 1.5, -0.5, 2.5, 3.0, -1.0, 0.0, 4.0, 2.0, 1.0, 3.5]))
    w.append(wilcoxon_case("approx n=80 normal", np.round(rng.normal(0.2, 1.0, 80), 6)))
    w.append(wilcoxon_case("approx n=60 rounded (ties)", np.round(rng.normal(0.0, 1.0, 60), 1)))
    w.append(wilcoxon_case("approx all tied, one sign", [-0.5, -0.5, -0.5, -0.5]))
    m = []
    m.append(mwu_case("exact 5 vs 6", [1.1, 2.3, 0.4, 3.3, 2.9], [4.1, 5.2, 3.9, 6.0, 4.4, 5.5]))
    m.append(mwu_case("exact 8 vs 30", np.round(rng.normal(0, 1, 8), 6), np.round(rng.normal(0.8, 1, 30), 6)))
    m.append(mwu_case("approx 12 vs 12", np.round(rng.lognormal(-4.6, 0.2, 12), 9), np.round(rng.lognormal(-4.5, 0.2, 12), 9)))
    m.append(mwu_case("approx ties 10 vs 9", [1, 2, 2, 3, 3, 3, 4, 5, 5, 6], [2, 3, 4, 4, 5, 6, 6, 7, 8]))
    m.append(mwu_case("exact identical distributions 3 vs 4", [1.0, 3.0, 5.0], [2.0, 4.0, 6.0, 0.5]))
    p = [0.01, 0.04, 0.03, 0.2, 0.5, 0.001, 0.04, 0.9]
    b = [{"p": p, "q": [float(v) for v in bh(p)]}]
    out = {"generator": "tests/golden/stats/make_stats_golden.py", "scipy": scipy.__version__,
           "numpy": np.__version__, "wilcoxon": w, "mannwhitney": m, "bh": b}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
