"""Optimisation backends for gosplan's plans.

:mod:`gosplan.optim.lp` holds the one problem form every backend reads
(:class:`LinearProgram`) and the solution form every backend returns
(:class:`LPSolution`); :mod:`gosplan.optim.highs` is the exact reference (HiGHS);
:mod:`gosplan.optim.pdhg` is gosplan's own first-order solver for large plans;
:mod:`gosplan.optim.check` recomputes feasibility and the duality gap of any
solution independently of the backend that produced it.
"""
