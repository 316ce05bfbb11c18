"""The default chain of command of the BEA tables: BEA's own detail -> summary -> sector codes.

The U.S. Bureau of Economic Analysis publishes its input-output accounts at three levels of
the same classification (2017 schema): about 400 *detail* commodities (``1111A0`` oilseed
farming), 73 *summary* commodities (``111CA`` farms) and 17 *sectors* (``11`` agriculture,
forestry, fishing and hunting; ``31G`` manufacturing; ``G`` government; ...). gosplan reads
them as ministries:

* a **detail** table (``us-2017``, ``us-2017-domestic``): one ministry per BEA summary code,
  the BEA sectors above them (``Hierarchy.sectors``);
* a **summary** table (``us-2022``): one ministry per BEA sector, no level above.

The concordance is BEA's own, bundled as ``gosplan/datasets/bea_crosswalk`` (its
``PROVENANCE.md``: the distinct detail/summary/sector triples of USEPA/flowsa's
``NAICS_to_BEA_Crosswalk_2017.csv``). It covers every code of the bundled tables. BEA's two
summary rows that are no industry keep their own ministry and sector: ``Used`` (scrap
``S00401``, used and secondhand goods ``S00402``) and ``Other`` (noncomparable imports
``S00300``, rest-of-the-world adjustment ``S00900``); a note says so.

A code the concordance lacks (a later or edited table) joins the ministry of the nearest
product before it in the table's order that the concordance knows (BEA lists codes by
industry, so neighbours share a summary), or after it when none comes before; a note lists
every such code. A table with none of BEA's codes is an error.
"""

from __future__ import annotations

import csv
import gzip
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from gosplan.errors import InvalidEconomyError
from gosplan.model.hierarchy import Hierarchy

__all__ = ["bea_hierarchy", "bea_crosswalk", "SECTOR_NAMES"]

#: BEA's 2017-schema sectors, in BEA's order, with their names (USEPA/useeior's
#: ``BEA_2017_Sector_CodeName_mapping.csv``, aggregated names).
SECTOR_NAMES: dict[str, str] = {
    "11": "Agriculture, forestry, fishing, and hunting",
    "21": "Mining",
    "22": "Utilities",
    "23": "Construction",
    "31G": "Manufacturing",
    "42": "Wholesale trade",
    "44RT": "Retail trade",
    "48TW": "Transportation and warehousing",
    "51": "Information",
    "FIRE": "Finance, insurance, real estate, rental, and leasing",
    "PROF": "Professional and business services",
    "6": "Educational services, health care, and social assistance",
    "7": "Arts, entertainment, recreation, accommodation, and food services",
    "81": "Other services, except government",
    "G": "Government",
    "Used": "Scrap, used and secondhand goods",
    "Other": "Noncomparable imports and rest-of-the-world adjustment",
}

_NOT_INDUSTRIES = (
    "BEA's summary rows 'Used' (scrap S00401, used and secondhand goods S00402) and 'Other' "
    "(noncomparable imports S00300, rest-of-the-world adjustment S00900) are no industry; "
    "each keeps its own ministry and sector"
)


@lru_cache(maxsize=1)
def bea_crosswalk() -> pd.DataFrame:
    """BEA's 2017 concordance: one row per detail code, columns ``detail``, ``summary``,
    ``sector`` (text), in BEA's order (summary codes grouped)."""
    from gosplan.datasets import DATA_DIR

    with gzip.open(DATA_DIR / "bea_crosswalk" / "bea_2017_crosswalk.csv.gz", "rt", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    frame = pd.DataFrame(rows[1:], columns=["detail", "summary", "sector"])
    return frame


def _level(products: pd.Index, cw: pd.DataFrame) -> Literal["detail", "summary"]:
    codes = pd.Index([str(p) for p in products])
    in_detail = int(codes.isin(cw["detail"]).sum())
    in_summary = int(codes.isin(cw["summary"].unique()).sum())
    if max(in_detail, in_summary) == 0:
        raise InvalidEconomyError(
            f"none of the {len(products)} products is a BEA code (e.g. {str(products[0])!r}): "
            "bea_hierarchy needs a BEA detail or summary table"
        )
    return "detail" if in_detail >= in_summary else "summary"


def bea_hierarchy(economy: Any, *, level: Literal["auto", "detail", "summary"] = "auto") -> Hierarchy:
    """BEA's ministries (and sectors) for a BEA input-output table.

    Parameters
    ----------
    economy:
        An :class:`~gosplan.Economy` whose products are BEA codes, or its product labels.
    level:
        ``"detail"`` (products are BEA detail codes: ministries are BEA summary codes,
        sectors the BEA sectors), ``"summary"`` (products are summary codes: ministries are
        the BEA sectors) or ``"auto"`` (whichever matches more products).

    Returns
    -------
    Hierarchy
        Ministries (and, at detail level, sectors) in BEA's order, those with no product
        left out, with BEA's names (``ministry_names``, ``sector_names``); no enterprises. ``notes`` say where the grouping comes from and which
        codes were placed by the neighbour rule (see the module).
    """
    products = economy if isinstance(economy, pd.Index) else pd.Index(getattr(economy, "products", economy))
    cw = bea_crosswalk()
    chosen = _level(products, cw) if level == "auto" else level
    if chosen not in ("detail", "summary"):
        raise ValueError(f"level must be 'auto', 'detail' or 'summary', got {level!r}")
    codes = pd.Index([str(p) for p in products])
    if chosen == "detail":
        parent = pd.Series(cw["summary"].to_numpy(), index=cw["detail"].to_numpy())
        order = pd.Index(cw["summary"].unique())
        group_sector = cw.drop_duplicates("summary").set_index("summary")["sector"]
    else:
        parent = cw.drop_duplicates("summary").set_index("summary")["sector"]
        order = pd.Index(list(SECTOR_NAMES))
        group_sector = None
    group = parent.reindex(codes).to_numpy(dtype=object)
    known = pd.notna(group)
    if not known.any():
        raise InvalidEconomyError(
            f"none of the {len(products)} products is a BEA {chosen} code (e.g. {codes[0]!r})"
        )
    notes = [
        f"ministries: BEA {'summary codes' if chosen == 'detail' else 'sectors'} of the {chosen} "
        "codes, from BEA's 2017 concordance (gosplan/datasets/bea_crosswalk, via USEPA/flowsa)"
        + ("; sectors: BEA sectors" if chosen == "detail" else ""),
    ]
    if not known.all():
        pos = np.flatnonzero(known)
        missing = np.flatnonzero(~known)
        before = np.searchsorted(pos, missing) - 1
        take = np.where(before >= 0, pos[np.maximum(before, 0)], pos[0])
        group[missing] = group[take]
        notes.append(
            f"{missing.size} code(s) not in BEA's concordance joined the ministry of the nearest "
            "known code before them in the table (after them when none is before): "
            + ", ".join(f"{codes[i]} -> {group[i]}" for i in missing)
        )
    present = pd.Index(group).unique()
    ministries = order[order.isin(present)].append(present.difference(order, sort=False))
    product_ministry = ministries.get_indexer(pd.Index(group)).astype(np.int64)
    mentions_used = bool(pd.Index(group).isin(["Used", "Other"]).any())
    if mentions_used:
        notes.append(_NOT_INDUSTRIES)
    sectors = ministry_sector = None
    if group_sector is not None:
        ms = group_sector.reindex(ministries).to_numpy(dtype=object)
        sector_order = pd.Index(list(SECTOR_NAMES))
        sectors = sector_order[sector_order.isin(pd.Index(ms))]
        ministry_sector = sectors.get_indexer(pd.Index(ms)).astype(np.int64)
    if chosen == "detail":
        from gosplan.io.bea import bea_names

        ministry_names: dict[str, str] = bea_names(ministries)
    else:
        ministry_names = {code: SECTOR_NAMES[code] for code in ministries if code in SECTOR_NAMES}
    return Hierarchy(
        products=products,
        ministries=pd.Index(ministries, dtype=object),
        product_ministry=product_ministry,
        sectors=None if sectors is None else pd.Index(sectors, dtype=object),
        ministry_sector=ministry_sector,
        notes=tuple(notes),
        ministry_names=ministry_names or None,
        sector_names=None if sectors is None else {code: SECTOR_NAMES[code] for code in sectors},
    )
