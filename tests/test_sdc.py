"""The cell-suppression engine (evaluation.disclosure.sdc) on tables whose answers are known by
hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.disclosure import sdc


def two_by_two() -> sdc.Model:
    """A 2 x 2 table with its margins and total; cell a (n = 2) is the only small one.

    a=2   b=10 | 12
    c=8   d=20 | 28
    -----------+---
    10    30   | 40
    """
    n = {"a": 2, "b": 10, "c": 8, "d": 20, "r1": 12, "r2": 28, "k1": 10, "k2": 30, "t": 40}
    cells = pd.DataFrame({"n": pd.Series(n, dtype=float)})
    terms = []
    for rel, (parent, kids) in enumerate(
        [
            ("r1", "ab"),
            ("r2", "cd"),
            ("k1", "ac"),
            ("k2", "bd"),
            ("t", ["r1", "r2"]),
            ("t", ["k1", "k2"]),
        ]
    ):
        terms.append((rel, parent, 1.0, "ns"))
        terms += [(rel, k, -1.0, "ns") for k in kids]
    return sdc.Model.build(cells, terms)


def test_a_single_hidden_cell_is_pinned_by_its_margins():
    model = two_by_two()
    result = sdc.audit(model, model.primary(5), 5, full=True)
    row = result.set_index("cell").loc["a"]
    assert row["n_low"] == row["n_high"] == 2 and not row["protected"]


def test_two_hidden_cells_in_a_row_are_still_pinned_by_the_column():
    model = two_by_two()
    hidden = pd.Series({"a": True, "b": True}).reindex(model.cells.index, fill_value=False)
    row = sdc.audit(model, hidden, 5, full=True).set_index("cell").loc["a"]
    assert row["n_high"] == 2  # a = k1 - c with c published


def test_secondary_suppression_hides_the_rectangle_and_the_audit_gives_the_textbook_range():
    # With a, b, c, d hidden, a + b = 12, a + c = 10, c + d = 28: a ranges over [0, 10].
    model = two_by_two()
    hidden = sdc.secondary_suppression(model, 5)
    assert set(hidden[hidden].index) == {"a", "b", "c", "d"}
    row = sdc.audit(model, hidden, 5, full=True).set_index("cell").loc["a"]
    assert (row["n_low"], row["n_high"]) == (0.0, 10.0) and row["protected"]


def test_sums_are_bounded_by_the_value_range_and_cells_shown_together_hide_together():
    # total = x + y; x is small; x and z are shown in one row, so z goes with x.
    cells = pd.DataFrame(
        {
            "n": [9.0, 3.0, 6.0, 7.0],
            "s": [27.0, 6.0, 21.0, 14.0],
            "lo": 1.0,
            "hi": 5.0,
            "together": ["", "row", "", "row"],
        },
        index=["total", "x", "y", "z"],
    )
    cells["together"] = cells["together"].replace("", np.nan)
    model = sdc.Model.build(cells, [(0, "total", 1.0, "ns"), (0, "x", -1.0, "ns"),
                                    (0, "y", -1.0, "ns")])  # fmt: skip
    hidden = sdc.secondary_suppression(model, 5)
    assert hidden["z"] and hidden["y"]  # z with x; y to break total = x + y
    row = sdc.audit(model, hidden, 5, full=True).set_index("cell").loc["x"]
    # x + y = 9 and 27, each value in [1, 5]: n_x in [0, 9] and s_x in [0, 27].
    assert (row["n_low"], row["n_high"]) == (0.0, 9.0)
    assert (row["s_low"], row["s_high"]) == pytest.approx((0.0, 27.0), abs=1e-6)


def test_an_empty_cell_is_never_chosen_as_a_complement():
    # whole = x + e + y with e empty (its row does not exist, so it is known): y goes.
    cells = pd.DataFrame({"n": [8.0, 3.0, 0.0, 5.0]}, index=["whole", "x", "e", "y"])
    terms = [(0, c, 1.0 if c == "whole" else -1.0, "ns") for c in ("whole", "x", "e", "y")]
    hidden = sdc.secondary_suppression(sdc.Model.build(cells, terms), 5)
    assert hidden.to_dict() == {"whole": False, "x": True, "e": False, "y": True}


@settings(deadline=None)
@given(
    sizes=st.lists(
        st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=5),
        min_size=1,
        max_size=5,
    )
)
def test_random_two_level_hierarchies_end_protected(sizes):
    """Units in organisations in a whole: every small cell ends with an upper bound of at
    least min_n, or the whole is itself small (then nothing can protect it)."""
    n: dict[str, float] = {}
    terms = []
    rel = 0
    orgs = []
    for i, units in enumerate(sizes):
        org = f"o{i}"
        orgs.append(org)
        n[org] = float(sum(units))
        terms.append((rel, org, 1.0, "ns"))
        for j, u in enumerate(units):
            n[f"{org}u{j}"] = float(u)
            terms.append((rel, f"{org}u{j}", -1.0, "ns"))
        rel += 1
    n["all"] = float(sum(n[o] for o in orgs))
    terms.append((rel, "all", 1.0, "ns"))
    terms += [(rel, o, -1.0, "ns") for o in orgs]
    model = sdc.Model.build(pd.DataFrame({"n": pd.Series(n)}), terms)
    hidden = sdc.secondary_suppression(model, 5)
    assert hidden[model.primary(5)].all()
    result = sdc.audit(model, hidden, 5, full=True)
    assert result["protected"].all(), result[~result["protected"]]
    # The audit's bounds hold the truth.
    truth = result["cell"].map(model.cells["n"])
    assert ((result["n_low"] <= truth + 1e-9) & (truth <= result["n_high"] + 1e-9)).all()


@pytest.mark.slow
def test_secondary_suppression_ends_on_a_small_fully_linked_study(tmp_path):
    """A small study whose respondents are linked over five rounds: the lower bounds of sibling
    groups reach through the linked rounds, so no single nearby cell unpins an exposed one.
    Single picks used to stall here (210 cells still exposed after 25 rounds, and about one cell
    per round after that: a generated study took hours); now the greedy widens to whole layers
    once it stalls and protects every cell."""
    from evaluation.config import load_study
    from evaluation.disclosure import plan as published
    from evaluation.pipeline.process import process
    from tests.studygen import OrgSpec, StudySpec, UnitSpec, write_study

    sizes = [(2, 6), (15,), (9, 3), (4, 30), (3,), (6, 2), (1, 9)]
    organisations = tuple(
        OrgSpec(
            f"Org {i}", None, None, None, tuple(UnitSpec(f"U{j}", None, n) for j, n in enumerate(u))
        )
        for i, u in enumerate(sizes)
    )
    spec = StudySpec(
        rounds=("T0", "T1", "T2", "T3", "T4"), organisations=organisations,
        declare_organisations=False, design="linked", study_design="auto", participant=True,
        role=False, instruments=("qwl",), mode="responses", open_answers=False, codings="none",
        activities=False, feedback=False, language="fi", min_n=5, seed=1,
    )  # fmt: skip
    study = load_study(write_study(spec, tmp_path))
    process(study)
    model = published.build_model(study, pd.read_parquet(study.paths.processed / "scores.parquet"))
    n_high: dict = {}
    moves: dict = {}
    hidden = sdc.secondary_suppression(model, 5, max_rounds=25, n_high=n_high, moves=moves)
    result = sdc.audit(model, hidden, 5, n_high=n_high, moves=moves)
    assert model.primary(5).sum() > 500
    assert result["protected"].all(), (~result["protected"]).sum()


def test_a_program_changes_its_objective_and_says_unbounded_and_infeasible(capfd):
    from scipy import sparse

    # x + y = 9, x, y >= 0; a sum s with its band: s <= 27.
    a_eq, b_eq = sparse.csr_matrix([[1.0, 1.0, 0.0]]), np.array([9.0])
    a_ub, b_ub = sparse.csr_matrix([[0.0, 0.0, 1.0]]), np.array([27.0])
    program = sdc._Program(a_eq, b_eq, a_ub, b_ub, np.array([0.0, 0.0, -np.inf]))
    assert program.minimise(np.array([-1.0, 0.0, 0.0]))[0] == 9.0  # max x
    assert program.minimise(np.array([1.0, 0.0, 0.0]))[0] == 0.0  # min x, same model
    assert program.minimise(np.array([0.0, 0.0, -1.0]))[2] == 27.0  # max s
    assert program.minimise(np.array([0.0, 0.0, 1.0])) is None  # min s: unbounded below
    impossible = sdc._Program(a_eq, np.array([-1.0]), a_ub, b_ub, np.zeros(3))
    with pytest.raises(RuntimeError, match="linear program failed"):
        impossible.minimise(np.array([1.0, 0.0, 0.0]))
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # HiGHS' banner and log stay off the run's output
