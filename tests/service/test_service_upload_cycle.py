"""The whole cycle of the bureau on an uploaded economy, through the API only: upload a zip of
an economy directory with a chain of command and its own household tables, plan, publish, read
directives as a ministry and an enterprise, report two periods, aggregate, re-plan from the
reports, simulate; every figure checked against the library called directly in the test on the
same directory (gosplan.load, aggregate, plan, breakdown, execute)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import gosplan
from gosplan.io.households import write_households
from gosplan.synth.households import synth_households
from test_service_economies import TINY, make_zip, upload

API = "/api/v1"
HEAVY, FOOD = "heavy industry", "food"

# Reports of two periods: (enterprise, period, output, capacity, stocks). Period 2: pit-1 broke
# down, the steel works and the bakery can make less than the plan of version 1 asks.
REPORTS = [
    ("pit-1", 1, 13.0, 80.0, 1.5), ("pit-2", 1, 12.5, 80.0, 0.5), ("works", 1, 23.0, 200.0, 2.0),
    ("bakery", 1, 195.0, 500.0, 4.0),
    ("pit-1", 2, 9.0, 10.0, 0.0), ("pit-2", 2, 14.0, 80.0, 1.0), ("works", 2, 20.0, 20.0, 0.0),
    ("bakery", 2, 170.0, 200.0, 3.0),
]
# ... and the bakery corrects its period-2 report (a new key): the latest report counts
CORRECTION = ("bakery", 2, 171.0, 180.0, 3.0)
MINISTRY_OF = {"pit-1": HEAVY, "pit-2": HEAVY, "works": HEAVY, "bakery": FOOD}
SIMULATION = {"regime": "command", "periods": 4, "shock_rate": 0.3, "shock_depth": 0.5, "shock_persistence": 0.6,
              "seed": 7}


def economy_directory(folder: Path) -> tuple[Path, Any]:
    """The tiny economy of docs/economy-format.md with two household groups of its own
    (written by write_households): the directory and its households as read back."""
    folder.mkdir(parents=True)
    for name, text in TINY.items():
        (folder / name).write_text(text)
    eco = gosplan.load(folder)
    write_households(synth_households(eco, 2, seed=5), folder)
    # labels the default households (one group, "households") could never have
    (folder / "households.csv").write_text(
        (folder / "households.csv").read_text().replace("h0001", "miners").replace("h0002", "bakers"))
    (folder / "preferences.csv").write_text(
        (folder / "preferences.csv").read_text().replace("h0001", "miners").replace("h0002", "bakers"))
    return folder, gosplan.load_households(eco, directory=folder)


def reference_plan(eco: Any) -> tuple[Any, dict[str, float]]:
    """What the centre's plan should be: the economy its enterprises report (gosplan.aggregate)
    planned for fulfilment, broken down proportionally; the plan and each enterprise's target."""
    agg = gosplan.aggregate(eco, balance=False)
    caps = {str(p): float(c) for p, c in zip(agg.economy.products, agg.capacity) if math.isfinite(c)}
    result = gosplan.plan(agg.economy, objective="fulfilment", capacities=caps, tol=1e-6)
    result.raise_for_status()
    b = gosplan.breakdown(eco, result, hierarchy=eco.hierarchy, rule="proportional")
    b.raise_for_status()
    frame = b.enterprises_frame()
    frame = frame[~frame["implicit"].to_numpy(dtype=bool)]
    return result, {str(e): float(t) for e, t in zip(frame["enterprise"], frame["target"])}


def close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def post_report(bureau: Any, eco_id: int, report: tuple, key: str) -> Any:
    enterprise, period, output, capacity, stocks = report
    who = bureau.user(f"e-{enterprise}", "enterprise", enterprise=enterprise)
    body = {"enterprise": enterprise, "period": period, "output": output, "capacity": capacity, "stocks": stocks,
            "version": 1}
    return bureau.client.post(f"{API}/economies/{eco_id}/reports", json=body,
                              headers={**who, "Idempotency-Key": key})


def test_upload_plan_report_replan_simulate(bureau: Any, tmp_path: Path) -> None:
    c, planner = bureau.client, bureau.planner
    folder, households = economy_directory(tmp_path / "tiny")
    eco = gosplan.load(folder)
    h = eco.hierarchy
    assert list(households.groups) == ["miners", "bakers"]

    # 1. upload: the zip of the directory, households included ---------------------------------------------
    data = make_zip({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    r = upload(c, planner, data, name="tiny-with-households")
    assert r.status_code == 201, r.text
    economy = r.json()
    eco_id = economy["id"]
    assert economy["source"] == "upload" and economy["latest_version"] == 0
    assert (economy["n_products"], economy["n_ministries"], economy["n_enterprises"]) == (3, 2, 4)
    r = c.get(f"{API}/economies/{eco_id}/enterprises", headers=planner)
    assert r.status_code == 200, r.text
    assert {(e["enterprise"], e["ministry"], e["product"]) for e in r.json()} == \
        {(str(e), str(h.ministries[h.product_ministry[j]]), str(eco.products[j]))
         for e, j in zip(h.enterprises, h.enterprise_product)}

    # 2. plan and publish ---------------------------------------------------------------------------------
    job = bureau.plan(eco_id, objective="fulfilment")
    version = bureau.publish(job["draft_id"], 0)
    assert version["version"] == 1
    ref, targets = reference_plan(eco)
    products = {p["product"]: p for p in c.get(f"{API}/economies/{eco_id}/versions/1/products",
                                               headers=bureau.viewer).json()}
    assert set(products) == {"coal", "steel", "bread"}
    for i, p in enumerate(eco.products):
        assert close(products[p]["gross_output"], ref.gross_output[i]), (p, products[p], ref.gross_output)
        assert close(products[p]["final"], ref.net_output[i]), (p, products[p], ref.net_output)

    # 3. directives, read by the parties themselves ------------------------------------------------------
    heavy = bureau.user("heavy", "ministry", ministry=HEAVY)
    r = c.get(f"{API}/economies/{eco_id}/versions/1/directives/ministries/{HEAVY}", headers=heavy)
    assert r.status_code == 200, r.text
    md = r.json()
    assert md["ministry"] == HEAVY
    assert {e["enterprise"] for e in md["enterprises"]} == {"pit-1", "pit-2", "works"}
    for e in md["enterprises"]:
        assert close(e["target"], targets[e["enterprise"]]), (e, targets)
    assert close(md["gross_output"], ref.gross_output[0] + ref.gross_output[1])
    assert {p["product"] for p in md["products"]} == {"coal", "steel"}
    # what heavy industry's producers get from outside: no product (coal and steel use no bread), and
    # labour and co2 at their coefficients times the planned coal and steel
    assert not [i for i in md["inputs"] if i["kind"] == "product"], md["inputs"]
    resources = {i["input"]: i["quantity"] for i in md["inputs"] if i["kind"] == "resource"}
    B = eco.primary.toarray()
    for r_, label in enumerate(eco.resources):
        want = B[r_, 0] * ref.gross_output[0] + B[r_, 1] * ref.gross_output[1]
        assert close(resources.get(str(label), 0.0), want), (label, resources, want)
    assert c.get(f"{API}/economies/{eco_id}/versions/1/directives/ministries/{FOOD}",
                 headers=heavy).status_code == 404
    bakery = bureau.user("e-bakery", "enterprise", enterprise="bakery")
    r = c.get(f"{API}/economies/{eco_id}/versions/1/directives/enterprises/bakery", headers=bakery)
    assert r.status_code == 200, r.text
    ed = r.json()
    assert (ed["enterprise"], ed["ministry"], ed["product"]) == ("bakery", FOOD, "bread")
    assert close(ed["target"], targets["bakery"]) and close(ed["target"], 200.0)
    assert close(ed["capacity"], 500.0)
    # the bakery's inputs: coal 0.01 a loaf and labour 0.5 a loaf
    inputs = {(i["kind"], i["input"]): i["quantity"] for i in ed["inputs"]}
    assert close(inputs[("product", "coal")], 0.01 * ed["target"]), inputs
    assert close(inputs[("resource", "labour")], 0.5 * ed["target"]), inputs
    assert c.get(f"{API}/economies/{eco_id}/versions/1/directives/enterprises/pit-1",
                 headers=bakery).status_code == 404

    # 4. reports of two periods, one retried, one corrected -------------------------------------------------
    for k, rep in enumerate(REPORTS):
        r = post_report(bureau, eco_id, rep, f"r-{k}")
        assert r.status_code == 201, r.text
        assert r.json()["ministry"] == MINISTRY_OF[rep[0]]
    retry = post_report(bureau, eco_id, REPORTS[0], "r-0")
    assert retry.status_code == 200 and retry.headers.get("Idempotent-Replay") == "true", retry.text
    assert post_report(bureau, eco_id, CORRECTION, "r-correction").status_code == 201
    stored = c.get(f"{API}/economies/{eco_id}/reports", headers=planner).json()
    assert len(stored) == len(REPORTS) + 1  # the retry stored once

    # 5. the ministry's aggregate against a plain sum ----------------------------------------------------------
    latest: dict[tuple[str, int], tuple] = {}
    for rep in [*REPORTS, CORRECTION]:
        latest[(rep[0], rep[1])] = rep
    r = c.get(f"{API}/economies/{eco_id}/reports/aggregate", headers=heavy)
    assert r.status_code == 200, r.text
    agg = r.json()
    assert agg["version"] == 1
    assert [(row["ministry"], row["period"]) for row in agg["rows"]] == [(HEAVY, 1), (HEAVY, 2)]
    heavy_target = targets["pit-1"] + targets["pit-2"] + targets["works"]
    for row in agg["rows"]:
        mine = [rep for (e, per), rep in latest.items() if per == row["period"] and MINISTRY_OF[e] == HEAVY]
        output, capacity, stocks = (sum(rep[i] for rep in mine) for i in (2, 3, 4))
        target = sum(targets[rep[0]] for rep in mine)
        assert row["enterprises"] == 3 and row["enterprises_reporting"] == len(mine) == 3
        assert close(row["output"], output) and close(row["capacity"], capacity) and close(row["stocks"], stocks)
        assert close(row["target"], target) and close(row["ministry_target"], heavy_target)
        assert close(row["fulfilment"], output / target), (row, output, target)
    everyone = c.get(f"{API}/economies/{eco_id}/reports/aggregate", headers=planner).json()
    bread2 = [row for row in everyone["rows"] if (row["ministry"], row["period"]) == (FOOD, 2)]
    assert len(bread2) == 1 and close(bread2[0]["output"], 171.0) and close(bread2[0]["capacity"], 180.0)

    # 6. the re-plan from the latest reports up to period 2 ----------------------------------------------------
    r = c.post(f"{API}/economies/{eco_id}/replan", json={"objective": "fulfilment", "period": 2}, headers=planner)
    assert r.status_code == 202, r.text
    job = bureau.wait(r.json()["id"])
    assert job["state"] == "done" and job["kind"] == "replan", job
    reported = {e: latest[(e, 2)][3] for e in MINISTRY_OF}
    # reference: the same directory with the reported capacities in its enterprises table
    replanned = tmp_path / "replanned"
    replanned.mkdir()
    for p in folder.iterdir():
        (replanned / p.name).write_bytes(p.read_bytes())
    rows = "".join(f"{e},{eco.products[h.enterprise_product[k]]},{reported[str(e)]!r}\n"
                   for k, e in enumerate(h.enterprises))
    (replanned / "enterprises.csv").write_text("enterprise,product,capacity\n" + rows)
    ref2, targets2 = reference_plan(gosplan.load(replanned))
    assert ref2.fulfilment.min() < 1 - 1e-3  # the reported capacities bind
    version2 = bureau.publish(job["draft_id"], 1)
    assert version2["version"] == 2
    products2 = {p["product"]: p for p in c.get(f"{API}/economies/{eco_id}/versions/2/products",
                                                headers=planner).json()}
    for i, p in enumerate(eco.products):
        assert close(products2[p]["gross_output"], ref2.gross_output[i], rel=1e-5), \
            (p, products2[p], ref2.gross_output)
    for e, cap in reported.items():
        who = bureau.user(f"e-{e}", "enterprise", enterprise=e)
        r = c.get(f"{API}/economies/{eco_id}/versions/2/directives/enterprises/{e}", headers=who)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["target"] <= cap * (1 + 1e-9), (e, d, cap)
        assert close(d["capacity"], cap), (e, d, cap)
        assert close(d["target"], targets2[e], rel=1e-5), (e, d, targets2)
    # the same re-plan's targets per product add up to the planned gross output
    by_product: dict[str, float] = {}
    for e in reported:
        d = c.get(f"{API}/economies/{eco_id}/versions/2/directives/enterprises/{e}", headers=planner).json()
        by_product[d["product"]] = by_product.get(d["product"], 0.0) + d["target"]
    for p, total in by_product.items():
        assert close(total, products2[p]["gross_output"]), (p, total, products2[p])

    # 7. a simulation on the upload's own households ----------------------------------------------------
    # (synthetic groups are for economies without household tables: refused at once, not by a failed job)
    r = c.post(f"{API}/economies/{eco_id}/simulations", json={**SIMULATION, "groups": 3}, headers=planner)
    assert r.status_code == 422 and "has its own household tables" in r.json()["detail"], r.text
    r = c.post(f"{API}/economies/{eco_id}/simulations", json=SIMULATION, headers=planner)
    assert r.status_code == 202, r.text
    job = bureau.wait(r.json()["id"])
    assert job["state"] == "done" and job["kind"] == "simulate", job
    r = c.get(f"{API}/jobs/{job['id']}/result", headers=planner)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["regime"] == "command" and [p["period"] for p in result["periods"]] == [1, 2, 3, 4]
    assert result["summary"]["household_groups"] == 2 and result["summary"]["completed"] is True

    def execute(hh: Any) -> Any:
        shocks = gosplan.RandomShocks(SIMULATION["shock_rate"], depth=SIMULATION["shock_depth"],
                                      persistence=SIMULATION["shock_persistence"], seed=SIMULATION["seed"])
        return gosplan.execute(eco, hh, regime="command", periods=4, shocks=shocks, monitoring=True)

    own, default = execute(households), execute(gosplan.load_households(eco, groups=1, seed=7))
    assert len(default.households.groups) == 1
    got = pd.DataFrame(result["periods"])
    timing = [col for col in own.periods.columns if col.endswith("seconds")]
    want = own.periods.drop(columns=timing)
    assert set(want.columns) <= set(got.columns), set(want.columns) - set(got.columns)
    for col in want.columns:
        a, b = got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), (col, a, b)
    # households matter here: the economy's default households would have given other figures
    other = default.periods["welfare_per_head"].to_numpy(dtype=float)
    assert not np.allclose(got["welfare_per_head"].to_numpy(dtype=float), other, rtol=1e-6), other
    ministries = pd.DataFrame(result["ministries"])
    wanted = own.ministries_frame()
    assert len(ministries) == len(wanted) == 8
    merged = ministries.merge(wanted, on=["period", "ministry"], suffixes=("", "_ref"))
    assert len(merged) == 8 and np.allclose(merged["output"], merged["output_ref"], rtol=1e-9)

