"""Theme prevalence, quotes and the joint display."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.qual.joint import meta_inference, qual_direction, quant_direction
from evaluation.analyse.qual.themes import choose_quote, quotes, theme_prevalence
from evaluation.demo.generate import PLANTED_PII
from evaluation.disclosure.redact import redact
from evaluation.disclosure.rules import protect
from evaluation.pipeline import session as steps

ACTORS = {"A": "X", "B": "X", "C": "Y"}


def _data(sizes: dict[tuple[str, str], int], theme_share: float = 0.5):
    """Answers per (organisation, round); the first ``theme_share`` of each get theme 'w'."""
    answers, codings = [], []
    for (org, rnd), n in sizes.items():
        for i in range(n):
            seg = f"{org}{rnd}{i:03d}"
            answers.append((seg, rnd, org, i % 2, f"Vastaus {'x' * (i + 1)}"))
            code = "w" if i < round(n * theme_share) else "d"
            for coder in ("a", "b"):
                codings.append((seg, coder, code, "human"))
    a = pd.DataFrame(answers, columns=["answer_id", "round", "organisation", "participant", "text"])
    c = pd.DataFrame(codings, columns=["segment", "coder", "code", "source"])
    return c, a


def test_prevalence_by_hand_with_change_and_suppression():
    codings, answers = _data({("A", "T0"): 10, ("A", "T1"): 10, ("C", "T0"): 3, ("C", "T1"): 8})
    codings.loc[codings["segment"].str.startswith("AT1") & (codings["code"] == "d"), "code"] = "w"
    raw = theme_prevalence(
        codings, answers, actors=ACTORS, rounds=["T0", "T1"], baseline="T0", min_n=5
    )
    out = raw.set_index(["code", "group_by", "group", "round"])
    assert out.loc[("w", "organisation", "A", "T0"), "share"] == 0.5
    assert out.loc[("w", "organisation", "A", "T1"), "share"] == 1.0
    assert out.loc[("w", "organisation", "A", "T1"), "change"] == pytest.approx(0.5)
    whole = out.loc[("w", "all", "all", "T0")]
    assert whole["n_segments"] == 13 and whole["n_coded"] == 5 + 2
    # C has 3 coded answers at baseline: a primary cell, marked here and emptied as the table
    # is written; its baseline share cannot leak through the change column of T1.
    assert out.loc[("w", "organisation", "C", "T0"), "suppressed"]
    written = protect(raw, "themes").set_index(["code", "group_by", "group", "round"])
    assert np.isnan(written.loc[("w", "organisation", "C", "T0"), "share"])
    assert np.isnan(written.loc[("w", "organisation", "C", "T1"), "change"])
    # A code applied to 1..4 answers is primary too: no published count below min_n.
    shown = written[~written["suppressed"]]
    assert not ((shown["n_coded"] > 0) & (shown["n_coded"] < 5)).any()


def test_suggestions_do_not_count_unless_included():
    codings, answers = _data({("A", "T0"): 10})
    noise = codings.drop_duplicates("segment").assign(coder="suggestion", source="suggestion",
                                                      code="z")  # fmt: skip
    opts = {"actors": ACTORS, "rounds": ["T0"], "baseline": "T0", "min_n": 5}
    human_only = theme_prevalence(codings, answers, **opts)
    with_noise = theme_prevalence(pd.concat([codings, noise]), answers, **opts)
    pd.testing.assert_frame_equal(human_only, with_noise)


def test_quotes_are_deterministic_redacted_and_never_from_small_groups():
    codings, answers = _data({("A", "T0"): 9, ("B", "T0"): 4})
    answers.loc[answers["organisation"] == "B", "text"] = "Pieni ryhmä, soita 040 123 4567"
    answers.loc[0, "text"] = "Soita 040 123 4567 heti"
    opts = {"actors": ACTORS, "rounds": ["T0"], "min_n": 5, "seed": 1, "redact": redact}
    first = quotes(codings, answers, **opts)
    pd.testing.assert_frame_equal(first, quotes(codings, answers, **opts))
    assert set(first["organisation"]) == {"A"}  # B has 4 answers: never quoted
    assert not first["quote"].str.contains("040").any()
    by_org = quotes(codings, answers, by_organisation=True, **opts)
    assert set(by_org["organisation"]) == {"A"}


def test_the_representative_quote_is_closest_to_the_median_length():
    candidates = pd.DataFrame(
        {"segment": ["s1", "s2", "s3"], "text": ["a", "abcde", "abcdefghijkl"], "n_coders": 2}
    )
    assert choose_quote(candidates, seed=3)["segment"] == "s2"
    # Answers both coders agreed on come first.
    agreed = candidates.assign(n_coders=[2, 1, 2])
    assert choose_quote(agreed, seed=3)["segment"] in {"s1", "s3"}


@pytest.mark.parametrize(
    ("lows", "highs", "expected"),
    [
        ([0.1, -0.2], [0.6, 0.3], "positive"),
        ([-0.9, -0.2], [-0.1, 0.3], "negative"),
        ([0.1, -0.9], [0.6, -0.1], "unclear"),
        ([-0.1], [0.3], "unclear"),
    ],
)
def test_quantitative_direction(lows, highs, expected):
    assert quant_direction(lows, highs) == expected


def test_qualitative_direction_and_meta_inference_rule():
    tone = {"w": "problem", "d": "resource"}
    assert qual_direction({"w": -0.10, "d": 0.0}, tone) == "positive"
    assert qual_direction({"w": 0.02, "d": 0.0}, tone) == "unclear"
    assert qual_direction({"w": 0.0, "d": -0.2}, tone) == "negative"
    assert meta_inference("positive", "positive") == "confirms"
    assert meta_inference("positive", "negative") == "diverges"
    assert meta_inference("unclear", "positive") == "expands"
    assert meta_inference("unclear", "unclear") == "inconclusive"
    assert meta_inference(None, "positive") == "insufficient"


QUALITATIVE_TABLES = (
    "icr",
    "disagreements",
    "suggestions",
    "suggestion_quality",
    "themes",
    "quotes",
)


@pytest.fixture(scope="module")
def demo_session(shared_demo_run):
    """The demo study (600 respondents) after `evaluation run`: its session, and the qualitative,
    joint-display and meta-analysis tables of record that the notebooks wrote (read only)."""
    tables = shared_demo_run / "reports" / "tables"

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(tables / f"{name}.csv", keep_default_na=False, na_values=[""])

    qual = {name: read(name) for name in QUALITATIVE_TABLES}
    return steps.open_study(shared_demo_run), qual, read("joint_display"), read("meta")


def test_joint_display_effects_are_the_meta_rows(demo_session):
    _s, _qual, joint, meta = demo_session
    shown = joint[~joint["suppressed"].astype(bool)]
    assert len(shown) >= 5
    study = meta[meta["row_type"] == "study"].set_index(["organisation", "round", "measure"])
    for rec in shown.to_dict("records"):
        for m in ("qwl", "esis"):
            row = study.loc[(rec["organisation"], rec["round"], m)]
            assert rec[f"{m}_g"] == pytest.approx(row["effect_size"])
            assert rec[f"{m}_ci_low"] == pytest.approx(row["ci_low"])


def test_joint_display_rows_are_complete_or_fully_suppressed(demo_session):
    _s, _qual, joint, _meta = demo_session
    hidden = joint[joint["suppressed"].astype(bool)]
    assert (hidden["meta_inference"] == "insufficient").all()
    assert hidden[["themes", "quote", "qwl_g"]].isna().all().all()
    shown = joint[~joint["suppressed"].astype(bool)]
    assert shown["meta_inference"].isin(["confirms", "expands", "diverges", "inconclusive"]).all()


def test_no_planted_personal_data_in_any_qualitative_table(demo_session):
    _s, qual, joint, _meta = demo_session
    planted = [v for values in PLANTED_PII.values() for v in values]
    planted += " ".join(PLANTED_PII["name"]).split()
    for name, frame in {**qual, "joint_display": joint}.items():
        text = frame.to_csv(index=False)
        assert not [p for p in planted if p in text], name
