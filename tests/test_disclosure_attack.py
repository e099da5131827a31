"""Attack tests: an attacker with every published table and a linear-programming solver
recovers no group below ``min_n`` (issue 12), and ``p_adjusted`` can be reproduced from the
published rows.

The attacker is written here, independently of :mod:`evaluation.disclosure.plan`: it knows the
study's structure (``study.yaml``: organisations with their actors, sectors and sizes, units,
rounds, design) and reads only ``reports/tables/*.csv``. It knows that a group's respondents
are its linked plus its unlinked ones at both ends of a comparison, that a total is the sum of
its parts plus possibly some respondents with no value of the grouping, that linked
respondents are counted at both ends, and the range of every measure. The truth it is judged
against comes from the package's analyses run without any suppression (``min_n = 0``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linprog

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("disclosure_attack")]


# --------------------------------------------------------------------------- the attacker


class Attacker:
    """Unknowns with bounds, linear equalities, and the bounds it can prove for each unknown."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.known: dict[tuple, float] = {}
        self.bounds: list[tuple[float | None, float | None]] = []
        self.rows: list[dict[int, float]] = []
        self.rhs: list[float] = []
        self.ub_rows: list[dict[int, float]] = []

    def var(self, key: tuple, lower: float | None = 0.0) -> int:
        if key not in self.index:
            self.index[key] = len(self.index)
            self.bounds.append((lower, None))
        return self.index[key]

    def know(self, key: tuple, value: float) -> None:
        """A published count (exact) or sum of values (``n * mean`` from a mean printed to 10
        significant digits: known to within that rounding, so an interval)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        if key[0] == "s":
            if key in self.index:
                return
            slack = abs(value) * 1e-9 + 1e-9
            self.bounds.append((value - slack, value + slack))
            self.index[key] = len(self.index)
            return
        self.known[key] = float(value)

    def equal(self, terms: list[tuple[tuple, float]], constant: float = 0.0) -> None:
        """sum(coef * key) = constant; known keys move to the right-hand side."""
        row: dict[int, float] = defaultdict(float)
        rhs = constant
        for key, coef in terms:
            if key in self.known:
                rhs -= coef * self.known[key]
            else:
                row[self.var(key, None if key[0] == "s" else 0.0)] += coef
        if row:
            self.rows.append(dict(row))
            self.rhs.append(rhs)

    def value_bounds(self, n_key: tuple, s_key: tuple, lo: float, hi: float) -> None:
        """lo * n <= s <= hi * n, for unknown n or s."""
        if n_key in self.known and s_key in self.index and self.bounds[self.index[s_key]][1]:
            return  # a published sum: its own interval is tighter
        n_term = ("n",) if n_key in self.known else None
        n_val = self.known.get(n_key)
        s_val = self.known.get(s_key)
        for sign, bound in ((1.0, lo), (-1.0, hi)):
            # sign * (bound * n - s) <= 0
            row: dict[int, float] = defaultdict(float)
            const = 0.0
            if n_term:
                const += sign * bound * n_val
            else:
                row[self.var(n_key)] += sign * bound
            if s_val is not None:
                const -= sign * s_val
            else:
                row[self.var(s_key, None)] -= sign
            if row:
                self.ub_rows.append((dict(row), -const))

    def solve(self, key: tuple, sense: float) -> float:
        if getattr(self, "_compiled", None) is None or self._compiled[0] != len(self.index):
            self._compiled = (len(self.index), *self._compile())
        _, a, ub, b_ub = self._compiled
        k = len(self.index)
        c = np.zeros(k)
        c[self.index[key]] = -sense
        res = linprog(
            c,
            A_eq=a if self.rows else None,
            b_eq=np.array(self.rhs) if self.rows else None,
            A_ub=ub if self.ub_rows else None,
            b_ub=b_ub if self.ub_rows else None,
            bounds=self.bounds,
            method="highs",
        )
        if res.status == 3:
            return math.inf * sense
        assert res.status == 0, f"the attacker's LP failed: {res.message}"
        return float(res.x[self.index[key]])

    def _compile(self):
        k = len(self.index)
        a = sparse.lil_matrix((len(self.rows), k))
        for i, row in enumerate(self.rows):
            for j, v in row.items():
                a[i, j] = v
        ub = sparse.lil_matrix((len(self.ub_rows), k))
        b_ub = []
        for i, (row, rhs) in enumerate(self.ub_rows):
            for j, v in row.items():
                ub[i, j] = v
            b_ub.append(rhs)
        return a.tocsr(), ub.tocsr(), np.array(b_ub)


class PerMeasure:
    """One attacker per measure (the key's second element): measures share no relation, so
    their linear programs are solved apart, which is much faster."""

    def __init__(self) -> None:
        self.by: dict[str, Attacker] = defaultdict(Attacker)

    def know(self, key: tuple, value: float) -> None:
        self.by[key[1]].know(key, value)

    def equal(self, terms: list[tuple[tuple, float]], constant: float = 0.0) -> None:
        self.by[terms[0][0][1]].equal(terms, constant)

    def value_bounds(self, n_key: tuple, s_key: tuple, lo: float, hi: float) -> None:
        self.by[n_key[1]].value_bounds(n_key, s_key, lo, hi)

    def has(self, key: tuple) -> bool:
        return key in self.by[key[1]].index

    def solve(self, key: tuple, sense: float) -> float:
        return self.by[key[1]].solve(key, sense)


def _units(study) -> dict[str, list[str]]:
    return {name: list(org.headcount) for name, org in study.organisations.items()}


def _part(row_design: str, study_design: str) -> str:
    """The cell a prepost row's n and mean describe: the linked pairs (P), the unlinked rest
    (I) or, for the partially overlapping rows and every row of an independent design, the
    whole group (T)."""
    if row_design == "paired":
        return "P"
    if row_design == "partial_overlap" or study_design == "independent":
        return "T"
    return "I"


def survey_attack(study, tables: Path) -> tuple[PerMeasure, list[tuple]]:
    """The attacker of the respondent tables; returns it and the cell keys of every
    suppressed prepost row (``(measure, group_by, group, round, part, side)``)."""
    att = PerMeasure()
    prepost = pd.read_csv(tables / "prepost.csv", keep_default_na=False, na_values=[""])
    base = study.baseline
    ranges = {}
    for inst in study.instruments.values():
        for m in inst.measures:
            ranges[m] = (inst.range_min, inst.range_max)
    hidden: list[tuple] = []
    design_rows = prepost.drop_duplicates(["measure", "group_by", "group", "round", "design"])
    seen_parts = set()
    for r in design_rows.itertuples(index=False):
        part = _part(r.design, study.design)
        seen_parts.add((r.measure, r.group_by, r.group, r.round, part))
        for side, n_col, m_col in (("b", "n_baseline", "mean_baseline"),
                                   ("r", "n_round", "mean_round")):  # fmt: skip
            x = base if side == "b" else r.round
            key = (r.measure, r.group_by, r.group, r.round, part, side) if part != "T" else (
                r.measure, r.group_by, r.group, x, "T", "")  # fmt: skip
            n, mean = getattr(r, n_col), getattr(r, m_col)
            if r.suppressed or pd.isna(n):
                hidden.append(key)
                continue
            att.know(("n", *key), n)
            att.know(("s", *key), n * mean)
    # Trajectories and distributions: group totals per round.
    traj = pd.read_csv(tables / "trajectories.csv", keep_default_na=False, na_values=[""])
    for r in traj.itertuples(index=False):
        if not pd.isna(r.n):
            att.know(("n", r.measure, r.group_by, r.group, r.round, "T", ""), r.n)
            att.know(("s", r.measure, r.group_by, r.group, r.round, "T", ""), r.n * r.mean)
    dist = pd.read_csv(tables / "distributions.csv", keep_default_na=False, na_values=[""])
    for r in dist.itertuples(index=False):
        if not pd.isna(r.n):
            att.know(("n", r.measure, "all", "all", r.round, "T", ""), r.n)
    measures = sorted(prepost["measure"].unique())
    groups = prepost.drop_duplicates(["measure", "group_by", "group"])
    rounds = [x for x in study.round_ids if x != base]
    # The design split, at both ends of every comparison.
    if study.design != "independent":
        for r in groups.itertuples(index=False):
            for x in rounds:
                g = (r.measure, r.group_by, r.group)
                has_p = (*g, x, "P") in seen_parts
                has_i = (*g, x, "I") in seen_parts
                if not has_p and not has_i:
                    continue
                for q in ("n", "s"):
                    for side, t_round in (("b", base), ("r", x)):
                        terms = [((q, *g, t_round, "T", ""), 1.0)]
                        terms.append(((q, *g, x, "P", side), -1.0))
                        terms.append(((q, *g, x, "I", side), -1.0))
                        if not has_p:
                            att.know((q, *g, x, "P", side), 0.0)
                        att.equal(terms)
                        lo, hi = ranges.get(r.measure, (None, None))
                        for part in ("P", "I", "T"):
                            key = (*g, x, part, side) if part != "T" else (*g, t_round, "T", "")
                            if lo is not None:
                                att.value_bounds(("n", *key), ("s", *key), lo, hi)
                if has_p:
                    att.equal([(("n", *g, x, "P", "b"), 1.0), (("n", *g, x, "P", "r"), -1.0)])
    # Totals: partitions of the whole study and nesting, each with a rest of unknown size.
    orgs = study.organisations
    by_attr = {a: defaultdict(list) for a in ("actor", "sector", "size")}
    for name, org in orgs.items():
        for a in by_attr:
            value = getattr(org, a)
            if value:
                by_attr[a][value].append(name)
    groupings = defaultdict(set)
    for r in groups.itertuples(index=False):
        groupings[r.group_by].add(r.group)
    for m in measures:
        for x in study.round_ids:
            for q in ("n", "s"):
                whole = (q, m, "all", "all", x, "T", "")
                for gb, values in groupings.items():
                    if gb in ("all", "unit"):
                        continue
                    rest = (q, m, gb, "<rest>", x, "T", "")
                    att.equal(
                        [(whole, 1.0), (rest, -1.0)]
                        + [((q, m, gb, v, x, "T", ""), -1.0) for v in sorted(values)]
                    )
                for org, units in _units(study).items():
                    parent = (q, m, "organisation", org, x, "T", "")
                    rest = (q, m, "unit", f"{org} / <rest>", x, "T", "")
                    att.equal(
                        [(parent, 1.0), (rest, -1.0)]
                        + [((q, m, "unit", f"{org} / {u}", x, "T", ""), -1.0) for u in units]
                    )
                for attr, members in by_attr.items():
                    for value, names in members.items():
                        parent = (q, m, attr, value, x, "T", "")
                        rest = (q, m, attr, f"{value} <rest>", x, "T", "")
                        att.equal(
                            [(parent, 1.0), (rest, -1.0)]
                            + [((q, m, "organisation", o, x, "T", ""), -1.0) for o in names]
                        )
    # meta.csv: each organisation's n is its baseline plus its round respondents.
    meta = pd.read_csv(tables / "meta.csv", keep_default_na=False, na_values=[""])
    for r in meta[meta["row_type"] == "study"].itertuples(index=False):
        if not pd.isna(r.n):
            att.equal(
                [(("n", r.measure, "organisation", r.organisation, base, "T", ""), 1.0),
                 (("n", r.measure, "organisation", r.organisation, r.round, "T", ""), 1.0)],
                r.n,
            )  # fmt: skip
    return att, hidden


def true_prepost(study) -> dict[tuple, float]:
    """True n of every prepost cell (``(measure, group_by, group, round, part, side)``)."""
    from evaluation.analyse.quant.effects import prepost_table

    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    table = prepost_table(
        scores, measures=study.measures, rounds=study.round_ids, baseline=study.baseline,
        group_bys=study.group_bys, design=study.design, min_n=0,
    )  # fmt: skip
    out = {}
    for r in table.itertuples(index=False):
        part = _part(r.design, study.design)
        for side, n in (("b", r.n_baseline), ("r", r.n_round)):
            x = study.baseline if side == "b" else r.round
            key = (r.measure, r.group_by, r.group, r.round, part, side) if part != "T" else (
                r.measure, r.group_by, r.group, x, "T", "")  # fmt: skip
            out[key] = float(n)
    return out


def assert_no_small_cell_recovered(study_dir: Path) -> int:
    """Attack the published respondent tables; return the number of small cells attacked."""
    from evaluation.config import load_study

    study = load_study(study_dir)
    att, hidden = survey_attack(study, study.paths.tables)
    truth = true_prepost(study)
    attacked = 0
    for key in sorted(set(hidden)):
        n_true = truth.get(key, 0.0)
        if not 0 < n_true < study.min_n:
            continue
        attacked += 1
        n_key = ("n", *key)
        assert att.has(n_key), f"{key}: hidden but in no relation the attacker has"
        high = att.solve(n_key, +1.0)
        assert high >= study.min_n - 1e-6, f"{key}: n = {n_true} pinned below min_n ({high})"
        s_key = ("s", *key)
        if att.has(s_key):
            width = att.solve(s_key, +1.0) - att.solve(s_key, -1.0)
            assert width > 1e-6, f"{key}: the sum of its values is pinned"
    return attacked


def assert_p_adjusted_reproducible(tables: Path) -> None:
    from statsmodels.stats.multitest import multipletests

    prepost = pd.read_csv(tables / "prepost.csv", keep_default_na=False, na_values=[""])
    shown = prepost[~prepost["suppressed"] & prepost["p"].notna()]
    for name, family in shown.groupby("family"):
        if name == "primary":  # adjusted with the DiD tests in primary.csv, not here
            assert family["p_adjusted"].isna().all()
            continue
        # One test per comparison: the d_z and d_av rows share one paired t.
        tests = family.drop_duplicates(["group", "round", "test"])
        method = tests["correction"].iloc[0]
        expected = multipletests(tests["p"].to_numpy(), method=method)[1]
        got = tests["p_adjusted"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12)


def themes_attack(study, tables: Path) -> None:
    """Theme counts: partitions of the whole study into organisations, actors and
    participation, organisations into actors, coded answers within answers."""
    from evaluation.pipeline.session import study_themes

    truth = study_themes(study)
    published = pd.read_csv(tables / "themes.csv", keep_default_na=False, na_values=[""])
    att = Attacker()
    for r in published.itertuples(index=False):
        a = ("A", r.round, r.group_by, r.group)
        c = ("C", r.code, r.round, r.group_by, r.group)
        if not r.suppressed:
            att.know(a, r.n_segments)
            att.know(c, r.n_coded)
    keys = truth[["code", "round", "group_by", "group"]].drop_duplicates()
    actors = {name: org.actor for name, org in study.organisations.items()}
    for r in keys.itertuples(index=False):
        a = ("A", r.round, r.group_by, r.group)
        c = ("C", r.code, r.round, r.group_by, r.group)
        att.equal([(a, 1.0), (c, -1.0), (("N", *c[1:]), -1.0)])
    for (rnd, code), part in keys.groupby(["round", "code"]):
        for kind in ("A", "C"):
            head = ("A", rnd) if kind == "A" else ("C", code, rnd)
            whole = (*head, "all", "all")
            for gb, sub in part.groupby("group_by"):
                if gb == "all":
                    continue
                att.equal(
                    [(whole, 1.0), ((*head, gb, "<rest>"), -1.0)]
                    + [((*head, gb, g), -1.0) for g in sorted(sub["group"])]
                )
            orgs_present = set(part.loc[part["group_by"] == "organisation", "group"])
            for actor in sorted({a for a in actors.values() if a}):
                if actor not in set(part.loc[part["group_by"] == "actor", "group"]):
                    continue
                names = [o for o, a in actors.items() if a == actor and o in orgs_present]
                att.equal(
                    [((*head, "actor", actor), 1.0), ((*head, "actor", f"{actor} <rest>"), -1.0)]
                    + [((*head, "organisation", o), -1.0) for o in names]
                )
    min_n = study.min_n
    for r in truth.itertuples(index=False):
        cells = [
            (("A", r.round, r.group_by, r.group), r.n_segments),
            (("C", r.code, r.round, r.group_by, r.group), r.n_coded),
            (("N", r.code, r.round, r.group_by, r.group), r.n_segments - r.n_coded),
        ]
        for key, n in cells:
            if 0 < n < min_n:
                assert key not in att.known, f"{key}: a count of {n} is published"
                high = att.solve(key, +1.0)
                assert high >= min_n - 1e-6, f"{key}: count {n} pinned below min_n ({high})"


# --------------------------------------------------------------------------- the studies


def publish(study_dir: Path) -> None:
    """Process a study and write the tables the attacker reads (no notebooks, no reports)."""
    from evaluation.config import load_study
    from evaluation.disclosure.plan import make_plan
    from evaluation.pipeline.process import process
    from evaluation.pipeline.session import study_themes
    from tests.notebook_cells import run_cells

    study = load_study(study_dir)
    process(study)
    make_plan(study, themes=lambda: study_themes(study))
    for notebook in ("20-prepost", "40-pooling", "50-qualitative"):  # their code cells only
        run_cells(notebook, study_dir)


@pytest.fixture(scope="module")
def demo_study(shared_demo_run) -> Path:
    """The unmodified demo study (600 respondents per round), run end to end (read only)."""
    return shared_demo_run


def test_demo_no_small_cell_is_recovered_from_the_respondent_tables(demo_study):
    attacked = assert_no_small_cell_recovered(demo_study)
    assert attacked > 50  # the demo has many small groups: the attack is not vacuous


def test_demo_p_adjusted_is_reproducible_from_published_rows(demo_study):
    assert_p_adjusted_reproducible(demo_study / "reports" / "tables")


def test_demo_no_small_theme_count_is_recovered(demo_study):
    from evaluation.config import load_study

    study = load_study(demo_study)
    themes_attack(study, study.paths.tables)
    published = pd.read_csv(study.paths.tables / "themes.csv")
    shown = published[~published["suppressed"]]
    small = shown[(shown["n_coded"] > 0) & (shown["n_coded"] < study.min_n)]
    assert small.empty, "themes.csv publishes coded counts below min_n"


def test_demo_audit_summary_is_in_the_manifest(demo_study):
    import json

    manifest = json.loads((demo_study / "reports" / "manifest.json").read_text("utf-8"))
    audit = manifest["disclosure"]
    assert audit["primary"] > 0 and audit["exposed"] == 0
    assert audit["smallest_n_high"] >= 5


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    respondents=st.integers(min_value=60, max_value=260),
    seed=st.integers(min_value=0, max_value=10_000),
    design=st.sampled_from(["auto", "independent"]),
)
def test_generated_studies_leak_no_small_cell(tmp_path_factory, respondents, seed, design):
    """Small generated studies (many groups below min_n, linked codes, nested groupings)."""
    import yaml

    from evaluation.config import load_study
    from evaluation.demo.generate import write_demo

    study_dir = tmp_path_factory.mktemp("attack-generated")
    write_demo(study_dir, respondents=respondents, seed=seed)
    path = study_dir / "config" / "study.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config["design"] = design
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    publish(study_dir)
    assert_no_small_cell_recovered(study_dir)
    assert_p_adjusted_reproducible(study_dir / "reports" / "tables")
    study = load_study(study_dir)
    themes_attack(study, study.paths.tables)
