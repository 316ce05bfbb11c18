"""Cockshott's 5yearplan format, against the numbers of flows.csv and labtarg.csv."""

from __future__ import annotations

import shutil

import numpy as np

from _realdata import data
from gosplan.io.cockshott import read_cockshott


def test_cockshott_example_by_hand() -> None:
    eco = read_cockshott(data("cockshott_5yearplan_example"))
    assert list(eco.products) == ["iron", "coal", "corn", "bread"]
    flows = np.array([[0.1, 0, 0, 0], [2, 1, 0.04, 0.2], [0, 0, 1, 1], [0, 0, 0, 0]])
    output = np.array([10.0, 6, 10, 1])
    np.testing.assert_allclose(eco.A.toarray(), flows / output)
    np.testing.assert_allclose(eco.l, np.array([0.3, 1, 2, 0.1]) / output)
    np.testing.assert_allclose(eco.y, [0.1, 3, 0.0, 2.0])  # labtarg.csv, year1
    assert list(eco.categories) == ["year1"]
    np.testing.assert_array_equal(eco.recorded_output, output)
    assert any("labour supply in year1: 3" in n for n in eco.meta.notes)
    # bread: 0.2 coal + 1 corn per loaf: physical units, column sums are not checked
    assert eco.A.toarray()[:, 3].sum() > 1


def test_cockshott_other_year_and_net_output_without_targets(tmp_path) -> None:
    src = data("cockshott_5yearplan_example")
    eco = read_cockshott(src, target_year="year4")
    np.testing.assert_allclose(eco.y, [0.1, 3.1, 0.0, 2.1])
    shutil.copy(src / "flows.csv", tmp_path / "flows.csv")
    shutil.copy(src / "cap.csv", tmp_path / "cap.csv")  # present, ignored
    eco = read_cockshott(tmp_path)
    assert list(eco.categories) == ["net_output"]
    x = np.array([10.0, 6, 10, 1])
    np.testing.assert_allclose(eco.y, x - eco.A.toarray() @ x)
    np.testing.assert_allclose(eco.y, [9.9, 2.76, 8.0, 1.0])
