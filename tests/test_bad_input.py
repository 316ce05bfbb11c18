"""Every kind of bad input, with its exact location (file, line, column, product) in the message.

Broken files are copies of the real tables with one defect, or tiny tables written here.
"""

from __future__ import annotations

import csv
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gosplan
from _realdata import data
from gosplan.errors import DataQualityWarning, InvalidEconomyError, NegativeCoefficientWarning, TableFormatError
from gosplan.io.bea import read_bea
from gosplan.io.cockshott import read_cockshott
from gosplan.io.flows import economy_from_flows
from gosplan.io.ons_uk import read_uk_ons
from gosplan.io.pymrio_layout import read_pymrio
from gosplan.io.tables import read_table


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", NegativeCoefficientWarning)
        yield


def copy(folder: str, tmp_path: Path) -> Path:
    dst = tmp_path / folder
    shutil.copytree(data(folder), dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return dst


def edit_cell(path: Path, line: int, field: int, value: str) -> str:
    """Set field ``field`` (0-based) of editor line ``line`` (1-based, no quoted newlines); return the old value."""
    lines = path.read_text().split("\n")
    cells = next(csv.reader([lines[line - 1]]))
    old = cells[field]
    cells[field] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    lines[line - 1] = buf.getvalue()
    path.write_text("\n".join(lines))
    return old


def header_cells(path: Path, line: int = 1) -> list[str]:
    return next(csv.reader([path.read_text().split("\n")[line - 1]]))


def tiny(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- cells


def test_text_in_numeric_cell_real_uk_table(tmp_path) -> None:
    d = copy("uk_ons_2015", tmp_path)
    f = d / "domesticiot.csv"
    edit_cell(f, 6, 6, "n/a")  # line 6: Extraction Of Crude Petroleum..., field 6: Other Mining And Quarrying
    with pytest.raises(TableFormatError) as err:
        read_uk_ons(d)
    assert str(err.value) == (
        f"{f}, line 6, column 'Other Mining And Quarrying', product "
        "'Extraction Of Crude Petroleum And Natural Gas & Mining Of Metal Ores': text 'n/a' in a numeric cell"
    )
    loc = err.value.location
    assert (loc.file, loc.line, loc.column) == (f, 6, "Other Mining And Quarrying")
    assert loc.product == "Extraction Of Crude Petroleum And Natural Gas & Mining Of Metal Ores"


def test_decimal_comma_reported_and_accepted_only_by_option(tmp_path) -> None:
    d = copy("uk_ons_2015", tmp_path)
    f = d / "domesticiot.csv"
    assert edit_cell(f, 6, 5, "589,5") == "589"  # own use of Extraction Of Crude Petroleum...
    with pytest.raises(TableFormatError) as err:
        read_uk_ons(d)
    assert str(err.value).startswith(
        f"{f}, line 6, column 'Extraction Of Crude Petroleum And Natural Gas & Mining Of Metal Ores', "
        "product 'Extraction Of Crude Petroleum And Natural Gas & Mining Of Metal Ores': "
        "'589,5' is written with a decimal comma"
    )
    with pytest.warns(DataQualityWarning, match=r"line 6, column 'Extraction Of Crude .*': '589,5'"):
        eco = read_uk_ons(d, decimal_comma=True)
    assert eco.A.toarray()[4, 4] * eco.recorded_output[4] == pytest.approx(589.5)


def test_decimal_comma_in_real_deprates_file() -> None:
    f = data("uk_ons_2015") / "deprates.csv"
    with pytest.raises(TableFormatError) as err:
        read_table(f)
    assert str(err.value).startswith(f"{f}, line 4, column 'Deprate', product 'FISHING AND AQUACULTURE': '0,5'")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_nan_and_inf_cells(tmp_path, value: str) -> None:
    d = copy("pymrio_test", tmp_path)
    edit_cell(d / "Z.csv", 5, 4, value)  # line 5: reg1,mining; field 4: reg1,manufactoring
    with pytest.raises(TableFormatError) as err:
        read_pymrio(d)
    assert str(err.value) == (
        f"{d / 'Z.csv'}, line 5, column 'reg1:manufactoring', product 'reg1:mining': "
        f"'{value}' is not a finite number (NaN/inf are not allowed)"
    )


def test_empty_required_cell(tmp_path) -> None:
    d = copy("us_bea_summary_2022", tmp_path)
    f = d / "use_summary_2022_pro_before_redef.csv"
    edit_cell(f, 4, 3, "")  # line 4: commodity 211, column 3: industry 211
    with pytest.raises(TableFormatError) as err:
        read_bea(d)
    assert str(err.value) == f"{f}, line 4, column '211', product '211': empty cell: a number is required"


def test_empty_data_cell_in_uk_table_even_though_empty_totals_are_tolerated(tmp_path) -> None:
    d = copy("uk_ons_2015", tmp_path)
    f = d / "domesticiot.csv"
    edit_cell(f, 3, 1, "")  # Forestry And Logging x Crop And Animal Production...
    with pytest.raises(TableFormatError) as err:
        read_uk_ons(d)
    assert str(err.value) == (
        f"{f}, line 3, column 'Crop And Animal Production, Hunting And Related Service Activities', "
        "product 'Forestry And Logging': empty cell: a number is required"
    )


def test_nan_in_parquet_names_row(tmp_path) -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": [3.0, 4.0]}, index=["x", "y"])
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(TableFormatError) as err:
        read_table(tmp_path / "t.parquet")
    assert str(err.value) == f"{tmp_path / 't.parquet'}, column 'a', product 'y': empty cell (row 2): a number is required"


# ----------------------------------------------------------------------------- rows and labels


def test_ragged_row(tmp_path) -> None:
    f = tiny(tmp_path, "flows.csv", "headings,iron,coal\niron,0.1,0\ncoal,2\nlabour,1,1\noutput,10,6\n")
    with pytest.raises(TableFormatError) as err:
        read_cockshott(f)
    assert str(err.value) == f"{f}, line 3, product 'coal': ragged row: 2 cells, the header has 3"


def test_extra_value_beyond_header(tmp_path) -> None:
    f = tiny(tmp_path, "t.csv", "code,a\nx,1,7\n")
    with pytest.raises(TableFormatError) as err:
        read_table(f)
    assert str(err.value) == f"{f}, line 2, product 'x': ragged row: 3 cells, the header has 2 (extra value '7' in field 3)"


def test_duplicate_row_label_real_bea(tmp_path) -> None:
    d = copy("us_bea_summary_2022", tmp_path)
    f = d / "use_summary_2022_pro_before_redef.csv"
    edit_cell(f, 4, 0, "111CA")  # line 4 (211) renamed to line 2's label
    with pytest.raises(TableFormatError) as err:
        read_bea(d)
    assert str(err.value) == f"{f}, line 4, product '111CA': duplicate row label '111CA' (lines 2, 4)"


def test_duplicate_column_label(tmp_path) -> None:
    f = tiny(tmp_path, "t.csv", "code,a,b,a\nx,1,2,3\n")
    with pytest.raises(TableFormatError) as err:
        read_table(f)
    assert str(err.value) == f"{f}, line 1, column 'a': duplicate column label 'a' (fields 2, 4)"


def test_empty_row_label(tmp_path) -> None:
    f = tiny(tmp_path, "t.csv", "code,a\nx,1\n,2\n")
    with pytest.raises(TableFormatError) as err:
        read_table(f)
    assert str(err.value) == f"{f}, line 3: empty row label"


def test_non_square_z(tmp_path) -> None:
    tiny(tmp_path, "Z.csv", "sector,a,b,c\na,1,2,3\nb,4,5,6\n")
    tiny(tmp_path, "Y.csv", "sector,hh\na,10\nb,10\n")
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(tmp_path)
    assert str(err.value) == f"{tmp_path / 'Z.csv'}: Z is not square: 2 rows x 3 columns"


def test_mislabelled_real_uk_table(tmp_path) -> None:
    d = copy("uk_ons_2015", tmp_path)
    f = d / "domesticiot.csv"
    edit_cell(f, 1, 6, "Other Mining")  # column 6 label no longer matches row 6 (line 7)
    with pytest.raises(InvalidEconomyError) as err:
        read_uk_ons(d)
    assert str(err.value).startswith(
        f"{f}, line 7, column 'Other Mining', product 'Other Mining And Quarrying': Z is mislabelled: "
        "row 6 is 'Other Mining And Quarrying' but column 6 is 'Other Mining'"
    )


def test_mislabelled_pymrio_sector(tmp_path) -> None:
    d = copy("pymrio_test", tmp_path)
    edit_cell(d / "Z.csv", 2, 3, "minning")  # header line 2: sector of column 2
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(d)
    assert str(err.value).startswith(
        f"{d / 'Z.csv'}, line 5, column 'reg1:minning', product 'reg1:mining': Z is mislabelled: "
        "row 2 is 'reg1:mining' but column 2 is 'reg1:minning'"
    )


def test_demand_rows_not_matching_z(tmp_path) -> None:
    d = copy("pymrio_test", tmp_path)
    edit_cell(d / "Y.csv", 6, 1, "coal")  # line 6 (reg1,manufactoring) -> reg1,coal
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(d)
    assert str(err.value) == (
        f"{d / 'Y.csv'}, line 6, product 'reg1:coal': Y has rows that Z lacks: ['reg1:coal']; "
        "Y lacks rows of Z: ['reg1:manufactoring']"
    )


def test_factor_columns_not_matching_z(tmp_path) -> None:
    d = copy("pymrio_test", tmp_path)
    edit_cell(d / "factor_inputs_F.csv", 1, 48, "reg7")  # last column's region
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(d)
    assert str(err.value) == (
        f"{d / 'factor_inputs_F.csv'}, line 2, column 'reg7:other', product 'reg7:other': extension "
        "'factor_inputs': columns do not match Z's: unknown ['reg7:other'], missing ['reg6:other']"
    )


# ----------------------------------------------------------------------------- economics


def test_negative_output(tmp_path) -> None:
    d = copy("pymrio_test", tmp_path)
    edit_cell(d / "x.csv", 3, 2, "-48751.94246")  # line 3: reg1,mining
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(d)
    assert str(err.value) == f"{d / 'x.csv'}, line 3, product 'reg1:mining': negative gross output x = -48751.94246"


def test_inputs_exceed_output_real_wiod_copy(tmp_path) -> None:
    d = tmp_path / "wiod"
    d.mkdir()
    for name in ("Z.csv", "Y.csv", "x.csv"):
        shutil.copy(data("wiod2013_2011") / name, d / name)
        (d / name).chmod(0o644)
    edit_cell(d / "x.csv", 2, 2, "1000")  # AUS,c1: recorded 76834, its inputs are larger
    x = pd.read_csv(data("wiod2013_2011") / "Z.csv", index_col=[0, 1], header=[0, 1])
    inputs = x.iloc[:, 0].sum()
    with pytest.raises(InvalidEconomyError) as err:
        read_pymrio(d)
    assert str(err.value) == (
        f"{d / 'Z.csv'}, column 'AUS:c1', product 'AUS:c1': inputs exceed output: column sum of Z = "
        f"{inputs:.10g} > gross output x = 1000 (by {inputs - 1000:.6g}; negative value added)"
        " (allow_negative_value_added=True, or --allow-negative-value-added, accepts it)"
    )
    # accepted on request: a DataQualityWarning names the column, the table is read as it is
    with pytest.warns(DataQualityWarning, match=r"1 column\(s\) with negative value added .*accepted: AUS:c1"):
        eco = read_pymrio(d, allow_negative_value_added=True)
    assert eco.A[:, [0]].sum() > 1  # the column's inputs per unit exceed one unit of output
    assert any("AUS:c1" in note for note in eco.meta.notes)


def test_inputs_exceed_output_tolerates_rounding() -> None:
    Z = pd.DataFrame([[5.0, 0], [5.4, 0]], index=["a", "b"], columns=["a", "b"])
    Y = pd.DataFrame({"hh": [5.0, 5.0]}, index=["a", "b"])
    x = pd.Series([10.0, 5.0], index=["a", "b"])
    economy_from_flows(Z, Y, x)  # 10.4 vs 10: within one unit of rounding
    with pytest.raises(InvalidEconomyError, match=r"product 'a': inputs exceed output: column sum of Z = 10.4"):
        economy_from_flows(Z, Y, x, atol=0.0)


def test_bea_make_and_use_disagree(tmp_path) -> None:
    d = copy("us_bea_summary_2022", tmp_path)
    f = d / "make_summary_2022_before_redef.csv"
    edit_cell(f, 3, 0, "113XX")  # industry 113FF renamed in the make table
    with pytest.raises(TableFormatError) as err:
        read_bea(d)
    assert str(err.value) == (
        f"{f}, product '113XX': make and use tables disagree on the industries: make only ['113XX'], use only ['113FF']"
    )


def test_cockshott_missing_output_row(tmp_path) -> None:
    f = tiny(tmp_path, "flows.csv", "headings,iron\niron,0.1\nlabour,1\n")
    with pytest.raises(TableFormatError) as err:
        read_cockshott(tmp_path)
    assert str(err.value) == f"{f}, product 'output': no 'output' row"


def test_cockshott_targets_for_unknown_product(tmp_path) -> None:
    d = copy("cockshott_5yearplan_example", tmp_path)
    edit_cell(d / "labtarg.csv", 1, 4, "cake")
    with pytest.raises(TableFormatError) as err:
        read_cockshott(d)
    assert str(err.value) == (
        f"{d / 'labtarg.csv'}, line 1, column 'bread': targets do not match the products of flows.csv: "
        "missing ['bread'], unknown ['cake']"
    )


# ----------------------------------------------------------------------------- files and sources


def test_missing_file_is_table_format_error_naming_path(tmp_path) -> None:
    with pytest.raises(TableFormatError) as err:
        read_table(tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: file not found"
    assert not isinstance(err.value, FileNotFoundError)


def test_missing_table_in_pymrio_directory(tmp_path) -> None:
    d = copy("pymrio_test", tmp_path)
    (d / "Y.csv").unlink()
    with pytest.raises(TableFormatError) as err:
        read_pymrio(d, extensions=False)
    assert str(err.value).startswith(f"{d / 'Y.csv'}: table 'Y' not found")


def test_missing_make_table_in_bea_directory(tmp_path) -> None:
    d = copy("us_bea_summary_2022", tmp_path)
    (d / "make_summary_2022_before_redef.csv").unlink()
    with pytest.raises(TableFormatError) as err:
        read_bea(d)
    assert str(err.value) == f"{d}: no make*.csv table: a BEA directory needs use_*.csv and make_*.csv"


def test_missing_uk_file(tmp_path) -> None:
    with pytest.raises(TableFormatError) as err:
        read_uk_ons(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'domesticiot.csv'}: table 'domesticiot' not found")


def test_two_files_for_one_table(tmp_path) -> None:
    d = copy("cockshott_5yearplan_example", tmp_path)
    read_table(d / "flows.csv").to_parquet(d / "flows.parquet")
    with pytest.raises(TableFormatError) as err:
        read_cockshott(d)
    assert str(err.value) == f"{d}: several files hold table 'flows': flows.csv, flows.parquet; keep one"


def test_unknown_source(tmp_path) -> None:
    with pytest.raises(TableFormatError) as err:
        gosplan.load("us-2018")
    msg = str(err.value)
    assert msg.startswith("us-2018: 'us-2018' is neither a bundled dataset nor an existing path.")
    for name in ("us-2017", "us-2022", "wiod-2011", "uk-2015", "pymrio-test", "cockshott-example"):
        assert name in msg
    for fmt in ("'bea'", "'pymrio'", "'uk-ons'", "'cockshott'", "'directory'"):
        assert fmt in msg
    with pytest.raises(TableFormatError) as err:
        gosplan.load(tmp_path)
    assert str(err.value).startswith(f"{tmp_path}: directory in no known format.")


def test_uk_short_labour_row_read_with_warning_but_not_short_data(tmp_path) -> None:
    d = copy("uk_ons_2015", tmp_path)
    f = d / "domesticiot.csv"
    lines = f.read_text().split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("labour,"))
    cells = next(csv.reader([lines[k]]))
    lines[k] = ",".join(cells[:130])  # label + 129 products: the final-demand cells are gone
    f.write_text("\n".join(lines))
    with pytest.warns(DataQualityWarning, match=rf"ragged row.*line\(s\) {k + 1}"):
        eco = read_uk_ons(d)
    assert eco.l[0] == pytest.approx(4200 / 23521)
    lines[k] = ",".join(cells[:100])  # now product cells are missing too
    f.write_text("\n".join(lines))
    with pytest.raises(TableFormatError) as err:
        read_uk_ons(d)
    assert str(err.value).startswith(f"{f}, line {k + 1}, column ")
    assert str(err.value).endswith("product 'labour': empty cell: a number is required")
