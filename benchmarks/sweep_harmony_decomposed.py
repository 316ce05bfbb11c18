#!/usr/bin/env python
"""How often two-level planning certifies Cockshott's harmony optimum, on random small economies,
against the enterprise-level harmony program written in cvxpy (Clarabel) in
``tests/test_decompose_harmony.py``.

    python benchmarks/sweep_harmony_decomposed.py --cases 50 --seed 11 --tol 1e-6
    python benchmarks/sweep_harmony_decomposed.py --cases 40 --seed 17 --tol 1e-9

Each case is one draw of the test's property: 2-10 products, 1-4 ministries, enterprises with
own norms (30 %) or not, products without enterprises (25 %) or not, untargeted products (30 %)
or not, weights or not, labour 0.6, 1.0 or 1.5 of the table's own use. A case is "bad" when the
plan is not ``optimal``, or its harmony differs from Clarabel's by more than ``max(tol, 1e-6)``
(relative to ``max(|H|, 1)``: Clarabel's own accuracy is about 1e-9), or the enterprises' own net
outputs do not attain it. Exits 1 on any bad case.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args(argv)

    from test_decompose_harmony import plan_harmony, random_case, reference

    from gosplan.decompose import plan_decomposed

    draw = np.random.default_rng(args.seed)
    bad = 0
    t0 = time.perf_counter()
    for _ in range(args.cases):
        n, seed, M = int(draw.integers(2, 11)), int(draw.integers(0, 10_000)), int(draw.integers(1, 5))
        own, uncovered, untargeted = (float(draw.choice([0.0, 0.3])), float(draw.choice([0.0, 0.25])),
                                      float(draw.choice([0.0, 0.3])))
        weighted, slack = bool(draw.integers(0, 2)), float(draw.choice([0.6, 1.0, 1.5]))
        econ, y, w, labour = random_case(n, seed, M, own, uncovered, untargeted, weighted, slack)
        best = reference(econ, econ.hierarchy, targets=y, labour=labour, weights=w)
        res = plan_decomposed(econ, objective="harmony", targets=y, resources={"labour": labour}, tol=args.tol,
                              weights=dict(zip(econ.products, w)) if weighted else None)
        scale = max(abs(best), 1.0)
        err = (res.objective - best) / scale
        ok = res.status.value == "optimal" and abs(err) <= max(args.tol, 1e-6)
        if ok:
            try:
                ok = plan_harmony(res, econ, econ.hierarchy, y, labour, w) >= best - max(args.tol, 1e-6) * scale
            except AssertionError:
                ok = False
        bad += not ok
        print(f"n={n} seed={seed} M={M} own={own} uncovered={uncovered} untargeted={untargeted} weighted={weighted} "
              f"labour={slack}: {res.status.value}, harmony {res.objective:.9g} ({err:+.1e} from Clarabel), "
              f"gap {res.gap:.1e}, {len(res.rounds)} rounds" + ("" if ok else f"  BAD: {res.message}"), flush=True)
    print(f"{args.cases} cases, tol {args.tol:g}: {args.cases - bad} optimal and right, {bad} bad "
          f"({time.perf_counter() - t0:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
