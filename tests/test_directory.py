"""The economy directory: round trips, the documented example, every error named."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosplan import Economy, EconomyMeta, InvalidEconomyError, TableFormatError, UnknownProductError
from gosplan.errors import GosplanWarning, NegativeCoefficientWarning
from gosplan.io.directory import read_directory, read_product_table, write_directory

DOC = Path(__file__).resolve().parents[1] / "docs" / "economy-format.md"
COMBOS = [(f, k) for f in ("csv", "parquet") for k in ("label", "position")]


def realish() -> Economy:
    """Labels that trip readers: commas, quotes, unicode, numbers, NA; scrap; imports."""
    products = ["Wholesale trade, durable", 'Say "cheese"', "Café", "001", "NA", "steel"]
    A = np.array(
        [
            [0.10, 0.00, 0.02, 0.00, 0.01, 0.00],
            [0.00, 0.05, 0.00, 0.30, 0.00, 0.00],
            [0.20, 0.00, 0.00, 0.00, 0.00, -0.01],
            [0.00, 0.10, 0.00, 0.00, 0.40, 0.00],
            [0.00, 0.00, 0.15, 0.00, 0.00, 0.10],
            [1 / 3, 0.00, 0.00, 0.25, 0.00, 0.20],
        ]
    )
    demand = np.array([[1, 0, -2], [0, 0, 0], [3.5, 1e-300, 0], [0, 2, 1], [7, 0, 0], [0.1, 0, 0]])
    primary = np.array([[1, 2, 3, 4, 5, 6.25], [0, 0, 0, 0, 0, 0], [0.5, 0, 0, 0, 1e12, 0]])
    meta = EconomyMeta(
        name="real-ish", year=2017, units="million USD", labour_unit="hours", source="hand",
        licence="CC0-1.0", notes=("first", "second, with comma"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        return Economy.from_coefficients(
            A, products=products, demand=demand, categories=["households", "unused", "exports"],
            primary=primary, resources=["labour", "water", "co2"],
            recorded_output=[10, 20, 30, 40, 50, 60.5], meta=meta,
        )


def techniques() -> Economy:
    """Three products, coal made two ways: activities coal/pit, coal/open, steel/bof, bread/bake."""
    U = np.array([[0.1, 0.2, 0.5, 0.0], [0.05, 0.0, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
    O = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    return Economy(
        products=["coal", "steel", "bread"], use=U, make=O,
        activities=["coal/pit", "coal/open", "steel/bof", "bread"],
        primary=np.array([[1.0, 0.5, 4.0, 0.5]]), resources=["labour"],
        demand=np.array([[1.0], [2.0], [3.0]]), categories=["households"],
    )


def same(a: Economy, b: Economy) -> None:
    assert list(a.products) == list(b.products)
    assert list(a.activities) == list(b.activities)
    assert (a.use != b.use).nnz == 0
    assert np.array_equal(a.use.toarray(), b.use.toarray())
    assert (a.make is None) == (b.make is None)
    if a.make is not None:
        assert np.array_equal(a.make.toarray(), b.make.toarray())
    assert list(a.resources) == list(b.resources)
    assert np.array_equal(a.primary.toarray(), b.primary.toarray())
    assert list(a.categories) == list(b.categories)
    assert np.array_equal(a.demand, b.demand)
    if a.recorded_output is None:
        assert b.recorded_output is None
    else:
        assert np.array_equal(a.recorded_output, b.recorded_output)
    assert a.labour == b.labour
    assert a.meta == b.meta


# ------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt,keys", COMBOS)
def test_round_trip_realish(tmp_path, fmt, keys):
    eco = realish()
    write_directory(eco, tmp_path / "e", format=fmt, keys=keys)
    with pytest.warns(NegativeCoefficientWarning):
        back = read_directory(tmp_path / "e")
    same(eco, back)
    assert back.products[3] == "001" and back.products[4] == "NA"


@pytest.mark.parametrize("fmt,keys", COMBOS)
def test_round_trip_techniques(tmp_path, fmt, keys):
    eco = techniques()
    write_directory(eco, tmp_path / "e", format=fmt, keys=keys)
    back = read_directory(tmp_path / "e")
    # written per unit of output: steel/bof's inputs and labour halve, O becomes 1
    assert list(back.activities) == ["coal/pit", "coal/open", "steel/bof", "bread/bread"]
    assert np.array_equal(back.make.toarray(), (eco.make.toarray() > 0).astype(float))
    assert np.allclose(back.use.toarray(), eco.use.toarray() / eco.make.toarray().sum(axis=0))
    assert np.allclose(back.primary.toarray(), [[1.0, 0.5, 2.0, 0.5]])
    again = tmp_path / "again"
    write_directory(back, again, format=fmt, keys=keys)
    same(back, read_directory(again))


def test_one_technique_each_reads_square(tmp_path):
    d = _write(
        tmp_path,
        products="product\na\nb\n",
        technology="input,output,technique,coefficient\na,b,x,0.5\nb,a,y,0.25\n",
        primary="resource,product,technique,coefficient\nlabour,a,y,1\nlabour,b,x,2\n",
    )
    eco = read_directory(d)
    assert eco.make is None and eco.A.toarray().tolist() == [[0, 0.5], [0.25, 0]]
    assert eco.l.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("fmt,keys", COMBOS)
def test_round_trip_synthetic(tmp_path, fmt, keys):
    from gosplan.synth import generate

    eco = generate(3000, 8, seed=5)
    write_directory(eco, tmp_path / "e", format=fmt, keys=keys)
    same(eco, read_directory(tmp_path / "e"))


@st.composite
def economies(draw):
    n = draw(st.integers(1, 8))
    density = draw(st.floats(0, 1))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    A = sp.random_array((n, n), density=density, rng=rng) * draw(st.floats(1e-300, 1e300))
    alphabet = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    labels = draw(
        st.lists(st.text(alphabet, min_size=1, max_size=6).filter(lambda s: s.strip()),
                 min_size=n, max_size=n, unique=True)
    )
    y = rng.normal(size=n)
    return Economy.from_coefficients(A, products=labels, y=y, l=rng.random(n) + 0.1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(eco=economies(), combo=st.sampled_from(COMBOS))
def test_round_trip_hypothesis(tmp_path, eco, combo):
    fmt, keys = combo
    d = write_directory(eco, tmp_path / "h", format=fmt, keys=keys, overwrite=True)
    same(eco, read_directory(d))


def test_write_refuses_to_clobber(tmp_path):
    write_directory(realish(), tmp_path / "e")
    with pytest.raises(FileExistsError, match="already holds an economy"):
        write_directory(realish(), tmp_path / "e", format="parquet")
    (tmp_path / "e" / "README").write_text("mine")
    write_directory(realish(), tmp_path / "e", format="parquet", overwrite=True)
    assert not (tmp_path / "e" / "products.csv").exists()  # old tables removed ...
    assert (tmp_path / "e" / "README").read_text() == "mine"  # ... nothing else


def test_write_rejects_bad_options_and_joint_production(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        write_directory(realish(), tmp_path / "x", format="xlsx")
    with pytest.raises(ValueError, match="keys must be one of"):
        write_directory(realish(), tmp_path / "x", keys="name")
    joint = Economy(
        products=["a", "b"], use=np.zeros((2, 1)), make=np.array([[1.0], [0.5]]), activities=["ab"],
        primary=np.ones((1, 1)), resources=["labour"], demand=np.zeros((2, 1)), categories=["c"],
    )
    with pytest.raises(InvalidEconomyError, match="activity 'ab' has 2 outputs"):
        write_directory(joint, tmp_path / "j")


def test_product_table_keeps_metadata(tmp_path):
    d = _doc_example(tmp_path)
    table = read_product_table(d)
    assert list(table.columns) == ["product", "unit", "name", "recorded_output"]
    assert table["name"].tolist()[:2] == ["hard coal", "steel, rolled"]


# --------------------------------------------------------------------- documented example
def _doc_example(tmp_path: Path) -> Path:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    assert {name for name, _ in blocks} == {
        "economy.toml", "products.csv", "technology.csv", "primary.csv", "demand.csv"
    }
    d = tmp_path / "tiny"
    d.mkdir()
    for name, body in blocks:
        (d / name).write_text(body, encoding="utf-8")
    return d


def test_documented_example(tmp_path):
    eco = read_directory(_doc_example(tmp_path))
    assert eco.meta == EconomyMeta(
        name="tiny", year=2024, units="tonnes, loaves", labour_unit="hours",
        source="docs/economy-format.md", licence="CC0-1.0", notes=("a runnable example",),
    )
    assert eco.A.toarray().tolist() == [[0.1, 0.5, 0.01], [0.05, 0.1, 0.0], [0.0, 0.0, 0.0]]
    assert eco.l.tolist() == [2.0, 5.0, 0.5]
    assert eco.y.tolist() == [10.0, 20.0, 200.0]
    assert list(eco.resources) == ["labour", "co2"]
    assert eco.recorded_output.tolist() == [100, 50, 200]
    same(eco, read_directory(write_directory(eco, tmp_path / "pq", format="parquet", keys="position")))


# ------------------------------------------------------------------------------ errors
TOML = '[tables]\nformat = "{fmt}"\nkeys = "{keys}"\n'


def _write(tmp_path: Path, *, toml: str | None = None, keys: str = "label", **tables: str) -> Path:
    """A CSV directory from table texts (products and technology default to two products)."""
    d = tmp_path / "e"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    tables.setdefault("products", "product\na\nb\n")
    tables.setdefault("technology", "input,output,coefficient\na,b,0.5\n")
    (d / "economy.toml").write_text(toml if toml is not None else TOML.format(fmt="csv", keys=keys))
    for name, body in tables.items():
        if body is not None:
            (d / f"{name}.csv").write_text(body, encoding="utf-8")
    return d


def _parquet(tmp_path: Path, *, keys: str = "label", **tables: pa.Table) -> Path:
    d = tmp_path / "p"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    tables.setdefault("products", pa.table({"product": ["a", "b"]}))
    tables.setdefault(
        "technology", pa.table({"input": ["a"], "output": ["b"], "coefficient": [0.5]})
    )
    (d / "economy.toml").write_text(TOML.format(fmt="parquet", keys=keys))
    for name, table in tables.items():
        pq.write_table(table, d / f"{name}.parquet")
    return d


def _raises(cls, d: Path, *fragments: str, line: int | None = None, product: str | None = None,
            column: str | None = None, file: str | None = None):
    with pytest.raises(cls) as info:
        read_directory(d)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    loc = info.value.location
    if line is not None:
        assert loc.line == line, message
    if product is not None:
        assert loc.product == product, message
    if column is not None:
        assert loc.column == column, message
    if file is not None:
        assert loc.file is not None and Path(loc.file).name == file, message
    return info.value


def test_missing_directory_and_toml(tmp_path):
    _raises(TableFormatError, tmp_path / "nowhere", "no such directory")
    (tmp_path / "e").mkdir()
    _raises(TableFormatError, tmp_path / "e", "missing economy.toml", file="economy.toml")


def test_bad_toml(tmp_path):
    d = _write(tmp_path, toml='name = "x"\n[tables\nformat = "csv"\n')
    _raises(TableFormatError, d, "invalid TOML", line=2, file="economy.toml")
    d = _write(tmp_path, toml='name = "x"\n')
    _raises(TableFormatError, d, "missing [tables] section")
    d = _write(tmp_path, toml='[tables]\nformat = "xlsx"\nkeys = "label"\n')
    _raises(TableFormatError, d, "tables.format must be one of ['csv', 'parquet'], got 'xlsx'")
    d = _write(tmp_path, toml='[tables]\nformat = "csv"\nkeys = "names"\n')
    _raises(TableFormatError, d, "tables.keys must be one of ['label', 'position'], got 'names'")
    d = _write(tmp_path, toml='year = "2017"\n' + TOML.format(fmt="csv", keys="label"))
    _raises(TableFormatError, d, "year must be an integer, got '2017'")
    d = _write(tmp_path, toml='format_version = 9\n' + TOML.format(fmt="csv", keys="label"))
    _raises(TableFormatError, d, "format_version 9 is newer")
    d = _write(tmp_path, toml=TOML.format(fmt="csv", keys="label") + 'resources = ["labour", "labour"]\n')
    _raises(TableFormatError, d, "tables.resources must list distinct non-empty names")


def test_unknown_toml_key_warns(tmp_path):
    d = _write(tmp_path, toml='labor_unit = "hours"\n' + TOML.format(fmt="csv", keys="label"))
    with pytest.warns(GosplanWarning, match="unknown key 'labor_unit' ignored"):
        read_directory(d)


def test_missing_tables_and_columns(tmp_path):
    d = _write(tmp_path, technology=None)
    _raises(TableFormatError, d, "missing table technology.csv", file="technology.csv")
    pq.write_table(pa.table({"x": [1]}), d / "technology.parquet")
    _raises(TableFormatError, d, "(found technology.parquet; [tables] format in economy.toml is 'csv')")
    d = _write(tmp_path, technology="input,output,coef\na,b,0.5\n")
    _raises(TableFormatError, d, "missing column 'coefficient'", "['input', 'output', 'coef']",
            column="coefficient", file="technology.csv")
    d = _write(tmp_path, products="label\na\n")
    _raises(TableFormatError, d, "missing column 'product'", file="products.csv")
    d = _write(tmp_path, technology="input,output,coefficient,input\na,b,0.5,a\n")
    _raises(TableFormatError, d, "duplicate column 'input'")
    d = _write(tmp_path, products="")
    _raises(TableFormatError, d, "empty file: no header line", file="products.csv")


def test_duplicate_and_empty_labels(tmp_path):
    d = _write(tmp_path, products="product\na\nb\n\nc\na\n")
    _raises(TableFormatError, d, "duplicate product label 'a' (first on line 2)", line=6,
            product="a", file="products.csv")
    d = _write(tmp_path, products="product,unit\na,t\n ,t\n")
    _raises(TableFormatError, d, "empty product label", line=3)
    d = _parquet(tmp_path, products=pa.table({"product": ["a", "b", "b"]}))
    _raises(TableFormatError, d, "row 3: duplicate product label 'b' (first on row 2)", product="b")
    d = _parquet(tmp_path, products=pa.table({"product": ["a", None]}))
    _raises(TableFormatError, d, "row 2: missing value in column 'product'")


def test_unknown_labels(tmp_path):
    d = _write(tmp_path, technology="input,output,coefficient\na,b,0.5\nb,a,0.1\nstel,a,0.1\n")
    e = _raises(UnknownProductError, d, "unknown product 'stel' in column 'input'", line=4,
                product="stel", column="input", file="technology.csv")
    assert str(e).startswith(str(d / "technology.csv") + ", line 4, column 'input', product 'stel'")
    d = _write(tmp_path, primary="resource,product,coefficient\nlabour,a,1\nlabour,c,1\n")
    _raises(UnknownProductError, d, "unknown product 'c'", line=3, file="primary.csv")
    d = _write(tmp_path, demand="product,category,quantity\n\nzz,households,1\n")
    _raises(UnknownProductError, d, "unknown product 'zz'", line=3, file="demand.csv")
    d = _parquet(tmp_path, technology=pa.table(
        {"input": pa.array(["a", "b", "q"]).dictionary_encode(), "output": ["b", "a", "a"],
         "coefficient": [0.5, 0.1, 0.2]}))
    _raises(UnknownProductError, d, "row 3: unknown product 'q'", product="q")


def test_positions_out_of_range(tmp_path):
    d = _write(tmp_path, keys="position", technology="input,output,coefficient\n0,1,0.5\n1,2,0.5\n")
    _raises(UnknownProductError, d, "product position 2 in column 'output' is out of range",
            "2 rows, positions 0..1", line=3, column="output")
    d = _write(tmp_path, keys="position", technology="input,output,coefficient\n0,1,0.5\n",
               demand="product,category,quantity\n-1,households,1\n")
    _raises(UnknownProductError, d, "product position -1", line=2, file="demand.csv")
    d = _write(tmp_path, keys="position", technology="input,output,coefficient\n0,1.5,0.5\n")
    _raises(TableFormatError, d, "'1.5' in column 'output' is not an integer position", line=2)
    d = _parquet(tmp_path, keys="position", technology=pa.table(
        {"input": [0, 1], "output": [1.0, 0.0], "coefficient": [0.5, 0.1]}))
    _raises(TableFormatError, d, 'column \'output\' holds double; keys = "position" needs integer')
    d = _parquet(tmp_path, keys="position", technology=pa.table(
        {"input": pa.array([0, 1, 7], pa.int64()), "output": pa.array([1, 0, 0], pa.uint8()),
         "coefficient": [0.5, 0.1, 0.1]}))
    _raises(UnknownProductError, d, "row 3: product position 7 in column 'input'")


@pytest.mark.parametrize(
    "cell,fragment",
    [("abc", "'abc' in column 'coefficient' is not a number"), ("", "missing value in column 'coefficient'"),
     ("nan", "coefficient is nan, not a finite number"), ("inf", "coefficient is inf, not a finite number"),
     ("1e999", "coefficient is inf"), ("0,5", "expected 3 fields (as in the header), found 4")],
)
def test_bad_numeric_cells_csv(tmp_path, cell, fragment):
    d = _write(tmp_path, technology=f"input,output,coefficient\na,b,0.5\n\nb,a,{cell}\n")
    e = _raises(TableFormatError, d, fragment, line=4, file="technology.csv")
    if "finite" in fragment:
        assert e.location.product == "a" and e.location.column == "coefficient"


def test_bad_numeric_cells_elsewhere(tmp_path):
    d = _write(tmp_path, products="product,recorded_output\na,1\nb,-2\n")
    _raises(TableFormatError, d, "recorded_output is -2.0 (must be finite and >= 0)", line=3, product="b")
    d = _write(tmp_path, demand="product,category,quantity\na,households,x1\n")
    _raises(TableFormatError, d, "'x1' in column 'quantity' is not a number", line=2)
    d = _write(tmp_path, primary="resource,product,coefficient\nlabour,a,1\nlabour,b,NaN\n")
    _raises(TableFormatError, d, "coefficient is nan", line=3, product="b", file="primary.csv")
    d = _parquet(tmp_path, technology=pa.table(
        {"input": ["a", "b"], "output": ["b", "a"], "coefficient": ["0.5", "half"]}))
    _raises(TableFormatError, d, "row 2: 'half' in column 'coefficient' is not a number")
    d = _parquet(tmp_path, technology=pa.table(
        {"input": ["a", "b"], "output": ["b", "a"], "coefficient": [0.5, None]}))
    _raises(TableFormatError, d, "row 2: missing value in column 'coefficient'")
    d = _parquet(tmp_path, technology=pa.table(
        {"input": ["a"], "output": ["b"], "coefficient": [True]}))
    _raises(TableFormatError, d, "column 'coefficient' holds bool, expected numbers")


def test_duplicate_pairs(tmp_path):
    d = _write(tmp_path, technology="input,output,coefficient\na,b,0.5\nb,a,0.1\na,b,0.5\n")
    _raises(TableFormatError, d, "duplicate (input, output) pair ('a', 'b'): already on line 2",
            line=4, product="b", file="technology.csv")
    d = _write(tmp_path, keys="position", technology="input,output,coefficient\n0,1,0.5\n0,1,0.2\n")
    _raises(TableFormatError, d, "duplicate (input, output) pair ('a', 'b'): already on line 2", line=3)
    d = _write(tmp_path, primary="resource,product,coefficient\nlabour,a,1\nco2,a,1\nlabour,a,2\n")
    _raises(TableFormatError, d, "duplicate (resource, product) pair ('labour', 'a'): already on line 2",
            line=4, file="primary.csv")
    d = _write(tmp_path, demand="product,category,quantity\nb,x,1\na,x,1\nb,x,1\n")
    _raises(TableFormatError, d, "duplicate (product, category) pair ('b', 'x'): already on line 2",
            line=4, file="demand.csv")
    d = _parquet(tmp_path, technology=pa.table(
        {"input": ["a", "a"], "output": ["b", "b"], "coefficient": [0.5, 0.5]}))
    _raises(TableFormatError, d, "row 2: duplicate (input, output) pair ('a', 'b'): already on row 1")


def test_vocabularies(tmp_path):
    toml = TOML.format(fmt="csv", keys="label") + 'resources = ["labour"]\ncategories = ["hh", "gov"]\n'
    d = _write(tmp_path, toml=toml, primary="resource,product,coefficient\nlabour,a,1\nco2,a,1\n")
    _raises(TableFormatError, d, "resource 'co2' is not among those declared in economy.toml ['labour']",
            line=3, column="resource")
    d = _write(tmp_path, toml=toml, demand="product,category,quantity\na,hh,1\n")
    eco = read_directory(d)
    assert list(eco.categories) == ["hh", "gov"] and eco.demand.tolist() == [[1, 0], [0, 0]]
    d = _write(tmp_path, toml=TOML.format(fmt="csv", keys="label"),
               primary='resource,product,coefficient\nco2,a,1\nlabour,b,2\n"",a,1\n')
    _raises(TableFormatError, d, "empty resource in column 'resource'", line=4)


def test_labour_first_and_optional_tables(tmp_path):
    d = _write(tmp_path, primary="resource,product,coefficient\nco2,a,1\nlabour,b,2\n")
    eco = read_directory(d)
    assert list(eco.resources) == ["labour", "co2"] and eco.labour == "labour"
    assert eco.l.tolist() == [0.0, 2.0] and eco.demand.shape == (2, 0)
    d = _write(tmp_path, primary="resource,product,coefficient\nco2,a,1\n")
    assert read_directory(d).labour is None
    d = _write(tmp_path, toml='labour_resource = "work"\n' + TOML.format(fmt="csv", keys="label"),
               primary="resource,product,coefficient\nco2,a,1\nwork,b,2\n")
    eco = read_directory(d)
    assert list(eco.resources) == ["work", "co2"] and eco.l.tolist() == [0.0, 2.0]


def test_technique_columns_must_agree(tmp_path):
    d = _write(tmp_path, technology="input,output,technique,coefficient\na,b,x,0.5\na,b,y,0.4\n",
               primary="resource,product,coefficient\nlabour,a,1\n")
    _raises(TableFormatError, d, "technology and primary must both have a technique column",
            file="primary.csv")
    d = _write(tmp_path, technology="input,output,technique,coefficient\na,b,x,0.5\na,b,x,0.4\n")
    _raises(TableFormatError, d, "duplicate (input, activity) pair ('a', 'b/x'): already on line 2", line=3)


def test_csv_row_text_errors(tmp_path):
    d = _write(tmp_path, technology='input,output,coefficient\na,b,0.5\n"b\nc",a,0.1\na,a\n')
    _raises(TableFormatError, d, "expected 3 fields (as in the header), found 2", line=5)


def test_parquet_rows_in_any_order(tmp_path):
    """The one-pass reader needs rows ordered by output; others take the general path."""
    eco = realish()
    d = write_directory(eco, tmp_path / "e", format="parquet", keys="position")
    table = pq.read_table(d / "technology.parquet")
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(shuffled, d / "technology.parquet")
    with pytest.warns(NegativeCoefficientWarning):
        same(eco, read_directory(d))
    pq.write_table(pa.table({"input": [0, 5], "output": [1, 0], "coefficient": [0.5, np.inf]}),
                   d / "technology.parquet")
    _raises(TableFormatError, d, "row 2: coefficient is inf, not a finite number", product="Wholesale trade, durable")


@pytest.mark.parametrize("long", [False, True])
def test_label_lookup_exact(tmp_path, long):
    """Hash lookups confirm bytes and lengths; labels over 64 bytes use pandas' index."""
    products = ["a", "ab", "abc", "b", "Café", "Cafe", "é" * 3] + (["x" * 100] if long else [])
    text = "product\n" + "\n".join(products) + "\n"
    rows = [("ab", "a"), ("Café", "ab"), ("é" * 3, "Cafe")] + ([("x" * 100, "b")] if long else [])
    tech = "input,output,coefficient\n" + "".join(f"{i},{o},0.25\n" for i, o in rows)
    eco = read_directory(_write(tmp_path, products=text, technology=tech))
    A = eco.A.toarray()
    for i, o in rows:
        assert A[products.index(i), products.index(o)] == 0.25
    assert eco.A.nnz == len(rows)
    d = _write(tmp_path, products=text, technology=tech + "abcd,a,1\n")
    _raises(UnknownProductError, d, "unknown product 'abcd'", line=len(rows) + 2)
    d = _write(tmp_path, products=text, technology=tech + "x,a,1\n")
    _raises(UnknownProductError, d, "unknown product 'x'", line=len(rows) + 2)


def test_parquet_ordered_by_output_errors(tmp_path):
    """The one-pass path names faults as the general one does."""
    d = _parquet(tmp_path, keys="position", technology=pa.table(
        {"input": [0, 1, 1], "output": [0, 0, 1], "coefficient": [0.5, 0.1, np.nan]}))
    _raises(TableFormatError, d, "row 3: coefficient is nan, not a finite number", product="b")
    d = _parquet(tmp_path, keys="position", technology=pa.table(
        {"input": [0, 1, 1], "output": [0, 0, 0], "coefficient": [0.5, 0.1, 0.2]}))
    _raises(TableFormatError, d, "row 3: duplicate (input, output) pair ('b', 'a'): already on row 2")
    d = _parquet(tmp_path, keys="position", technology=pa.table(
        {"input": [0, 1, 2], "output": [0, 0, 1], "coefficient": [0.5, 0.1, 0.2]}))
    _raises(UnknownProductError, d, "row 3: product position 2 in column 'input' is out of range")
