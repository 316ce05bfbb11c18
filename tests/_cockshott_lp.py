"""Cockshott's N-year plan LP written out as his ``nyearplan.java`` writes it, variable for
variable, and solved by HiGHS: the independent reference for gosplan's multi-year plans.

Variables (all >= 0, as in lp_solve): ``output[j,t]``, ``flow[j,i,t]`` (for ``Z[i,j] != 0``),
``cap[j,i,t]``, ``dep[j,i,t]`` and ``acc[j,i,t]`` (for ``K[i,j] != 0``: the pairs his output
constraints use), ``labour[j,t]``, ``labourTotal[t]``, ``accTotal[i,t]``, ``prodcons[i,t]``,
``cons[i,t]``, ``z[t]``. Constraints, as he prints them::

    max: z[1] + ... + z[T]
    z[t] <= cons[i,t] / targ[t,i]                      (targ > 0)
    labourTotal[t] >= sum_j labour[j,t];  labourTotal[t] <= L[t]
    output[j,t] <= output0[j] / K[i,j] * cap[j,i,t]    (K != 0)
    output[j,t] <= output0[j] / Z[i,j] * flow[j,i,t]   (Z != 0)
    dep[j,i,t] = delta[i,j] cap[j,i,t]
    cap[j,i,t] <= cap[j,i,t-1] + acc[j,i,t-1] - dep[j,i,t-1]   (t > 1);  cap[j,i,1] <= K[i,j]
    output[j,t] <= output0[j] / lab[j] * labour[j,t]    (output0 != 0)
    accTotal[i,t] >= sum_j acc[j,i,t];  prodcons[i,t] >= sum_j flow[j,i,t]
    cons[i,t] <= output[i,t] - accTotal[i,t] - prodcons[i,t]

``lab[j] = 0`` makes his coefficient infinite (no labour constraint); we leave the row out.
A year without any target would leave ``z[t]`` unbounded; we fix it at 0 (as gosplan does).
Only this file and numpy/scipy/highspy: no gosplan code.
"""

from __future__ import annotations

import csv
import gzip
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def read_four_files(directory: Path) -> dict:
    """flows/cap/dep/labtarg (.csv or .csv.gz) with the csv module: Z[i, j], K[i, j], delta[i, j], lab, x0, targ[t, i], L[t]."""

    def table(name):
        plain = directory / f"{name}.csv"
        text = plain.read_text() if plain.exists() else gzip.decompress((directory / f"{name}.csv.gz").read_bytes()).decode()
        rows = [r for r in csv.reader(text.splitlines()) if r and r[0].strip()]
        head = [h.strip() for h in rows[0][1:]]
        body = {r[0].strip(): [float(v) for v in r[1:len(head) + 1]] for r in rows[1:]}
        return head, body

    head, flows = table("flows")
    _, cap = table("cap")
    _, dep = table("dep")
    thead, targ = table("labtarg")
    years = sorted((k for k in targ if k.startswith("year")), key=lambda s: int(s[4:]))
    prods = head
    return {
        "products": prods,
        "Z": np.array([flows[p] for p in prods]),
        "K": np.array([cap[p] for p in prods]),
        "delta": np.array([dep[p] for p in prods]),
        "lab": np.array(flows["labour"]),
        "x0": np.array(flows["output"]),
        "targ": np.array([[targ[y][thead.index(p)] for p in prods] for y in years]),
        "L": np.array([targ[y][thead.index("labour")] for y in years]),
    }


class _Builder:
    def __init__(self):
        self.ncol = 0
        self.rows: list[tuple[dict, float, float]] = []

    def var(self, count=1):
        start = self.ncol
        self.ncol += count
        return start if count == 1 else np.arange(start, start + count)

    def row(self, coefs: dict, lo: float, hi: float):
        self.rows.append((coefs, lo, hi))


def cockshott_lp(Z, K, delta, lab, x0, targ, L, *, weights=None):
    """Build the LP: returns (c, A (csr), row_lo, row_hi, col_lo, col_hi, index of z columns)."""
    n = Z.shape[0]
    T = targ.shape[0]
    b = _Builder()
    INF = np.inf
    out = {(j, t): b.var() for j in range(n) for t in range(T)}
    flow = {(j, i, t): b.var() for t in range(T) for i in range(n) for j in range(n) if Z[i, j] != 0}
    pairs = [(j, i) for i in range(n) for j in range(n) if K[i, j] != 0]
    cap = {(j, i, t): b.var() for t in range(T) for (j, i) in pairs}
    dep = {(j, i, t): b.var() for t in range(T) for (j, i) in pairs}
    acc = {(j, i, t): b.var() for t in range(T) for (j, i) in pairs}
    labour = {(j, t): b.var() for j in range(n) for t in range(T)}
    ltot = {t: b.var() for t in range(T)}
    atot = {(i, t): b.var() for i in range(n) for t in range(T)}
    pcons = {(i, t): b.var() for i in range(n) for t in range(T)}
    cons = {(i, t): b.var() for i in range(n) for t in range(T)}
    z = {t: b.var() for t in range(T)}
    for t in range(T):
        for i in range(n):
            if targ[t, i] > 0:
                b.row({z[t]: 1.0, cons[i, t]: -1.0 / targ[t, i]}, -INF, 0.0)
        b.row({ltot[t]: 1.0, **{labour[j, t]: -1.0 for j in range(n)}}, 0.0, INF)
        b.row({ltot[t]: 1.0}, -INF, L[t])
        for j in range(n):
            for i in range(n):
                if K[i, j] != 0:
                    b.row({out[j, t]: 1.0, cap[j, i, t]: -x0[j] / K[i, j]}, -INF, 0.0)
                if Z[i, j] != 0:
                    b.row({out[j, t]: 1.0, flow[j, i, t]: -x0[j] / Z[i, j]}, -INF, 0.0)
                if K[i, j] != 0:
                    b.row({dep[j, i, t]: 1.0, cap[j, i, t]: -delta[i, j]}, 0.0, 0.0)
                    if t > 0:
                        b.row({cap[j, i, t]: 1.0, cap[j, i, t - 1]: -1.0, acc[j, i, t - 1]: -1.0,
                               dep[j, i, t - 1]: 1.0}, -INF, 0.0)
                    else:
                        b.row({cap[j, i, t]: 1.0}, -INF, K[i, j])
            if x0[j] != 0 and lab[j] != 0:
                b.row({out[j, t]: 1.0, labour[j, t]: -x0[j] / lab[j]}, -INF, 0.0)
            if x0[j] == 0:  # output <= 0 * flow: not operated (only if it has an input; we do it always)
                b.row({out[j, t]: 1.0}, -INF, 0.0)
        for i in range(n):
            b.row({atot[i, t]: 1.0, **{acc[j, i, t]: -1.0 for j in range(n) if K[i, j] != 0}}, 0.0, INF)
            b.row({pcons[i, t]: 1.0, **{flow[j, i, t]: -1.0 for j in range(n) if Z[i, j] != 0}}, 0.0, INF)
            b.row({cons[i, t]: 1.0, out[i, t]: -1.0, atot[i, t]: 1.0, pcons[i, t]: 1.0}, -INF, 0.0)
    rows, cols, vals = [], [], []
    for r, (coefs, _, _) in enumerate(b.rows):
        for cidx, v in coefs.items():
            rows.append(r), cols.append(cidx), vals.append(v)
    A = sp.csr_array((vals, (rows, cols)), shape=(len(b.rows), b.ncol))
    c = np.zeros(b.ncol)
    w = np.ones(T) if weights is None else np.asarray(weights)
    zc = np.array([z[t] for t in range(T)])
    c[zc] = -w
    chi = np.full(b.ncol, np.inf)
    chi[zc[~(targ > 0).any(axis=1)]] = 0.0  # a year without targets: z = 0 (else unbounded)
    lo = np.array([r[1] for r in b.rows])
    hi = np.array([r[2] for r in b.rows])
    return c, A, lo, hi, np.zeros(b.ncol), chi, zc


def solve_highs(c, A, lo, hi, clo, chi, *, solver="simplex", time_limit=600.0):
    """(objective of the max problem, z values, primal vector, seconds, model status string)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", solver)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.setOptionValue("dual_feasibility_tolerance", 1e-9)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, clo, chi
    lp.row_lower_, lp.row_upper_ = lo, hi
    Ac = sp.csc_array(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = Ac.indptr, Ac.indices, Ac.data
    h.passModel(lp)
    t0 = time.perf_counter()
    h.run()
    dt = time.perf_counter() - t0
    sol = np.asarray(h.getSolution().col_value)
    return -h.getInfo().objective_function_value, sol, dt, str(h.getModelStatus())
