"""gosplan.io.tables.read_table: what it reads, and the lines it reports."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from gosplan.errors import DataQualityWarning, TableFormatError
from gosplan.io.tables import find_table, flatten_labels, read_table


def write(path, text: str, *, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_simple_csv_values_labels_and_lines(tmp_path) -> None:
    f = write(tmp_path / "t.csv", "code,a,b\n\nx,1,2.5\ny,-3e2,0\n")
    t = read_table(f)
    assert list(t.index) == ["x", "y"] and list(t.columns) == ["a", "b"]
    assert t.index.name == "code"
    np.testing.assert_array_equal(t.to_numpy(), [[1.0, 2.5], [-300.0, 0.0]])
    assert list(t.attrs["lines"]) == [3, 4]  # the blank line 2 is counted, not read
    assert t.attrs["file"] == str(f) and t.attrs["header_line"] == 1


def test_multiindex_pymrio_layout_with_index_names_row(tmp_path) -> None:
    text = (
        "region,,r1,r1,r2\n"
        "sector,,a,b,a\n"
        "region,sector,,,\n"
        "r1,a,1,2,3\n"
        "r1,b,4,5,6\n"
        "r2,a,7,8,9\n"
    )
    t = read_table(write(tmp_path / "Z.csv", text), index_cols=2, header_rows=2)
    assert isinstance(t.index, pd.MultiIndex) and isinstance(t.columns, pd.MultiIndex)
    assert list(t.index.names) == ["region", "sector"] and list(t.columns.names) == ["region", "sector"]
    assert list(flatten_labels(t.index)) == ["r1:a", "r1:b", "r2:a"]
    assert list(t.attrs["lines"]) == [4, 5, 6]
    assert t.loc[("r2", "a"), ("r1", "b")] == 8.0


def test_tab_separated_txt_gz_and_parquet(tmp_path) -> None:
    text = "sector\ta\tb\na\t1\t2\nb\t3\t4\n"
    (tmp_path / "Z.txt.gz").write_bytes(gzip.compress(text.encode()))
    t = read_table(tmp_path / "Z.txt.gz")
    np.testing.assert_array_equal(t.to_numpy(), [[1, 2], [3, 4]])
    t.to_parquet(tmp_path / "Y.parquet")
    p = read_table(tmp_path / "Y.parquet")
    pd.testing.assert_frame_equal(p, t, check_names=False)
    assert find_table(tmp_path, "Z") == tmp_path / "Z.txt.gz"
    assert find_table(tmp_path, "nothing", required=False) is None


def test_line_numbers_count_quoted_newlines(tmp_path) -> None:
    f = write(tmp_path / "t.csv", 'code,"first\ncolumn",b\nx,1,2\ny,3,oops\n')
    with pytest.raises(TableFormatError) as err:
        read_table(f)
    assert "line 4" in str(err.value) and "'oops'" in str(err.value)
    assert err.value.location.line == 4


def test_labels_stripped_and_trailing_empty_cells_allowed(tmp_path) -> None:
    t = read_table(write(tmp_path / "t.csv", "code ,a ,b\n x ,1,2,,\n"))
    assert list(t.columns) == ["a", "b"] and list(t.index) == ["x"]


def test_empty_cells_by_option(tmp_path) -> None:
    f = write(tmp_path / "t.csv", "code,a,b\nx,1,\n")
    assert read_table(f, empty="zero").loc["x", "b"] == 0.0
    assert np.isnan(read_table(f, empty="nan").loc["x", "b"])


def test_decimal_comma_accepted_only_when_asked_and_reported(tmp_path) -> None:
    f = write(tmp_path / "deprates.csv", 'PRODUCT,Deprate\n"A",0.3\n"B","0,5"\n')
    with pytest.raises(TableFormatError, match="decimal comma"):
        read_table(f)
    with pytest.warns(DataQualityWarning, match=r"line 3, column 'Deprate': '0,5'"):
        t = read_table(f, decimal_comma=True)
    assert t.loc["B", "Deprate"] == 0.5


def test_semicolon_separated_with_decimal_commas(tmp_path) -> None:
    f = write(tmp_path / "t.csv", "code;a;b\nx;1,5;2\n")
    with pytest.raises(TableFormatError, match="decimal comma"):
        read_table(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        assert read_table(f, decimal_comma=True).loc["x", "a"] == 1.5


def test_cp1252_file_read_with_warning(tmp_path) -> None:
    f = write(tmp_path / "t.csv", "code,caf\u00e9\nx,1\n", encoding="cp1252")
    with pytest.warns(DataQualityWarning, match="not UTF-8"):
        t = read_table(f)
    assert list(t.columns) == ["caf\u00e9"]


def test_ragged_rows_padded_only_when_asked(tmp_path) -> None:
    f = write(tmp_path / "t.csv", "code,a,b,total\nx,1,2,3\nlabour,4\n")
    with pytest.raises(TableFormatError, match="line 3, product 'labour': ragged row: 2 cells, the header has 4"):
        read_table(f)
    with pytest.warns(DataQualityWarning, match=r"ragged row\(s\).*line\(s\) 3"):
        t = read_table(f, ragged="pad", empty="nan")
    assert t.loc["labour", "a"] == 4 and np.isnan(t.loc["labour", "total"])


@pytest.mark.parametrize("cell", ["1_000", "\u0661\u0662", "12 3", "0x10"])
def test_numbers_python_would_take_but_a_table_should_not(tmp_path, cell: str) -> None:
    f = write(tmp_path / "t.csv", f"code,a_b\nx_y,{cell}\n")
    with pytest.raises(TableFormatError, match=rf"line 2, column 'a_b', product 'x_y': text '{cell}' in a numeric cell"):
        read_table(f)
