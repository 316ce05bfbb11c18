"""The JSON bodies of the bureau's API (pydantic).

Request bodies forbid unknown fields (a misspelt option is a 422 that names it, never silently
ignored). Response models describe what the API returns, for OpenAPI and its checkers; the
tables and directives read from a plan's payload (:mod:`gosplan.service.payload`) are described
without forbidding extra fields, so that a payload that grows a column stays valid.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "PlanParams", "SimulateParams", "EconomyIn", "PublishIn", "JobOut", "EconomyOut", "EconomyDetailOut",
    "EnterpriseOut", "DraftOut", "DraftDetailOut", "VersionOut", "ProductRowOut", "ResourceRowOut",
    "MinistryRowOut", "FlowRowOut", "InputRowOut", "EnterpriseDirectiveOut", "MinistryDirectiveOut",
    "ReplanParams", "MinistryOut", "Id", "Label", "ErrorOut", "ConflictOut", "SimulationOut", "ERRORS", "BODY_ERRORS",
]

Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]  # no NUL: PostgreSQL refuses it
#: A row id in a path (bounded: SQLite refuses integers beyond 64 bits, PostgreSQL's ids are 32-bit).
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]



def _utc(value: dt.datetime) -> dt.datetime:
    """Times are UTC; SQLite gives them back without their zone."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


Time = Annotated[dt.datetime, AfterValidator(_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Row(BaseModel):
    """A row read from a stored payload (extra columns allowed)."""

    model_config = ConfigDict(extra="allow")


# --- requests ----------------------------------------------------------------------------------

class PlanParams(_In):
    """A plan job's parameters (``POST /economies/{id}/plans``; re-plans add ``period``)."""

    kind: Literal["plan", "five-year", "two-level"] = Field(
        "plan", description="plan: one optimal plan (gosplan.plan); five-year: plan_years over the economy's "
        "horizon; two-level: plan_decomposed over its ministries")
    objective: Literal["fulfilment", "harmony", "cost"] = "fulfilment"
    targets: dict[Label, Quantity] | None = Field(None, description="final output asked for, by product label")
    resources: dict[Label, Quantity] | None = Field(None, description="resources available, by resource label")
    capacities: dict[Label, Quantity] | None = Field(None, description="most gross output, by product label")
    priorities: dict[Label, Annotated[int, Field(ge=1, le=1_000_000)]] | None = Field(
        None, description="priority classes of products (1 is served first)")
    weights: Literal["value"] | dict[Label, Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = Field(
        None, description="objective harmony: weight of each target, by product label (default 1), or 'value': "
        "each target weighted by its base-year labour value (docs/planning.md)")
    method: Literal["auto", "highs", "highs-ipm", "highs-pdlp", "leontief", "pdhg"] = "auto"
    tol: float = Field(1e-6, ge=1e-9, le=1e-2)
    time_limit: float | None = Field(None, gt=0, le=86_400, description="seconds")
    years: int | None = Field(None, ge=1, le=100, description="years of a five-year plan (default: the horizon's)")
    rule: Literal["proportional", "merit"] = Field(
        "proportional", description="how a product's output is broken down among its enterprises")

    @model_validator(mode="after")
    def _years_only_five_year(self) -> PlanParams:
        if self.years is not None and self.kind != "five-year":
            raise ValueError(f"years is for kind 'five-year', not {self.kind!r}")
        if self.weights is not None:
            if self.objective != "harmony":
                raise ValueError(f"weights weigh objective 'harmony', not {self.objective!r}")
            if self.kind == "five-year":
                raise ValueError("weights are for kinds 'plan' and 'two-level' (a five-year plan's harmony has weight 1)")
        return self


class ReplanParams(PlanParams):
    """A re-plan: a plan's parameters and the last period of reports to take."""

    period: int | None = Field(None, ge=0, le=1_000_000,
                               description="use each enterprise's latest report up to this period (default: all)")


class SimulateParams(_In):
    """A simulation job's parameters (``POST /economies/{id}/simulations``).

    ``model="execution"``: the plan carried out by enterprises under capacity shocks
    (:func:`gosplan.execute`, ``regime``, the ``shock_*`` fields, ``monitoring``: Cyberstride's
    alerts). ``model="consumers"``: the plan cycle with consumer feedback
    (:func:`gosplan.simulate`, ``rule``), households buying what the plan makes."""

    model: Literal["execution", "consumers"] = Field(
        "execution", description="execution: gosplan.execute (regimes, shocks, alerts); consumers: "
        "gosplan.simulate (the plan revised against households' demand)")
    regime: Literal["command", "liberman", "optimal"] = "command"
    rule: Literal["opportunity", "values", "fixed"] = Field(
        "opportunity", description="model consumers: how the centre revises its targets (docs/consumers.md)")
    periods: int = Field(12, ge=1, le=240)
    shock_rate: float = Field(0.05, ge=0, le=1, description="shocks started per enterprise and period (0: no shocks)")
    shock_depth: float = Field(0.5, ge=0, le=1, description="deepest cut of capacity (0: no shocks)")
    shock_persistence: float = Field(0.6, ge=0, lt=1, description="chance a shock lasts into the next period (mean length 1/(1-p))")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    groups: int = Field(1, ge=1, le=1000)
    monitoring: bool = True

    @model_validator(mode="after")
    def _fields_of_the_model(self) -> SimulateParams:
        execution_only = {"regime", "shock_rate", "shock_depth", "shock_persistence", "monitoring"}
        wrong = sorted((execution_only if self.model == "consumers" else {"rule"}) & self.model_fields_set)
        if wrong:
            raise ValueError(f"{', '.join(wrong)} do(es) not apply to model {self.model!r}")
        return self


class EconomyIn(_In):
    """Load a bundled economy (an upload comes as multipart: ``name`` and ``file``)."""

    name: Label
    bundled: Label = Field(description="a bundled economy's name, e.g. us-2022 (see gosplan.datasets)")
    enterprises_per_product: float | None = Field(
        None, gt=0, le=100, description="synthetic enterprises per product (none: products are the enterprises' level)")
    ministries: int | None = Field(None, ge=1, le=10_000, description="group the products into this many ministries")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class PublishIn(_In):
    base_version: int = Field(ge=0, le=2**31 - 1, description="the latest version this draft was made against (0: none yet)")


# --- responses ---------------------------------------------------------------------------------

class JobOut(_Out):
    id: int
    economy_id: int
    kind: str
    params: dict[str, Any]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    message: str
    draft_id: int | None
    summary: dict[str, Any] | None
    created_at: Time
    started_at: Time | None
    finished_at: Time | None


class EconomyOut(_Out):
    id: int
    name: str
    source: Literal["bundled", "upload"]
    title: str
    units: str
    n_products: int
    n_ministries: int
    n_enterprises: int
    created_at: Time
    latest_version: int = Field(description="the latest published plan version (0: none yet)")


class MinistryOut(_Out):
    ministry: str
    name: str
    n_enterprises: int


class EconomyDetailOut(EconomyOut):
    spec: dict[str, Any]
    ministries: list[MinistryOut]


class EnterpriseOut(_Out):
    enterprise: str
    ministry: str | None
    product: str | None
    name: str


class DraftOut(_Out):
    id: int
    economy_id: int
    job_id: int | None
    kind: str
    summary: dict[str, Any]
    created_at: Time


class ProductRowOut(_Row):
    product: str
    name: str
    ministry: str | None
    gross_output: float
    final: float
    target: float | None
    fulfilment: float | None
    price: float | None


class ResourceRowOut(_Row):
    resource: str
    name: str | None = Field(None, description="the resource's published name (its label where it has none)")
    unit: str | None = Field(None, description="the resource's unit, where the economy gives one")
    available: float | None
    used: float
    price: float | None
    binding: bool


class MinistryRowOut(_Row):
    ministry: str
    gross_output: float
    labour: float
    n_products: int
    n_enterprises: int


class FlowRowOut(_Row):
    source: str
    target: str
    value: float


class DraftDetailOut(DraftOut):
    status: str
    message: str
    products: list[ProductRowOut]
    resources: list[ResourceRowOut]


class VersionOut(_Out):
    economy_id: int
    version: int
    draft_id: int
    published_at: Time
    summary: dict[str, Any]


class InputRowOut(_Row):
    input: str
    kind: str
    quantity: float


class EnterpriseDirectiveOut(_Row):
    enterprise: str
    ministry: str
    product: str
    product_name: str
    target: float
    capacity: float | None
    inputs: list[InputRowOut]


class MinistryDirectiveOut(_Row):
    ministry: str
    gross_output: float
    products: list[dict[str, Any]]
    enterprises: list[dict[str, Any]]
    inputs: list[InputRowOut]


class ErrorOut(BaseModel):
    """An error: ``detail`` names what is wrong (a list of field errors for a malformed body)."""

    model_config = ConfigDict(extra="allow")
    detail: str | list[Any]


class ConflictOut(ErrorOut):
    latest: int | None = Field(None, description="the economy's latest version (publish conflicts)")


class SimulationOut(_Row):
    regime: str  # the execution's regime, or "consumers:RULE"
    summary: dict[str, Any]
    periods: list[dict[str, Any]]
    ministries: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    groups: list[dict[str, Any]] = []  # household groups per period (both models)


#: The error responses every endpoint documents (OpenAPI).
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown token"},
    403: {"model": ErrorOut, "description": "the caller's role may never do this"},
    404: {"model": ErrorOut, "description": "no such object, or not one the caller may see"},
    422: {"model": ErrorOut, "description": "a malformed request: the detail names the field"},
}

#: ... and those of an endpoint with a JSON body (400: a body that is not even text).
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 400: {"model": ErrorOut, "description": "a body that cannot be parsed"},
}
