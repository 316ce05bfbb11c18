"""Resources as people read them: a published name beside the label, and a unit.

A summary (``summary.json``) keeps resources by label (``V00300``); the economy's
:attr:`~gosplan.model.EconomyMeta.resource_names` and ``resource_units`` travel in its
``economy_metadata`` (or at its top level), and the reports show them from there.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["resource_name", "resource_label", "resource_unit"]


def _texts(summary: Mapping[str, Any], key: str) -> Mapping[str, str]:
    """``resource_names`` or ``resource_units`` of a summary: its own, else its economy's."""
    texts = summary.get(key)
    if texts is None:
        texts = (summary.get("economy_metadata") or {}).get(key)
    return texts or {}


def resource_name(resource: Any, summary: Mapping[str, Any]) -> str:
    """The resource's published name, or its label where the economy names none."""
    return _texts(summary, "resource_names").get(str(resource)) or str(resource)


def resource_label(resource: Any, summary: Mapping[str, Any]) -> str:
    """``"Gross operating surplus (V00300)"``: the resource's published name and its label,
    or the label alone where the economy names none."""
    code, name = str(resource), resource_name(resource, summary)
    return f"{name} ({code})" if name != code else code


def resource_unit(resource: Any, summary: Mapping[str, Any]) -> str | None:
    """The unit of ``resource`` (labour's ``labour_unit`` when none is given), or ``None``."""
    code = str(resource)
    unit = _texts(summary, "resource_units").get(code)
    if unit is None and code == "labour":
        unit = summary.get("labour_unit") or (summary.get("economy_metadata") or {}).get("labour_unit")
    return unit or None
