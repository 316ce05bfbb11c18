"""A large synthetic multi-year plan for the HTML report: the frames
``gosplan.report.plan_html`` takes, built with numpy and pandas alone. Used by
tests/test_report_html.py (the report's size and truncation) and by
benchmarks/bench_multiyear.py ``--report`` (its time), which puts this folder on
``sys.path``; so no pytest here."""

from __future__ import annotations

import numpy as np
import pandas as pd


def large_plan(n: int = 10_000, T: int = 5, seed: int = 1):
    """``n`` products and activities, 3 stocks per activity over 50 capital goods, targets for
    30% of the products; random but reproducible."""
    rng = np.random.default_rng(seed)
    years = [2026 + t for t in range(T)]
    names = np.array([f"product {i} <&>" for i in range(n)], dtype=object)
    growth = np.repeat(1.05 ** np.arange(T), n)
    base = np.tile(rng.lognormal(0, 1, n) * 100, T)
    products = pd.DataFrame(
        {"year": np.repeat(years, n), "product": np.tile(names, T), "output": base * growth}
    )
    products["intermediate"] = products.output * 0.4
    products["accumulation"] = products.output * 0.1
    products["consumption"] = products.output * 0.5
    has = rng.random(n * T) < 0.3
    products["target"] = np.where(has, products.consumption / rng.uniform(0.7, 1.1, n * T), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        products["fulfilment"] = np.where(has, products.consumption / products.target, np.nan)
    products["price"] = rng.exponential(1, n * T)
    years_df = pd.DataFrame(
        {
            "year": years,
            "fulfilment": 0.7 + 0.02 * np.arange(T),
            "labour_supply": 1e6 * 1.01 ** np.arange(T),
        }
    )
    years_df["labour_used"] = years_df.labour_supply * 0.99
    years_df["labour_price"] = 0.0
    years_df["weight"] = 0.95 ** np.arange(T)
    activities = pd.DataFrame(
        {
            "year": np.repeat(years, n),
            "activity": np.tile(names, T),
            "level": base * growth * rng.uniform(0.9, 1.2, n * T),
        }
    )
    activities["capacity"] = np.where(rng.random(n * T) < 0.5, np.inf, activities.level * 1.1)
    activities["labour"] = activities.level * 0.3
    k = 3 * n
    good, holder = rng.integers(0, 50, k), rng.integers(0, n, k)
    stocks = pd.DataFrame(
        {
            "year": np.repeat(years, k),
            "product": np.tile(names[good], T),
            "activity": np.tile(names[holder], T),
            "stock": np.tile(rng.lognormal(2, 1, k), T) * np.repeat(1.03 ** np.arange(T), k),
        }
    )
    stocks["required"] = stocks.stock * 0.8
    stocks["investment"] = stocks.stock * 0.08
    stocks["depreciation"] = stocks.stock * 0.05
    stocks["rent"] = np.where(rng.random(k * T) < 0.2, rng.exponential(1, k * T), 0.0)
    summary = {
        "status": "optimal",
        "objective": 9.87654321e7,
        "method": "pdhg",
        "economy": "synthetic",
        "years": years,
        "seconds": 812.5,
        "notes": [],
    }
    return summary, years_df, products, activities, stocks
