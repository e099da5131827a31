"""The diagnostics of 30-longitudinal (``composition.csv``, ``composition_tests.csv``,
``attrition.csv``, ``optimisers.csv``) are in the disclosure plan's model, and an attacker who
combines them with every other respondent table recovers no group below ``min_n``.

``composition.csv`` shows respondent counts per round by role, participation and organisation
(the ``T|_respondents`` cells, its level ``missing`` the partition's remainder); a share with
the published round total reveals n. ``attrition.csv`` shows, per comparison and group, the
baseline total, the stayers (the paired rows' baseline cell), the leavers and, through
``n_linkable``, those without a usable code: the unlinked baseline cell of ``prepost.csv``
splits into the last two. A chi-square statistic of a table with one hidden cell gives that
cell away (X² is a known quadratic in it once the margins are known), so a test is published
only when none of its cells is hidden.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.analyse.quant.diagnostics import (
    MISSING,
    attrition_table,
    composition_table,
    composition_tests,
)
from evaluation.config import load_study
from evaluation.disclosure import sdc
from evaluation.disclosure.plan import Plan, build_model, hide_rows, make_plan
from evaluation.pipeline.process import process
from tests.conftest import STUDY_YAML, row, write_study

TWO_ROUNDS = STUDY_YAML.replace(
    "  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}",
    "  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 60}}",
)


def _small_study(tmp_path):
    """T0: 30 respondents, 20 of them linked to T1, 7 coded but gone (leavers), 3 without a
    code; 2 of the 30 have no role. T1: the 20 linked and 10 new."""
    rows = [row(resp=f"S{i}", qwl=str(50 + i)) for i in range(20)]
    rows += [row(rnd="T1", resp=f"S{i}", qwl=str(52 + i)) for i in range(20)]
    rows += [row(resp=f"L{i}", qwl=str(40 + i), part="0") for i in range(7)]
    rows += [row(resp="", qwl=str(45 + i), role="" if i < 2 else "staff") for i in range(3)]
    rows += [row(rnd="T1", resp=f"N{i}", qwl="61", role="supervisor") for i in range(10)]
    root = write_study(tmp_path, rows, TWO_ROUNDS)
    study = load_study(root)
    process(study)
    return study, pd.read_parquet(study.paths.processed / "scores.parquet")


def _relation_children(model: sdc.Model, parent: str) -> list[set[str]]:
    rel = model.relations
    ids = rel[(rel["cell"] == parent) & (rel["coef"] == 1.0)]["rel"]
    return [set(rel[(rel["rel"] == r) & (rel["coef"] == -1.0)]["cell"]) for r in ids]


def test_the_unlinked_baseline_splits_into_leavers_and_uncoded(tmp_path):
    study, scores = _small_study(tmp_path)
    model = build_model(study, scores)
    cells = model.cells
    # the same numbers as attrition.csv: stayers, leavers, and n_baseline - n_linkable
    att = attrition_table(scores, rounds=["T0", "T1"], baseline="T0", measures=["qwl"], min_n=0)
    whole = att[(att["group_by"] == "all")].iloc[0]
    assert cells.at["P|qwl|T1|all|all|b", "n"] == whole["n_stayed"] == 20
    assert cells.at["L|qwl|T1|all|all", "n"] == whole["n_left"] == 7
    assert cells.at["U|qwl|T1|all|all", "n"] == whole["n_baseline"] - whole["n_linkable"] == 3
    assert cells.at["L|qwl|T1|all|all", "s"] == pytest.approx(7 * whole["mean_left"])
    assert {"L|qwl|T1|all|all", "U|qwl|T1|all|all"} in _relation_children(
        model, "I|qwl|T1|all|all|b"
    )
    # the leavers of the whole study are the leavers of the participation groups
    assert {"L|qwl|T1|participant|0"} in _relation_children(model, "L|qwl|T1|all|all")
    # the composition's level "missing" is the role remainder, and it is published
    rest = "X|T|_respondents|T0|all|all|role"
    assert cells.at[rest, "n"] == 2 and bool(cells.at[rest, "shown"])


def test_role_is_modelled_for_the_composition_even_when_not_a_group_by(tmp_path):
    yaml_text = TWO_ROUNDS + "analysis: {group_by: [all, organisation]}\n"
    rows = [row(resp=f"S{i}", role="supervisor" if i < 3 else "staff") for i in range(12)]
    rows += [row(rnd="T1", resp=f"S{i}") for i in range(12)]
    study = load_study(write_study(tmp_path, rows, yaml_text))
    process(study)
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    model = build_model(study, scores)
    assert model.cells.at["T|_respondents|T0|role|supervisor", "n"] == 3
    assert "T|qwl|T0|role|supervisor" not in model.cells.index  # the measures are unchanged
    hidden, _audit, summary = sdc.solve(model, study.min_n)
    assert summary["exposed"] == 0
    assert hidden["T|_respondents|T0|role|supervisor"] and hidden["T|_respondents|T0|role|staff"]


def test_rows_show_the_cells_and_a_test_with_a_hidden_cell_is_hidden():
    plan = Plan(
        hidden=frozenset({"T|_respondents|T1|role|supervisor", "L|qwl|T1|participant|1"}),
        design="auto",
        baseline="T0",
    )
    comp = pd.DataFrame(
        {
            "characteristic": ["role", "role", "role", "participant", "sector"],
            "level": ["supervisor", "supervisor", MISSING, "1", "public"],
            "round": ["T0", "T1", "T1", "T1", "T1"],
        }
    )
    # sector is no characteristic of the model: never published
    assert hide_rows(comp, "composition", plan).tolist() == [False, True, False, False, True]
    tests = pd.DataFrame({"characteristic": ["role", "participant", "organisation", "sector"]})
    assert hide_rows(tests, "composition_tests", plan).tolist() == [True, False, False, True]
    att = pd.DataFrame(
        {
            "measure": ["qwl"] * 3,
            "round": ["T1"] * 3,
            "baseline": ["T0"] * 3,
            "group_by": ["all", "participant", "role"],
            "group": ["all", "1", "staff"],
        }
    )
    assert hide_rows(att, "attrition", plan).tolist() == [False, True, True]
    opt = pd.DataFrame({"measure": ["qwl"] * 2, "parameter": ["did", "llf"], "round": ["T1", None]})
    hidden_mean = Plan(frozenset({"T|qwl|T0|participant|0"}), "auto", "T0")
    assert hide_rows(opt, "optimisers", hidden_mean).tolist() == [True, False]
    whole_round = Plan(frozenset({"T|_respondents|T1|all|all"}), "auto", "T0")
    assert hide_rows(tests, "composition_tests", whole_round).all()
    # the tests leave "missing" out: its hidden count is no function of a test
    only_missing = Plan(frozenset({"X|T|_respondents|T1|all|all|role"}), "auto", "T0")
    assert hide_rows(comp, "composition", only_missing).tolist() == [False] * 2 + [True] + [
        False,
        True,
    ]
    assert hide_rows(tests, "composition_tests", only_missing).tolist() == [False] * 3 + [True]


# --------------------------------------------------------------------------- the attack


def _publish(study_dir: Path) -> None:
    """The run's respondent tables (as test_disclosure_attack.publish) and the diagnostics,
    written through the plan as 30-longitudinal writes them."""
    from evaluation.analyse.quant.quality import response_counts
    from evaluation.pipeline.session import open_study
    from tests.test_disclosure_attack import publish

    publish(study_dir)
    s = open_study(study_dir)
    s.write(response_counts(s.scores, **s.options.response_counts), "respondents")
    s.write(composition_table(s.scores, **s.options.composition), "composition")
    tests = composition_tests(s.scores, **{**s.options.composition_tests, "n_sim": 0})
    s.write(tests, "composition_tests")
    s.write(attrition_table(s.scores, **s.options.attrition), "attrition")


def _read(tables: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(tables / f"{name}.csv", keep_default_na=False, na_values=[""])


def _attack(study, tables: Path):
    """The attacker of test_disclosure_attack (prepost, trajectories, distributions, meta),
    taught the diagnostics: composition counts (levels add up to the round; organisations are
    the sums of their units in respondents.csv) and the attrition split of every baseline
    group (T = stayers + leavers + uncoded; the whole study's leavers / uncoded = the groups'
    plus a rest, where that holds)."""
    from tests.test_disclosure_attack import survey_attack

    att, _hidden = survey_attack(study, tables)
    base = study.baseline
    comp = _read(tables, "composition")
    for r in comp.itertuples(index=False):
        key = ("n", "_respondents", r.characteristic, r.level, r.round, "T", "")
        att.know(key, r.n)
        att.know(("n", "_respondents", "all", "all", r.round, "T", ""), r.n_round)
        if not pd.isna(r.n) and not pd.isna(r.n_round) and r.n_round > 0:
            assert r.share == pytest.approx(r.n / r.n_round)
    for (c, x), part in comp.groupby(["characteristic", "round"]):
        att.equal(
            [(("n", "_respondents", "all", "all", x, "T", ""), 1.0)]
            + [(("n", "_respondents", c, v, x, "T", ""), -1.0) for v in part["level"]]
        )
    resp = _read(tables, "respondents")
    for r in resp.itertuples(index=False):
        att.know(
            ("n", "_respondents", "unit", f"{r.organisation} / {r.unit}", r.round, "T", ""), r.n
        )
    for (org, x), part in resp.groupby(["organisation", "round"]):
        att.equal(
            [(("n", "_respondents", "organisation", org, x, "T", ""), 1.0)]
            + [
                (("n", "_respondents", "unit", f"{org} / {u}", x, "T", ""), -1.0)
                for u in part["unit"]
            ]
        )
    ranges = {m: (i.range_min, i.range_max) for i in study.instruments.values() for m in i.measures}
    attr = _read(tables, "attrition")
    truth = _attrition_truth(study)
    for r in attr.itertuples(index=False):
        g = (r.measure, r.group_by, r.group)
        keys = {
            "T": (*g, base, "T", ""),
            "P": (*g, r.round, "P", "b"),
            "L": (*g, r.round, "L", "b"),
            "U": (*g, r.round, "U", "b"),
        }
        for q in ("n", "s"):
            att.equal([((q, *keys["T"]), 1.0)] + [((q, *keys[k]), -1.0) for k in "PLU"])
        lo, hi = ranges[r.measure]
        for k in "PLU":
            att.value_bounds(("n", *keys[k]), ("s", *keys[k]), lo, hi)
        if not r.suppressed:
            att.know(("n", *keys["T"]), r.n_baseline)
            att.know(("n", *keys["P"]), r.n_stayed)
            att.know(("s", *keys["P"]), r.n_stayed * r.mean_stayed)
            att.know(("n", *keys["L"]), r.n_left)
            att.know(("s", *keys["L"]), r.n_left * r.mean_left)
            att.know(("n", *keys["U"]), r.n_baseline - r.n_linkable)
    for (m, x), part in truth.groupby(["measure", "round"]):
        whole = part[part["group_by"] == "all"].iloc[0]
        groups = part[part["group_by"] != "all"]
        for k, col in (("L", "n_left"), ("U", "n_uncoded")):
            if groups[col].sum() > whole[col]:
                continue  # the groups do not add up to the whole: no such relation
            for q in ("n", "s"):
                att.equal(
                    [((q, m, "all", "all", x, k, "b"), 1.0)]
                    + [((q, m, "participant", "<rest>", x, k, "b"), -1.0)]
                    + [((q, m, "participant", v, x, k, "b"), -1.0) for v in groups["group"]]
                )
    return att


def _attrition_truth(study) -> pd.DataFrame:
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    out = attrition_table(
        scores, rounds=study.round_ids, baseline=study.baseline, measures=study.measures, min_n=0
    )
    out["n_uncoded"] = out["n_baseline"] - out["n_linkable"]
    return out


def _check(att, key: tuple, n_true: float, min_n: int, where: str) -> None:
    assert att.has(("n", *key)), f"{where} {key}: hidden but in no relation"
    high = att.solve(("n", *key), +1.0)
    assert high >= min_n - 1e-6, f"{where} {key}: n = {n_true} pinned below min_n ({high})"
    if att.has(("s", *key)):
        width = att.solve(("s", *key), +1.0) - att.solve(("s", *key), -1.0)
        assert width > 1e-6, f"{where} {key}: the sum of its values is pinned"


def assert_no_small_diagnostic_cell_recovered(study_dir: Path) -> int:
    study = load_study(study_dir)
    tables = study.paths.tables
    att = _attack(study, tables)
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    k = study.min_n
    attacked = 0
    comp_truth = composition_table(scores, rounds=study.round_ids, min_n=0)
    comp = _read(tables, "composition").set_index(["characteristic", "level", "round"])
    for r in comp_truth.itertuples(index=False):
        if 0 < r.n < k:
            shown = comp.loc[(r.characteristic, r.level, r.round)]
            assert pd.isna(shown["n"]) and pd.isna(shown["share"]), f"{r}: published"
            key = ("_respondents", r.characteristic, r.level, r.round, "T", "")
            _check(att, key, r.n, k, "composition")
            attacked += 1
    tests = _read(tables, "composition_tests")
    # a test's table leaves "missing" out: its other cells must all be published
    small = comp_truth[comp_truth["n"].between(1, k - 1) & (comp_truth["level"] != MISSING)]
    for c in tests.loc[~tests["suppressed"].astype(bool), "characteristic"]:
        assert small[small["characteristic"] == c].empty, f"test of {c} published over small cells"
    attr = _read(tables, "attrition").set_index(["measure", "round", "group_by", "group"])
    for r in _attrition_truth(study).itertuples(index=False):
        for part, n in (("P", r.n_stayed), ("L", r.n_left), ("U", r.n_uncoded)):
            if 0 < n < k:
                assert bool(attr.loc[(r.measure, r.round, r.group_by, r.group), "suppressed"])
                key = (r.measure, r.group_by, r.group, r.round, part, "b")
                _check(att, key, n, k, "attrition")
                attacked += 1
    return attacked


@pytest.mark.slow
@pytest.mark.xdist_group("disclosure_attack")
@pytest.mark.parametrize(
    ("respondents", "seed", "design"), [(90, 11, "auto"), (120, 5, "independent")]
)
def test_generated_study_leaks_no_small_composition_or_attrition_cell(
    tmp_path, respondents, seed, design
):
    import yaml

    from evaluation.demo.generate import write_demo

    write_demo(tmp_path, respondents=respondents, seed=seed)
    path = tmp_path / "config" / "study.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config["design"] = design
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    _publish(tmp_path)
    study = load_study(tmp_path)
    summary = make_plan(study)  # the audit with the new cells (as the run makes it)
    assert summary["exposed"] == 0
    attacked = assert_no_small_diagnostic_cell_recovered(tmp_path)
    assert attacked > 5  # small studies have many small groups: the attack is not vacuous


def test_subtracting_leavers_recovers_nothing_under_the_plan(tmp_path):
    """Primary suppression alone is not enough: 2 participants left (their row suppressed),
    8 non-participants left; the whole study's n_left minus the non-participants' gives the 2
    away. Under the plan the non-participants' row is hidden too."""
    rows = [row(resp=f"A{i}", part="1") for i in range(22)]
    rows += [row(rnd="T1", resp=f"A{i}", part="1") for i in range(20)]
    rows += [row(resp=f"B{i}", part="0") for i in range(18)]
    rows += [row(rnd="T1", resp=f"B{i}", part="0") for i in range(10)]
    study = load_study(write_study(tmp_path, rows, TWO_ROUNDS))
    process(study)
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    options = {"rounds": ["T0", "T1"], "baseline": "T0", "measures": ["qwl"], "min_n": 5}
    primary = attrition_table(scores, **options).set_index(["group_by", "group"])
    assert bool(primary.at[("participant", "1"), "suppressed"])
    recovered = primary.at[("all", "all"), "n_left"] - primary.at[("participant", "0"), "n_left"]
    assert recovered == 2  # the leak the plan must close
    assert make_plan(study)["exposed"] == 0
    from evaluation.disclosure.rules import protect

    written = protect(attrition_table(scores, **options), "attrition", study.paths.processed)
    written = written.set_index(["group_by", "group"])
    shown = ~written["suppressed"].astype(bool)
    assert not (shown[("all", "all")] and shown[("participant", "0")])
    assert not shown[("participant", "1")]
