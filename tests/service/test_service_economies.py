"""Economies in the bureau: bundled and uploaded, their parties, who sees which enterprises, and uploads
that are not economies, unsafe or zip bombs refused with a clear 4xx before anything is written."""

from __future__ import annotations

import io
import stat
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import gosplan
from gosplan.service import Settings, create_app
from gosplan.service.auth import create_user
from gosplan.service.models import EconomyFile, EconomyRow, Party
from gosplan.service.store import BadEconomy, check_zip, clear_cache, economy_from_spec, safe_extract
from gosplan.synth.enterprises import synth_enterprises

API = "/api/v1"

# the three-product example of docs/economy-format.md, with a chain of command
TINY = {
    "economy.toml": 'name = "tiny"\nyear = 2024\nunits = "tonnes, loaves"\nlabour_unit = "hours"\n'
                    '[tables]\nformat = "csv"\nkeys = "label"\n',
    "products.csv": 'product,unit,name,recorded_output\ncoal,tonne,hard coal,100\nsteel,tonne,"steel, rolled",50\n'
                    'bread,loaf,,200\n',
    "technology.csv": "input,output,coefficient\ncoal,coal,0.1\ncoal,steel,0.5\nsteel,coal,0.05\nsteel,steel,0.1\n"
                      "coal,bread,0.01\n",
    "primary.csv": "resource,product,coefficient\nlabour,coal,2\nlabour,steel,5\nlabour,bread,0.5\nco2,coal,1.5\n",
    "demand.csv": "product,category,quantity\ncoal,households,10\nsteel,exports,20\nbread,households,200\n",
    "ministries.csv": "product,ministry\ncoal,heavy industry\nsteel,heavy industry\nbread,food\n",
    "enterprises.csv": "enterprise,product,capacity\npit-1,coal,80\npit-2,coal,80\nworks,steel,200\n"
                       "bakery,bread,500\n",
}


def make_zip(files: dict[str, bytes | str], *, folder: str = "", compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content in files.items():
            zf.writestr(folder + name, content)
    return buf.getvalue()


def upload(client: TestClient, headers: dict[str, str], data: bytes, name: str = "tiny",
           filename: str = "tiny.zip") -> Any:
    return client.post(f"{API}/economies", data={"name": name}, files={"file": (filename, data, "application/zip")},
                       headers=headers)


@pytest.fixture
def strict(sqlite_url: str) -> Any:
    """The bureau with small upload limits: (client, planner headers)."""
    settings = Settings(db_url=sqlite_url, max_zip_members=12, max_unzipped_bytes=200_000, max_zip_ratio=50.0,
                        max_body_bytes=300_000)
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.db.session() as s:
            _, token = create_user(s, "centre", "planner")
        yield client, {"Authorization": f"Bearer {token}"}


# --- bundled ----------------------------------------------------------------------------------------------

def test_load_bundled_economy(bureau: Any) -> None:
    eco = bureau.load_economy("us-2022", name="soviet-2022", enterprises_per_product=2.0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = synth_enterprises(gosplan.load("us-2022"), per_product=2.0, seed=3)
    h = ref.hierarchy
    assert eco["name"] == "soviet-2022" and eco["source"] == "bundled" and eco["latest_version"] == 0
    assert (eco["n_products"], eco["n_ministries"], eco["n_enterprises"]) == (73, h.n_ministries, h.n_enterprises)
    assert "2022" in eco["title"] and "USD" in eco["units"]
    r = bureau.client.get(f"{API}/economies/{eco['id']}", headers=bureau.viewer)
    assert r.status_code == 200
    detail = r.json()
    assert detail["spec"] == {"bundled": "us-2022", "enterprises_per_product": 2.0, "ministries": None, "seed": 3}
    per_ministry = h.ministry_frame().set_index("ministry")["enterprises"]
    assert {m["ministry"]: m["n_enterprises"] for m in detail["ministries"]} == \
        {str(k): int(v) for k, v in per_ministry.items()}
    with bureau.app.state.db.sessions() as s:
        kinds = dict(s.execute(select(Party.kind, func.count()).where(Party.economy_id == eco["id"])
                               .group_by(Party.kind)).all())
    assert kinds == {"ministry": h.n_ministries, "enterprise": h.n_enterprises}
    listed = bureau.client.get(f"{API}/economies", headers=bureau.viewer).json()
    assert [e["id"] for e in listed] == [eco["id"]] and listed[0] == eco
    # regrouped ministries, no enterprises
    eco2 = bureau.load_economy("us-2022", enterprises_per_product=None, ministries=5)
    assert (eco2["n_ministries"], eco2["n_enterprises"]) == (5, 0)


def test_load_us2017_with_enterprises_is_fast(bureau: Any) -> None:
    clear_cache()  # the library does the whole load
    t = time.perf_counter()
    eco = bureau.load_economy("us-2017", enterprises_per_product=2.0)
    seconds = time.perf_counter() - t
    assert eco["n_products"] == 402 and eco["n_enterprises"] > 402
    assert seconds < 5.0, f"loading us-2017 with enterprises took {seconds:.1f} s"


def test_economies_refused(sqlite_bureau: Any) -> None:
    bureau = sqlite_bureau
    c = bureau.client
    ok = {"name": "a", "bundled": "us-2022"}
    assert c.post(f"{API}/economies", json=ok, headers=bureau.planner).status_code == 201

    def refused(body: Any, status: int, *words: str, **kw: Any) -> None:
        r = c.post(f"{API}/economies", json=body, headers=kw.get("headers", bureau.planner))
        assert r.status_code == status, (body, r.text)
        for w in words:
            assert w in str(r.json()["detail"]), (w, r.json())

    refused(ok, 409, "an economy named 'a' exists already")
    refused({"name": "b", "bundled": "atlantis"}, 422, "unknown bundled economy 'atlantis'", "us-2017")
    refused({"name": "b", "bundled": "../../etc"}, 422, "unknown bundled economy")
    refused({"name": "b", "bundled": "us-2022", "ministries": 500}, 422, "ministries must be between 1 and", "(73)")
    refused({"name": "b", "bundled": "us-2022", "enterprises_per_product": 0}, 422, "enterprises_per_product")
    refused({"name": "b", "bundled": "us-2022", "colour": "red"}, 422, "colour")
    refused({"name": "", "bundled": "us-2022"}, 422, "name")
    refused({"bundled": "us-2022"}, 422, "name")
    refused([1], 422)
    for role, headers in (("viewer", bureau.viewer), ("ministry", bureau.user("m", "ministry", ministry="11")),
                          ("enterprise", bureau.user("e", "enterprise", enterprise="0"))):
        refused({"name": "c", "bundled": "us-2022"}, 403, "planner", headers=headers)
    assert c.post(f"{API}/economies", json={"name": "c", "bundled": "us-2022"}).status_code == 401
    r = c.post(f"{API}/economies", content=b"{", headers={**bureau.planner, "content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = c.post(f"{API}/economies", content=b"name=x", headers={**bureau.planner, "content-type": "text/plain"})
    assert r.status_code == 415 and "multipart" in r.json()["detail"]
    assert [e["name"] for e in c.get(f"{API}/economies", headers=bureau.viewer).json()] == ["a"]


def test_economy_reads_by_role(sqlite_bureau: Any) -> None:
    bureau = sqlite_bureau
    eco = bureau.load_economy("us-2022", enterprises_per_product=1.0)
    eid = eco["id"]
    people = {"planner": bureau.planner, "viewer": bureau.viewer,
              "ministry": bureau.user("m", "ministry", ministry="11"),
              "enterprise": bureau.user("e", "enterprise", enterprise="0")}
    for role, headers in people.items():
        assert bureau.client.get(f"{API}/economies", headers=headers).status_code == 200, role
        r = bureau.client.get(f"{API}/economies/{eid}", headers=headers)
        assert r.status_code == 200 and len(r.json()["ministries"]) == eco["n_ministries"], role
        r = bureau.client.get(f"{API}/economies/424242", headers=headers)
        assert r.status_code == 404 and r.json()["detail"] == "economy 424242 not found"
    assert bureau.client.get(f"{API}/economies").status_code == 401
    assert bureau.client.get(f"{API}/economies/{eid}").status_code == 401
    assert bureau.client.get(f"{API}/economies/x", headers=bureau.viewer).status_code == 422


def test_enterprises_by_role(sqlite_bureau: Any) -> None:
    """planner: all (paged); ministry: its own; enterprise: itself; viewer: 403."""
    bureau = sqlite_bureau
    eco = bureau.load_economy("us-2022", enterprises_per_product=2.0)
    url = f"{API}/economies/{eco['id']}/enterprises"
    r = bureau.client.get(url, params={"limit": 10000}, headers=bureau.planner)
    assert r.status_code == 200
    every = r.json()
    assert len(every) == eco["n_enterprises"] == int(r.headers["x-total-count"])
    assert {e["enterprise"] for e in every} == {str(i) for i in range(eco["n_enterprises"])}
    pages = []
    for offset in range(0, len(every), 40):
        pages += bureau.client.get(url, params={"limit": 40, "offset": offset}, headers=bureau.planner).json()
    assert pages == every
    first = every[0]
    m = first["ministry"]
    r = bureau.client.get(url, params={"limit": 10000}, headers=bureau.user("m", "ministry", ministry=m))
    assert r.status_code == 200 and r.json() == [e for e in every if e["ministry"] == m] and r.json()
    r = bureau.client.get(url, headers=bureau.user("e", "enterprise", enterprise=first["enterprise"]))
    assert r.status_code == 200 and r.json() == [first]
    r = bureau.client.get(url, headers=bureau.user("nobody", "ministry", ministry="no such ministry"))
    assert r.status_code == 200 and r.json() == []
    r = bureau.client.get(url, headers=bureau.viewer)
    assert r.status_code == 403 and "viewers" in r.json()["detail"]
    assert bureau.client.get(url).status_code == 401
    for bad in ({"limit": 0}, {"limit": 10**6}, {"offset": -1}, {"limit": "many"}):
        assert bureau.client.get(url, params=bad, headers=bureau.planner).status_code == 422, bad
    assert bureau.client.get(f"{API}/economies/424242/enterprises", headers=bureau.planner).status_code == 404


# --- uploads ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", ["", "tiny/"])
def test_upload_economy_directory(bureau: Any, folder: str) -> None:
    data = make_zip(TINY, folder=folder)
    r = upload(bureau.client, bureau.planner, data)
    assert r.status_code == 201, r.text
    eco = r.json()
    assert (eco["source"], eco["n_products"], eco["n_ministries"], eco["n_enterprises"]) == ("upload", 3, 2, 4)
    assert eco["title"] == "tiny (2024)" and eco["units"] == "tonnes, loaves"
    detail = bureau.client.get(f"{API}/economies/{eco['id']}", headers=bureau.viewer).json()
    assert detail["spec"]["upload"] == "tiny.zip" and len(detail["spec"]["sha256"]) == 64
    assert {m["ministry"]: m["n_enterprises"] for m in detail["ministries"]} == {"heavy industry": 3, "food": 1}
    with bureau.app.state.db.sessions() as s:
        stored = s.get(EconomyFile, eco["id"])
        assert stored is not None and stored.data == data and stored.sha256 == detail["spec"]["sha256"]
    r = bureau.client.get(f"{API}/economies/{eco['id']}/enterprises", headers=bureau.planner)
    assert {(e["enterprise"], e["ministry"], e["product"]) for e in r.json()} == {
        ("pit-1", "heavy industry", "coal"), ("pit-2", "heavy industry", "coal"),
        ("works", "heavy industry", "steel"), ("bakery", "food", "bread")}
    # the uploaded economy plans like a bundled one (the job rebuilds it from the stored zip)
    job = bureau.plan(eco["id"], targets={"bread": 100.0})
    bureau.publish(job["draft_id"], 0)
    r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/1/directives/enterprises/bakery",
                          headers=bureau.user("baker", "enterprise", enterprise="bakery"))
    assert r.status_code == 200 and r.json()["target"] >= 100.0 - 1e-6


def test_uploads_refused(strict: Any) -> None:
    client, planner = strict

    def refused(data: bytes, status: int, *words: str) -> None:
        r = upload(client, planner, data, name=f"x{time.monotonic_ns()}")
        assert r.status_code == status, r.text
        for w in words:
            assert w in r.json()["detail"], (w, r.json())

    refused(b"PK\x03\x04 not really a zip", 400, "not a zip file")
    refused(b"", 400, "not a zip file")
    refused(make_zip({"../evil.csv": "x"}), 400, "'../evil.csv'", "outside the folder")
    refused(make_zip({"a/../../evil.csv": "x"}), 400, "outside the folder")
    refused(make_zip({"/etc/evil.csv": "x"}), 400, "absolute path")
    refused(make_zip({"C:\\evil.csv": "x"}), 400, "absolute path")
    refused(make_zip({f"f{i}.csv": "x" for i in range(13)}), 400, "13 members", "at most 12")
    refused(make_zip({"zeros.csv": b"0" * 150_000}), 400, "'zeros.csv'", "expands", "zip bomb")
    stored = make_zip({"a.csv": b"x" * 150_000, "b.csv": b"y" * 150_000}, compression=zipfile.ZIP_STORED)
    refused(stored, 413, "larger than")  # the body itself is over the limit
    big = make_zip({"a.csv": bytes(range(256)) * 500, "b.csv": bytes(range(256)) * 500},
                   compression=zipfile.ZIP_STORED)
    assert len(big) < 300_000
    refused(big, 400, "more than 200,000 bytes")
    link = io.BytesIO()
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("products.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    refused(link.getvalue(), 400, "'products.csv'", "symbolic link")
    refused(make_zip({"readme.txt": "hello"}), 422, "no readable economy directory")
    broken = dict(TINY, **{"technology.csv": "input,output,coefficient\ncoal,uranium,0.1\n"})
    refused(make_zip(broken), 422, "uranium")
    # malformed forms
    r = client.post(f"{API}/economies", data={"name": "x"}, files={"other": ("a.zip", make_zip(TINY))},
                    headers=planner)
    assert r.status_code == 422 and "other" in r.json()["detail"]
    r = client.post(f"{API}/economies", files={"file": ("a.zip", make_zip(TINY))}, headers=planner)
    assert r.status_code == 422 and "'name'" in r.json()["detail"]
    r = client.post(f"{API}/economies", data={"name": "x", "file": "not a file"}, headers=planner)
    assert r.status_code == 422 and "'file'" in r.json()["detail"]
    assert client.get(f"{API}/economies", headers=planner).json() == []
    # and a good one still goes in
    assert upload(client, planner, make_zip(TINY)).status_code == 201


def test_safe_extract_counts_real_bytes(tmp_path: Path) -> None:
    """A member whose header declares fewer bytes than it holds is refused while extracting."""
    data = bytearray(make_zip({"big.csv": b"a,b\n" * 5000}))
    real = 4 * 5000
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("big.csv")
    lie = (100).to_bytes(4, "little")
    # uncompressed size: local header at offset 22, central directory entry at offset 24
    local = info.header_offset
    data[local + 22:local + 26] = lie
    central = bytes(data).rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = lie
    assert check_zip(bytes(data))[0].file_size == 100  # the headers alone look fine
    with pytest.raises(BadEconomy, match="'big.csv'") as exc:
        safe_extract(bytes(data), tmp_path / "out")
    assert exc.value.status == 400
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 100 < real


def test_safe_extract_single_folder(tmp_path: Path) -> None:
    root = safe_extract(make_zip(TINY, folder="tiny/"), tmp_path / "a")
    assert root == (tmp_path / "a" / "tiny").resolve() and (root / "economy.toml").is_file()
    root = safe_extract(make_zip(TINY), tmp_path / "b")
    assert root == (tmp_path / "b").resolve() and (root / "products.csv").is_file()


def test_economy_cache() -> None:
    clear_cache()
    spec = {"bundled": "us-2022", "enterprises_per_product": None, "ministries": 3, "seed": 0}
    first = economy_from_spec(spec, None)
    assert economy_from_spec(dict(reversed(list(spec.items()))), None) is first
    for k in range(1, 9):
        economy_from_spec({**spec, "seed": k}, None)
    again = economy_from_spec(spec, None)
    assert again is not first and again.hierarchy.n_ministries == 3  # evicted: at most 8 kept
    with pytest.raises(BadEconomy, match="'bundled'"):
        economy_from_spec({"name": "x"}, None)
    with pytest.raises(BadEconomy, match="zip"):
        economy_from_spec({"upload": "a.zip", "sha256": "0" * 64}, None)
    with pytest.raises(BadEconomy, match="SHA-256"):
        economy_from_spec({"upload": "a.zip", "sha256": "0" * 64}, make_zip(TINY))


def test_economy_row_rolls_back_whole(sqlite_bureau: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the parties leaves no economy row behind (one transaction)."""
    from gosplan.service.api import economies

    bureau = sqlite_bureau
    real = economies.parties_of

    def with_duplicate(economy: Any) -> list[dict[str, Any]]:
        rows = real(economy)
        return rows + [dict(rows[-1], name="again")]

    monkeypatch.setattr(economies, "parties_of", with_duplicate)
    monkeypatch.setattr(economies, "_check_labels", lambda parties: None)
    r = bureau.client.post(f"{API}/economies", json={"name": "dup", "bundled": "us-2022",
                                                     "enterprises_per_product": 1.0}, headers=bureau.planner)
    assert r.status_code == 409  # the duplicate party violates the parties' key
    with bureau.app.state.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(EconomyRow)) == 0
        assert s.scalar(select(func.count()).select_from(Party)) == 0
