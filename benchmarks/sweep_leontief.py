#!/usr/bin/env python
"""How often the Leontief method plans random small economies itself, and whether every plan
(its own or its fallback's) agrees with an independent reference: HiGHS for ``fulfilment``
and ``cost``, Cockshott's program in cvxpy/Clarabel for ``harmony``.

    python benchmarks/sweep_leontief.py --cases 390 --seed 10
    python benchmarks/sweep_leontief.py --cases 100 --seed 10 --objectives harmony --reasons

Each case draws the economy of ``tests/test_plan_harmony_leontief.py::_random_economy`` (6-29
products by default, ``--sizes``; a second technique for ~30 %, labour and land limited to 0.7-1.2 of what the
table's demand needs) and, at random: one technique each with 1-3 negative input coefficients
(35 %), capacities (60 %), negative committed demand on targeted and untargeted products
(net imports, floors at it, 50 %), else negative floors on untargeted products alone (30 %),
ceilings on two products (25 %), three priority classes for ``fulfilment`` (40 %), value or
random harmony weights (30 % / 20 %). Each objective is planned with ``method="auto"`` and
``"leontief"`` (not with ceilings, which the method refuses). A case is *bad* when a plan's
status differs from the reference's, an optimal plan's objective (class 1's fulfilment with
priority classes) is more than 1e-6 (relative) from it, gosplan's own check fails at 1e-6, or
its prices miss row by row by more than 1e-6 (the check's price error, every stage).
The exit code is 1 if any case is bad.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _random_cases import draw  # tests/, on the path above

OBJECTIVES = ("fulfilment", "cost", "harmony")


def _plan(econ, objective: str, method: str, **kw):
    import gosplan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.plan(econ, objective=objective, method=method, tol=1e-6, **kw)


def _harmony_reference(econ, kw: dict, weights) -> float:
    """Cockshott's program (``tests/test_plan_harmony_leontief.py::reference`` with ceilings, and
    negative floors on untargeted products read as such where nothing is committed)."""
    import _clarabel as clarabel
    import cvxpy as cp

    U, O, P = (sp.csr_array(getattr(econ, k)).toarray() for k in ("use", "make", "primary"))
    n, m = O.shape
    y = np.asarray(econ.y, dtype=float)
    prod, res = list(map(str, econ.products)), list(map(str, econ.resources))
    committed, floors, ceilings = kw.get("committed"), kw.get("floors") or {}, kw.get("ceilings") or {}
    b = np.array([(committed or {}).get(p, 0.0) for p in prod])
    fl = np.array([floors.get(p, 0.0) for p in prod])
    ce = np.array([ceilings.get(p, np.inf) for p in prod])
    w = np.array([weights.get(p, 1.0) for p in prod]) if weights else np.ones(n)
    T = np.flatnonzero(y > 0)
    other = np.maximum(fl, b) if committed is not None else fl
    caps = kw.get("capacities", pd.Series(dtype=float))

    def program():
        x = cp.Variable(m, nonneg=True)
        u = cp.Variable(T.size, nonpos=True)
        v = cp.Variable(T.size, nonneg=True)
        net = (O - U) @ x
        cons = [u + v >= -1, net[T] >= b[T] + cp.multiply(y[T], 1 + u + v), net >= other * (y <= 0) + fl * (y > 0)]
        fin = np.flatnonzero(np.isfinite(ce))
        if fin.size:
            cons.append(net[fin] <= ce[fin])
        cons += [P[res.index(r)] @ x <= a for r, a in kw["resources"].items()]
        cons += [O[prod.index(p)] @ x <= c for p, c in caps.items()]
        return cp.Problem(cp.Maximize(w[T] @ (u - 0.5 * cp.square(u) + cp.log(1 + v))), cons), x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(clarabel.solve(program)[0].value)


def reason(stages) -> str:
    """The kind of a fallback, from the first stage message that gives one."""
    message = next((st.message for st in stages if "not applicable" in st.message), "")
    found = re.search(r"Leontief method not applicable \((.*?)(?:[:(;]|$)", message)
    text = found.group(1) if found else message[:60]
    return re.sub(r"[0-9][0-9.e+-]*", "#", text).strip().rstrip(")").strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=10, help="first case's seed (the cases are seed, seed + 1, ...)")
    ap.add_argument("--objectives", default=",".join(OBJECTIVES))
    ap.add_argument("--reasons", action="store_true", help="list why the method gave cases to HiGHS")
    ap.add_argument("--sizes", default="6:30", help="products per economy, LO:HI (HI excluded)")
    ap.add_argument("--list", action="store_true", help="print each case the method gave to HiGHS, with its features")
    args = ap.parse_args(argv)
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    lo, hi = (int(v) for v in args.sizes.split(":"))
    from gosplan.planning.problem import value_weights

    counts: Counter = Counter()
    reasons: Counter = Counter()
    bad = 0
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.cases):
        econ, kw, weights, classes, features = draw(seed, (lo, hi))
        for objective in objectives:
            kw_o = dict(kw)
            if objective == "cost":
                kw_o["costs"] = {"labour": 1.0, "land": 0.5}
            if objective == "harmony" and weights:
                kw_o["weights"] = weights
            if objective == "fulfilment" and classes:
                kw_o["priorities"] = classes
            methods = ("auto",) if "ceilings" in kw else ("auto", "leontief")
            if objective == "harmony":
                w = weights
                if weights == "value":
                    w = dict(zip(map(str, econ.products), map(float, value_weights(econ, np.asarray(econ.y, float)))))
                try:
                    ref_value, ref_status, ref = _harmony_reference(econ, kw, w), "optimal", None
                except Exception:  # noqa: BLE001 (an infeasible or failed reference: status not compared)
                    ref_value, ref_status, ref = np.nan, None, None
            else:
                ref = _plan(econ, objective, "highs", **kw_o)
                ref_value, ref_status = ref.objective, ref.status.value
            for method in methods:
                got = _plan(econ, objective, method, **kw_o)
                counts[(objective, method, got.method.split("-")[0], got.status.value)] += 1
                if method == "leontief" and got.method != "leontief":
                    reasons[(objective, reason(got.stages))] += 1
                    if args.list:
                        print(f"gave away: seed {seed} ({', '.join(features) or 'plain'}) {objective}: "
                              f"{' || '.join(st.message[:160] for st in got.stages)}", flush=True)
                problems = []
                if ref_status is not None and got.status.value != ref_status:
                    problems.append(f"status {got.status.value} against {ref_status}")
                elif got.status.value == "optimal":
                    if objective == "fulfilment" and classes and ref is not None:
                        first = min(ref.class_fulfilment)
                        if abs(got.class_fulfilment[first] - ref.class_fulfilment[first]) > 1e-6:
                            problems.append(f"class 1 {got.class_fulfilment[first]!r} against "
                                            f"{ref.class_fulfilment[first]!r}")
                    elif np.isfinite(ref_value) and abs(got.objective - ref_value) > 1e-6 * max(1.0, abs(ref_value)):
                        problems.append(f"objective {got.objective!r} against {ref_value!r}")
                    if got.max_violation > 1e-6 or got.duality_gap > 1e-6:
                        problems.append(f"check {got.max_violation:.1e} / {got.duality_gap:.1e}")
                    price_error = max(st.price_error for st in got.stages)
                    if not price_error <= 1e-6:
                        problems.append(f"prices off row by row by {price_error:.1e}")
                if problems:
                    bad += 1
                    print(f"BAD seed {seed} ({', '.join(features) or 'plain'}) {objective} {method} "
                          f"[{got.method}]: {'; '.join(problems)}", flush=True)
    print(f"\n{args.cases} cases of {lo}-{hi - 1} products from seed {args.seed}, "
          f"{time.perf_counter() - start:.0f} s; bad: {bad}\n")
    print("| objective | method asked | planned by | status | cases |\n|---|---|---|---|---:|")
    for (objective, method, by, status), k in sorted(counts.items()):
        print(f"| {objective} | {method} | {by} | {status} | {k} |")
    if args.reasons and reasons:
        print("\n| objective | why the method gave the case to HiGHS | cases |\n|---|---|---:|")
        for (objective, why), k in sorted(reasons.items(), key=lambda kv: (kv[0][0], -kv[1])):
            print(f"| {objective} | {why} | {k} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
