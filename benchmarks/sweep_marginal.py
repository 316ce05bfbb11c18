#!/usr/bin/env python
"""How often ``coordination="marginal"`` certifies the optimum, on random small economies,
against HiGHS on the enterprise-level program written out in ``tests/_enterprise_lp.py``.

    python benchmarks/sweep_marginal.py --cases 60 --seed 1 --tol 1e-4
    python benchmarks/sweep_marginal.py --cases 40 --seed 3 --tol 1e-6 --no-rents
    python benchmarks/sweep_marginal.py --cases 150 --seed 1 --tol 1e-4 --imports

Each case: ``gosplan.synth.generate(n)`` with ``n`` in 20-120, ``synth_enterprises`` with
1.5-8 enterprises per product under 3 ministries, fulfilment of the table's final demand
with labour limited to 0.6-1.4 of the table's own use. For every case the plan must be
feasible on the enterprise-level rows and the bound at or above HiGHS' optimum ("bad"
otherwise); "optimal" cases must be within ``tol`` of it. ``--no-rents`` sets the scarcity
rents' start to 0 (the scheme without them). ``--imports``: a random share (0.05-0.5) of the
products untargeted with a negative floor instead (net imports; half of them three times
their use at the table's plan, imported in full, half 0.3 of it), the floors checked too.
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
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--no-rents", action="store_true")
    ap.add_argument("--imports", action="store_true", help="net imports (negative floors) on random products")
    args = ap.parse_args(argv)

    import _enterprise_lp as ref
    from test_decompose_marginal import _check_feasible, _check_rows, _economy, _imports, _labour

    import gosplan.decompose.marginal_centre as mc
    from gosplan.decompose import plan_decomposed
    from gosplan.results import Status

    if args.no_rents:
        mc.KAPPA_START = 0.0
    rng = np.random.default_rng(args.seed)
    counts = {"optimal": 0, "iteration_limit": 0, "other": 0, "bad": 0}
    t0 = time.perf_counter()
    for _ in range(args.cases):
        n, seed = int(rng.integers(20, 120)), int(rng.integers(0, 10_000))
        share, per = float(rng.uniform(0.6, 1.4)), float(rng.uniform(1.5, 8))
        econ = _economy(n, seed=seed, per=per, M=3)
        y = np.maximum(econ.y, 0)
        floor = None
        if args.imports:
            y, floor, _ = _imports(econ, seed, share=float(rng.uniform(0.05, 0.5)))
        L, available = _labour(econ, share)
        opt, _, _ = ref.solve(econ, econ.hierarchy, targets=y, available=available, floor=floor)
        res = plan_decomposed(econ, targets=y, floors=floor, resources={"labour": L}, coordination="marginal",
                              tol=args.tol)
        ok = res.bound >= opt * (1 - 1e-9) and res.objective <= opt * (1 + 1e-9)
        try:
            if floor is None:
                _check_feasible(res, econ, y, available, L)
            else:
                _check_rows(res, econ, y, floor, L)
        except AssertionError:
            ok = False
        kind = res.status.value if res.status in (Status.OPTIMAL, Status.ITERATION_LIMIT) else "other"
        if res.status is Status.OPTIMAL:
            ok = ok and abs(res.objective - opt) <= args.tol * opt
        counts[kind] += 1
        if not ok:
            counts["bad"] += 1
        print(f"n={n} seed={seed} labour={share:.3f} per={per:.2f}: {res.status.value}, "
              f"{res.objective / opt - 1:+.1e} from HiGHS, gap {res.gap:.1e}, {len(res.rounds)} rounds"
              + ("" if ok else "  BAD"), flush=True)
    print(f"{args.cases} cases, tol {args.tol:g}{', no rents' if args.no_rents else ''}"
          f"{', net imports' if args.imports else ''}: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" ({time.perf_counter() - t0:.0f} s)")
    return 1 if counts["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
