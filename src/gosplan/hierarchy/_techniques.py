"""Enterprise techniques without forming them: sums over enterprises, unit costs, allocation rows.

Enterprise ``e`` makes product ``i(e)`` with inputs ``a_e = f_e A[:, i(e)] + N_e`` and
primary inputs ``p_e = h_e P[:, i(e)] + Q_e`` per unit. The ``n x E`` matrix of the
``a_e`` holds about ``E * nnz(A) / n`` entries (2 * 10^9 for 10^7 enterprises on the
BEA detail table), so nothing here forms it: weighted sums over enterprises are
``A diag(sum_e w_e f_e) + (S_w N)^T`` by product, and the allocation rows are
generated block by block.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from gosplan.errors import InvalidEconomyError
from gosplan.hierarchy._kernels import counting_order
from gosplan.model.economy import Economy
from gosplan.model.hierarchy import Hierarchy

# rows of the allocation table generated per block (memory ~ 30 bytes a row)
BLOCK_ROWS = 2_000_000


def resolve_hierarchy(economy: Economy, hierarchy: Hierarchy | None) -> Hierarchy:
    """``hierarchy`` or the economy's own, checked against its products."""
    if not isinstance(economy, Economy):
        raise TypeError(f"economy must be an Economy, got {type(economy).__name__}")
    h = economy.hierarchy if hierarchy is None else hierarchy
    if h is None:
        raise InvalidEconomyError(
            f"economy {economy.meta.name!r} has no hierarchy (ministries and enterprises): "
            "pass hierarchy=, or attach one with economy.with_hierarchy(...)"
        )
    if not isinstance(h, Hierarchy):
        raise InvalidEconomyError(f"hierarchy must be a Hierarchy, got {type(h).__name__}")
    h.check_matches(economy.products, f"economy {economy.meta.name!r}")
    if h.n_enterprises and not economy.is_square:
        raise InvalidEconomyError(
            f"economy {economy.meta.name!r} has several techniques per product or joint outputs; "
            "enterprises work to one technique per product, so their hierarchy needs a square economy"
        )
    return h


@dataclass(frozen=True, eq=False)
class Techniques:
    """The economy's square technique (``A``, ``P``) with the hierarchy's enterprises."""

    economy: Economy
    hierarchy: Hierarchy

    @classmethod
    def of(cls, economy: Economy, hierarchy: Hierarchy | None = None) -> Techniques:
        h = resolve_hierarchy(economy, hierarchy)
        if not economy.is_square:
            raise InvalidEconomyError(
                f"economy {economy.meta.name!r} has several techniques per product or joint outputs; "
                "a breakdown needs a square economy (one technique per product)"
            )
        return cls(economy, h)

    # ------------------------------------------------------------------ matrices
    @property
    def n(self) -> int:
        return self.economy.n_products

    @property
    def r(self) -> int:
        return len(self.economy.resources)

    @property
    def E(self) -> int:
        return self.hierarchy.n_enterprises

    @cached_property
    def A(self) -> sp.csr_array:
        return self.economy.A

    @cached_property
    def AT(self) -> sp.csr_array:
        """``A^T`` in CSR: row ``i`` lists the inputs of product ``i``."""
        out = sp.csr_array(self.A.T)
        out.sort_indices()
        return out

    @cached_property
    def P(self) -> np.ndarray:
        """Dense ``r x n`` primary coefficients per unit of product."""
        return np.asarray(self.economy.primary_coefficients, dtype=np.float64).reshape(self.r, self.n)

    @cached_property
    def labour(self) -> int | None:
        eco = self.economy
        return None if eco.labour is None else int(eco.resources.get_loc(eco.labour))

    @cached_property
    def uncovered(self) -> np.ndarray:
        """Positions of the products no enterprise makes (their implicit producers)."""
        return np.flatnonzero(~self.hierarchy.covered)

    # ------------------------------------------------------------------ sums over enterprises
    def product_totals(self, w: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
        """``(U, V)``: ``U[:, i] = sum_{e: i(e)=i} w_e a_e`` (``n x n`` sparse) and
        ``V[:, i] = sum_{e: i(e)=i} w_e p_e`` (``r x n`` dense)."""
        h, n = self.hierarchy, self.n
        ep = h.enterprise_product
        # (bincount of nothing is integer)
        fw = np.bincount(ep, weights=w * h.input_factor, minlength=n).astype(np.float64, copy=False)
        hw = np.bincount(ep, weights=w * h.labour_factor, minlength=n).astype(np.float64, copy=False)
        U = sp.csr_array(self.A @ sp.diags_array(fw))
        V = self.P * hw[None, :]
        if h.norms is not None and h.norms.enterprise.size:
            rows = h.norms.enterprise
            S = sp.csr_array(
                (w[rows], (ep[rows], np.arange(rows.size))), shape=(n, rows.size)
            )
            U = sp.csr_array(U + (S @ h.norms.inputs).T)
            V = V + (S @ h.norms.primary).toarray().T
        U.sum_duplicates()
        U.eliminate_zeros()
        return U, V

    def unit_costs(self, product_prices: np.ndarray, resource_prices: np.ndarray) -> np.ndarray:
        """``a_e . product_prices + p_e . resource_prices`` for every enterprise."""
        h = self.hierarchy
        ep = h.enterprise_product
        base_in = np.asarray(self.AT @ product_prices).ravel()
        base_pr = self.P.T @ resource_prices
        cost = h.input_factor * base_in[ep] + h.labour_factor * base_pr[ep]
        if h.norms is not None and h.norms.enterprise.size:
            cost[h.norms.enterprise] += h.norms.inputs @ product_prices + h.norms.primary @ resource_prices
        return cost

    # ------------------------------------------------------------------ allocation rows
    def allocation_blocks(
        self, x: np.ndarray, implicit_output: np.ndarray, *, block_rows: int = BLOCK_ROWS
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Rows ``(node, input, quantity)`` of ``a_e x_e`` and ``p_e x_e``, block by block.

        ``node``: enterprise position ``e``, or ``E + t`` for the implicit producer of the
        ``t``-th uncovered product (output ``implicit_output[t]``). ``input``: product
        position ``j``, or ``n + k`` for resource ``k``. Rows are ordered by node, then
        inputs, then resources; zero quantities are left out.
        """
        h, n, r, E = self.hierarchy, self.n, self.r, self.E
        AT, P = self.AT, self.P
        ep, f, hf = h.enterprise_product, h.input_factor, h.labour_factor
        own = h.has_own_norms
        nnz_col = np.diff(AT.indptr)
        per_enterprise = float(nnz_col[ep].mean()) + r if E else 1.0
        step = max(1, int(block_rows / max(per_enterprise, 1.0)))
        norm_rows = h.norms.enterprise if h.norms is not None else np.zeros(0, np.int64)
        for s in range(0, E, step):
            t = min(E, s + step)
            e = np.arange(s, t)
            xe = x[s:t]
            parts_node, parts_in, parts_q = [], [], []
            # plain enterprises: f_e x_e A[:, i(e)]
            w = f[s:t] * xe
            plain = e[(w != 0) & ~own[s:t]]
            if plain.size:
                node, inp, q = _gather_columns(AT, ep[plain], plain, w[plain - s])
                parts_node.append(node)
                parts_in.append(inp)
                parts_q.append(q)
            # enterprises with own norms: (f_e A[:, i(e)] + N_e) x_e, duplicates combined
            lo, hi = np.searchsorted(norm_rows, [s, t])
            if hi > lo:
                rows = norm_rows[lo:hi]
                M = sp.csr_array(
                    sp.diags_array(f[rows] * x[rows]) @ AT[ep[rows]]
                    + sp.diags_array(x[rows]) @ h.norms.inputs[lo:hi]
                )
                M.sum_duplicates()
                M.eliminate_zeros()
                parts_node.append(rows[np.repeat(np.arange(rows.size), np.diff(M.indptr))])
                parts_in.append(M.indices.astype(np.int64))
                parts_q.append(M.data)
            # primary inputs: h_e x_e P[:, i(e)] (+ x_e Q_e)
            if r:
                Pb = (hf[s:t] * xe)[:, None] * P.T[ep[s:t]]
                if hi > lo:
                    Pb[rows - s] += x[rows][:, None] * h.norms.primary[lo:hi].toarray()
                nz_e, nz_k = np.nonzero(Pb)
                parts_node.append(nz_e + s)
                parts_in.append(nz_k + n)
                parts_q.append(Pb[nz_e, nz_k])
            if not parts_node:
                continue
            node = np.concatenate(parts_node)
            inp = np.concatenate(parts_in)
            q = np.concatenate(parts_q)
            order = counting_order(node - s, t - s)
            yield node[order], inp[order], q[order]
        # implicit producers: A[:, i] g_i, P[:, i] g_i
        unc = self.uncovered
        if unc.size:
            g = np.asarray(implicit_output, dtype=np.float64)
            nodes = E + np.arange(unc.size)
            keep = g != 0
            node, inp, q = _gather_columns(AT, unc[keep], nodes[keep], g[keep])
            Pb = g[:, None] * P.T[unc]
            nz_t, nz_k = np.nonzero(Pb)
            node = np.concatenate([node, nodes[nz_t]])
            inp = np.concatenate([inp, nz_k + n])
            q = np.concatenate([q, Pb[nz_t, nz_k]])
            order = counting_order(node - E, unc.size)
            yield node[order], inp[order], q[order]


def _gather_columns(
    AT: sp.csr_array, cols: np.ndarray, node: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each ``k``: rows ``(node[k], j, weight[k] * A[j, cols[k]])`` over the nonzeros of column ``cols[k]``."""
    start = AT.indptr[cols].astype(np.int64)
    count = AT.indptr[cols + 1].astype(np.int64) - start
    total = int(count.sum())
    if total == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    first = np.cumsum(count) - count  # where each column's run starts in the output
    idx = np.arange(total, dtype=np.int64) + np.repeat(start - first, count)
    return (
        np.repeat(node.astype(np.int64), count),
        AT.indices[idx].astype(np.int64),
        AT.data[idx] * np.repeat(weight, count),
    )


def labels_as_strings(index: pd.Index) -> pa.Array:
    """Labels as an Arrow string array (fast for integer labels)."""
    if isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index.dtype):
        return pa.array(np.asarray(index)).cast(pa.string())
    return pa.array(np.asarray(index.astype(str), dtype=object), type=pa.string())


def node_labels(hierarchy: Hierarchy, extra: tuple[str, ...] = ()) -> pa.Array:
    """Labels of the producers: enterprises, then one implicit producer per uncovered
    product (the product's label, prefixed ``implicit:`` if an enterprise has it), then
    ``extra`` (``"final demand"``, ``"imports"``, in angle brackets if taken)."""
    import pyarrow.compute as pc

    ent = labels_as_strings(hierarchy.enterprises)
    unc = np.flatnonzero(~hierarchy.covered)
    imp = labels_as_strings(hierarchy.products[unc]) if unc.size else pa.array([], pa.string())
    if len(imp) and len(ent) and pc.any(pc.is_in(imp, value_set=ent)).as_py():
        imp = pa.array([f"implicit:{p}" for p in imp.to_pylist()], pa.string())
    more = []
    for label in extra:
        taken = pa.concat_arrays([ent, imp])
        if len(taken) and pc.any(pc.is_in(pa.array([label]), value_set=taken)).as_py():
            label = f"<{label}>"
        more.append(label)
    return pa.concat_arrays([ent, imp, pa.array(more, pa.string())])
