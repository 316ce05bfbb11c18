"""Hierarchy tables of the economy directory (gosplan.io.hierarchy_tables) and BEA's default
grouping of the bundled BEA tables (gosplan.io.bea_hierarchy)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import gosplan
from gosplan.datasets import DATA_DIR
from gosplan.errors import InvalidEconomyError, TableFormatError, UnknownProductError
from gosplan.io.bea_hierarchy import bea_crosswalk, bea_hierarchy
from gosplan.io.directory import read_directory, write_directory
from gosplan.io.hierarchy_tables import write_hierarchy_tables
from gosplan.model.economy import Economy
from gosplan.model.hierarchy import EnterpriseNorms, Hierarchy

DOC = Path(__file__).resolve().parents[1] / "docs" / "economy-format.md"


def _load(name: str) -> Economy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gosplan.load(name)


def _economy() -> Economy:
    """Three products, two resources."""
    return Economy.from_coefficients(
        [[0.1, 0.5, 0.01], [0.05, 0.1, 0.0], [0.0, 0.0, 0.0]],
        products=["coal", "steel", "bread"],
        y=[10.0, 20.0, 200.0],
        l=[2.0, 5.0, 0.5],
    )


def _full_hierarchy(products: pd.Index, *, enterprises: pd.Index | None = None) -> Hierarchy:
    """Everything a hierarchy can hold, in orders the tables alone would not give."""
    ent = enterprises if enterprises is not None else pd.Index(["mine, north", "Magnitka", "Zaporizhstal", "bakery", "idle"])
    N = sp.csr_array(np.array([[0.45, 0.08, 0.0], [0.0, 0.0, 0.0]]))
    Q = sp.csr_array(np.array([[4.5], [0.0]]))
    return Hierarchy(
        products=products,
        ministries=pd.Index(["food", "heavy industry", "empty"]),  # 'empty' has no product
        product_ministry=np.array([1, 1, 0]),
        enterprises=ent,
        enterprise_product=np.array([0, 1, 1, 2, 2]),
        capacity=np.array([120.0, 40.0, 20.0, 250.0, 0.0]),
        input_factor=np.array([1.0, 0.9, 0.0, 1.1, 0.0]),
        labour_factor=np.array([1.1, 0.95, 0.0, 1.0, 0.0]),
        norms=EnterpriseNorms(enterprise=np.array([2, 4]), inputs=N, primary=Q),
        regions=pd.Index(["west", "north", "south"]),  # 'west' has no enterprise
        enterprise_region=np.array([1, 1, 2, 1, 2]),
        distances=np.array([[0.0, 700.0, 900.0], [710.0, 0.0, 1500.0], [900.5, 1500.0, 3.0]]),
        notes=("a note", "another, with a comma"),
        ministry_names={"food": "Ministry of Food, Meat and Dairy", "heavy industry": "Narkomtyazhprom"},
    )


def assert_same(a: Hierarchy, b: Hierarchy) -> None:
    assert a.products.equals(b.products)
    assert a.ministries.equals(b.ministries)
    np.testing.assert_array_equal(a.product_ministry, b.product_ministry)
    assert a.enterprises.equals(b.enterprises)
    assert type(a.enterprises) is type(b.enterprises)
    for name in ("enterprise_product", "capacity", "input_factor", "labour_factor"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.norms is None) == (b.norms is None)
    if a.norms is not None:
        np.testing.assert_array_equal(a.norms.enterprise, b.norms.enterprise)
        for x, y in ((a.norms.inputs, b.norms.inputs), (a.norms.primary, b.norms.primary)):
            assert x.shape == y.shape and (x != y).nnz == 0
    for name in ("sectors", "regions"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None) and (x is None or x.equals(y)), name
    for name in ("ministry_sector", "enterprise_region", "distances"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.notes == b.notes
    for name in ("ministry_names", "sector_names"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_series_equal(x, y, check_names=False, check_index_type=False, obj=name)


# ------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("keys", ["label", "position"])
def test_round_trip_everything(tmp_path: Path, fmt: str, keys: str) -> None:
    eco = _economy()
    h = _full_hierarchy(eco.products)
    eco = eco.with_hierarchy(h)
    back = read_directory(write_directory(eco, tmp_path / "d", format=fmt, keys=keys))
    assert_same(h, back.hierarchy)
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert {f"{t}.{fmt}" for t in ("ministries", "enterprises", "norms", "distances")} <= set(names)
    # declared orders: ministries (one without products), regions (one without enterprises)
    text = (tmp_path / "d" / "economy.toml").read_text()
    assert 'ministries = [\n    "food",\n    "heavy industry",\n    "empty",\n]' in text
    assert "regions = [" in text


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_sectors_and_integer_enterprises(tmp_path: Path, fmt: str) -> None:
    eco = _economy()
    base = _full_hierarchy(eco.products, enterprises=pd.Index([17, 3, 99, 5, 8]))
    h = Hierarchy(
        products=eco.products, ministries=pd.Index(["heavy", "food"]), product_ministry=np.array([0, 0, 1]),
        sectors=pd.Index(["industry", "agriculture"]), ministry_sector=np.array([0, 1]),
        enterprises=pd.RangeIndex(5), enterprise_product=base.enterprise_product, capacity=base.capacity,
        sector_names=["Industry", None],
    )
    back = read_directory(write_directory(eco.with_hierarchy(h), tmp_path / "d", format=fmt)).hierarchy
    assert_same(h, back)
    assert isinstance(back.enterprises, pd.RangeIndex)
    text = (tmp_path / "d" / "economy.toml").read_text()
    assert "[hierarchy]" not in text  # first appearance gives every order
    # integer labels other than 0..E-1: kept by Parquet, text in CSV
    eco2 = eco.with_hierarchy(base)
    back = read_directory(write_directory(eco2, tmp_path / "e", format=fmt)).hierarchy
    if fmt == "parquet":
        assert back.enterprises.equals(base.enterprises) and back.enterprises.dtype == np.int64
    else:
        assert list(back.enterprises) == ["17", "3", "99", "5", "8"]


@pytest.mark.filterwarnings("ignore::gosplan.errors.NegativeCoefficientWarning")
def test_bea_round_trip(tmp_path: Path) -> None:
    eco = _load("us-2017")
    for fmt in ("csv", "parquet"):
        back = read_directory(write_directory(eco, tmp_path / fmt, format=fmt)).hierarchy
        assert_same(eco.hierarchy, back)


def test_overwrite_removes_stale_tables_and_notes(tmp_path: Path) -> None:
    eco = _economy()
    d = write_directory(eco.with_hierarchy(_full_hierarchy(eco.products)), tmp_path / "d", format="csv")
    write_directory(eco, d, format="parquet", overwrite=True)
    assert sorted(p.name for p in d.iterdir()) == [
        "demand.parquet", "economy.toml", "primary.parquet", "products.parquet", "technology.parquet"
    ]
    assert read_directory(d).hierarchy is None
    # write_hierarchy_tables on its own: adds, then replaces, the tables and [hierarchy]
    write_hierarchy_tables(eco.with_hierarchy(_full_hierarchy(eco.products)), d)
    assert read_directory(d).hierarchy.n_enterprises == 5
    write_hierarchy_tables(eco.with_hierarchy(Hierarchy.single_ministry(eco.products)), d)
    assert "[hierarchy]" not in (d / "economy.toml").read_text()
    back = read_directory(d).hierarchy
    assert back.n_enterprises == 0 and list(back.ministries) == ["centre"]
    assert not (d / "enterprises.parquet").exists()


# ------------------------------------------------------------------------------ semantics
def _dir(tmp_path: Path, **tables: str | None) -> Path:
    """A CSV directory of the three-product economy plus the given tables."""
    d = tmp_path / "h"
    shutil.rmtree(d, ignore_errors=True)
    write_directory(_economy(), d, format="csv")
    for name, body in tables.items():
        if body is not None:
            (d / f"{name}.csv").write_text(body, encoding="utf-8")
    return d


MIN = "product,ministry\ncoal,heavy\nsteel,heavy\nbread,food\n"
ENT = "enterprise,product,capacity\nm1,coal,10\ns1,steel,5\ns2,steel,7\n"


def test_defaults(tmp_path: Path) -> None:
    h = read_directory(_dir(tmp_path, enterprises=ENT)).hierarchy
    assert list(h.ministries) == ["centre"] and (h.product_ministry == 0).all()
    assert any("no ministries table" in note for note in h.notes)
    np.testing.assert_array_equal(h.input_factor, [1, 1, 1])
    np.testing.assert_array_equal(h.product_capacity, [10, 12, np.inf])
    h = read_directory(_dir(tmp_path, ministries=MIN)).hierarchy
    assert list(h.ministries) == ["heavy", "food"] and h.n_enterprises == 0 and h.sectors is None
    # own norms: factors 0 unless the table gives them
    norms = "enterprise,input,coefficient\ns2,coal,0.4\ns2,labour,3\n"
    h = read_directory(_dir(tmp_path, ministries=MIN, enterprises=ENT, norms=norms)).hierarchy
    np.testing.assert_array_equal(h.input_factor, [1, 1, 0])
    np.testing.assert_array_equal(h.labour_factor, [1, 1, 0])
    np.testing.assert_array_equal(h.norms.inputs.toarray(), [[0.4, 0, 0]])
    np.testing.assert_array_equal(h.norms.primary.toarray(), [[3.0]])
    ent = "enterprise,product,capacity,input_factor\nm1,coal,10,1\ns1,steel,5,0.5\ns2,steel,7,0.25\n"
    h = read_directory(_dir(tmp_path, enterprises=ent, norms=norms)).hierarchy
    np.testing.assert_array_equal(h.input_factor, [1, 0.5, 0.25])
    np.testing.assert_array_equal(h.labour_factor, [1, 1, 0])


def test_distances_symmetric_fill_and_diagonal(tmp_path: Path) -> None:
    ent = "enterprise,product,capacity,region\nm1,coal,10,a\ns1,steel,5,b\ns2,steel,7,c\n"
    dist = "from_region,to_region,distance\na,b,5\nb,a,6\nc,a,7\nb,c,8\nc,c,1\n"
    h = read_directory(_dir(tmp_path, enterprises=ent, distances=dist)).hierarchy
    assert list(h.regions) == ["a", "b", "c"]
    np.testing.assert_array_equal(h.distances, [[0, 5, 7], [6, 0, 8], [7, 8, 1]])


# ------------------------------------------------------------------------------ errors
def _raises(d: Path, cls: type, match: str, *, file: str, line: int | None, product: str | None,
            key: str = "product") -> InvalidEconomyError:
    with pytest.raises(cls, match=match) as info:
        read_directory(d)
    loc = info.value.location
    assert Path(loc.file).name == file
    assert loc.line == line
    assert loc.product == product
    if product is not None:
        assert loc.key == key
    return info.value


def test_ministries_errors(tmp_path: Path) -> None:
    _raises(_dir(tmp_path, ministries=MIN.replace("bread,food", "rye,food")), UnknownProductError,
            "unknown product 'rye'", file="ministries.csv", line=4, product="rye")
    _raises(_dir(tmp_path, ministries=MIN + "steel,food\n"), TableFormatError,
            r"product 'steel' appears twice \(first on line 3\)", file="ministries.csv", line=5, product="steel")
    _raises(_dir(tmp_path, ministries="product,ministry\ncoal,heavy\nbread,food\n"), TableFormatError,
            r"product 'steel' has no ministry.*\(1 of 3 missing\)", file="ministries.csv", line=None, product="steel")
    _raises(_dir(tmp_path, ministries="product,ministry,sector\ncoal,heavy,industry\nsteel,heavy,metals\nbread,food,agri\n"),
            TableFormatError, r"ministry 'heavy' is in sector 'metals' here but in 'industry' on line 2",
            file="ministries.csv", line=3, product="heavy", key="ministry")
    _raises(_dir(tmp_path, ministries="product,ministry\ncoal,heavy\nsteel,\nbread,food\n"), TableFormatError,
            "empty ministry in column 'ministry'", file="ministries.csv", line=3, product=None)
    _raises(_dir(tmp_path, ministries="product\ncoal\n"), TableFormatError, "missing column 'ministry'",
            file="ministries.csv", line=None, product=None)


def test_enterprises_errors(tmp_path: Path) -> None:
    _raises(_dir(tmp_path, enterprises=ENT + "m1,bread,3\n"), TableFormatError,
            r"enterprise 'm1' appears twice \(first on line 2\)", file="enterprises.csv", line=5,
            product="m1", key="enterprise")
    _raises(_dir(tmp_path, enterprises=ENT.replace("s1,steel,5", "s1,steel,-5")), TableFormatError,
            "capacity is -5.0; it must be finite and >= 0", file="enterprises.csv", line=3, product="s1",
            key="enterprise")
    _raises(_dir(tmp_path, enterprises=ENT.replace("s2,steel,7", "s2,steel,inf")), TableFormatError,
            "capacity is inf", file="enterprises.csv", line=4, product="s2", key="enterprise")
    _raises(_dir(tmp_path, enterprises=ENT.replace("s2,steel,7", "s2,steel,lots")), TableFormatError,
            "'lots' in column 'capacity' is not a number", file="enterprises.csv", line=4, product=None)
    _raises(_dir(tmp_path, enterprises=ENT.replace("s2,steel", "s2,stele")), UnknownProductError,
            "unknown product 'stele'", file="enterprises.csv", line=4, product="stele")
    bad_factor = "enterprise,product,capacity,labour_factor\nm1,coal,10,1\ns1,steel,5,-0.5\n"
    _raises(_dir(tmp_path, enterprises=bad_factor), TableFormatError, "labour_factor is -0.5",
            file="enterprises.csv", line=3, product="s1", key="enterprise")
    _raises(_dir(tmp_path, enterprises=ENT.replace("s1,", " ,")), TableFormatError, "empty enterprise label",
            file="enterprises.csv", line=3, product=None)


def test_norms_and_distances_errors(tmp_path: Path) -> None:
    norms = "enterprise,input,coefficient\ns2,coal,0.4\n"
    _raises(_dir(tmp_path, enterprises=ENT, norms=norms + "s9,coal,1\n"), UnknownProductError,
            "unknown enterprise 's9'", file="norms.csv", line=3, product="s9", key="enterprise")
    _raises(_dir(tmp_path, enterprises=ENT, norms=norms + "s2,water,1\n"), UnknownProductError,
            "unknown input 'water': neither a product nor a resource", file="norms.csv", line=3, product="water")
    _raises(_dir(tmp_path, enterprises=ENT, norms=norms + "s1,labour,2\ns2,coal,1\n"), TableFormatError,
            r"duplicate \(enterprise, input\) pair \('s2', 'coal'\): already on line 2", file="norms.csv",
            line=4, product="coal")
    _raises(_dir(tmp_path, norms=norms), TableFormatError, "a norms table needs an enterprises table",
            file="norms.csv", line=None, product=None)
    ent = "enterprise,product,capacity,region\nm1,coal,10,a\ns1,steel,5,b\ns2,steel,7,c\n"
    _raises(_dir(tmp_path, enterprises=ent, distances="from_region,to_region,distance\na,b,5\nb,c,1\n"),
            TableFormatError, "no distance from region 'a' to 'c' \\(nor back\\)", file="distances.csv",
            line=None, product="a", key="region")
    _raises(_dir(tmp_path, enterprises=ent, distances="from_region,to_region,distance\na,b,5\nb,c,-1\na,c,2\n"),
            TableFormatError, "distance is -1.0", file="distances.csv", line=3, product="b", key="region")
    _raises(_dir(tmp_path, enterprises=ENT, distances="from_region,to_region,distance\na,b,5\n"),
            TableFormatError, "distances need regions", file="distances.csv", line=None, product=None)


def test_ambiguous_input_label(tmp_path: Path) -> None:
    eco = Economy.from_coefficients([[0.1, 0.2], [0.0, 0.1]], products=["land", "grain"], y=[1.0, 2.0],
                                    primary=[[1.0, 1.0], [0.5, 0.0]], resources=["labour", "land"])
    assert list(eco.resources) == ["labour", "land"]
    d = write_directory(eco, tmp_path / "d", format="csv")
    (d / "enterprises.csv").write_text("enterprise,product,capacity\nf1,grain,3\n")
    (d / "norms.csv").write_text("enterprise,input,coefficient\nf1,labour,2\nf1,land,0.5\n")
    _raises(d, TableFormatError, "input 'land' is both a product and a resource", file="norms.csv", line=3,
            product="land")
    h = Hierarchy(products=eco.products, ministries=pd.Index(["m"]), product_ministry=np.zeros(2, np.int64),
                  enterprises=pd.Index(["f1"]), enterprise_product=np.array([1]), capacity=np.array([3.0]),
                  norms=EnterpriseNorms(np.array([0]), sp.csr_array((1, 2)), sp.csr_array(np.array([[2.0, 0.5]]))))
    with pytest.raises(InvalidEconomyError, match="'land' is both a product and a resource"):
        write_directory(eco.with_hierarchy(h), tmp_path / "e")


def test_parquet_errors_name_the_row_and_wrong_format(tmp_path: Path) -> None:
    eco = _economy()
    d = write_directory(eco, tmp_path / "p", format="parquet")
    pq.write_table(pa.table({"enterprise": ["a", "b", "c"], "product": ["coal", "steel", "bread"],
                             "capacity": [1.0, float("nan"), 2.0]}), d / "enterprises.parquet")
    err = _raises(d, TableFormatError, r"row 2: capacity is nan", file="enterprises.parquet", line=None,
                  product="b", key="enterprise")
    assert "row 2" in str(err)
    (d / "enterprises.parquet").unlink()
    (d / "ministries.csv").write_text(MIN)
    _raises(d, TableFormatError, r"ministries.csv is not in the directory's format \(\[tables\] format = 'parquet'",
            file="ministries.csv", line=None, product=None)


def test_bad_hierarchy_section(tmp_path: Path) -> None:
    d = _dir(tmp_path, ministries=MIN)
    toml = d / "economy.toml"
    toml.write_text(toml.read_text() + '\n[hierarchy]\nministers = ["x"]\n')
    with pytest.raises(TableFormatError, match="unknown key hierarchy.ministers"):
        read_directory(d)
    toml.write_text(toml.read_text().replace('ministers = ["x"]', 'ministries = ["heavy"]'))
    _raises(d, TableFormatError, r"ministry 'food' is not among those declared in economy.toml",
            file="ministries.csv", line=4, product=None)


# ------------------------------------------------------------------------------ documented example
def test_documented_example(tmp_path: Path) -> None:
    """The example of docs/economy-format.md, "Hierarchy tables", read from the page."""
    text = DOC.read_text(encoding="utf-8")
    d = tmp_path / "tiny"
    d.mkdir()
    for marker in ("file", "hierarchy file"):
        for name, body in re.findall(rf"<!-- {marker}: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S):
            (d / name).write_text(body, encoding="utf-8")
    assert {"ministries.csv", "enterprises.csv", "norms.csv", "distances.csv"} <= {p.name for p in d.iterdir()}
    eco = read_directory(d)
    h = eco.hierarchy
    assert list(h.ministries) == ["heavy industry", "food"] and list(h.sectors) == ["industry"]
    np.testing.assert_array_equal(h.product_capacity, [120, 60, 250])
    np.testing.assert_array_equal(h.input_factor, [1, 1, 0, 1])
    np.testing.assert_array_equal(h.labour_factor, [1.1, 0.9, 0, 1])
    assert list(h.regions) == ["south", "north"]
    np.testing.assert_array_equal(h.distances, [[0, 1500], [1500, 0]])
    np.testing.assert_array_equal(h.norms.enterprise, [2])
    np.testing.assert_array_equal(h.norms.inputs.toarray(), [[0.45, 0.08, 0]])
    np.testing.assert_array_equal(h.norms.primary.toarray(), [[4.5, 0]])
    assert list(eco.resources) == ["labour", "co2"]
    for fmt in ("csv", "parquet"):
        assert_same(h, read_directory(write_directory(eco, tmp_path / fmt, format=fmt, keys="position")).hierarchy)


# ------------------------------------------------------------------------------ scale
def test_a_million_enterprises_round_trip(tmp_path: Path) -> None:
    """10^6 enterprises written and read back (Parquet, keys by position): a few seconds."""
    from gosplan.synth import generate
    from gosplan.synth.enterprises import synth_enterprises

    eco = generate(20_000, 6, seed=2)
    eco = synth_enterprises(eco, per_product=50, seed=1, regions=30, own_norms_share=0.01,
                            gross_output=np.ones(eco.n_products))
    assert 0.95e6 < eco.hierarchy.n_enterprises < 1.05e6
    back = read_directory(write_directory(eco, tmp_path / "big", format="parquet", keys="position"))
    assert_same(eco.hierarchy, back.hierarchy)


# ------------------------------------------------------------------------------ BEA grouping
def test_crosswalk_file_matches_provenance_and_tables() -> None:
    folder = DATA_DIR / "bea_crosswalk"
    raw = gzip.decompress((folder / "bea_2017_crosswalk.csv.gz").read_bytes())
    provenance = (folder / "PROVENANCE.md").read_text()
    digest = hashlib.sha256(raw).hexdigest()
    assert f"`bea_2017_crosswalk.csv` {len(raw)} bytes, sha256 `{digest}`" in provenance
    cw = bea_crosswalk()
    assert list(cw.columns) == ["detail", "summary", "sector"]
    assert cw["detail"].is_unique and len(cw) == 406
    with gzip.open(DATA_DIR / "us_bea_detail_2017" / "commodity_codes.csv.gz", "rt") as fh:
        commodities = [row[0] for row in list(csv.reader(fh))[1:]]
    assert len(commodities) == 402 and set(commodities) <= set(cw["detail"])
    assert set(cw["summary"]) == set(_load("us-2022").products)
    assert cw.groupby("summary")["sector"].nunique().max() == 1  # a summary code has one sector
    assert cw["sector"].nunique() == 17


# (detail, summary, sector) rows of USEPA/flowsa NAICS_to_BEA_Crosswalk_2017.csv
SPOT = [
    ("1111A0", "111CA", "11"), ("113000", "113FF", "11"), ("211000", "211", "21"), ("221100", "22", "22"),
    ("230301", "23", "23"), ("311111", "311FT", "31G"), ("336111", "3361MV", "31G"),
    ("336411", "3364OT", "31G"), ("4200ID", "42", "42"), ("4B0000", "4A0", "44RT"),
    ("492000", "487OS", "48TW"), ("491000", "GFE", "G"), ("515100", "513", "51"), ("52A000", "521CI", "FIRE"),
    ("531HSO", "HS", "FIRE"), ("541511", "5415", "PROF"), ("541700", "5412OP", "PROF"), ("611100", "61", "6"),
    ("722110", "722", "7"), ("814000", "81", "81"), ("S00500", "GFGD", "G"), ("GSLGE", "GSLG", "G"),
    ("S00203", "GSLE", "G"), ("S00401", "Used", "Used"), ("S00300", "Other", "Other"),
]


@pytest.mark.parametrize("name", ["us-2017", "us-2017-domestic"])
def test_bea_detail_tables_come_with_summary_ministries(name: str) -> None:
    eco = _load(name)
    h = eco.hierarchy
    assert isinstance(h, Hierarchy) and h.products.equals(eco.products)
    assert h.n_ministries == 73 and len(h.sectors) == 17  # BEA: 73 summary commodities, 17 sectors
    assert (np.bincount(h.product_ministry, minlength=73) > 0).all()
    assert h.n_enterprises == 0
    for detail, summary, sector in SPOT:
        m = h.product_ministry[eco.products.get_loc(detail)]
        assert (h.ministries[m], h.sectors[h.ministry_sector[m]]) == (summary, sector), detail
    assert list(h.sectors[:5]) == ["11", "21", "22", "23", "31G"]
    assert any("Used" in note and "Other" in note for note in h.notes)
    assert int((h.product_ministry == h.ministries.get_loc("111CA")).sum()) == 10


def test_bea_summary_table_comes_with_sector_ministries() -> None:
    eco = _load("us-2022")
    h = eco.hierarchy
    assert h.n_ministries == 17 and h.sectors is None
    assert list(h.ministries) == ["11", "21", "22", "23", "31G", "42", "44RT", "48TW", "51", "FIRE", "PROF",
                                  "6", "7", "81", "G", "Used", "Other"]
    for _, summary, sector in SPOT:
        assert h.ministries[h.product_ministry[eco.products.get_loc(summary)]] == sector, summary


def test_bea_codes_outside_the_concordance() -> None:
    h = bea_hierarchy(pd.Index(["NEW001", "1111A0", "1111B0", "X99", "211000", "S00401"]))
    assert list(h.ministries) == ["111CA", "211", "Used"]
    np.testing.assert_array_equal(h.product_ministry, [0, 0, 0, 0, 1, 2])
    assert any("NEW001 -> 111CA" in note and "X99 -> 111CA" in note for note in h.notes)
    assert list(h.sectors) == ["11", "21", "Used"]
    with pytest.raises(InvalidEconomyError, match="none of the 2 products is a BEA code"):
        bea_hierarchy(pd.Index(["coal", "steel"]))
    summary = bea_hierarchy(pd.Index(["111CA", "211", "HS"]), level="summary")
    assert list(summary.ministries) == ["11", "21", "FIRE"]


def test_gosplan_convert_writes_the_bea_ministries(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gosplan.cli.app import app

    result = CliRunner().invoke(app, ["convert", "us-2022", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "c" / "ministries.csv", dtype=str)
    assert list(table.columns) == ["product", "ministry", "ministry_name"] and len(table) == 73
    row = table.set_index("product").loc["HS"]
    assert (row["ministry"], row["ministry_name"]) == ("FIRE", "Finance, insurance, real estate, rental, and leasing")


def test_bea_ministries_and_sectors_carry_beas_names() -> None:
    h = _load("us-2017").hierarchy
    assert h.ministry_names["111CA"] == "Farms" and h.ministry_names["Used"] == "Scrap, used and secondhand goods"
    assert h.ministry_names.notna().all()  # every summary code of the table has BEA's name
    assert h.sector_names["31G"] == "Manufacturing" and h.sector_names.notna().all()
    frame = h.ministry_frame()
    assert list(frame.columns) == ["ministry", "name", "sector", "sector_name", "products", "enterprises"]
    row = frame.set_index("ministry").loc["111CA"]
    assert (row["name"], row["sector"], row["sector_name"]) == (
        "Farms", "11", "Agriculture, forestry, fishing, and hunting")
    assert h.ministry_label(int(h.ministries.get_loc("111CA"))) == "'111CA' (Farms)"
    summary = _load("us-2022").hierarchy
    assert summary.ministry_names["G"] == "Government" and summary.sector_names is None


def test_ministry_names_in_the_table(tmp_path: Path) -> None:
    eco = _economy()
    d = write_directory(eco, tmp_path / "d", format="csv")
    table = "product,ministry,ministry_name,sector,sector_name\n" \
            "coal,heavy,Heavy industry,ind,\nsteel,heavy,,ind,Industry\nbread,food,,agri,\n"
    (d / "ministries.csv").write_text(table)
    h = read_directory(d).hierarchy
    assert h.ministry_names["heavy"] == "Heavy industry" and pd.isna(h.ministry_names["food"])
    assert h.sector_names["ind"] == "Industry" and pd.isna(h.sector_names["agri"])
    assert list(h.ministry_frame()["name"]) == ["Heavy industry", "food"]  # the label where none
    (d / "ministries.csv").write_text(table.replace("steel,heavy,,", "steel,heavy,Heavy Industry,"))
    with pytest.raises(TableFormatError, match=r"line 3.*ministry 'heavy' is named 'Heavy Industry' here but "
                                               r"'Heavy industry' on line 2"):
        read_directory(d)
    (d / "ministries.csv").write_text("product,ministry,sector_name\ncoal,heavy,x\nsteel,heavy,x\nbread,food,y\n")
    with pytest.raises(TableFormatError, match="sector_name column but no sector column"):
        read_directory(d)
    with pytest.raises(InvalidEconomyError, match="ministry_names names ministry 'light', which the hierarchy"):
        Hierarchy(products=eco.products, ministries=pd.Index(["heavy"]), product_ministry=np.zeros(3, np.int64),
                  ministry_names={"light": "Light industry"})
    with pytest.raises(InvalidEconomyError, match="sector_names need sectors"):
        Hierarchy(products=eco.products, ministries=pd.Index(["heavy"]), product_ministry=np.zeros(3, np.int64),
                  sector_names=["Industry"])
