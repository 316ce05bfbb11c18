"""The generator behind :func:`gosplan.synth.generate` and :func:`gosplan.synth.write_synthetic`.

Products are laid out by group, in position order:

* group 0, *universal* inputs (energy, transport, trade, ...): used by almost every
  product; they use raw materials and intermediates (machinery) themselves;
* group 1, *raw materials*: few inputs besides the universal ones (a little machinery);
* groups 2 .. L-1, *intermediate tiers*: inputs mostly from the tiers below;
* group L, *final goods* (the majority): used as inputs by few or no products.

A share ``feedback`` of the non-universal inputs of tiers 2..L comes from the same or a
higher tier, closing loops. Within a tier, the input is chosen with power-law
popularity (rank ``r`` drawn with weight about ``r^-popularity``) through a fixed
permutation of the tier, so in-degrees are heavy-tailed.

Coefficients are scaled column by column to a positive "price" vector ``w`` (lognormal):
``A[i, j] = rho * s_ij * w_j / w_i`` with shares ``s_ij`` (lognormal, summing to 1 over
the column). Then ``w^T A = rho w^T`` with ``w > 0``: for nonnegative ``A`` a positive left
eigenvector belongs to the Perron root, so the spectral radius is exactly ``rho``. Every
column has at least one input, which this needs.

Products are generated in blocks of :data:`BLOCK` with their own random streams
(``SeedSequence([seed, 1, block])``; ``w`` from ``[seed, 0]``), so the economy does not
depend on how the writer chunks it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

BLOCK = 1 << 16
"""Products per generation block (fixed: the economy depends on it)."""

UNIVERSAL_NAMES = (
    "energy", "transport", "trade", "electricity", "finance", "telecom", "water", "business services",
)
DEFAULT_TIERS = (0.05, 0.12, 0.12, 0.12, 0.59)
DEFAULT_RESOURCES = ("land", "co2")
DEFAULT_CATEGORIES = ("households", "government", "investment", "exports")
LOWER_TIER_DECAY = 0.5  # weight of tier t-1-d among the lower tiers of tier t: size * 0.5**d
UNIVERSAL_SHARE = 0.5  # typical cost share of a universal input relative to another input
SHARE_SIGMA = 1.0  # lognormal sigma of cost shares within a column
PRICE_SIGMA = 1.0  # lognormal sigma of the price vector w

# Probability that a product of each group (universal, raw, intermediate, final) uses a
# primary resource / has final demand in a category, and the scale of the amount.
_RESOURCE_PROFILES: dict[str, tuple[tuple[float, float, float, float], float]] = {
    "land": ((0.0, 0.6, 0.05, 0.02), 0.1),
    "co2": ((1.0, 0.8, 0.3, 0.05), 0.05),
    "water": ((0.5, 0.7, 0.3, 0.1), 0.02),
}
_OTHER_RESOURCE = ((0.2, 0.2, 0.2, 0.2), 0.05)
_DEMAND_PROFILES: dict[str, tuple[tuple[float, float, float, float], float]] = {
    "households": ((1.0, 0.0, 0.02, 0.9), 1.0),
    "government": ((0.5, 0.0, 0.01, 0.1), 0.5),
    "investment": ((0.0, 0.0, 0.02, 0.1), 1.0),
    "exports": ((0.3, 0.3, 0.1, 0.1), 0.5),
}
_OTHER_CATEGORY = ((0.1, 0.1, 0.1, 0.1), 0.5)
_PREFIX = np.frombuffer(b"urif", dtype=np.uint8)  # label prefix by kind


@dataclass(frozen=True)
class SynthSpec:
    """All parameters of a synthetic economy (written to ``economy.toml`` ``[synthetic]``)."""

    n_products: int
    inputs: float
    seed: int
    spectral_radius: float
    tiers: tuple[float, ...]
    universal: int
    universal_use: float
    feedback: float
    popularity: float
    resources: tuple[str, ...]
    categories: tuple[str, ...]

    @classmethod
    def make(
        cls,
        n_products: int,
        inputs: float,
        *,
        seed: int,
        spectral_radius: float,
        tiers: Sequence[float],
        universal: int | None,
        universal_use: float,
        feedback: float,
        popularity: float,
        resources: Sequence[str],
        categories: Sequence[str],
    ) -> "SynthSpec":
        tiers = tuple(float(t) for t in tiers)
        if universal is None:
            universal = min(len(UNIVERSAL_NAMES), round(0.3 * inputs))
            if universal_use > 0:  # leave room for one other input per product
                universal = max(0, min(universal, int((inputs - 1) / universal_use + 1e-9)))
        checks = [
            (isinstance(seed, (int, np.integer)) and seed >= 0,
             f"seed must be an integer >= 0, got {seed!r}"),
            (0 < spectral_radius < 1, f"spectral_radius must be in (0, 1), got {spectral_radius}"),
            (len(tiers) >= 2 and all(t > 0 for t in tiers),
             f"tiers must give >= 2 positive shares (raw, ..., final), got {tiers}"),
            (abs(sum(tiers) - 1) < 1e-9, f"tiers must sum to 1, got {sum(tiers)}"),
            (0 <= universal <= len(UNIVERSAL_NAMES), f"universal must be in 0..{len(UNIVERSAL_NAMES)}"),
            (inputs >= 1, f"inputs (mean inputs per product) must be >= 1, got {inputs}"),
            (inputs >= 1 + universal * universal_use - 1e-9,
             f"inputs (mean inputs per product, universal ones included) must be >= 1 + universal * "
             f"universal_use = {1 + universal * universal_use:g}: every product has one other input"),
            (0 <= universal_use <= 1, f"universal_use must be in [0, 1], got {universal_use}"),
            (0 <= feedback < 1, f"feedback must be in [0, 1), got {feedback}"),
            (0 <= popularity < 1, f"popularity must be in [0, 1), got {popularity}"),
            (n_products >= universal + len(tiers),
             f"n_products must be >= {universal + len(tiers)} (universal inputs + one product per tier)"),
            (n_products < 2**31 - 1, "n_products must be < 2**31 - 1"),
            (len(set(resources)) == len(resources) and "labour" not in resources and all(resources),
             f"resources must be distinct non-empty names other than 'labour', got {list(resources)}"),
            (len(set(categories)) == len(categories) and all(categories),
             f"categories must be distinct non-empty names, got {list(categories)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid input for the synthetic economy: {message}")
        return cls(
            n_products=int(n_products), inputs=float(inputs), seed=int(seed),
            spectral_radius=float(spectral_radius), tiers=tiers, universal=int(universal),
            universal_use=float(universal_use), feedback=float(feedback), popularity=float(popularity),
            resources=tuple(resources), categories=tuple(categories),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("tiers", "resources", "categories"):
            d[key] = list(d[key])
        return d


@dataclass
class Block:
    """Products ``start .. stop-1``: their columns of ``A`` (sorted by column, then row),
    primary inputs and final demand."""

    start: int
    stop: int
    labels: pa.Array
    kind: np.ndarray  # group index per product: 0 universal, 1 raw, ..., L final
    col: np.ndarray  # output position (global), int32
    row: np.ndarray  # input position, int32
    coef: np.ndarray
    p_res: np.ndarray  # resource code, int32 (0 labour)
    p_col: np.ndarray  # product position, int32
    p_val: np.ndarray
    d_row: np.ndarray  # product position, int32
    d_cat: np.ndarray  # category code, int32
    d_val: np.ndarray


class Generator:
    """Layout and per-block generation of one synthetic economy."""

    def __init__(self, spec: SynthSpec):
        self.spec = s = spec
        n, nu = s.n_products, s.universal
        rest = n - nu
        # group sizes: universal, then tiers by largest remainder, each >= 1
        raw = np.array(s.tiers) * rest
        sizes = np.maximum(np.floor(raw).astype(np.int64), 1)
        while sizes.sum() < rest:
            sizes[np.argmax(raw - sizes)] += 1
        while sizes.sum() > rest:
            sizes[np.argmax(sizes)] -= 1
        self.sizes = np.concatenate([[nu], sizes]).astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.n_groups = G = len(self.sizes)
        self.final = G - 1
        # a fixed permutation of each group: rank -> position, rank * mult mod size
        self.mult = np.array([_coprime_near(int(z), 0.6180339887) for z in self.sizes], dtype=np.int64)
        # which products a group draws its non-universal inputs from
        probs = np.zeros((G, G))
        inter = list(range(1, self.final))  # raw and intermediate tiers
        for g in range(G):
            if g <= 1:  # universal inputs and raw materials: materials and machinery
                probs[g, inter] = self.sizes[inter]
                probs[g] /= probs[g].sum()
                continue
            lower = np.arange(1, g)
            w_low = self.sizes[lower] * LOWER_TIER_DECAY ** (g - 1 - lower)
            upper = np.arange(g, G)
            w_up = self.sizes[upper].astype(float)
            probs[g, lower] = (1 - s.feedback) * w_low / w_low.sum()
            probs[g, upper] = s.feedback * w_up / w_up.sum()
        self.cum = np.cumsum(probs, axis=1)
        self.cum[:, -1] = 1.0
        # mean number of non-universal inputs per group so that the overall mean is `inputs`
        K, uu = s.inputs, s.universal_use
        univ_in = np.full(G, uu * nu)
        univ_in[0] = uu * max(nu - 1, 0)
        mu = np.empty(G)
        mu[0] = 3 * K
        mu[1] = max(1.0, (K - uu * nu) / 4)
        fixed = self.sizes[:2] @ (mu[:2] + univ_in[:2])
        others = self.sizes[2:].sum()
        mu[2:] = max(1.0, (K * n - fixed - others * uu * nu) / others) if others else 1.0
        self.mean_inputs = mu
        self.w = np.random.default_rng([s.seed, 0]).lognormal(0.0, PRICE_SIGMA, n)
        self.width = len(str(max(n - 1, 0)))
        self.resource_profiles = [
            _RESOURCE_PROFILES.get(r, _OTHER_RESOURCE) for r in s.resources
        ]
        self.demand_profiles = [_DEMAND_PROFILES.get(c, _OTHER_CATEGORY) for c in s.categories]

    # ------------------------------------------------------------------ helpers
    @property
    def n_blocks(self) -> int:
        return -(-self.spec.n_products // BLOCK)

    def group_of(self, positions: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self.starts, positions, side="right") - 1).astype(np.int8)

    def profile_kind(self, groups: np.ndarray) -> np.ndarray:
        """0 universal, 1 raw, 2 intermediate, 3 final."""
        kind = np.minimum(groups, 2).astype(np.int8)
        kind[groups == self.final] = 3
        return kind

    def labels(self, start: int, stop: int, kind: np.ndarray) -> pa.Array:
        """``u``/``r``/``i``/``f`` + zero-padded position, e.g. ``f0012345``."""
        pos = np.arange(start, stop, dtype=np.int64)
        w = self.width
        buf = np.empty((stop - start, w + 1), dtype=np.uint8)
        buf[:, 0] = _PREFIX[kind]
        for d in range(w):
            buf[:, w - d] = (pos // 10**d) % 10 + 48
        raw = buf.view(f"S{w + 1}").ravel()
        return pa.array(raw, type=pa.binary(w + 1)).cast(pa.string())

    def names(self, start: int, stop: int) -> pa.Array:
        nu = self.spec.universal
        return pa.array(
            [UNIVERSAL_NAMES[p] if p < nu else None for p in range(start, min(stop, nu))]
            + [None] * (stop - max(start, min(stop, nu))),
            type=pa.string(),
        )

    def _draw(self, rng: np.random.Generator, dest_group: np.ndarray) -> np.ndarray:
        """Input positions for slots of products in ``dest_group`` (non-universal inputs)."""
        u = rng.random(dest_group.size)
        src = (u[:, None] >= self.cum[dest_group]).sum(axis=1)
        src = np.minimum(src, self.n_groups - 1)
        size = self.sizes[src]
        v = rng.random(dest_group.size)
        rank = np.minimum((size * v ** (1.0 / (1.0 - self.spec.popularity))).astype(np.int64), size - 1)
        return (self.starts[src] + (rank * self.mult[src]) % size).astype(np.int64)

    # ------------------------------------------------------------------ one block
    def block(self, b: int) -> Block:
        s = self.spec
        n, nu, rho = s.n_products, s.universal, s.spectral_radius
        start, stop = b * BLOCK, min((b + 1) * BLOCK, n)
        nb = stop - start
        rng = np.random.default_rng([s.seed, 1, b])
        pos = np.arange(start, stop, dtype=np.int64)
        group = self.group_of(pos)

        # universal inputs
        use_u = rng.random((nb, nu)) < s.universal_use
        own = pos < nu
        use_u[np.flatnonzero(own), pos[own]] = False
        u_col, u_row = np.nonzero(use_u)
        target = use_u.sum(axis=1)
        # other inputs: at least one per product, so every column of A is nonzero
        c = 1 + rng.poisson(np.maximum(self.mean_inputs[group] - 1.0, 0.0))
        target = target + c
        local = np.repeat(np.arange(nb, dtype=np.int64), c)
        keys = np.concatenate([u_col * n + u_row, local * n + self._draw(rng, group[local])])
        keys = _unique(keys)
        for _ in range(3):  # redraw inputs lost as duplicates
            deficit = target - np.bincount(keys // n, minlength=nb)
            if not deficit.any():
                break
            local = np.repeat(np.arange(nb, dtype=np.int64), deficit)
            keys = _unique(np.concatenate([keys, local * n + self._draw(rng, group[local])]))
        col_local, row = keys // n, keys % n
        del keys

        # coefficients: lognormal shares, scaled so that w^T A = rho w^T
        share = rng.lognormal(0.0, SHARE_SIGMA, row.size)
        share[row < nu] *= UNIVERSAL_SHARE
        share /= np.bincount(col_local, weights=share, minlength=nb)[col_local]
        w = self.w
        coef = rho * share * w[start + col_local] / w[row]

        # primary inputs: labour everywhere, other resources on subsets
        kind = self.profile_kind(group)
        value_added = (1.0 - rho) * w[start:stop]
        p_res = [np.zeros(nb, dtype=np.int32)]
        p_col = [pos]
        p_val = [value_added * rng.lognormal(math.log(0.6), 0.4, nb)]
        for r, (probs, scale) in enumerate(self.resource_profiles, start=1):
            on = rng.random(nb) < np.asarray(probs)[kind]
            k = int(on.sum())
            p_res.append(np.full(k, r, dtype=np.int32))
            p_col.append(pos[on])
            p_val.append(value_added[on] * scale * rng.lognormal(0.0, 1.0, k))

        # final demand, by product then category
        n_cat = len(self.demand_profiles)
        on = np.zeros((nb, n_cat), dtype=bool)
        amount = np.zeros((nb, n_cat))
        for k, (probs, scale) in enumerate(self.demand_profiles):
            on[:, k] = rng.random(nb) < np.asarray(probs)[kind]
            amount[:, k] = scale * rng.lognormal(0.0, 1.5, nb) / w[start:stop]
        d_row, d_cat = np.nonzero(on)

        return Block(
            start=start,
            stop=stop,
            labels=self.labels(start, stop, kind),
            kind=group,
            col=(col_local + start).astype(np.int32),
            row=row.astype(np.int32),
            coef=coef,
            p_res=np.concatenate(p_res),
            p_col=np.concatenate(p_col).astype(np.int32),
            p_val=np.concatenate(p_val),
            d_row=(d_row + start).astype(np.int32),
            d_cat=d_cat.astype(np.int32),
            d_val=amount[d_row, d_cat],
        )

    def blocks(self, first: int = 0, last: int | None = None) -> Iterator[Block]:
        for b in range(first, self.n_blocks if last is None else last):
            yield self.block(b)


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` hashes in numpy >= 2.3: much slower here)."""
    a = np.sort(a)
    if a.size:
        a = a[np.concatenate([[True], a[1:] != a[:-1]])]
    return a


def _coprime_near(size: int, fraction: float) -> int:
    """An integer near ``fraction * size`` coprime to ``size`` (1 for tiny sizes)."""
    if size <= 2:
        return 1
    a = max(1, int(fraction * size))
    while math.gcd(a, size) != 1:
        a += 1
    return a
