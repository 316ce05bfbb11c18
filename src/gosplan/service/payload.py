"""What a finished plan job leaves behind: the draft's payload, from which a published version's
directives, the API's plan tables and the dashboard are all read.

Built by :mod:`gosplan.service.jobs.tasks` from the library's results (``gosplan.plan``,
``plan_years``, ``plan_decomposed``, ``breakdown``); stored with :func:`gosplan.service.models.pack`.
Every number is a float in the economy's units; labels are strings; names are the products'
human-readable names where the economy has them (else the label).
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["PlanPayload", "ProductRow", "ResourceRow", "MinistryRow", "FlowRow", "EnterpriseDirective",
           "MinistryDirective", "SimulationPayload"]


class ProductRow(TypedDict):
    product: str
    name: str
    ministry: str | None
    gross_output: float        # x_i planned
    final: float               # net output / final use planned
    target: float | None       # y_i asked for (None where no target)
    fulfilment: float | None   # final / target
    price: float | None        # the plan's shadow price (product balance dual) or labour value


class ResourceRow(TypedDict):
    resource: str
    available: float | None    # None: unlimited
    used: float
    price: float | None        # shadow price (0 when slack)
    binding: bool


class MinistryRow(TypedDict):
    ministry: str
    gross_output: float
    labour: float
    n_products: int
    n_enterprises: int


class FlowRow(TypedDict):
    source: str                # supplying ministry
    target: str                # using ministry
    value: float               # sum_{i in source, j in target} a_ij x_j


class InputRow(TypedDict):
    input: str                 # product or resource label
    kind: str                  # "product" | "resource"
    quantity: float


class EnterpriseDirective(TypedDict):
    enterprise: str
    ministry: str
    product: str
    product_name: str
    target: float              # output the enterprise is told to make
    capacity: float
    inputs: list[InputRow]     # its input allocations


class MinistryDirective(TypedDict):
    ministry: str
    gross_output: float
    products: list[dict[str, Any]]      # product, name, gross_output, final, target, price
    enterprises: list[dict[str, Any]]   # enterprise, product, target, capacity
    inputs: list[InputRow]              # what the ministry receives from outside it, in total


class PlanPayload(TypedDict):
    kind: str                  # "plan" | "five-year" | "two-level" | "replan"
    status: str                # the library's status ("solved", ...)
    message: str
    summary: dict[str, Any]    # the library result's summary() plus objective, params
    products: list[ProductRow]
    resources: list[ResourceRow]
    ministries: list[MinistryRow]
    flows: list[FlowRow]       # between ministries (Sankey); flows within one ministry included
    enterprises: list[EnterpriseDirective]
    ministry_directives: list[MinistryDirective]
    years: list[dict[str, Any]] | None  # five-year plans: one row per year (year, gross_output, ...)


class SimulationPayload(TypedDict):
    regime: str
    summary: dict[str, Any]
    periods: list[dict[str, Any]]       # Execution.periods rows
    ministries: list[dict[str, Any]]    # Execution.ministries_frame() rows (period, ministry, ...)
    alerts: list[dict[str, Any]]        # Execution.alerts rows (ALERT_COLUMNS)
