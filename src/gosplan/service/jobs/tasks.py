"""What a bureau job does on a Dask worker: load the economy, call the library, return a payload.

Pure functions of their arguments (no database: a worker of a cluster cannot reach SQLite):

* :func:`run_plan`: ``kind`` ``"plan"`` (:func:`gosplan.plan`), ``"five-year"``
  (:func:`gosplan.plan_years`) or ``"two-level"`` (:func:`gosplan.plan_decomposed`), then
  :func:`gosplan.breakdown` into enterprise targets and input allocations;
* :func:`run_replan`: the enterprises' latest reported capacities replace their capacities in
  the hierarchy, the hierarchy is aggregated (:func:`gosplan.aggregate`, issue 5) and planned
  again as :func:`run_plan` does;
* :func:`run_simulation`: :func:`gosplan.execute` with random shocks, households and
  Cyberstride's monitoring.

A plan of an economy whose hierarchy has enterprises is made on the economy the enterprises
report (:func:`gosplan.aggregate`: capacity-weighted techniques, the enterprises' capacities as
the products' capacities), as the chain of command does, so that the breakdown's enterprise
inputs add up to the plan's intermediate use and no product is planned beyond its enterprises.

``progress(fraction, message)`` is called as the work goes on; it may raise :class:`Cancelled`
to stop it (the runner's callback does when the job's cancel event is set). Every number of a
payload is a plain float, ``None`` where the library's is NaN or infinite
(:mod:`gosplan.service.payload`). :func:`run_job` is what the runner submits: it wraps these
with the distributed progress and cancel channel and returns how the job ended (a library
error as its message and the worker's traceback).
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from typing import Any, Callable

import numpy as np

from gosplan._json import json_ready

__all__ = ["run_plan", "run_replan", "run_simulation", "run_job", "Cancelled", "draft_summary",
           "one_line", "Progress", "PLAN_KINDS"]

Progress = Callable[[float, str], None]
PLAN_KINDS = ("plan", "five-year", "two-level")


class Cancelled(Exception):
    """The job was cancelled (raised by the progress callback; not a library error)."""


def one_line(text: Any, limit: int = 2000) -> str:
    """``text`` on one line (whitespace runs folded), at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _quiet(progress: Progress | None) -> Progress:
    return progress if progress is not None else (lambda fraction, message: None)


class _Stages:
    """The library's one-line progress (a stage per call) as rising fractions in ``[lo, hi)``."""

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi, self.k = progress, lo, hi, 0

    def __call__(self, line: str) -> None:
        self.k += 1
        self.progress(self.lo + (self.hi - self.lo) * (1.0 - 0.5 ** self.k), one_line(line, 300))


# --------------------------------------------------------------------------- economies
def _economy(spec: dict, data: bytes | None) -> Any:
    from gosplan.service.store import economy_from_spec

    return economy_from_spec(spec, data)


def _hierarchy(economy: Any) -> Any:
    """The economy's chain of command, or every product under one ministry ``centre``."""
    from gosplan.model.hierarchy import Hierarchy

    return economy.hierarchy if economy.hierarchy is not None else Hierarchy.single_ministry(economy.products)


def _has_enterprises(economy: Any) -> bool:
    return economy.hierarchy is not None and economy.hierarchy.n_enterprises > 0


def _mapping(value: Any) -> dict[str, float] | None:
    return None if not value else {str(k): v for k, v in dict(value).items()}


def _capacities(planned: Any, aggregation: Any, given: dict[str, float] | None) -> dict[str, float] | None:
    """The enterprises' capacities by product (finite ones), each lowered to the one given."""
    if aggregation is None:
        return given
    caps = {str(p): float(c) for p, c in zip(planned.products, aggregation.capacity) if math.isfinite(c)}
    for label, value in (given or {}).items():
        # an unknown label or a bad value is left for the library to refuse, naming it
        current = caps.get(label, math.inf)
        try:
            caps[label] = min(current, float(value)) if math.isfinite(current) else value
        except (TypeError, ValueError):
            caps[label] = value
    return caps


# --------------------------------------------------------------------------- payloads
def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _records(frame: Any) -> list[dict[str, Any]]:
    if frame is None or len(frame) == 0:
        return []
    return json_ready(frame.to_dict("records"))


def _product_rows(economy: Any, h: Any, gross: np.ndarray, final: np.ndarray, target: np.ndarray | None,
                  fulfilment: np.ndarray | None, price: np.ndarray | None) -> list[dict[str, Any]]:
    labels = [str(p) for p in economy.products]
    names = [str(n) for n in economy.product_names]
    ministries = [str(m) for m in h.ministries[h.product_ministry]]
    rows = []
    for i, label in enumerate(labels):
        t = None if target is None or not target[i] > 0 else _num(target[i])
        rows.append({
            "product": label, "name": names[i], "ministry": ministries[i],
            "gross_output": _num(gross[i]) or 0.0, "final": _num(final[i]) or 0.0, "target": t,
            "fulfilment": None if t is None or fulfilment is None else _num(fulfilment[i]),
            "price": None if price is None else _num(price[i]),
        })
    return rows


def _resource_rows(result: Any) -> list[dict[str, Any]]:
    from gosplan.report.labels import resource_name, resource_unit

    binding = set(result.binding_resources())
    texts = {**result.resource_texts, "labour_unit": result.labour_unit}
    return [
        {"resource": str(r), "name": resource_name(r, texts), "unit": resource_unit(r, texts),
         "available": _num(a), "used": _num(u) or 0.0, "price": _num(p), "binding": str(r) in binding}
        for r, a, u, p in zip(result.resources, result.available, result.resource_use, result.resource_price)
    ]


def _breakdown_tables(economy: Any, h: Any, b: Any, products: list[dict[str, Any]]) -> dict[str, Any]:
    """Ministries, flows between them and every enterprise's and ministry's directive, from a
    :class:`~gosplan.hierarchy.Breakdown` (bookkeeping of the library's tables)."""
    import scipy.sparse as sp

    n = h.n_products
    product_labels = [str(p) for p in economy.products]
    resource_labels = [str(r) for r in economy.resources]
    ministry_labels = [str(m) for m in h.ministries]
    pm = np.asarray(h.product_ministry)
    frame = b.ministries_frame()
    ministries = [
        {"ministry": str(row["ministry"]), "gross_output": _num(row["gross_output"]) or 0.0,
         "labour": _num(row["labour"]) or 0.0, "n_products": int(row["products"]),
         "n_enterprises": int(row["enterprises"])}
        for row in frame.to_dict("records")
    ]
    flows = [
        {"source": str(r["supplier_ministry"]), "target": str(r["user_ministry"]), "value": _num(r["quantity"]) or 0.0}
        for r in b.ministry_flows_frame().to_dict("records")
    ]
    # enterprises: targets and the input allocations a_e x_e, p_e x_e
    ent = b.enterprises_frame()
    real = ~ent["implicit"].to_numpy(dtype=bool)
    inputs: dict[str, list[dict[str, Any]]] = {}
    if real.any():
        for block in b.iter_allocations():
            cols = block.to_pydict()
            for e, inp, kind, q in zip(cols["enterprise"], cols["input"], cols["kind"], cols["quantity"]):
                if q:
                    inputs.setdefault(e, []).append({"input": inp, "kind": kind, "quantity": _num(q) or 0.0})
    names = [str(x) for x in economy.product_names]
    index = {p: i for i, p in enumerate(product_labels)}
    enterprises = []
    by_ministry: dict[str, list[dict[str, Any]]] = {m: [] for m in ministry_labels}
    for row in ent[real].to_dict("records"):
        label, product, ministry = str(row["enterprise"]), str(row["product"]), str(row["ministry"])
        target, capacity = _num(row["target"]) or 0.0, _num(row["capacity"]) or 0.0
        enterprises.append({
            "enterprise": label, "ministry": ministry, "product": product,
            "product_name": names[index[product]], "target": target, "capacity": capacity,
            "inputs": inputs.get(label, []),
        })
        by_ministry[ministry].append({"enterprise": label, "product": product, "target": target, "capacity": capacity})
    # what each ministry's producers receive from outside it: products of other ministries, resources
    U = sp.csr_array(b.product_inputs)
    Pm = sp.csr_array((np.ones(n), (pm, np.arange(n))), shape=(len(ministry_labels), n))
    received = np.asarray((U @ Pm.T).todense())  # n x M: product j into ministry k's producers
    primary = np.asarray(b.product_primary) @ Pm.T.toarray()  # r x M
    by_product = {m: [] for m in ministry_labels}
    for row in products:
        by_product[row["ministry"]].append(
            {k: row[k] for k in ("product", "name", "gross_output", "final", "target", "price")})
    directives = []
    for k, m in enumerate(ministry_labels):
        rows = [
            {"input": product_labels[j], "kind": "product", "quantity": float(received[j, k])}
            for j in np.flatnonzero((pm != k) & (received[:, k] != 0))
        ]
        rows += [
            {"input": resource_labels[r], "kind": "resource", "quantity": float(primary[r, k])}
            for r in np.flatnonzero(primary[:, k] != 0)
        ]
        directives.append({
            "ministry": m, "gross_output": float(sum(p["gross_output"] for p in by_product[m])),
            "products": by_product[m], "enterprises": by_ministry[m], "inputs": json_ready(rows),
        })
    return {"ministries": ministries, "flows": flows, "enterprises": enterprises, "ministry_directives": directives}


def _no_breakdown_tables(economy: Any, h: Any, products: list[dict[str, Any]]) -> dict[str, Any]:
    """Ministry rows from the products alone (a plan whose technique cannot be broken down)."""
    totals: dict[str, list[float]] = {}
    for row in products:
        t = totals.setdefault(row["ministry"], [0.0, 0])
        t[0] += row["gross_output"]
        t[1] += 1
    ministries = [{"ministry": m, "gross_output": g, "labour": None, "n_products": int(c), "n_enterprises": 0}
                  for m, (g, c) in totals.items()]
    directives = [{"ministry": m["ministry"], "gross_output": m["gross_output"],
                   "products": [{k: p[k] for k in ("product", "name", "gross_output", "final", "target", "price")}
                                for p in products if p["ministry"] == m["ministry"]],
                   "enterprises": [], "inputs": []} for m in ministries]
    return {"ministries": ministries, "flows": [], "enterprises": [], "ministry_directives": directives}


def _breakdown(economy: Any, plan: Any, rule: str) -> Any:
    """:func:`gosplan.breakdown` of ``plan`` (a PlanResult or gross output) on the economy's
    hierarchy; raises the library's error when the plan exceeds the enterprises' capacity."""
    import gosplan

    b = gosplan.breakdown(economy, plan, hierarchy=_hierarchy(economy), rule=rule)
    b.raise_for_status()
    return b


def _plan_payload(kind: str, economy: Any, result: Any, b: Any, params: dict, extra: dict | None = None,
                  years: list | None = None) -> dict[str, Any]:
    h = _hierarchy(economy)
    products = _product_rows(economy, h, result.gross_output, result.net_output, result.target,
                             result.fulfilment, result.shadow_price)
    tables = _breakdown_tables(economy, h, b, products)
    summary = {**result.summary(), "kind": kind, "params": params, **(extra or {})}
    summary["breakdown"] = b.summary()
    return json_ready({
        "kind": kind, "status": result.status.value, "message": one_line(result.message),
        "summary": summary, "products": products, "resources": _resource_rows(result), **tables,
        "years": years,
    })


# --------------------------------------------------------------------------- plans
def _single_year(kind: str, economy: Any, params: dict, progress: Progress, aggregation: Any = None,
                 extra: dict | None = None) -> dict[str, Any]:
    """``plan`` or ``two-level`` on ``economy`` (already carrying the hierarchy to use)."""
    import gosplan

    common = dict(
        objective=params.get("objective") or "fulfilment", targets=_mapping(params.get("targets")),
        resources=_mapping(params.get("resources")), method=params.get("method") or "auto",
        tol=float(params.get("tol") or 1e-6), time_limit=params.get("time_limit"),
    )
    weights = params.get("weights")
    if weights is not None:
        common["weights"] = weights if isinstance(weights, str) else _mapping(weights)
    rule = params.get("rule") or "proportional"
    if kind == "two-level":
        if params.get("priorities"):
            raise ValueError("two-level plans have one priority class: give no priorities (or plan kind 'plan')")
        if not _has_enterprises(economy):
            raise ValueError("a two-level plan needs enterprises in the economy's hierarchy "
                             "(load it with enterprises_per_product, or upload hierarchy tables)")
        progress(0.1, "two-level planning: ministries report")
        dec = gosplan.plan_decomposed(economy, capacities=_mapping(params.get("capacities")),
                                      progress=_Stages(progress, 0.1, 0.75), **common)
        dec.raise_for_status()
        progress(0.8, "breaking the plan down to enterprises")
        b = dec.breakdown(economy)
        b.raise_for_status()
        progress(0.9, "writing the draft")
        extra = {**(extra or {}), "two_level": {k: v for k, v in dec.summary().items() if k != "log"}}
        return _plan_payload(kind, economy, dec.plan, b, params, extra)
    planned = economy
    if aggregation is None and _has_enterprises(economy):
        progress(0.05, "aggregating the enterprises' capacities and techniques")
        aggregation = gosplan.aggregate(economy, balance=False)
    if aggregation is not None:
        planned = aggregation.economy
    progress(0.1, "planning")
    result = gosplan.plan(planned, capacities=_capacities(planned, aggregation, _mapping(params.get("capacities"))),
                          priorities=_mapping(params.get("priorities")), progress=_Stages(progress, 0.1, 0.75),
                          **common)
    result.raise_for_status()
    progress(0.8, "breaking the plan down to ministries and enterprises")
    b = _breakdown(economy, result, rule)
    progress(0.9, "writing the draft")
    return _plan_payload(kind, economy, result, b, params, extra)


def _five_year(spec: dict, data: bytes | None, economy: Any, params: dict, progress: Progress) -> dict[str, Any]:
    """:func:`gosplan.plan_years` over the economy's horizon; the first year broken down."""
    import gosplan
    from gosplan.io.load_horizon import load_horizon

    years = params.get("years")
    progress(0.05, "loading the economy's horizon")
    if "bundled" in spec:
        horizon = load_horizon(spec["bundled"], years=years)
    else:
        import tempfile
        from pathlib import Path

        from gosplan.service.store import safe_extract

        with tempfile.TemporaryDirectory(prefix="gosplan-horizon-") as tmp:
            folder = safe_extract(data or b"", Path(tmp) / "economy")
            try:
                horizon = load_horizon(folder, years=years)
            except gosplan.TableFormatError as exc:
                raise gosplan.TableFormatError(
                    str(exc).replace(str(folder), "the uploaded zip").replace(tmp, "the uploaded zip")) from None
    for key in ("targets", "resources", "capacities", "priorities"):
        if params.get(key):
            raise ValueError(f"a five-year plan takes its targets, labour supply and capacities from the "
                             f"economy's horizon: give no {key}")
    objective = params.get("objective") or "fulfilment"
    if objective not in ("fulfilment", "harmony"):
        raise ValueError(f"a five-year plan maximises 'fulfilment' or 'harmony', not {objective!r}")
    method = params.get("method") or "auto"
    progress(0.1, f"planning {horizon.n_years} years")
    result = gosplan.plan_years(horizon, objective=objective, method=method if method != "leontief" else "auto",
                                tol=float(params.get("tol") or 1e-6), time_limit=params.get("time_limit"),
                                progress=_Stages(progress, 0.1, 0.75))
    result.raise_for_status()
    progress(0.8, "breaking the first year down")
    first = horizon.economy
    if economy.products.equals(first.products):
        first = economy  # the bureau's economy, with its hierarchy
    h = _hierarchy(first)
    o, c = result.output[:, 0], result.consumption[:, 0]
    target = result.target[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        fulfilment = np.where(target > 0, c / target, np.nan)
    products = _product_rows(first, h, o, c, target, fulfilment, result.price[:, 0])
    if first.is_square:
        b = _breakdown(first, o, params.get("rule") or "proportional")
        tables = _breakdown_tables(first, h, b, products)
        breakdown_summary = b.summary()
    else:
        tables, breakdown_summary = _no_breakdown_tables(first, h, products), None
    year_rows = _records(result.years_frame())
    totals = result.output.sum(axis=0)
    for row, total in zip(year_rows, totals):
        row["gross_output"] = float(total)
    lab = [{"resource": "labour", "available": _num(result.labour_supply[0]), "used": _num(result.labour_used[0]) or 0.0,
            "price": _num(result.labour_price[0]), "binding": bool(result.labour_price[0] > 1e-9)}]
    summary = {**result.summary(), "kind": "five-year", "params": params, "breakdown": breakdown_summary,
               "products_year": str(result.years[0])}
    progress(0.9, "writing the draft")
    return json_ready({
        "kind": "five-year", "status": result.status.value, "message": one_line(result.message), "summary": summary,
        "products": products, "resources": lab, **tables, "years": year_rows,
    })


def run_plan(spec: dict, data: bytes | None, params: dict, progress: Progress | None = None) -> dict[str, Any]:
    """A plan job: :class:`~gosplan.service.payload.PlanPayload` of ``params["kind"]``."""
    progress = _quiet(progress)
    kind = params.get("kind") or "plan"
    if kind not in PLAN_KINDS:
        raise ValueError(f"unknown plan kind {kind!r}; choose one of {', '.join(PLAN_KINDS)}")
    progress(0.0, "loading the economy")
    economy = _economy(spec, data)
    if kind == "five-year":
        payload = _five_year(spec, data, economy, params, progress)
    else:
        payload = _single_year(kind, economy, params, progress)
    progress(1.0, "done")
    return payload


def reported_hierarchy(economy: Any, reports: list[dict]) -> tuple[Any, dict[str, Any]]:
    """The economy's hierarchy with each reporting enterprise's capacity replaced by the one it
    reported (an enterprise that reported output only keeps its capacity, raised to that output);
    and what was taken (counts, unknown enterprises)."""
    h = economy.hierarchy
    if h is None or h.n_enterprises == 0:
        raise ValueError("a re-plan needs enterprises in the economy's hierarchy to report capacities")
    position = {str(e): k for k, e in enumerate(h.enterprises)}
    capacity = np.array(h.capacity, dtype=np.float64, copy=True)
    unknown, taken = [], 0
    for r in reports:
        k = position.get(str(r.get("enterprise")))
        if k is None:
            unknown.append(str(r.get("enterprise")))
            continue
        cap, out = r.get("capacity"), r.get("output")
        if cap is not None and math.isfinite(float(cap)) and float(cap) >= 0:
            capacity[k] = float(cap)
        elif out is not None and math.isfinite(float(out)) and float(out) >= 0:
            capacity[k] = max(capacity[k], float(out))
        else:
            continue
        taken += 1
    if unknown:
        raise ValueError(f"reports name enterprise(s) the economy does not have: {', '.join(unknown[:5])}")
    periods = [int(r["period"]) for r in reports if r.get("period") is not None]
    used = {"reports": taken, "enterprises": h.n_enterprises, "periods": [min(periods), max(periods)] if periods else None}
    return dataclasses.replace(h, capacity=capacity), used


def run_replan(spec: dict, data: bytes | None, params: dict, reports: list[dict],
               progress: Progress | None = None) -> dict[str, Any]:
    """A re-plan from the enterprises' latest reports (``{enterprise, period, output, capacity,
    stocks}``): their capacities replace the hierarchy's, the hierarchy is aggregated
    (:func:`gosplan.aggregate`) and planned as :func:`run_plan` plans (kinds ``plan``, ``two-level``)."""
    import gosplan

    progress = _quiet(progress)
    kind = params.get("kind") or "plan"
    if kind not in ("plan", "two-level"):
        raise ValueError(f"a re-plan is a one-year plan ('plan' or 'two-level'), not {kind!r}")
    progress(0.0, "loading the economy")
    economy = _economy(spec, data)
    h, used = reported_hierarchy(economy, reports)
    reported = economy.with_hierarchy(h)
    progress(0.05, f"aggregating {used['reports']:,} reports of {used['enterprises']:,} enterprises")
    aggregation = gosplan.aggregate(reported, balance=False) if kind == "plan" else None
    payload = _single_year(kind, reported, params, progress, aggregation, extra={"reports": used})
    payload["kind"] = "replan"
    payload["summary"]["kind"] = "replan"
    payload["summary"]["plan_kind"] = kind
    progress(1.0, "done")
    return payload


# --------------------------------------------------------------------------- simulations
def _households(economy: Any, spec: dict, data: bytes | None, groups: int, seed: int) -> Any:
    """The economy's households: an upload's own tables where it has them, else its household
    demand spread over ``groups`` groups (:func:`gosplan.load_households`)."""
    import gosplan

    if "upload" in spec and data:
        import tempfile
        from pathlib import Path

        from gosplan.service.store import safe_extract

        with tempfile.TemporaryDirectory(prefix="gosplan-households-") as tmp:
            folder = safe_extract(data, Path(tmp) / "economy")
            if any(folder.glob("households.*")):
                try:
                    return gosplan.load_households(economy, directory=folder, groups=None if groups == 1 else groups)
                except Exception as exc:  # noqa: BLE001 - the same error, without the server's temporary path
                    raise type(exc)(str(exc).replace(str(folder), "the uploaded economy")) from None
    return gosplan.load_households(economy, groups=groups, seed=seed)


def run_simulation(spec: dict, data: bytes | None, params: dict, progress: Progress | None = None) -> dict[str, Any]:
    """A simulation job (:func:`gosplan.execute`): :class:`~gosplan.service.payload.SimulationPayload`.

    Alerts carry the ministry of their enterprise; producer labels are the hierarchy's
    (the enterprise labels of the breakdown and of the bureau's parties)."""
    import gosplan

    progress = _quiet(progress)
    progress(0.0, "loading the economy")
    economy = _economy(spec, data)
    if params.get("model") == "consumers":
        return _consumer_loop(economy, spec, data, params, progress)
    regime = params.get("regime") or "command"
    periods = int(params.get("periods") or 12)
    rate, depth = float(params.get("shock_rate", 0.05)), float(params.get("shock_depth", 0.5))
    seed = int(params.get("seed") or 0)
    shocks = None
    if rate > 0 and depth > 0:
        shocks = gosplan.RandomShocks(rate, depth=depth, persistence=float(params.get("shock_persistence", 0.6)),
                                      seed=seed)
    households = _households(economy, spec, data, int(params.get("groups") or 1), seed)
    progress(0.02, f"carrying the plan out over {periods} periods ({regime})")

    def step(t: int, line: str) -> None:
        progress(0.02 + 0.93 * t / periods, one_line(line, 300))

    ex = gosplan.execute(economy, households, regime=regime, periods=periods, shocks=shocks,
                         monitoring=bool(params.get("monitoring", True)), progress=step)
    progress(0.96, "writing the results")
    labels = _producer_labels(economy, ex.producers)
    alerts = []
    if ex.alerts is not None and len(ex.alerts):
        ministry_of = dict(zip(labels, np.asarray(ex.producers.ministries.astype(str))[ex.producers.ministry]))
        rename = dict(zip(np.asarray(ex.producers.labels, dtype=object), labels))
        for row in _records(ex.alerts):
            enterprise = rename.get(row.get("enterprise"), row.get("enterprise"))
            row["enterprise"] = enterprise
            if row.get("level") == "enterprise":
                row["who"] = enterprise
            if row.get("level") == "ministry":
                row["ministry"] = row.get("who")
            else:
                row["ministry"] = ministry_of.get(enterprise)
            alerts.append(row)
    payload = json_ready({
        "regime": regime, "summary": {**ex.summary(), "params": params}, "periods": _records(ex.periods),
        "ministries": _records(ex.ministries_frame()), "alerts": alerts,
        "groups": _records(ex.groups) if getattr(ex, "groups", None) is not None else [],
    })
    progress(1.0, "done")
    return payload


def _consumer_loop(economy: Any, spec: dict, data: bytes | None, params: dict, progress: Progress) -> dict[str, Any]:
    """The plan cycle with consumer feedback (:func:`gosplan.simulate`) as a simulation payload:
    its periods and household groups; no ministries, no alerts."""
    import gosplan

    rule, periods, seed = params.get("rule") or "opportunity", int(params.get("periods") or 12), int(params.get("seed") or 0)
    households = _households(economy, spec, data, int(params.get("groups") or 1), seed)
    progress(0.02, f"the plan cycle with consumer feedback, rule {rule}, up to {periods} periods")

    def step(t: int, line: str) -> None:
        progress(0.02 + 0.93 * min(t, periods) / periods, one_line(line, 300))

    sim = gosplan.simulate(economy, households, rule=rule, periods=periods, progress=step)
    progress(0.96, "writing the results")
    payload = json_ready({
        "regime": f"consumers:{rule}", "summary": {**sim.summary(), "params": params},
        "periods": _records(sim.periods), "ministries": [], "alerts": [], "groups": _records(sim.groups),
    })
    progress(1.0, "done")
    return payload


def _producer_labels(economy: Any, producers: Any) -> list[str]:
    """The execution's producers (enterprises, then one implicit producer per product without
    any) labelled as the breakdown labels them."""
    from gosplan.hierarchy._techniques import node_labels

    h = economy.hierarchy
    if h is None:
        return [str(p) for p in producers.labels]
    labels = node_labels(h).to_pylist()
    return labels if len(labels) == len(producers.labels) else [str(p) for p in producers.labels]


# --------------------------------------------------------------------------- summaries
def draft_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """The short summary of a plan payload kept on the job and the draft rows."""
    s = payload.get("summary") or {}
    products = payload.get("products") or []
    fulfil = [p["fulfilment"] for p in products if p.get("fulfilment") is not None]
    return json_ready({
        "kind": payload.get("kind"), "status": payload.get("status"), "message": payload.get("message"),
        "objective_kind": s.get("objective_kind"), "objective": s.get("objective"),
        "fulfilment": s.get("fulfilment"), "min_fulfilment": min(fulfil) if fulfil else None,
        "binding_resources": [r["resource"] for r in payload.get("resources") or [] if r.get("binding")],
        "binding_capacities_count": s.get("binding_capacities_count"),
        "gross_output": sum(p["gross_output"] for p in products),
        "n_products": len(products), "n_ministries": len(payload.get("ministries") or []),
        "n_enterprises": len(payload.get("enterprises") or []), "method": s.get("method"),
        "seconds": s.get("seconds"), "units": s.get("units"), "params": s.get("params"),
        "years": [y.get("year") for y in payload.get("years") or []] or None,
    })


# --------------------------------------------------------------------------- on a worker
class _Channel:
    """Progress and cancellation of one job through the scheduler: progress in the scheduler's
    metadata under ``key`` (the runner reads all its jobs' in one call), cancellation by the
    distributed Event ``event`` (checked on every progress call)."""

    def __init__(self, key: list[str], event: str, every: float = 0.5):
        from distributed import Event, get_client

        self.client = get_client()
        self.key, self.every, self.last = key, every, -math.inf
        self.event = Event(event, client=self.client)

    def __call__(self, fraction: float, message: str) -> None:
        if self.event.is_set():
            raise Cancelled("cancelled")
        now = time.monotonic()
        if now - self.last >= self.every or fraction >= 1.0 or self.last == -math.inf:
            self.last = now
            self.client.set_metadata(self.key, [float(min(max(fraction, 0.0), 1.0)), str(message)[:500]])


def run_job(kind: str, spec: dict, data: bytes | None, params: dict, reports: list[dict] | None,
            key: list[str], event: str) -> dict[str, Any]:
    """What the runner submits: the job's task with its progress/cancel channel.

    Returns ``{"outcome": "done", "payload": ...}``, ``{"outcome": "cancelled"}`` or
    ``{"outcome": "failed", "message": ..., "error": ..., "trace": ...}`` (the library's message
    on one line, the worker's traceback for the server's log): an expected end is a value, so
    that Dask does not log it as a failed computation."""
    channel = _Channel(key, event)
    try:
        channel(0.0, "started")
        if kind == "plan":
            payload = run_plan(spec, data, params, channel)
        elif kind == "replan":
            payload = run_replan(spec, data, params, reports or [], channel)
        elif kind == "simulate":
            payload = run_simulation(spec, data, params, channel)
        else:
            raise ValueError(f"unknown job kind {kind!r}")
    except Cancelled:
        return {"outcome": "cancelled"}
    except Exception as exc:  # noqa: BLE001 - every failure goes back as its message
        return {"outcome": "failed", "message": one_line(str(exc) or type(exc).__name__),
                "error": type(exc).__name__, "trace": traceback.format_exc()}
    return {"outcome": "done", "payload": payload}
