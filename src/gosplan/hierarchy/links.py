"""Material-technical supply: which enterprise delivers how much of each product to whom.

For each product ``j`` the *suppliers* are its producers (enterprises at their
targets ``x_e``, or the implicit producer at ``g_j``), users whose allocation of ``j``
is negative (by-products and scrap in statistical tables: they hand ``j`` over), and
``imports`` when the plan's final use ``g_j - sum_u a_u[j] x_u`` is negative (net
imports, stock drawdown). The *users* are the producers with a positive allocation
of ``j`` and ``final demand`` for a positive final use. Supply equals use, product
by product. (A final use within ``1e-12`` of the product's flows is rounding, not
final demand or imports.)

Who delivers to whom is a transportation problem per product: minimise
``sum q * cost(region of supplier, region of user)``, each supplier delivering its
supply, each user receiving its use. The cost is ``hierarchy.distances[r, s]``;
with regions but no distances 0 within a region and 1 across; producers, users and
final demand without a region (implicit producers, final demand, imports) are 0
from and to everywhere. Without regions every assignment costs the same and the
north-west corner rule fills it.

With regions the problem is solved where it is small: between regions, one sparse
linear program for all products (HiGHS dual simplex; products whose every route
costs the same, or that have one supplying or one using region, need none), its
basis made to meet the regions' totals exactly (the basic routes of a product form
a spanning tree of its regions, on which the totals fix the flows: HiGHS' own values
meet them only to its tolerance, and may leave a region with a tiny total out), then
every region-to-region flow is split among the region's suppliers and users by the
north-west corner: at most ``S + U - 1`` links per product and pair of regions. The cost depends on regions
only, so this is optimal among all enterprise-level assignments.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from gosplan.errors import PlanningError
from gosplan.hierarchy._kernels import counting_order, nw_merge, peel_forest
from gosplan.hierarchy._techniques import labels_as_strings, node_labels

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.hierarchy.result import Breakdown

__all__ = ["Links", "supply_links", "LINK_SCHEMA"]

FINAL, IMPORTS = "final demand", "imports"
ROWS = 2_000_000
ROUNDING = 1e-12  # relative size of a final use taken for rounding


def LINK_SCHEMA(regions: bool) -> pa.Schema:
    cols = [("product", pa.string()), ("supplier", pa.string()), ("user", pa.string()), ("quantity", pa.float64())]
    if regions:
        cols += [("from_region", pa.string()), ("to_region", pa.string()), ("distance", pa.float64())]
    return pa.schema(cols)


@dataclass(frozen=True, eq=False)
class Links:
    """Deliveries, one row per supplier, user and product.

    Attributes
    ----------
    product:
        Product position ``j`` of each link.
    supplier, user:
        Node of each end: an enterprise position ``e < E``, an implicit producer
        ``E + t``, or ``final demand`` / ``imports`` (see ``labels``).
    quantity:
        Units of ``j`` delivered.
    from_region, to_region:
        Region positions of the two ends (``-1``: no region); ``None`` without regions.
    costs:
        ``(R + 1) x (R + 1)`` cost per unit between regions (the last: no region), or ``None``.
        :attr:`distance` gives each link's.
    labels, product_labels, region_labels:
        Labels of the nodes, products and regions.
    cost:
        ``sum quantity * distance`` by product (zeros without regions).
    checks:
        ``links_max_imbalance``: the largest difference between what a supplier
        delivers (a user receives) and its supply (use), relative to the product's total.
    method, seconds:
        How the links were found, and how long it took.
    """

    product: np.ndarray
    supplier: np.ndarray
    user: np.ndarray
    quantity: np.ndarray
    from_region: np.ndarray | None
    to_region: np.ndarray | None
    costs: np.ndarray | None
    labels: pa.Array
    product_labels: pa.Array
    region_labels: pa.Array | None
    cost: np.ndarray
    checks: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    seconds: float = 0.0

    @property
    def has_regions(self) -> bool:
        return self.from_region is not None

    def __len__(self) -> int:
        return int(self.quantity.size)

    @property
    def distance(self) -> np.ndarray | None:
        """Cost per unit of each link (``None`` without regions)."""
        return None if self.costs is None else self._distance(slice(None))

    def _distance(self, t: slice) -> np.ndarray:
        return self.costs[self.from_region[t], self.to_region[t]]  # -1 (no region) is the last row

    def iter_tables(self, rows: int = ROWS) -> Iterator[pa.Table]:
        """The links as Arrow tables of at most ``rows`` rows (``product, supplier, user,
        quantity[, from_region, to_region, distance]``)."""
        for s in range(0, max(len(self), 1), rows):
            t = slice(s, s + rows)
            cols: dict[str, Any] = {
                "product": self.product_labels.take(pa.array(self.product[t])),
                "supplier": self.labels.take(pa.array(self.supplier[t])),
                "user": self.labels.take(pa.array(self.user[t])),
                "quantity": self.quantity[t],
            }
            if self.has_regions:
                for name, reg in (("from_region", self.from_region[t]), ("to_region", self.to_region[t])):
                    cols[name] = self.region_labels.take(pa.array(np.maximum(reg, 0), mask=reg < 0))
                cols["distance"] = self._distance(t)
            yield pa.table(cols, schema=LINK_SCHEMA(self.has_regions))

    def frame(self) -> pd.DataFrame:
        """All links as one DataFrame."""
        return pa.concat_tables(list(self.iter_tables())).to_pandas()

    def summary(self) -> dict[str, Any]:
        q = self.quantity
        out: dict[str, Any] = {
            "links": len(self),
            "quantity": float(q.sum()),
            "method": self.method,
            "seconds": self.seconds,
            **self.checks,
        }
        if self.has_regions:
            out["transport_cost"] = float(self.cost.sum())
            inter = self.from_region != self.to_region
            out["between_regions"] = float(q[inter & (self.from_region >= 0) & (self.to_region >= 0)].sum())
        return out


def _user_rows(result: Breakdown) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(node, j, q)`` of every product allocation (resources left out). Allocations kept
    in memory beyond what a breakdown caches are released block by block as they are read."""
    from gosplan.hierarchy.result import CACHE_ROWS

    n = result.hierarchy.n_products
    cached = result._cache.get("allocations")
    release = cached is not None and result.checks.get("allocation_rows", 0) > CACHE_ROWS

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if release:
            while cached:
                yield cached.pop(0)
            result._cache.pop("allocations", None)
        else:
            yield from result._allocation_blocks()

    nodes, inputs, qs = [], [], []
    for node, inp, q in blocks():
        keep = inp < n
        nodes.append(node[keep])
        inputs.append(inp[keep])
        qs.append(q[keep])
    if not nodes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(nodes), np.concatenate(inputs), np.concatenate(qs)


def _order_by(keys: np.ndarray) -> np.ndarray:
    """Stable order by integer ``keys >= 0``."""
    if keys.size == 0:
        return np.zeros(0, np.int64)
    top = int(keys.max()) + 1
    if top <= max(4 * keys.size, 1 << 22):
        return counting_order(keys, top)
    return np.argsort(keys, kind="stable")


def _sum_by_key(keys: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` (increasing) and the sum of ``q`` over each."""
    if keys.size == 0:
        return keys, q
    top = int(keys.max()) + 1
    if top <= max(4 * keys.size, 1 << 22):
        total = np.bincount(keys, weights=q, minlength=top)
        present = np.flatnonzero(np.bincount(keys, minlength=top))
        return present, total[present]
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, np.bincount(inv, weights=q, minlength=uniq.size)


def _cost_matrix(h: Any) -> np.ndarray:
    """``(R + 1) x (R + 1)`` cost between regions; the last row and column (no region) cost 0."""
    R = len(h.regions)
    c = np.zeros((R + 1, R + 1))
    if h.distances is not None:
        c[:R, :R] = h.distances
    else:
        c[:R, :R] = 1.0 - np.eye(R)
    return c


def _transport_lp(cost: np.ndarray, K: sp.csr_array, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``min cost y`` s.t. ``K y = rhs``, ``y >= 0`` by HiGHS' dual simplex, tolerances 1e-10.

    Returns the flows and the basic columns: a spanning tree of each product's
    supplying and using regions (or a forest), on which the regions' totals fix the flows.
    """
    from gosplan.optim.highs import _highspy, _new_highs

    highspy = _highspy()
    h = _new_highs(highspy)
    for name, value in (("output_flag", False), ("solver", "simplex"), ("primal_feasibility_tolerance", 1e-10),
                        ("dual_feasibility_tolerance", 1e-10)):
        h.setOptionValue(name, value)
    lp = highspy.HighsLp()
    k, m = K.shape
    lp.num_col_, lp.num_row_ = m, k
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.zeros(m)
    lp.col_upper_ = np.full(m, highspy.kHighsInf)
    lp.row_lower_ = lp.row_upper_ = np.asarray(rhs, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = K.indptr.astype(np.int32)
    lp.a_matrix_.index_ = K.indices.astype(np.int32)
    lp.a_matrix_.value_ = K.data.astype(np.float64)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise PlanningError(
            f"the transportation problem between regions failed: {h.modelStatusToString(status)}"
        )
    y = np.asarray(h.getSolution().col_value, dtype=np.float64)
    basic = np.asarray([st == highspy.HighsBasisStatus.kBasic for st in h.getBasis().col_status], dtype=bool)
    return y, basic | (y > 0)


def _join_unbalanced_trees(
    margin: np.ndarray, owner: np.ndarray, n_supply: int, eu: np.ndarray, ev: np.ndarray, total: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Routes joining the trees of a degenerate basis whose totals do not balance.

    Each tree of the basis balances its supplying and using regions only to HiGHS'
    tolerance (a region whose total is below it may even stand alone). Trees with more
    supply than use are joined to trees of the same product with less, by the
    north-west corner on the differences, through their largest regions; the peeling
    then moves the differences (tolerance-sized) along these routes.
    """
    nodes = margin.size
    G = sp.csr_array((np.ones(eu.size), (eu, ev)), shape=(nodes, nodes))
    from scipy.sparse.csgraph import connected_components

    ncomp, comp = connected_components(G, directed=False)
    signed = np.where(np.arange(nodes) < n_supply, margin, -margin)
    delta = np.bincount(comp, weights=signed, minlength=ncomp)
    product = np.zeros(ncomp, np.int64)
    product[comp] = owner
    unbalanced = np.abs(delta) > 1e-14 * total[product]
    if not unbalanced.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # the largest supplying and using region of each tree
    best = np.full((2, ncomp), -1, np.int64)
    for side, nodes_of in ((0, np.arange(n_supply)), (1, np.arange(n_supply, nodes))):
        order = nodes_of[np.lexsort((-margin[nodes_of], comp[nodes_of]))]
        head = np.ones(order.size, bool)
        head[1:] = comp[order][1:] != comp[order][:-1]
        best[side, comp[order[head]]] = order[head]
    give = np.flatnonzero(unbalanced & (delta > 0))
    take = np.flatnonzero(unbalanced & (delta < 0))
    give = give[np.argsort(product[give], kind="stable")]
    take = take[np.argsort(product[take], kind="stable")]
    ia, ib, _, _, _ = nw_merge(product[give], delta[give], product[take], -delta[take])
    return best[0, give[ia]], best[1, take[ib]]


def _repair_margins(
    margin: np.ndarray, owner: np.ndarray, n_supply: int, eu: np.ndarray, ev: np.ndarray, flow: np.ndarray,
    total: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Make the flows meet every region's total where the basis was infeasible within tolerance.

    A basis HiGHS accepts may be infeasible by its tolerance: on its tree, the totals then
    ask a tiny negative flow somewhere, which the peeling sets to 0, leaving one region
    over-served and another under-served by that much. Over-served regions give the excess
    back from their largest routes; what every region still lacks is then routed by the
    north-west corner, product by product. Returns the routes, flows and how many regions
    were repaired.
    """
    nodes = margin.size
    flow = flow.copy()
    resid = margin - np.bincount(eu, weights=flow, minlength=nodes) - np.bincount(ev, weights=flow, minlength=nodes)
    noise = 1e-13 * total[owner]  # beyond the rounding of the peeling
    over = np.flatnonzero(resid < -noise)
    for v in over:  # a handful at most: one per clipped route
        mine = np.flatnonzero((eu == v) | (ev == v))
        excess = -resid[v]
        for k in mine[np.argsort(-flow[mine], kind="stable")]:
            cut = min(flow[k], excess)
            flow[k] -= cut
            excess -= cut
            other = ev[k] if eu[k] == v else eu[k]
            resid[other] += cut
            if excess <= 0:
                break
        resid[v] = -excess
    short = np.flatnonzero(resid > noise)
    if short.size:
        supply, demand = short[short < n_supply], short[short >= n_supply]
        supply = supply[np.argsort(owner[supply], kind="stable")]
        demand = demand[np.argsort(owner[demand], kind="stable")]
        ia, ib, amt, _, _ = nw_merge(owner[supply], resid[supply], owner[demand], resid[demand])
        eu = np.concatenate([eu, supply[ia]])
        ev = np.concatenate([ev, demand[ib]])
        flow = np.concatenate([flow, amt])
    return eu, ev, flow, int(over.size + short.size)


def _region_flows(
    sup_key: np.ndarray, sup_q: np.ndarray, use_key: np.ndarray, use_q: np.ndarray, Rp: int, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Least-cost flows between regions, product by product.

    ``*_key = j * Rp + region``. Returns ``(j, r, s, flow, info)``, sorted by ``(j, r, s)``.
    """
    sk, sm = _sum_by_key(sup_key, sup_q)
    dk, dm = _sum_by_key(use_key, use_q)
    keep_s, keep_d = sm > 0, dm > 0
    sk, sm, dk, dm = sk[keep_s], sm[keep_s], dk[keep_d], dm[keep_d]
    sj, sr = sk // Rp, sk % Rp
    dj, dr = dk // Rp, dk % Rp
    # every (supplying region, using region) pair of a product
    products = np.union1d(sj, dj)
    s_start = np.searchsorted(sj, products)
    s_count = np.searchsorted(sj, products, side="right") - s_start
    d_start = np.searchsorted(dj, products)
    d_count = np.searchsorted(dj, products, side="right") - d_start
    pidx_s = np.searchsorted(products, sj)  # each supply node's product
    reps = d_count[pidx_s]
    a = np.repeat(np.arange(sk.size), reps)  # supply node of each pair
    offset = np.arange(a.size) - np.repeat(np.cumsum(reps) - reps, reps)
    b = np.repeat(d_start[pidx_s], reps) + offset  # demand node of each pair
    pair_product = pidx_s[a]
    cost = c[sr[a], dr[b]]
    lo = np.full(products.size, np.inf)
    hi = np.full(products.size, -np.inf)
    np.minimum.at(lo, pair_product, cost)
    np.maximum.at(hi, pair_product, cost)
    needs_lp = (s_count > 1) & (d_count > 1) & (hi > lo)
    info: dict[str, Any] = {"lp_products": int(needs_lp.sum()), "lp_variables": 0, "cycles_broken": 0}
    out_j, out_r, out_s, out_f = [], [], [], []
    # products any assignment serves: the north-west corner between regions
    simple = ~needs_lp
    sa = np.flatnonzero(simple[np.searchsorted(products, sj)])
    da = np.flatnonzero(simple[np.searchsorted(products, dj)])
    if sa.size or da.size:
        ia, ib, f, _, _ = nw_merge(sj[sa], sm[sa], dj[da], dm[da])
        out_j.append(sj[sa][ia])
        out_r.append(sr[sa][ia])
        out_s.append(dr[da][ib])
        out_f.append(f)
    lp_pairs = np.flatnonzero(needs_lp[pair_product])
    if lp_pairs.size:
        pa_, pb_ = a[lp_pairs], b[lp_pairs]
        snodes = np.unique(pa_)
        dnodes = np.unique(pb_)
        rs = np.searchsorted(snodes, pa_)
        rd = snodes.size + np.searchsorted(dnodes, pb_)
        nv = lp_pairs.size
        K = sp.csr_array(
            (np.ones(2 * nv), (np.concatenate([rs, rd]), np.concatenate([np.arange(nv)] * 2))),
            shape=(snodes.size + dnodes.size, nv),
        )
        total = np.bincount(sj[snodes], weights=sm[snodes], minlength=int(products.max()) + 1)
        margin = np.concatenate([sm[snodes], dm[dnodes]])
        owner = np.concatenate([sj[snodes], dj[dnodes]])
        rhs = margin / total[owner]  # each product's total scaled to 1
        # one balance per product is redundant, and rounding makes it inconsistent (HiGHS'
        # presolve then reports infeasible): leave out each product's largest using region's
        d_owner = dj[dnodes]
        by_size = np.lexsort((-dm[dnodes], d_owner))
        first = np.ones(dnodes.size, bool)
        first[1:] = d_owner[by_size][1:] != d_owner[by_size][:-1]
        keep = np.ones(margin.size, bool)
        keep[snodes.size + by_size[first]] = False
        y, support = _transport_lp(cost[lp_pairs], sp.csr_array(K[keep]), rhs[keep])
        eu, ev = rs[support], rd[support]
        more_u, more_v = _join_unbalanced_trees(margin, owner, snodes.size, eu, ev, total)
        eu, ev = np.concatenate([eu, more_u]), np.concatenate([ev, more_v])
        hint = np.concatenate([y[support], np.full(more_u.size, np.inf)])
        flow, broken = peel_forest(snodes.size + dnodes.size, margin, eu, ev, hint)
        eu, ev, flow, repaired = _repair_margins(margin, owner, snodes.size, eu, ev, flow, total)
        info["repaired"] = repaired
        info["lp_variables"] = int(nv)
        info["cycles_broken"] = int(broken)
        info["trees_joined"] = int(more_u.size)
        info["lp_objective"] = float((cost[lp_pairs] * y * total[sj[pa_]]).sum())
        su, sv = snodes[eu], dnodes[ev - snodes.size]
        out_j.append(sj[su])
        out_r.append(sr[su])
        out_s.append(dr[sv])
        out_f.append(flow)
    j = np.concatenate(out_j) if out_j else np.zeros(0, np.int64)
    r = np.concatenate(out_r) if out_r else np.zeros(0, np.int64)
    s = np.concatenate(out_s) if out_s else np.zeros(0, np.int64)
    f = np.concatenate(out_f) if out_f else np.zeros(0)
    keep = f > 0
    key, f = _sum_by_key((j[keep] * Rp + r[keep]) * Rp + s[keep], f[keep])  # one flow per route, sorted
    return key // (Rp * Rp), key // Rp % Rp, key % Rp, f, info


def supply_links(result: Breakdown) -> Links:
    """Supplier-user links of a breakdown (see the module's description).

    Raises
    ------
    PlanningError
        For an infeasible breakdown (its targets do not meet the plan).
    """
    from gosplan.results import Status

    if result.status is Status.INFEASIBLE:
        raise PlanningError(f"no links for an infeasible breakdown: {result.message}")
    start = time.perf_counter()
    h = result.hierarchy
    n, E = h.n_products, h.n_enterprises
    unc = result.implicit
    nu = unc.size
    final_node, imports_node = E + nu, E + nu + 1
    g, x = result.gross_output, result.enterprise_output
    # users and by-product suppliers: the allocations of products
    u_node, u_j, u_q = _user_rows(result)
    use = np.bincount(u_j, weights=u_q, minlength=n)
    final = g - use
    # a final use within rounding of the product's flows is no final demand (nor imports)
    volume = np.maximum(np.abs(g), np.bincount(u_j, weights=np.abs(u_q), minlength=n))
    final[np.abs(final) <= ROUNDING * volume] = 0.0
    pos, neg = u_q > 0, u_q < 0
    prod_e = np.flatnonzero(x > 0)
    g_unc = g[unc]
    s_node = np.concatenate([prod_e, E + np.flatnonzero(g_unc > 0), u_node[neg], np.full(int((final < 0).sum()), imports_node)])
    s_j = np.concatenate([h.enterprise_product[prod_e], unc[g_unc > 0], u_j[neg], np.flatnonzero(final < 0)])
    s_q = np.concatenate([x[prod_e], g_unc[g_unc > 0], -u_q[neg], -final[final < 0]])
    d_node = np.concatenate([u_node[pos], E + np.flatnonzero(g_unc < 0), np.full(int((final > 0).sum()), final_node)])
    d_j = np.concatenate([u_j[pos], unc[g_unc < 0], np.flatnonzero(final > 0)])
    d_q = np.concatenate([u_q[pos], -g_unc[g_unc < 0], final[final > 0]])
    del u_node, u_j, u_q, pos, neg
    regions = h.regions is not None
    if regions:
        R = len(h.regions)
        node_region = np.concatenate([h.enterprise_region, np.full(nu + 2, R)])
    else:
        R = 0
        node_region = np.zeros(E + nu + 2, np.int64)
    Rp = R + 1
    s_key = s_j.astype(np.int64) * Rp + node_region[s_node]
    d_key = d_j.astype(np.int64) * Rp + node_region[d_node]
    so, do = _order_by(s_key), _order_by(d_key)
    s_node, s_j, s_q, s_key = s_node[so], s_j[so], s_q[so], s_key[so]
    d_node, d_j, d_q, d_key = d_node[do], d_j[do], d_q[do], d_key[do]
    info: dict[str, Any] = {}
    if not regions:
        ia, ib, amt, absorbed, lost = nw_merge(s_j, s_q, d_j, d_q)
        method = "north-west corner (no regions: every assignment costs the same)"
        c = from_r = to_r = None
        cost = np.zeros(n)
    else:
        c = _cost_matrix(h)
        fj, fr, fs, F, info = _region_flows(s_key, s_q, d_key, d_q, Rp, c)
        # A: each supplying region's suppliers over its outgoing flows
        a_key = fj * Rp + fr
        ia_a, ib_a, amt_a, ab1, lo1 = nw_merge(s_key, s_q, a_key, F)
        # B: each using region's incoming flows over its users
        bo = np.lexsort((fr, fs, fj))
        ia_b, ib_b, amt_b, ab2, lo2 = nw_merge((fj * Rp + fs)[bo], F[bo], d_key, d_q)
        ia_b = bo[ia_b]
        # C: within each flow, the supplier pieces over the user pieces
        oa, ob = _order_by(ib_a), _order_by(ia_b)
        pa_, pb_, amt, ab3, lo3 = nw_merge(ib_a[oa], amt_a[oa], ia_b[ob], amt_b[ob])
        ia, ib = ia_a[oa][pa_], ib_b[ob][pb_]
        absorbed, lost = ab1 + ab2 + ab3, lo1 + lo2 + lo3
        small = np.int16 if R < np.iinfo(np.int16).max else np.int32
        from_r, to_r = node_region[s_node[ia]].astype(small), node_region[d_node[ib]].astype(small)
        cost = np.bincount(s_j[ia], weights=amt * c[from_r, to_r], minlength=n)
        from_r[from_r == R] = -1
        to_r[to_r == R] = -1
        method = (
            "transportation problem between regions (HiGHS dual simplex), north-west corner within them"
            if info.get("lp_products") else "north-west corner (every route of a product costs the same)"
        )
    # gosplan's check: every supplier delivers its supply, every user receives its use
    total = np.bincount(s_j, weights=s_q, minlength=n)
    sent = np.bincount(ia, weights=amt, minlength=s_q.size)
    got = np.bincount(ib, weights=amt, minlength=d_q.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        err_s = np.abs(sent - s_q) / np.maximum(total[s_j], np.finfo(float).tiny)
        err_d = np.abs(got - d_q) / np.maximum(total[d_j], np.finfo(float).tiny)
    checks = {
        "links_max_imbalance": float(max(err_s.max(initial=0.0), err_d.max(initial=0.0))),
        "links_rounding_absorbed": float(absorbed),
        "links_unmatched": float(lost),
        **{f"links_{k}": v for k, v in info.items()},
    }
    nodes = np.int32 if E + nu + 2 < np.iinfo(np.int32).max else np.int64
    return Links(
        product=s_j[ia].astype(np.int32),
        supplier=s_node[ia].astype(nodes),
        user=d_node[ib].astype(nodes),
        quantity=amt,
        from_region=from_r,
        to_region=to_r,
        costs=c,
        labels=node_labels(h, (FINAL, IMPORTS)),
        product_labels=labels_as_strings(h.products),
        region_labels=labels_as_strings(h.regions) if regions else None,
        cost=cost,
        checks=checks,
        method=method,
        seconds=time.perf_counter() - start,
    )
