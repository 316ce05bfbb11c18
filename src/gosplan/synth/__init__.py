"""Synthetic economies with the structure of real input-output tables, for tests and
benchmarks up to 10^7 products.

* :func:`generate` builds an :class:`~gosplan.Economy` in memory (``n`` up to about 10^6);
* :func:`write_synthetic` streams the same economy to an economy directory
  (``docs/economy-format.md``, ``keys = "position"``) chunk by chunk, in bounded memory.

Structure: universal inputs (energy, transport, trade, ...) used by almost every
product; raw materials; tiers of intermediates; final goods (the majority), used as
inputs by few or none; a share of inputs from the same or higher tiers (feedback), so
the product graph has a large strongly connected core and a large acyclic remainder;
power-law popularity of inputs within a tier (heavy-tailed in-degrees); the spectral
radius of ``A`` is exactly ``spectral_radius``. Labour coefficients ``l > 0``; optional
further primary resources (``land``, ``co2``) on subsets; final demand mostly on final
goods. Same arguments, same economy, whatever the chunking. See
:mod:`gosplan.synth._generator` for the construction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from gosplan.model.economy import Economy, EconomyMeta
from gosplan.synth._generator import (
    BLOCK,
    DEFAULT_CATEGORIES,
    DEFAULT_RESOURCES,
    DEFAULT_TIERS,
    Generator,
    SynthSpec,
)

__all__ = ["generate", "write_synthetic", "SynthSpec", "DEFAULT_TIERS"]

DEFAULT_SPECTRAL_RADIUS = 0.5
"""Domestic national tables sit near 0.45 (UK 2015 analytical table, 105 products: 0.46);
closed world tables near 0.6 (WIOD 2011: 0.61)."""


def _spec(n_products, inputs, seed, spectral_radius, tiers, universal, universal_use, feedback,
          popularity, resources, categories) -> SynthSpec:
    return SynthSpec.make(
        n_products, inputs, seed=seed, spectral_radius=spectral_radius, tiers=tiers,
        universal=universal, universal_use=universal_use, feedback=feedback, popularity=popularity,
        resources=resources, categories=categories,
    )


def _meta(spec: SynthSpec) -> EconomyMeta:
    p = spec
    return EconomyMeta(
        name=f"synthetic-n{p.n_products}-k{p.inputs:g}-seed{p.seed}",
        year=None,
        units="units (synthetic)",
        labour_unit="hours",
        source="gosplan.synth",
        licence="CC0-1.0 (generated data)",
        notes=(
            f"synthetic economy from gosplan.synth: n_products={p.n_products}, inputs={p.inputs:g}, "
            f"seed={p.seed}, spectral_radius={p.spectral_radius}, tiers={list(p.tiers)}, "
            f"universal={p.universal}, universal_use={p.universal_use}, feedback={p.feedback}, "
            f"popularity={p.popularity}; parameters in [synthetic]",
            "product groups (products table column 'tier'): 0 universal inputs, 1 raw materials, "
            f"2..{len(p.tiers) - 1} intermediate tiers, {len(p.tiers)} final goods",
        ),
    )


def generate(
    n_products: int,
    inputs: float = 10,
    *,
    seed: int,
    spectral_radius: float = DEFAULT_SPECTRAL_RADIUS,
    tiers: Sequence[float] = DEFAULT_TIERS,
    universal: int | None = None,
    universal_use: float = 0.97,
    feedback: float = 0.05,
    popularity: float = 0.8,
    resources: Sequence[str] = DEFAULT_RESOURCES,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
) -> Economy:
    """A synthetic square economy in memory.

    Parameters
    ----------
    n_products:
        ``n``. In memory: up to about 10^6 (use :func:`write_synthetic` beyond).
    inputs:
        ``K``, mean number of inputs per product (nonzeros per column of ``A``),
        universal inputs included.
    seed:
        Random seed; the same arguments give the same economy.
    spectral_radius:
        ``rho(A)``, exact (to rounding): coefficients are scaled so that
        ``w^T A = rho w^T`` for a positive ``w``.
    tiers:
        Shares of the non-universal products in raw materials, intermediate tiers
        (one entry each) and final goods; at least two entries, summing to 1.
    universal:
        Number of universal inputs (energy, transport, trade, ...); default
        ``round(0.3 K)``, at most 8 and at most ``(K - 1) / universal_use``.
    universal_use:
        Probability that a product uses each universal input.
    feedback:
        Share of the non-universal inputs of intermediate tiers and final goods drawn
        from the same or a higher tier (loops).
    popularity:
        Power-law exponent ``a`` in [0, 1) of input popularity within a tier: the input
        of rank ``r`` is chosen with weight about ``r^-a``. 0 is uniform.
    resources:
        Primary resources besides labour (``"land"``, ``"co2"``, ``"water"`` have
        profiles by tier; other names fall on a random 20 % of products).
    categories:
        Final-demand categories (``households``, ``government``, ``investment``,
        ``exports`` have profiles; others fall on a random 10 %).

    Returns
    -------
    Economy
        Square; ``resources`` = ``["labour", *resources]``; no ``recorded_output``.
    """
    spec = _spec(n_products, inputs, seed, spectral_radius, tiers, universal, universal_use,
                 feedback, popularity, resources, categories)
    gen = Generator(spec)
    n = spec.n_products
    labels, rows, coefs, counts = [], [], [], np.zeros(n, dtype=np.int64)
    p_res, p_col, p_val, d_row, d_cat, d_val = [], [], [], [], [], []
    names = []
    for blk in gen.blocks():
        labels.append(blk.labels)
        names.append(gen.names(blk.start, blk.stop))
        rows.append(blk.row)
        coefs.append(blk.coef)
        counts[blk.start : blk.stop] = np.bincount(blk.col - blk.start, minlength=blk.stop - blk.start)
        p_res.append(blk.p_res), p_col.append(blk.p_col), p_val.append(blk.p_val)
        d_row.append(blk.d_row), d_cat.append(blk.d_cat), d_val.append(blk.d_val)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
    A = sp.csc_array(
        (np.concatenate(coefs), np.concatenate(rows), indptr.astype(index_dtype)), shape=(n, n)
    ).tocsr()
    del rows, coefs
    resource_names = ["labour", *spec.resources]
    P = sp.coo_array(
        (np.concatenate(p_val), (np.concatenate(p_res), np.concatenate(p_col))),
        shape=(len(resource_names), n),
    ).tocsr()
    Y = np.zeros((n, len(spec.categories)))
    Y[np.concatenate(d_row), np.concatenate(d_cat)] = np.concatenate(d_val)
    return Economy(
        products=pd.Index(pa.chunked_array(labels).combine_chunks().to_pandas()),
        use=A,
        primary=P,
        resources=pd.Index(resource_names, dtype=object),
        demand=Y,
        categories=pd.Index(list(spec.categories), dtype=object),
        labour="labour",
        meta=_meta(spec),
        names=pa.chunked_array(names, type=pa.string()).to_numpy(),  # the universal products' names
    )


def write_synthetic(
    out_dir: str | Path,
    n_products: int,
    inputs: float = 10,
    *,
    seed: int,
    format: Literal["csv", "parquet"] = "parquet",
    chunk_size: int = 1 << 18,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
    spectral_radius: float = DEFAULT_SPECTRAL_RADIUS,
    tiers: Sequence[float] = DEFAULT_TIERS,
    universal: int | None = None,
    universal_use: float = 0.97,
    feedback: float = 0.05,
    popularity: float = 0.8,
    resources: Sequence[str] = DEFAULT_RESOURCES,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
) -> Path:
    """Stream a synthetic economy to an economy directory, ``keys = "position"``.

    The economy is the one :func:`generate` returns for the same arguments; memory is
    bounded by ``chunk_size`` (about ``chunk_size * K * 60`` bytes), not by ``n``, apart
    from the price vector ``w`` (8 bytes per product).

    Parameters
    ----------
    out_dir:
        Directory to create.
    n_products, inputs, seed, spectral_radius, tiers, universal, universal_use, feedback, \
    popularity, resources, categories:
        As for :func:`generate`.
    format:
        ``"parquet"`` (default) or ``"csv"``.
    chunk_size:
        Products generated and written per step, rounded up to a multiple of 65 536.
        Changes memory use and progress granularity, never the files' contents (Parquet
        row groups have a fixed size, so not their bytes either).
    progress:
        Called as ``progress(products_done, n_products)`` after each chunk.
    overwrite:
        Replace an economy already in ``out_dir``.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from gosplan.io.directory import TableSink, prepare_directory, table_schema, toml_document

    if format not in ("csv", "parquet"):
        raise ValueError(f"format must be 'csv' or 'parquet', got {format!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    spec = _spec(n_products, inputs, seed, spectral_radius, tiers, universal, universal_use,
                 feedback, popularity, resources, categories)
    gen = Generator(spec)
    directory = Path(out_dir)
    prepare_directory(directory, overwrite)
    per_chunk = -(-chunk_size // BLOCK)
    resource_names = pa.array(["labour", *spec.resources], type=pa.string())
    category_names = pa.array(list(spec.categories), type=pa.string())
    extra = {"tier": pa.int8(), "name": pa.string()}
    sinks = {
        "products": TableSink(directory / f"products.{format}", format,
                              table_schema("products", "position", extra=extra), quote=False),
        "technology": TableSink(directory / f"technology.{format}", format,
                                table_schema("technology", "position"), quote=False),
        "primary": TableSink(directory / f"primary.{format}", format,
                             table_schema("primary", "position"), quote=False),
        "demand": TableSink(directory / f"demand.{format}", format,
                            table_schema("demand", "position"), quote=False),
    }
    try:
        for first in range(0, gen.n_blocks, per_chunk):
            last = min(first + per_chunk, gen.n_blocks)
            for blk in gen.blocks(first, last):
                sinks["products"].write(
                    {"product": blk.labels, "tier": blk.kind, "name": gen.names(blk.start, blk.stop)}
                )
                sinks["technology"].write({"input": blk.row, "output": blk.col, "coefficient": blk.coef})
                sinks["primary"].write(
                    {"resource": resource_names.take(pa.array(blk.p_res)), "product": blk.p_col,
                     "coefficient": blk.p_val}
                )
                sinks["demand"].write(
                    {"product": blk.d_row, "category": category_names.take(pa.array(blk.d_cat)),
                     "quantity": blk.d_val}
                )
                del blk
            if progress is not None:
                progress(min(last * BLOCK, spec.n_products), spec.n_products)
    finally:
        for sink in sinks.values():
            sink.close()
    (directory / "economy.toml").write_text(
        toml_document(
            _meta(spec), fmt=format, keys="position", resources=["labour", *spec.resources],
            categories=list(spec.categories), labour="labour",
            extra={"synthetic": {"generator": "gosplan.synth", "block": BLOCK, **spec.to_dict()}},
        ),
        encoding="utf-8",
    )
    return directory
