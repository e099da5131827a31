"""What each notebook computes: one function per notebook section.

Each step reads the processed data of a study, calls the pure functions of
:mod:`evaluation.analyse`, writes its tables of record to ``reports/tables/`` and returns them
for display. Notebooks call these and show the result; they hold no logic of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from evaluation.config import Study, load_labels, load_study
from evaluation.report.tables import write_table
from evaluation.safety import safe_name

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A study opened for analysis: configuration, labels and processed data (read lazily)."""

    study: Study
    labels: dict[str, str] = field(default_factory=dict)
    language: str = "fi"

    @cached_property
    def scores(self) -> pd.DataFrame:
        return pd.read_parquet(self.study.paths.processed / "scores.parquet")

    @cached_property
    def responses(self) -> pd.DataFrame:
        return pd.read_parquet(self.study.paths.processed / "responses.parquet")

    @cached_property
    def summaries(self) -> pd.DataFrame:
        return pd.read_parquet(self.study.paths.processed / "summaries.parquet")

    @property
    def has_responses(self) -> bool:
        return (self.study.paths.processed / "scores.parquet").is_file()

    def write(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Write a table of record and return it as written (disclosure control applied), so
        a notebook never shows a cell the table hides."""
        return write_table(frame, name, self.study.paths)[1]

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    @property
    def ci(self) -> float:
        """Confidence level of every interval (``analysis.ci``)."""
        return self.study.analysis.ci


def open_study(study_dir: str | Path = ".", language: str | None = None) -> Session:
    """Open a processed study (``evaluation run`` has validated and scored it)."""
    study = load_study(study_dir)
    language = language or study.language
    labels = load_labels(language, study.paths)
    # Rounds are shown by their labels from study.yaml ("T0" -> "Lähtötaso 2025").
    labels.update({r.id: r.label for r in study.rounds if r.label and r.label != r.id})
    return Session(study=study, labels=labels, language=language)


def data_quality(s: Session) -> dict[str, pd.DataFrame]:
    """Respondents and response rates, item missingness, out-of-range counts, reliability.

    Tables: ``respondents.csv``, ``missingness.csv``, ``out_of_range.csv``, ``reliability.csv``.
    """
    from evaluation.analyse.quant.quality import missingness, out_of_range, response_counts
    from evaluation.analyse.quant.reliability import reliability_table
    from evaluation.score import reverse_items

    study = s.study
    rounds = study.round_ids
    headcounts = {name: org.headcount for name, org in study.organisations.items()}
    items = {i.id: list(i.items) for i in study.instruments.values() if i.file == "responses"}
    multi_item = {k: v for k, v in items.items() if len(v) >= 2}
    limits = {
        col: (inst.range_min, inst.range_max)
        for inst in study.instruments.values()
        if inst.file == "responses"
        for col in inst.value_columns
    }
    value_columns = {
        i.id: list(i.value_columns) for i in study.instruments.values() if i.file == "responses"
    }
    if not s.has_responses:
        # Summary-statistics mode: respondents per cell are the largest n of any measure.
        cells = s.summaries.groupby(["round", "organisation", "unit"], as_index=False)["n"].max()
        counts = response_counts(
            cells, rounds=rounds, headcounts=headcounts, min_n=study.min_n, n_column="n"
        )
        return {
            "respondents": s.write(counts, "respondents"),
            "skipped": s.write(skipped_in_summary_mode(), "skipped"),
        }
    # Reliability on reverse-keyed items, as they are scored.
    keyed = s.responses.copy()
    for inst in study.instruments.values():
        if inst.file == "responses" and inst.reverse:
            keyed[list(inst.items)] = reverse_items(keyed[list(inst.items)], inst)
    return {
        "respondents": s.write(
            response_counts(s.scores, rounds=rounds, headcounts=headcounts, min_n=study.min_n),
            "respondents",
        ),
        "missingness": s.write(
            missingness(s.responses, instruments=value_columns, rounds=rounds, min_n=study.min_n),
            "missingness",
        ),
        "out_of_range": s.write(out_of_range(s.responses, limits=limits), "out_of_range"),
        "reliability": s.write(
            reliability_table(
                keyed, instruments=multi_item, rounds=rounds, min_n=study.min_n, ci=s.ci
            ),
            "reliability",
        ),
    }


SUMMARY_MODE_SKIPS = [
    ("item missingness, out-of-range counts", "missingness.csv, out_of_range.csv"),
    ("reliability (Cronbach's alpha, McDonald's omega)", "reliability.csv"),
    ("Mann-Whitney U, paired t, Wilcoxon", "prepost.csv"),
    ("trajectories, distributions, band shares", "trajectories.csv, distributions.csv, bands.csv"),
    ("mixed model, DiD, ICC, cluster-robust check", "lmm.csv"),
    ("minimum detectable effect", "power.csv"),
]


def skipped_in_summary_mode() -> pd.DataFrame:
    """What summary-statistics mode cannot compute, and why (``skipped.csv``)."""
    reason = "needs individual answers; only unit aggregates (n, mean, sd) were delivered"
    return pd.DataFrame(
        [{"analysis": a, "tables": t, "reason": reason} for a, t in SUMMARY_MODE_SKIPS]
    )


def rounds_with_data(s: Session) -> list[str]:
    """The configured rounds that have answers (or, in summary mode, aggregates), in order."""
    frame = s.scores if s.has_responses else s.summaries
    present = set(frame["round"].astype(str))
    return [r for r in s.study.round_ids if r in present]


def second_round_note(s: Session) -> str | None:
    """What a report says where an analysis compares rounds but the data hold no round besides
    the baseline yet (a study at its first round); None when there is a round to compare."""
    if any(r != s.study.baseline for r in rounds_with_data(s)):
        return None
    return s.label("needs_second_round").format(baseline=s.label(s.study.baseline))


def _figure_path(s: Session, *parts: str) -> Path:
    """``reports/figures/<part>_<part>...`` (without suffix); each part (a measure, a round
    id) made a safe file name, so no id from the configuration becomes a path."""
    return s.study.paths.figures / "_".join(safe_name(p) for p in parts)


def _banded(s: Session) -> dict[str, list[str]]:
    return {
        i.id: [b.id for b in i.bands]
        for i in s.study.instruments.values()
        if i.file == "responses" and i.bands
    }


def prepost(s: Session) -> dict[str, pd.DataFrame]:
    """Each round against the baseline, overall and by every configured grouping, plus the
    descriptive tables behind the figures.

    Tables: ``prepost.csv``, ``trajectories.csv`` (means per round by participation),
    ``distributions.csv`` (quantiles per round), ``bands.csv`` (band shares per round).
    """
    from evaluation.analyse.quant.descriptives import band_shares, round_means, round_quantiles
    from evaluation.analyse.quant.effects import prepost_table

    study = s.study
    opts = {"rounds": study.round_ids, "min_n": study.min_n}
    if not s.has_responses:
        return {"prepost": s.write(prepost_from_summaries(s), "prepost")}
    out = {
        "prepost": prepost_table(
            s.scores,
            measures=study.measures,
            baseline=study.baseline,
            group_bys=study.group_bys,
            design=study.design,
            correction=study.correction,
            ci=s.ci,
            **opts,
        ),
        "trajectories": round_means(
            s.scores, measures=study.measures, by="participant", ci=s.ci, **opts
        ),
        "distributions": round_quantiles(s.scores, measures=study.measures, **opts),
    }
    bands = [
        band_shares(s.scores, column=f"{inst}_band", bands=ids, **opts)
        for inst, ids in _banded(s).items()
    ]
    if bands:
        out["bands"] = pd.concat(bands, ignore_index=True)
    return {name: s.write(frame, name) for name, frame in out.items()}


def prepost_figures(s: Session, tables: dict[str, pd.DataFrame]) -> None:
    """Trajectory and band figures for the main measures, shown and saved."""
    from evaluation.report.display import heading, show_figure
    from evaluation.report.plots import band_plot, distribution_plot, trajectory_plot

    rounds = s.study.round_ids
    if "trajectories" not in tables:
        return
    for inst in s.study.instruments.values():
        if inst.file != "responses":
            continue
        heading(s.label(inst.id), 3)
        fig = trajectory_plot(
            tables["trajectories"], measure=inst.id, rounds=rounds, labels=s.labels
        )
        show_figure(fig, _figure_path(s, "trajectory", inst.id))
        if "distributions" in tables:
            fig = distribution_plot(
                tables["distributions"], measure=inst.id, rounds=rounds, labels=s.labels
            )
            show_figure(fig, _figure_path(s, "distribution", inst.id))
        if inst.bands and "bands" in tables:
            fig = band_plot(
                tables["bands"],
                measure=f"{inst.id}_band",
                band_order=[b.id for b in inst.bands],
                rounds=rounds,
                labels={**s.labels, f"{inst.id}_band": s.label(inst.id)},
            )
            show_figure(fig, _figure_path(s, "bands", inst.id))


def summaries_with_groups(s: Session) -> pd.DataFrame:
    """The vendor's aggregates with each organisation's ``actor``, ``sector`` and ``size`` from
    study.yaml ``organisations`` (as ``scores.parquet`` has them), so summary mode compares the
    configured groupings too; a column the aggregates carry themselves is kept as delivered."""
    frame = s.summaries.copy()
    for attr in ("actor", "sector", "size"):
        mapping = {
            str(name): getattr(org, attr)
            for name, org in s.study.organisations.items()
            if getattr(org, attr)
        }
        if attr not in frame and mapping:
            frame[attr] = frame["organisation"].astype(str).map(mapping).astype("string")
    return frame


def prepost_from_summaries(s: Session) -> pd.DataFrame:
    """Summary-statistics mode: Welch t and Hedges' g per measure x grouping x round from the
    vendor's unit aggregates (organisation and unit groupings, and the whole study)."""
    from evaluation.analyse.quant.effects import prepost_summary_table

    summaries = summaries_with_groups(s)
    return prepost_summary_table(
        summaries,
        rounds=s.study.round_ids,
        baseline=s.study.baseline,
        group_bys=[
            g
            for g in s.study.group_bys
            if g in ("all", "organisation", "unit") or g in summaries.columns
        ],
        min_n=s.study.min_n,
        correction=s.study.correction,
        ci=s.ci,
    )


def longitudinal(s: Session) -> dict[str, pd.DataFrame]:
    """Mixed model over all rounds (means, DiD, ICC), the cluster-robust OLS check with a wild
    cluster bootstrap, and the next round's minimum detectable effects.

    Tables: ``lmm.csv``, ``power.csv``.
    """
    from evaluation.analyse.quant.longitudinal import (
        cluster_robust_check,
        empty_lmm_table,
        lmm_table,
    )
    from evaluation.analyse.quant.power import power_table

    study = s.study
    measures = [i.id for i in study.instruments.values() if i.file == "responses"]
    covariates = list(study.analysis.covariates)
    frames = []
    # The mixed model compares rounds: with the baseline only (a study at its first round) its
    # table has no rows and the notebook says why; the power for the next round is computed.
    compared = len(rounds_with_data(s)) >= 2
    for measure in measures if compared else []:
        frames.append(
            lmm_table(
                s.scores,
                measure=measure,
                rounds=study.round_ids,
                baseline=study.baseline,
                covariates=covariates,
                min_n=study.min_n,
                ci=s.ci,
            )
        )
        frames.append(
            cluster_robust_check(
                s.scores,
                measure=measure,
                rounds=study.round_ids,
                baseline=study.baseline,
                n_boot=study.analysis.bootstrap_reps,
                seed=study.seed,
                min_n=study.min_n,
                ci=s.ci,
            )
        )
    lmm = pd.concat(frames, ignore_index=True) if frames else empty_lmm_table()
    icc_rows = lmm[(lmm["term"] == "icc") & lmm["model"].str.startswith("mixedlm")]
    icc = {
        m: float(v)
        for m, v in icc_rows.groupby("measure")["estimate"].first().items()
        if pd.notna(v)
    }
    power = power_table(
        s.scores,
        measures=measures,
        rounds=study.round_ids,
        baseline=study.baseline,
        group_bys=[g for g in study.group_bys if g in ("all", "actor", "sector", "participant")],
        icc=icc,
        alpha=study.analysis.alpha,
        min_n=study.min_n,
    )
    return {"lmm": s.write(lmm, "lmm"), "power": s.write(power, "power")}


def _meta_options(s: Session) -> dict:
    study = s.study
    # Rounds declared but not delivered yet have no effects to pool: no rows of empty cells.
    present = rounds_with_data(s)
    return {
        "measures": [i.id for i in study.instruments.values() if i.file == "responses"],
        "rounds": present if study.baseline in present else study.round_ids,
        "baseline": study.baseline,
        "min_n": study.min_n,
        "methods": study.analysis.meta_methods,
        "ci": s.ci,
    }


def pooling(s: Session) -> dict[str, pd.DataFrame]:
    """Per-organisation Hedges' g pooled by random-effects meta-analysis (DL, PM, REML), with a
    forest plot per measure and round. Table: ``meta.csv``."""
    from evaluation.analyse.quant.pooling import meta_from_summaries, meta_table

    opts = _meta_options(s)
    if s.has_responses:
        meta = meta_table(s.scores, **opts)
    else:
        meta = meta_from_summaries(s.summaries, **opts)
    return {"meta": s.write(meta, "meta")}


def pooling_figures(s: Session, meta: pd.DataFrame) -> None:
    from evaluation.report.display import heading, show_figure
    from evaluation.report.plots import forest_plot

    for measure in meta["measure"].unique():
        heading(s.label(measure), 3)
        for rnd in [r for r in s.study.round_ids if r != s.study.baseline]:
            if not (meta["round"] == rnd).any():
                continue
            fig = forest_plot(
                meta, measure=measure, round=rnd, labels=s.labels, baseline=s.study.baseline
            )
            show_figure(fig, _figure_path(s, "forest", measure, rnd))


def indicators(s: Session) -> dict[str, pd.DataFrame]:
    """The plan's indicators against their targets (``targets:`` in study.yaml), from the
    activity records and the training feedback. Table: ``indicators.csv``."""
    from evaluation.analyse.quant.indicators import indicators_table

    study = s.study
    sources = {
        key: pd.read_parquet(study.paths.processed / f"{key}.parquet")
        for key in ("activities", "feedback")
        if (study.paths.processed / f"{key}.parquet").is_file()
    }
    table = indicators_table(
        [t.spec() for t in study.targets],
        rounds=study.round_ids,
        organisations=dict(study.organisations) or None,
        min_n=study.min_n,
        **sources,
    )
    return {"indicators": s.write(table, "indicators")}


def indicator_figures(s: Session, table: pd.DataFrame) -> None:
    from evaluation.report.display import show_figure
    from evaluation.report.plots import indicator_plot

    show_figure(indicator_plot(table, labels=s.labels), _figure_path(s, "indicators"))


# -------------------------------------------------------------------------------------------
# Qualitative material (notebooks 50-qualitative and 60-joint-display)
# -------------------------------------------------------------------------------------------


def _processed(s: Session, name: str) -> pd.DataFrame | None:
    path = s.study.paths.processed / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None


if TYPE_CHECKING:
    from evaluation.disclosure.pseudonyms import Pseudonyms


@dataclass
class Qualitative:
    """The qualitative inputs of a study, read once: human codings, open answers, codebook,
    keyword suggestions and the study's redactor."""

    codings: pd.DataFrame  # real coder and document names: data/processed/ only
    answers: pd.DataFrame
    codebook: pd.DataFrame
    suggestions: pd.DataFrame
    include_suggestions: bool
    redact: Callable[[object], str]
    pseudonyms: Pseudonyms
    public: pd.DataFrame  # the codings with coders and documents pseudonymised

    @property
    def used(self) -> pd.DataFrame:
        """The codings prevalence and quotes use: human, plus suggestions only if asked
        (coders and documents pseudonymised: everything computed from them is published)."""
        if not self.include_suggestions:
            return self.public
        return pd.concat([self.public, self.suggestions], ignore_index=True)


def qualitative_inputs(s: Session) -> Qualitative | None:
    """None when the study has no codings (the notebooks then say so)."""
    from evaluation.analyse.qual.suggest import suggest_codes
    from evaluation.disclosure.pseudonyms import pseudonyms
    from evaluation.disclosure.redact import study_redactor
    from evaluation.io.codings import codebook_labels, load_codebook

    codings = _processed(s, "codings")
    if codings is None or codings.empty:
        return None
    answers = _processed(s, "open_answers")
    if answers is None:
        answers = pd.DataFrame(columns=["answer_id", "round", "organisation", "text"])
    codebook = load_codebook(s.study)
    s.labels.update(codebook_labels(codebook, s.language))
    texts = answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
    redactor = study_redactor(s.study, s.labels)
    names = pseudonyms(codings, answers["answer_id"], labels=s.labels)
    return Qualitative(
        codings=codings,
        answers=answers,
        codebook=codebook,
        # redacted in the original letter case before words are lower-cased (evidence)
        suggestions=suggest_codes(texts, codebook, redact=redactor.words_only),
        include_suggestions=s.study.analysis.qualitative.include_suggestions,
        redact=redactor,
        pseudonyms=names,
        public=names.apply(codings),
    )


def _actors(s: Session) -> dict[str, str]:
    return {name: org.actor for name, org in s.study.organisations.items() if org.actor}


def _themes(s: Session, q: Qualitative) -> pd.DataFrame:
    from evaluation.analyse.qual.themes import theme_prevalence

    study = s.study
    return theme_prevalence(
        q.used, q.answers, actors=_actors(s), rounds=study.round_ids, baseline=study.baseline,
        min_n=study.min_n,
    )  # fmt: skip


def _quotes(s: Session, q: Qualitative, *, by_organisation: bool) -> pd.DataFrame:
    from evaluation.analyse.qual.themes import quotes

    study = s.study
    return quotes(
        q.used, q.answers, actors=_actors(s), rounds=study.round_ids, min_n=study.min_n,
        seed=study.seed, redact=q.redact, by_organisation=by_organisation,
    )  # fmt: skip


def _small_group_segments(s: Session, q: Qualitative) -> set[str]:
    """Answers from organisation × round groups below min_n: their text is never shown."""
    a = q.answers
    if a.empty:
        return set()
    size = a.groupby(["organisation", "round"])["answer_id"].transform("count")
    return set(a.loc[size < s.study.min_n, "answer_id"])


def qualitative(s: Session) -> dict[str, pd.DataFrame]:
    """Inter-coder reliability, the disagreements to reconcile, keyword suggestions and their
    quality, theme prevalence and representative quotes.

    Tables: ``icr.csv``, ``disagreements.csv``, ``suggestions.csv``,
    ``suggestion_quality.csv``, ``themes.csv``, ``quotes.csv``. Also writes
    ``data/processed/coding-project.qdpx`` (codebook, answers, codings, suggestions) for coders
    to open in their own tool; it holds the answers' text and so stays out of ``reports/``.
    """
    from evaluation.analyse.qual.icr import disagreements, icr_table
    from evaluation.analyse.qual.suggest import suggestion_quality
    from evaluation.io.files import atomic_path
    from evaluation.io.qdpx import export_qdpx

    q = qualitative_inputs(s)
    if q is None:
        return {}
    study = s.study
    reps = study.analysis.bootstrap_reps
    icr = icr_table(
        q.used, reps=reps, seed=study.seed, ci=s.ci, include_suggestions=q.include_suggestions
    )
    small = _small_group_segments(s, q)
    dis = disagreements(q.used, include_suggestions=q.include_suggestions)
    dis["text"] = [
        "" if seg in small else q.redact(text)
        for seg, text in zip(dis["segment"], dis["text"], strict=True)
    ]
    suggestions = q.suggestions.assign(evidence=q.suggestions["evidence"].map(q.redact))
    texts = q.answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
    # the key of the pseudonyms, for the team: beside the processed data, never in reports/
    key = q.pseudonyms.key()
    with atomic_path(study.paths.processed / "pseudonyms.csv") as tmp:
        key.to_csv(tmp, index=False, lineterminator="\n")
    export_qdpx(
        study.paths.processed / "coding-project.qdpx",
        q.codebook,
        texts,
        pd.concat([q.codings, q.suggestions], ignore_index=True),
        language=study.language,
        project=study.name,
    )
    out = {
        "icr": icr,
        "disagreements": dis,
        "suggestions": suggestions,
        "suggestion_quality": suggestion_quality(q.suggestions, q.public),
        "themes": _themes(s, q),
        "quotes": _quotes(s, q, by_organisation=False),
    }
    return {name: s.write(frame, name) for name, frame in out.items()}


def theme_figures(s: Session, themes: pd.DataFrame) -> None:
    """Heatmap of theme prevalence (whole study, themes × rounds)."""
    from evaluation.report.display import note, show_figure
    from evaluation.report.plots import theme_heatmap

    shown = themes[themes["group_by"] == "all"]
    if not pd.to_numeric(shown["share"], errors="coerce").notna().any():
        # every share hidden (small groups): no empty heatmap, but the reason in words
        note(s.label("themes_all_hidden").format(min_n=s.study.min_n))
        return
    fig = theme_heatmap(themes, rounds=s.study.round_ids, labels=s.labels)
    show_figure(fig, _figure_path(s, "themes", "heatmap"), alt=s.label("themes_heatmap_alt"))


def joint(s: Session) -> dict[str, pd.DataFrame]:
    """The joint display: per organisation and round, the change in the headline measures next
    to the most prevalent themes and a quote, with a meta-inference. Table:
    ``joint_display.csv``. Computed here from the same functions as ``meta.csv`` and
    ``themes.csv``, so this notebook runs independently of the others."""
    from evaluation.analyse.qual.joint import joint_display
    from evaluation.analyse.quant.pooling import meta_table
    from evaluation.disclosure.rules import protect  # as on write: themes.csv gets the same

    q = qualitative_inputs(s)
    if q is None or not s.has_responses:
        return {}
    study = s.study
    opts = _meta_options(s)
    measures = [m for m in study.headline_measures if m in opts["measures"]] or opts["measures"][:2]
    # As meta.csv and themes.csv are written: the same plan hides the same cells here.
    meta = protect(meta_table(s.scores, **opts), "meta", study.paths.processed)
    themes = protect(_themes(s, q), "themes", study.paths.processed)
    tone = dict(zip(q.codebook["id"], q.codebook["tone"], strict=True))
    table = joint_display(
        meta, themes, _quotes(s, q, by_organisation=True), measures=measures,
        rounds=study.round_ids, baseline=study.baseline, tone=tone, labels=s.labels,
    )  # fmt: skip
    return {"joint_display": s.write(table, "joint_display")}


def study_themes(study: Study) -> pd.DataFrame | None:
    """themes.csv before suppression, as the qualitative notebook computes it (None without
    codings)."""
    if not (study.paths.processed / "codings.parquet").is_file():
        return None
    s = open_study(study.paths.root)
    q = qualitative_inputs(s)
    return None if q is None else _themes(s, q)
