"""Summary-statistics mode (issue 18, item 5): the vendor's band counts (``band_<id>`` columns
of summaries.csv), exact pooling of unit aggregates into every configured grouping, and the
disclosure of the pooled groups' counts (an actor's n minus its organisations' n).

The truth is always the individual answers: a demo study is scored, aggregated per unit as a
vendor would (n, mean, SD and the count in each QWL band) and the aggregates are analysed as a
summary-mode study; every pooled statistic must equal the one computed from the answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from evaluation.analyse.quant.descriptives import band_rows_from_summaries, band_shares
from evaluation.analyse.quant.effects import combine_cells, prepost_summary_table, prepost_table
from evaluation.config import load_study
from evaluation.errors import DataError
from evaluation.pipeline.process import process

BANDS = ["very_much_to_develop", "much_to_develop", "some_to_develop", "excellent"]
SPLITS = ["participant", "role"]


def vendor_aggregates(scores: pd.DataFrame, splits: list[str] = ()) -> pd.DataFrame:
    """Per round x organisation x unit (x splits) and measure: n, mean, sd; band counts on
    the ``qwl`` rows, as the QWL vendor reports them."""
    keys = ["round", "organisation", "unit", *splits]
    frames = []
    for measure in ("qwl", "esis"):
        part = scores.dropna(subset=[measure])
        stats_ = part.groupby(keys, observed=True)[measure].agg(n="size", mean="mean", sd="std")
        stats_ = stats_.reset_index().assign(measure=measure)
        if measure == "qwl":
            counts = pd.crosstab([part[k] for k in keys], part["qwl_band"].astype(str)).reindex(
                columns=BANDS, fill_value=0
            )
            counts.columns = [f"band_{b}" for b in counts.columns]
            stats_ = stats_.merge(counts.reset_index(), on=keys, how="left")
        frames.append(stats_)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo study scored from its answers, and its aggregates as summaries.csv."""
    from evaluation.demo.generate import write_demo

    root = tmp_path_factory.mktemp("summary-demo")
    write_demo(root, respondents=160, seed=11)
    study = load_study(root)
    process(study)
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    return root, scores


def as_summary_study(root, summaries: pd.DataFrame) -> None:
    """Turn the study at ``root`` into a summary-mode study reading ``summaries``."""
    raw = root / "data" / "raw"
    summaries.to_csv(raw / "summaries.csv", index=False)
    path = root / "config" / "study.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config["data"] = {"summaries": "data/raw/summaries.csv"}
    config["instruments"] = ["qwl", "esis"]
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")


# --------------------------------------------------------------------------- exact pooling


def test_pooled_groupings_equal_the_individual_welch_rows(demo):
    """Units (split by participant and role) pooled into actors, sectors, sizes,
    organisations, participation, roles and the whole study give the Welch t and Hedges' g of
    the individual answers to 1e-10."""
    _, scores = demo
    scores = scores.assign(
        participant=scores["participant"].astype("Int64").astype("string"),
        role=scores["role"].astype("string"),
    ).dropna(subset=SPLITS)
    cells = vendor_aggregates(scores, SPLITS)
    for attr in ("actor", "sector", "size"):
        cells[attr] = cells["organisation"].map(
            scores.drop_duplicates("organisation").set_index("organisation")[attr]
        )
    group_bys = ["all", "actor", "sector", "size", "organisation", "unit", *SPLITS]
    kw = {"rounds": ["T0", "T1", "T2", "T3"], "baseline": "T0", "group_bys": group_bys,
          "min_n": 0}  # fmt: skip
    got = prepost_summary_table(cells, measures=["qwl", "esis"], **kw)
    ind = prepost_table(scores, measures=["qwl", "esis"], design="independent", **kw)
    expected = ind[ind["test"] == "welch_t"].reset_index(drop=True)
    assert set(got["group_by"]) == set(group_bys)
    assert len(got) == len(expected) > 100
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-10, atol=1e-10)


@given(
    st.lists(
        st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=12),
        min_size=1,
        max_size=8,
    )
)
def test_combine_cells_equals_the_pooled_answers(parts):
    """N = sum n, M = sum n m / N, SD^2 = (sum (n-1) s^2 + sum n (m - M)^2) / (N - 1)."""
    arrays = [np.asarray(p) for p in parts]
    n = np.array([len(a) for a in arrays], dtype=float)
    m = np.array([a.mean() for a in arrays])
    sd = np.array([a.std(ddof=1) if len(a) > 1 else np.nan for a in arrays])
    every = np.concatenate(arrays)
    big_n, mean, s = combine_cells(n, m, sd)
    assert big_n == len(every)
    assert mean == pytest.approx(every.mean(), abs=1e-9)
    if len(every) > 1:
        assert s == pytest.approx(every.std(ddof=1), abs=1e-7)


# --------------------------------------------------------------------------- band counts


def test_band_counts_give_the_band_table_of_the_answers(demo):
    _, scores = demo
    cells = vendor_aggregates(scores)
    kw = {"bands": BANDS, "rounds": ["T0", "T1", "T2", "T3"], "min_n": 5,
          "group_bys": ["all", "organisation"]}  # fmt: skip
    rows = band_rows_from_summaries(cells, measure="qwl", bands=BANDS)
    assert len(rows) == int(scores["qwl_band"].notna().sum())
    got = band_shares(rows, column="qwl_band", **kw)
    expected = band_shares(scores, column="qwl_band", **kw)
    pd.testing.assert_frame_equal(got, expected)
    assert got["n_band"].notna().any() and got["suppressed"].any()


HEAD = "round,organisation,unit,measure,n,mean,sd"


def _study_with(tmp_path, body: str):
    from tests.conftest import STUDY_YAML

    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    text = STUDY_YAML.replace(
        "responses: data/raw/responses.csv", "summaries: data/raw/summaries.csv"
    )
    (tmp_path / "config" / "study.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "data" / "raw" / "summaries.csv").write_text(body, encoding="utf-8")
    return load_study(tmp_path)


def test_malformed_band_counts_are_named_by_file_row_and_column(tmp_path):
    bands = ",".join(f"band_{b}" for b in BANDS)
    body = (
        f"{HEAD},{bands},band_superb\n"
        "T0,Org A,Ward 1,qwl,12,60.1,10.2,1,5,4,2,\n"  # fine
        "T0,Org A,Ward 2,qwl,10,60.1,10.2,1,5,4,1,\n"  # adds up to 11, not 10
        "T1,Org A,Ward 1,qwl,11,66.0,9.8,-1,6,4,2,\n"  # negative
        "T1,Org A,Ward 2,qwl,9,66.0,9.8,1.5,3.5,2,2,\n"  # not whole
        "T1,Org A,Ward 2,esis,9,3.9,0.5,1,3,3,2,\n"  # bands on another measure
        "T1,Org A,Ward 3,qwl,9,66.0,9.8,,,,,\n"  # usable cell without counts
        "T1,Org A,Ward 4,qwl,9,66.0,9.8,1,,,,\n"  # partly given
    )
    with pytest.raises(DataError) as info:
        process(_study_with(tmp_path, body))
    p = info.value.problems
    found = set(zip(p["row"], p["column"], strict=True))
    assert (1, "band_superb") in found  # unknown band id: the header row
    assert (3, ", ".join(f"band_{b}" for b in BANDS)) in found
    assert (4, "band_very_much_to_develop") in found
    assert {(5, "band_very_much_to_develop"), (5, "band_much_to_develop")} <= found
    assert (6, "band_very_much_to_develop") in found
    assert (7, "band_very_much_to_develop") in found and (8, "band_very_much_to_develop") in found
    assert not any(r == 2 for r, _ in found)
    assert set(p["file"]) <= {"summaries.csv"} and "superb" in str(info.value)


def test_band_counts_are_optional_and_a_suppressed_cell_needs_none(tmp_path):
    bands = ",".join(f"band_{b}" for b in BANDS)
    body = (
        f"{HEAD},{bands}\n"
        "T0,Org A,Ward 1,qwl,12,60.1,10.2,1,5,4,2\n"
        "T0,Org A,Ward 2,qwl,3,,,,,,\n"  # suppressed by the vendor: left out, no counts
        "T0,Org A,Ward 1,esis,12,3.9,0.5,,,,\n"
    )
    written = process(_study_with(tmp_path, body))
    frame = pd.read_parquet(written["summaries"])
    assert frame["band_excellent"].tolist()[:1] == [2.0]


# --------------------------------------------------------------------------- disclosure


def _publish(root) -> None:
    from evaluation.disclosure.plan import make_plan
    from tests.notebook_cells import run_cells

    study = load_study(root)
    process(study)
    make_plan(study)
    run_cells("20-prepost", root)


@pytest.mark.slow
def test_an_actor_minus_its_organisations_reveals_no_hidden_count(tmp_path):
    """An actor with one large and one small organisation: the small one's n is hidden in
    prepost.csv and bands.csv, and neither the actor's pooled n minus the large one's, nor the
    whole study's bands minus the others', nor any linear combination of the published counts
    pins it below min_n."""
    from tests.test_disclosure_attack import survey_attack

    cells = []
    rng = np.random.default_rng(3)
    # Band counts per unit: every organisation's and the whole study's bands are >= min_n
    # except Org B's (3 respondents), so plain subtraction would reveal Org B's bands.
    counts = {("Org A", "Ward 1"): [3, 4, 4, 3], ("Org A", "Ward 2"): [3, 4, 2, 3],
              ("Org B", "Team"): [0, 1, 1, 1], ("Org C", "Unit"): [5, 7, 6, 6]}  # fmt: skip
    for rnd in ("T0", "T1"):
        for (org, unit), bands in counts.items():
            by_band = {f"band_{b}": c for b, c in zip(BANDS, bands, strict=True)}
            cells.append({"round": rnd, "organisation": org, "unit": unit, "measure": "qwl",
                          "n": sum(bands), "mean": float(rng.normal(62, 3)), "sd": 9.0,
                          **by_band})  # fmt: skip
    from tests.conftest import STUDY_YAML

    root = tmp_path
    (root / "config").mkdir()
    (root / "data" / "raw").mkdir(parents=True)
    config = yaml.safe_load(STUDY_YAML)
    config["instruments"] = ["qwl"]
    config["data"] = {"summaries": "data/raw/summaries.csv"}
    config["analysis"] = {"group_by": ["all", "actor", "organisation"]}
    config["organisations"] = {
        "Org A": {"actor": "Actor 1", "units": {"Ward 1": 20, "Ward 2": 20}},
        "Org B": {"actor": "Actor 1", "units": {"Team": 5}},
        "Org C": {"actor": "Actor 2", "units": {"Unit": 20}},
    }
    (root / "config" / "study.yaml").write_text(yaml.safe_dump(config), "utf-8")
    pd.DataFrame(cells).to_csv(root / "data" / "raw" / "summaries.csv", index=False)
    _publish(root)
    study = load_study(root)
    tables = study.paths.tables
    prepost = pd.read_csv(tables / "prepost.csv")
    org_b = prepost[prepost["group"].eq("Org B")]
    assert len(org_b) and org_b["suppressed"].all()
    actor_1 = prepost[prepost["group"].eq("Actor 1")]
    org_a = prepost[prepost["group"].eq("Org A")]
    # the plain subtraction: not both of the actor's and Org A's n may be published
    assert actor_1["suppressed"].all() or org_a["suppressed"].all()
    # every linear combination (trajectories/distributions are not written in summary mode)
    for name in ("trajectories", "distributions"):
        pd.DataFrame(columns=["measure", "round", "group_by", "group", "n", "mean"]).to_csv(
            tables / f"{name}.csv", index=False
        )
    pd.DataFrame(columns=["measure", "round", "row_type", "organisation", "n"]).to_csv(
        tables / "meta.csv", index=False
    )
    att, _hidden = survey_attack(study, tables)
    for rnd in ("T0", "T1"):
        key = ("n", "qwl", "organisation", "Org B", rnd, "T", "")
        assert att.has(key) and att.solve(key, +1.0) >= study.min_n - 1e-6
    # bands: Org B's band counts are hidden, and no linear combination of the published band
    # counts, band totals and prepost n pins a small one below min_n
    bands = pd.read_csv(tables / "bands.csv")
    assert bands.loc[bands["group"].eq("Org B"), "suppressed"].all()
    # the plan models the vendor's band counts: a group's bands add up to its respondents
    from evaluation.disclosure.plan import build_summary_model

    model = build_summary_model(study, pd.read_parquet(study.paths.processed / "summaries.parquet"))
    b_cells = model.cells[model.cells.index.str.startswith("B|qwl_band|T0|organisation|Org A|")]
    assert sorted(b_cells["n"]) == [6, 6, 6, 8]
    assert bands_attack(bands, prepost, counts, study.min_n) > 0


def bands_attack(bands: pd.DataFrame, prepost: pd.DataFrame, counts: dict, min_n: int) -> int:
    """An LP attacker of bands.csv (and the prepost n): a group's bands add up to its n, the
    organisations' bands to the whole study's; returns how many small cells it attacked."""
    from tests.test_disclosure_attack import Attacker

    att = Attacker()
    orgs = sorted({o for o, _ in counts})
    for r in bands.itertuples(index=False):
        if not pd.isna(r.n_band):
            att.know(("B", r.round, r.group, r.band), r.n_band)
        if not pd.isna(r.n_round):
            att.know(("N", r.round, r.group), r.n_round)
    for r in prepost.itertuples(index=False):
        if r.group_by in ("all", "organisation") and not r.suppressed:
            att.know(("N", r.round, r.group), r.n_round)
            att.know(("N", r.baseline, r.group), r.n_baseline)
    truth: dict[tuple, int] = {}
    for rnd in ("T0", "T1"):
        for k, band in enumerate(BANDS):
            per_org = {o: sum(c[k] for (oo, _), c in counts.items() if oo == o) for o in orgs}
            truth.update({("B", rnd, o, band): v for o, v in per_org.items()})
            att.equal([(("B", rnd, "all", band), 1.0)]
                      + [(("B", rnd, o, band), -1.0) for o in orgs])  # fmt: skip
        for group in ["all", *orgs]:
            att.equal([(("N", rnd, group), 1.0)]
                      + [(("B", rnd, group, b), -1.0) for b in BANDS])  # fmt: skip
        att.equal([(("N", rnd, "all"), 1.0)] + [(("N", rnd, o), -1.0) for o in orgs])
    attacked = 0
    for key, n in truth.items():
        if 0 < n < min_n:
            attacked += 1
            assert key not in att.known, f"{key}: a count of {n} is published"
            high = att.solve(key, +1.0)
            assert high >= min_n - 1e-6, f"{key}: count {n} pinned below min_n ({high})"
    return attacked


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_summary_mode_study_with_band_counts_runs_end_to_end(demo, tmp_path):
    """The demo's answers delivered as unit aggregates with band counts: every grouping of
    analysis.group_by that aggregates can give is compared, bands.csv is written with the
    organisations' bands, the band figure is drawn, and the organisation reports show them."""
    import shutil

    from evaluation.pipeline.run import run

    source, scores = demo
    root = tmp_path / "study"
    shutil.copytree(source / "config", root / "config")
    (root / "data" / "raw").mkdir(parents=True)
    as_summary_study(root, vendor_aggregates(scores))
    run(root, jobs=1, language="fi")
    tables = root / "reports" / "tables"
    prepost = pd.read_csv(tables / "prepost.csv")
    assert {"all", "actor", "organisation", "unit", "sector", "size"} <= set(prepost["group_by"])
    bands = pd.read_csv(tables / "bands.csv")
    shown = bands[~bands["suppressed"] & bands["group_by"].eq("organisation")]
    assert len(shown) and set(bands["measure"]) == {"qwl_band"}
    skipped = pd.read_csv(tables / "skipped.csv")
    assert not skipped["tables"].str.contains("bands.csv").any()
    assert list((root / "reports" / "figures").glob("bands_qwl*.svg"))
    from evaluation.paths import DEFAULT_LABELS

    labels = yaml.safe_load((DEFAULT_LABELS / "fi.yaml").read_text("utf-8"))
    page = (root / "reports" / "html" / "20-prepost.html").read_text(encoding="utf-8")
    assert labels["fig_bands_alt"].format(measure=labels["qwl"]) in page  # the band figure
    html = root / "reports" / "html" / "fi"
    consortium = (html / "consortium.html").read_text("utf-8")
    actors = prepost.loc[prepost["group_by"].eq("actor") & ~prepost["suppressed"], "group"]
    assert any(str(a) in consortium for a in actors)  # the pooled actor rows
    org = str(shown["group"].iloc[0])
    pages = [p.read_text("utf-8") for p in html.glob("organisation-*.html")]
    own = [p for p in pages if org in p]
    assert own and all(labels["rep_own_bands"] in p for p in own)  # its bands beside the study's
