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
vertex solution made to meet the regions' totals exactly (on the solution's
support, a forest, the totals fix the flows), then every region-to-region flow is
split among the region's suppliers and users by the north-west corner: at most
``S + U - 1`` links per product and pair of regions. The cost depends on regions
only, so this is optimal among all enterprise-level assignments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

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


def LINK_SCHEMA(regions: bool) -> pa.Schema:  # noqa: N802 - a schema factory, named like a constant
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


def _user_rows(result: "Breakdown") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        from scipy.optimize import linprog

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
        res = linprog(cost[lp_pairs], A_eq=K, b_eq=rhs, bounds=(0, None), method="highs-ds")
        if res.status != 0:
            raise PlanningError(f"the transportation problem between regions failed: {res.message}")
        y = np.asarray(res.x)
        support = y > 1e-13
        flow, broken = peel_forest(
            snodes.size + dnodes.size, margin, rs[support], rd[support], y[support]
        )
        info["lp_variables"] = int(nv)
        info["cycles_broken"] = int(broken)
        info["lp_objective"] = float((cost[lp_pairs] * y * total[sj[pa_]]).sum())
        idx = lp_pairs[support]
        out_j.append(sj[a[idx]])
        out_r.append(sr[a[idx]])
        out_s.append(dr[b[idx]])
        out_f.append(flow)
    j = np.concatenate(out_j) if out_j else np.zeros(0, np.int64)
    r = np.concatenate(out_r) if out_r else np.zeros(0, np.int64)
    s = np.concatenate(out_s) if out_s else np.zeros(0, np.int64)
    f = np.concatenate(out_f) if out_f else np.zeros(0)
    keep = f > 0
    j, r, s, f = j[keep], r[keep], s[keep], f[keep]
    order = np.lexsort((s, r, j))
    return j[order], r[order], s[order], f[order], info


def supply_links(result: "Breakdown") -> Links:
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
