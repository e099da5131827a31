"""The session a notebook opens, and the plumbing the notebooks share.

A notebook is the recipe: it imports its estimators from :mod:`evaluation.analyse`, calls them
with the study's options (``s.options.<estimator>``, see :class:`Options`) and writes each
table of record with :meth:`Session.write`. This module only opens the study, reads the
processed data, holds those options and draws the figures; it computes no statistic itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from evaluation.config import Study, load_study, primary_measures
from evaluation.report.tables import write_table
from evaluation.report.view import StudyView, view_labels
from evaluation.safety import safe_name

log = logging.getLogger(__name__)

Kwargs = Mapping[str, Any]


@dataclass(frozen=True)
class Options:
    """The keyword arguments of each estimator, from study.yaml (``analysis:``, rounds,
    ``disclosure.min_n``, ``seed``, groupings, design ...): read-only. A notebook calls
    ``prepost_table(s.scores, **s.options.prepost)``; to try another option, override a key:
    ``prepost_table(s.scores, **{**s.options.prepost, "ci": 0.9})``."""

    response_counts: Kwargs  # evaluation.analyse.quant.quality.response_counts
    missingness: Kwargs  # evaluation.analyse.quant.quality.missingness
    out_of_range: Kwargs  # evaluation.analyse.quant.quality.out_of_range
    reliability: Kwargs  # evaluation.analyse.quant.reliability.reliability_table
    prepost: Kwargs  # evaluation.analyse.quant.effects.prepost_table
    prepost_summary: Kwargs  # evaluation.analyse.quant.effects.prepost_summary_table
    trajectories: Kwargs  # evaluation.analyse.quant.descriptives.round_means
    distributions: Kwargs  # evaluation.analyse.quant.descriptives.round_quantiles
    bands: Kwargs  # evaluation.analyse.quant.descriptives.band_shares (+ column, bands)
    lmm: Kwargs  # evaluation.analyse.quant.longitudinal.lmm_table (+ measure)
    cluster_robust: Kwargs  # evaluation.analyse.quant.longitudinal.cluster_robust_check
    power: Kwargs  # evaluation.analyse.quant.power.power_table (+ icc)
    meta: Kwargs  # evaluation.analyse.quant.pooling.meta_table / meta_from_summaries
    indicators: Kwargs  # evaluation.analyse.quant.indicators.indicators_table (+ sources)
    icr: Kwargs  # evaluation.analyse.qual.icr.icr_table
    themes: Kwargs  # evaluation.analyse.qual.themes.theme_prevalence
    quotes: Kwargs  # evaluation.analyse.qual.themes.quotes (+ redact, by_organisation)
    instruments: tuple[str, ...] = ()  # the scored instruments (mixed model, power, meta)
    banded: Kwargs = field(default_factory=dict)  # instrument -> its band ids, in order
    primary: Kwargs = field(default_factory=dict)  # analyse.quant.multiplicity.primary_table
    # evaluation.analyse.quant.diagnostics (30-longitudinal; rounds: those with data)
    composition: Kwargs = field(default_factory=dict)  # composition_table
    composition_tests: Kwargs = field(default_factory=dict)  # composition_tests
    attrition: Kwargs = field(default_factory=dict)  # attrition_table
    optimisers: Kwargs = field(default_factory=dict)  # optimiser_agreement (+ measure)
    # evaluation.analyse.quant.agreement.proxy_agreement_table (10-data-quality)
    agreement: Kwargs = field(default_factory=dict)
    # evaluation.analyse.quant.feedback (47-feedback; + scales / instrument and items)
    feedback: Kwargs = field(default_factory=dict)  # feedback_summary
    feedback_reliability: Kwargs = field(default_factory=dict)  # feedback_reliability

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, Mapping):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    def __repr__(self) -> str:
        rows = [f"  {k}: {dict(v) if isinstance(v, Mapping) else v}" for k, v in vars(self).items()]
        return "Options(\n" + "\n".join(rows) + "\n)"


def build_options(
    study: Study,
    *,
    present: list[str],
    summary_columns: list[str] | None = None,
    columns: list[str] | None = None,
) -> Options:
    """The options of every estimator for ``study``. ``present``: the configured rounds that
    have data (pooling skips rounds not delivered yet); ``summary_columns``: the columns of
    the vendor's aggregates in summary-statistics mode (only groupings they carry are
    compared), None with individual answers; ``columns``: the columns of the scores (the
    composition's characteristics are those present; None: all of them)."""
    from evaluation.analyse.groupings import ATTRITION_BY, FEEDBACK_GROUP_BYS, composition_by

    a = study.analysis
    rounds, baseline, min_n, ci = study.round_ids, study.baseline, study.min_n, a.ci
    on_responses = [i for i in study.instruments.values() if i.file == "responses"]
    instruments = [i.id for i in on_responses]
    summary_groups = [
        g
        for g in study.group_bys
        if g in ("all", "organisation", "unit") or g in (summary_columns or ())
    ]
    actors = {name: org.actor for name, org in study.organisations.items() if org.actor}
    diag_rounds = present if baseline in present else rounds
    by_organisation = columns is None or "organisation" in columns  # bands.csv per organisation
    return Options(
        response_counts={
            "rounds": rounds,
            "headcounts": {name: org.headcount for name, org in study.organisations.items()},
            "min_n": min_n,
        },
        missingness={
            "instruments": {i.id: list(i.value_columns) for i in on_responses},
            "rounds": rounds,
            "min_n": min_n,
        },
        out_of_range={
            "limits": {
                col: (i.range_min, i.range_max) for i in on_responses for col in i.value_columns
            }
        },
        reliability={
            "instruments": {i.id: list(i.items) for i in on_responses if len(i.items) >= 2},
            "rounds": rounds,
            "min_n": min_n,
            "ci": ci,
            "reps": a.bootstrap_reps,
            "seed": study.seed,
        },
        prepost={
            "measures": study.measures,
            "rounds": rounds,
            "baseline": baseline,
            "group_bys": study.group_bys,
            "design": study.design,
            "correction": study.correction,
            "min_n": min_n,
            "ci": ci,
            "primary_measures": primary_measures(study),
        },
        prepost_summary={
            "rounds": rounds,
            "baseline": baseline,
            "group_bys": summary_groups,
            "min_n": min_n,
            "correction": study.correction,
            "ci": ci,
            "primary_measures": primary_measures(study),
        },
        trajectories={
            "measures": study.measures,
            "rounds": rounds,
            # participants vs others (notebook 20's figures); actors and organisations: the
            # audience reports' own lines, with intervals from the same table
            "by": ["participant", *[g for g in ("actor", "organisation") if g in study.group_bys]],
            "min_n": min_n,
            "ci": ci,
        },
        distributions={"measures": study.measures, "rounds": rounds, "min_n": min_n},
        bands={
            "rounds": rounds,
            "min_n": min_n,
            "group_bys": ["all", *(["organisation"] if by_organisation else [])],
        },
        lmm={
            "rounds": rounds,
            "baseline": baseline,
            "covariates": list(a.covariates),
            "min_n": min_n,
            "ci": ci,
        },
        cluster_robust={
            "rounds": rounds,
            "baseline": baseline,
            "n_boot": a.bootstrap_reps,
            "seed": study.seed,
            "min_n": min_n,
            "ci": ci,
        },
        power={
            "measures": instruments,
            "rounds": rounds,
            "baseline": baseline,
            "group_bys": [
                g for g in study.group_bys if g in ("all", "actor", "sector", "participant")
            ],
            "alpha": a.alpha,
            "min_n": min_n,
            "headcounts": {name: org.headcount for name, org in study.organisations.items()},
            "response_rate": a.power.response_rate,
        },
        meta={
            "measures": instruments,
            # Rounds declared but not delivered yet have no effects to pool: no empty rows.
            "rounds": present if baseline in present else rounds,
            "baseline": baseline,
            "min_n": min_n,
            "methods": a.meta_methods,
            "ci": ci,
            "test": a.meta_test,
        },
        indicators={
            "targets": [t.spec() for t in study.targets],
            "rounds": rounds,
            "organisations": dict(study.organisations) or None,
            "min_n": min_n,
            "ci": ci,
        },
        icr={
            "reps": a.bootstrap_reps,
            "seed": study.seed,
            "ci": ci,
            "include_suggestions": a.qualitative.include_suggestions,
        },
        themes={"actors": actors, "rounds": rounds, "baseline": baseline, "min_n": min_n},
        quotes={"actors": actors, "rounds": rounds, "min_n": min_n, "seed": study.seed},
        instruments=tuple(instruments),
        banded={i.id: [b.id for b in i.bands] for i in on_responses if i.bands},
        primary={
            "measures": primary_measures(study),
            "comparisons": list(a.primary.comparisons),
            "correction": a.primary.correction,
            "rounds": rounds,
            "baseline": baseline,
        },
        composition={"rounds": diag_rounds, "by": composition_by(columns),
                     "min_n": min_n},
        composition_tests={"rounds": diag_rounds, "by": composition_by(columns),
                           "min_n": min_n, "seed": study.seed},
        attrition={"rounds": diag_rounds, "baseline": baseline, "measures": study.measures,
                   "by": ATTRITION_BY if columns is None or ATTRITION_BY in columns else None,
                   "min_n": min_n, "ci": ci},
        optimisers={"rounds": diag_rounds, "baseline": baseline, "min_n": min_n},
        agreement={"pairs": [(i.proxy.id, i.id) for i in on_responses if i.proxy is not None],
                   "rounds": rounds, "min_n": min_n, "ci": ci},
        feedback={"rounds": rounds, "group_bys": list(FEEDBACK_GROUP_BYS),
                  "nesting": {o: org.actor for o, org in study.organisations.items()
                              if org.actor},
                  "min_n": min_n, "ci": ci},
        feedback_reliability={"rounds": rounds, "min_n": min_n, "ci": ci,
                              "reps": a.bootstrap_reps, "seed": study.seed},
    )  # fmt: skip


def _read_parquet(path: Path) -> pd.DataFrame:
    """A processed file as a frame. Reading a national study's file leaves Arrow's pool holding
    about half as much again as the frame (the columns converted to numpy); a big process
    gives those pages back at once rather than at the end of the notebook."""
    from evaluation.pipeline.memory import release_memory

    frame = pd.read_parquet(path)
    release_memory()  # only above its threshold: the demo pays nothing
    return frame


@dataclass(kw_only=True)
class Session(StudyView):
    """A study opened for analysis: configuration, labels (:class:`StudyView`), processed data
    (read lazily) and the options of every estimator (:class:`Options`)."""

    @cached_property
    def scores(self) -> pd.DataFrame:
        return _read_parquet(self.study.paths.processed / "scores.parquet")

    @cached_property
    def responses(self) -> pd.DataFrame:
        return _read_parquet(self.study.paths.processed / "responses.parquet")

    @cached_property
    def summaries(self) -> pd.DataFrame:
        return _read_parquet(self.study.paths.processed / "summaries.parquet")

    @property
    def has_responses(self) -> bool:
        return (self.study.paths.processed / "scores.parquet").is_file()

    @cached_property
    def present_rounds(self) -> frozenset[str]:
        """The rounds that have answers (in summary mode, aggregates), read from the round
        column alone: a notebook that needs no answers does not hold the scores for this."""
        if not self.has_responses:
            return frozenset(self.summaries["round"].astype(str).unique())
        path = self.study.paths.processed / "scores.parquet"
        return frozenset(pd.read_parquet(path, columns=["round"])["round"].astype(str).unique())

    @cached_property
    def options(self) -> Options:
        """The keyword arguments of each estimator (read-only; see :class:`Options`)."""
        import pyarrow.parquet as pq

        columns = None if self.has_responses else list(summaries_with_groups(self).columns)
        scored = (
            pq.read_schema(self.study.paths.processed / "scores.parquet").names
            if self.has_responses
            else None
        )  # the scores' columns from the file's schema: the options read no answers
        return build_options(
            self.study, present=rounds_with_data(self), summary_columns=columns, columns=scored
        )

    def processed(self, name: str) -> pd.DataFrame | None:
        """``data/processed/<name>.parquet``, or None when the study has none."""
        path = self.study.paths.processed / f"{name}.parquet"
        return _read_parquet(path) if path.is_file() else None

    def write(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Write a table of record and return it as written (disclosure control applied), so
        a notebook never shows a cell the table hides."""
        return write_table(frame, name, self.study.paths)[1]

    def as_written(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """``frame`` with the cells hidden that ``<name>.csv`` hides (the same disclosure
        plan), without writing it: for a table computed from another table of record."""
        from evaluation.disclosure.rules import protect

        return protect(frame, name, self.study.paths.processed)


def open_study(study_dir: str | Path = ".", language: str | None = None) -> Session:
    """Open a processed study (``evaluation run`` has validated and scored it)."""
    study = load_study(study_dir)
    language = language or study.language
    return Session(study=study, labels=view_labels(study, language), language=language)


def keyed_responses(s: Session) -> pd.DataFrame:
    """The item answers with reverse-worded items reverse-keyed, as they are scored (the
    input of reliability)."""
    from evaluation.score import reverse_items

    keyed = s.responses.copy(deep=False)  # copy-on-write: only the reversed columns are new
    for inst in s.study.instruments.values():
        if inst.file == "responses" and inst.reverse:
            reverse = list(inst.reverse)
            keyed[reverse] = reverse_items(keyed[reverse], inst)
    return keyed


def respondent_cells(s: Session) -> pd.DataFrame:
    """Summary-statistics mode: respondents per round x organisation x unit, the largest n
    of any measure (use with ``response_counts(..., n_column="n")``)."""
    return s.summaries.groupby(["round", "organisation", "unit"], as_index=False)["n"].max()


def icc_by_measure(lmm: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The mixed model's ICCs per measure from ``lmm.csv`` rows (the power table's input):
    ``{measure: {"organisation": icc, "unit": icc}}`` by the ``level`` column (without it the
    first ICC row is the organisation's); an empty unit ICC (a model without the unit level) is
    left out, so the power table takes it equal to the organisation's."""
    rows = lmm[
        (lmm["term"] == "icc") & lmm["model"].astype(str).str.startswith(("mixedlm", "lmm_reml"))
    ]
    out: dict[str, dict[str, float]] = {}
    for measure, group in rows.groupby("measure", sort=False):
        if "level" in group:
            by_level = group.dropna(subset=["estimate"]).groupby("level")["estimate"].first()
        else:
            by_level = group["estimate"].dropna().head(1).set_axis(["organisation"])
        if pd.notna(by_level.get("organisation")):
            levels = {"organisation": float(by_level["organisation"])}
            if pd.notna(by_level.get("unit")):
                levels["unit"] = float(by_level["unit"])
            out[str(measure)] = levels
    return out


SUMMARY_MODE_SKIPS = [
    ("item missingness, out-of-range counts", "missingness.csv, out_of_range.csv"),
    ("reliability (Cronbach's alpha, McDonald's omega)", "reliability.csv"),
    ("Mann-Whitney U, paired t, Wilcoxon", "prepost.csv"),
    ("trajectories, distributions, band shares", "trajectories.csv, distributions.csv, bands.csv"),
    ("mixed model, DiD, ICC, cluster-robust check", "lmm.csv"),
    ("minimum detectable effect", "power.csv"),
]


def skipped_in_summary_mode(*, with_bands: bool = False) -> pd.DataFrame:
    """What summary-statistics mode cannot compute, and why (``skipped.csv``). ``with_bands``:
    the vendor delivered band counts (``bands.csv`` is written from them, not skipped)."""
    reason = "needs individual answers; only unit aggregates (n, mean, sd) were delivered"
    skips = SUMMARY_MODE_SKIPS
    if with_bands:
        bands = ("trajectories, distributions", "trajectories.csv, distributions.csv")
        skips = [bands if t.endswith(", bands.csv") else (a, t) for a, t in skips]
    return pd.DataFrame([{"analysis": a, "tables": t, "reason": reason} for a, t in skips])


def summary_band_shares(s: Session) -> pd.DataFrame | None:
    """Summary-statistics mode: ``bands.csv`` from the vendor's band counts (``band_<id>``
    columns of summaries.csv on each banded instrument's rows), computed as from individual
    answers (:func:`evaluation.analyse.quant.descriptives.band_shares` over one row per banded
    respondent); None when no instrument's bands were delivered."""
    from evaluation.analyse.quant.descriptives import band_rows_from_summaries, band_shares

    frames = []
    for inst, ids in s.options.banded.items():
        rows = band_rows_from_summaries(s.summaries, measure=inst, bands=ids)
        if len(rows):
            frames.append(band_shares(rows, column=f"{inst}_band", bands=ids, **s.options.bands))
    return pd.concat(frames, ignore_index=True) if frames else None


def has_band_counts(s: Session) -> bool:
    """Summary-statistics mode: the vendor delivered band counts for some instrument."""
    from evaluation.analyse.quant.descriptives import band_rows_from_summaries

    return any(
        len(band_rows_from_summaries(s.summaries, measure=inst, bands=ids))
        for inst, ids in s.options.banded.items()
    )


def rounds_with_data(s: Session) -> list[str]:
    """The configured rounds that have answers (or, in summary mode, aggregates), in order."""
    return [r for r in s.study.round_ids if r in s.present_rounds]


def second_round_note(s: Session) -> str | None:
    """What a report says where an analysis compares rounds but the data hold no round besides
    the baseline yet (a study at its first round); None when there is a round to compare."""
    if any(r != s.study.baseline for r in rounds_with_data(s)):
        return None
    return s.label("needs_second_round").format(baseline=s.label(s.study.baseline))


def figure_path(s: Session, *parts: str) -> Path:
    """``reports/figures/<part>_<part>...`` (without suffix); each part (a measure, a round
    id) made a safe file name, so no id from the configuration becomes a path."""
    return s.study.paths.figures / "_".join(safe_name(p) for p in parts)


def prepost_figures(s: Session, tables: dict[str, pd.DataFrame]) -> None:
    """Trajectory and band figures for the main measures, shown and saved."""
    from evaluation.report.display import heading, show_figure
    from evaluation.report.plots import band_plot, distribution_plot, scale_range, trajectory_plot

    rounds = s.study.round_ids
    if "trajectories" not in tables and "bands" not in tables:
        return
    for inst in s.study.instruments.values():
        if inst.file != "responses":
            continue
        banded = inst.bands and "bands" in tables
        banded = banded and tables["bands"]["measure"].astype(str).eq(f"{inst.id}_band").any()
        if "trajectories" not in tables and not banded:
            continue  # summary mode: only the band figures (from the vendor's band counts)
        heading(s.label(inst.id), 3)
        scale, ci, min_n = scale_range(inst), s.study.analysis.ci, s.study.min_n
        if "trajectories" in tables:
            fig = trajectory_plot(
                tables["trajectories"], measure=inst.id, rounds=rounds, labels=s.labels,
                scale=scale, ci=ci, min_n=min_n,
            )  # fmt: skip
            show_figure(
                fig,
                figure_path(s, "trajectory", inst.id),
                alt=s.label("fig_study_trajectory_alt").format(measure=s.label(inst.id)),
                language=s.language,
            )
        if "distributions" in tables:
            fig = distribution_plot(
                tables["distributions"], measure=inst.id, rounds=rounds, labels=s.labels,
                scale=scale, min_n=min_n,
            )  # fmt: skip
            show_figure(
                fig,
                figure_path(s, "distribution", inst.id),
                alt=s.label("fig_distribution_alt").format(measure=s.label(inst.id)),
                language=s.language,
            )
        if banded:
            whole = tables["bands"]
            if "group_by" in whole:  # the whole study's bands (organisations: their reports)
                whole = whole[whole["group_by"].eq("all")]
            fig = band_plot(
                whole,
                measure=f"{inst.id}_band",
                band_order=[b.id for b in inst.bands],
                rounds=rounds,
                labels={**s.labels, f"{inst.id}_band": s.label(inst.id)},
                min_n=s.study.min_n,
            )
            show_figure(
                fig,
                figure_path(s, "bands", inst.id),
                alt=s.label("fig_bands_alt").format(measure=s.label(inst.id)),
                language=s.language,
            )


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
            show_figure(
                fig,
                figure_path(s, "forest", measure, rnd),
                alt=s.label("fig_forest_alt").format(
                    measure=s.label(measure), round=s.label(rnd), baseline=s.label(s.study.baseline)
                ),
                language=s.language,
            )


def indicator_figures(s: Session, table: pd.DataFrame) -> None:
    """The whole study's indicators per round against their targets (with intervals where
    they have them), then the share of each target achieved over all records. The first is
    drawn from ``indicators.csv`` as written (``table`` where there is none), read as the
    reports read it: the consortium report in the notebook's language then copies it from the
    figure cache instead of drawing it again."""
    from evaluation.io.files import staged_path
    from evaluation.report.display import show_figure, show_plot
    from evaluation.report.indicator_view import trajectory_arguments
    from evaluation.report.plots import indicator_plot, indicator_trajectory_plot

    if (table["group"].astype(str) == "all").any():
        path = staged_path(s.study.paths.tables / "indicators.csv")
        written = (
            pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.is_file() else table
        )
        show_plot(
            indicator_trajectory_plot,
            trajectory_arguments(written, s.study, s.language),
            figure_path(s, "indicator_trajectories"),
            alt=s.label("fig_indicator_trajectory_alt"),
            language=s.language,
        )
    show_figure(
        indicator_plot(table, labels=s.labels),
        figure_path(s, "indicators"),
        alt=s.label("fig_indicators_alt"),
        language=s.language,
    )


# -------------------------------------------------------------------------------------------
# Qualitative material (notebooks 50-qualitative and 60-joint-display)
# -------------------------------------------------------------------------------------------


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
        return pd.concat([self.public, self.public_suggestions], ignore_index=True)

    @property
    def public_suggestions(self) -> pd.DataFrame:
        """The keyword suggestions with document paragraphs by their pseudonyms (as
        ``public``): what ``suggestions.csv`` publishes."""
        return self.pseudonyms.apply(self.suggestions)

    @property
    def public_answers(self) -> pd.DataFrame:
        """``answers`` with document paragraphs and documents by their pseudonyms
        (``D1#p2``, ``D1``), so they match ``used``; open answers and feedback comments keep
        their ids."""
        from evaluation.io.documents import DOCUMENT_KINDS

        out = self.answers.copy()
        docs = out["kind"].isin(DOCUMENT_KINDS)
        out.loc[docs, "answer_id"] = out.loc[docs, "answer_id"].map(self.pseudonyms.segment)
        out.loc[docs, "document"] = out.loc[docs, "document"].map(self.pseudonyms.document)
        return out


def qualitative_inputs(s: Session) -> Qualitative | None:
    """None when the study has no codings (the notebooks then say so)."""
    from evaluation.analyse.qual.suggest import suggest_codes
    from evaluation.disclosure.pseudonyms import pseudonyms
    from evaluation.disclosure.redact import study_redactor
    from evaluation.io.codings import codebook_labels, load_codebook
    from evaluation.io.documents import DOCUMENT_KINDS

    codings = s.processed("codings")
    if codings is None or codings.empty:
        return None
    answers = qualitative_sources(s)
    codebook = load_codebook(s.study)
    s.labels.update(codebook_labels(codebook, s.language))
    texts = answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
    redactor = study_redactor(s.study, s.labels)
    # document paragraphs are pseudonymised like .qdpx sources (their ids hold file names)
    open_ids = answers.loc[~answers["kind"].isin(DOCUMENT_KINDS), "answer_id"]
    documents = answers.loc[answers["kind"].isin(DOCUMENT_KINDS), "document"]
    names = pseudonyms(codings, open_ids, labels=s.labels, documents=documents)
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


def qualitative_sources(s: Session) -> pd.DataFrame:
    """Every text the qualitative analyses take, in the shape of the open answers
    (``answer_id, round, organisation, text, kind, document``, plus the open answers' own
    columns): the open answers (``kind = open_answer``), then the document paragraphs and
    feedback comments of ``segments.parquet``."""
    from evaluation.io.documents import OPEN_ANSWER, as_answers

    answers = s.processed("open_answers")
    if answers is None:
        answers = pd.DataFrame(columns=["answer_id", "round", "organisation", "text"])
    answers = answers.assign(kind=OPEN_ANSWER, document=None)
    segments = s.processed("segments")
    if segments is None or segments.empty:
        return answers
    return pd.concat([answers, as_answers(segments)], ignore_index=True)


def _small_group_segments(s: Session, q: Qualitative) -> set[str]:
    """Answers from organisation × round groups below min_n: their text is never shown."""
    a = q.answers
    if a.empty:
        return set()
    size = a.groupby(["organisation", "round"])["answer_id"].transform("count")
    return set(a.loc[size < s.study.min_n, "answer_id"])


def shown_disagreements(s: Session, q: Qualitative, table: pd.DataFrame) -> pd.DataFrame:
    """The disagreements with each answer's text redacted, and left out where the answer
    comes from an organisation x round group below min_n."""
    small = _small_group_segments(s, q)
    redacted: dict[str, str] = {}  # each distinct text redacted once (redaction is pure)

    def redact(text: object) -> str:
        if not isinstance(text, str):
            return q.redact(text)
        if text not in redacted:
            redacted[text] = q.redact(text)
        return redacted[text]

    return table.assign(
        text=[
            "" if seg in small else redact(text)
            for seg, text in zip(table["segment"], table["text"], strict=True)
        ]
    )


def export_coding_project(s: Session, q: Qualitative) -> None:
    """``data/processed/coding-project.qdpx`` (codebook, answers, codings, suggestions) for
    coders to open in their own tool, and ``pseudonyms.csv``, the key of the pseudonyms for
    the team. Both hold names or text and so stay beside the processed data, never in
    reports/."""
    from evaluation.io.files import atomic_path
    from evaluation.io.qdpx import export_qdpx

    processed = s.study.paths.processed
    with atomic_path(processed / "pseudonyms.csv") as tmp:
        q.pseudonyms.key().to_csv(tmp, index=False, lineterminator="\n")
    texts = q.answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
    export_qdpx(
        processed / "coding-project.qdpx",
        q.codebook,
        texts,
        pd.concat([q.codings, q.suggestions], ignore_index=True),
        language=s.study.language,
        project=s.study.name,
    )


def headline_measures(s: Session) -> list[str]:
    """The joint display's measures: the study's headline measures that are scored
    instruments, else the first two instruments."""
    scored = list(s.options.instruments)
    return [m for m in s.study.headline_measures if m in scored] or scored[:2]


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
    show_figure(
        fig,
        figure_path(s, "themes", "heatmap"),
        alt=s.label("themes_heatmap_alt"),
        language=s.language,
    )


def study_themes(study: Study) -> pd.DataFrame | None:
    """themes.csv before suppression, as the qualitative notebook computes it (None without
    codings)."""
    from evaluation.analyse.qual.themes import theme_prevalence

    if not (study.paths.processed / "codings.parquet").is_file():
        return None
    s = open_study(study.paths.root)
    q = qualitative_inputs(s)
    return None if q is None else theme_prevalence(q.used, q.public_answers, **s.options.themes)


def table_of_record(s: Session, name: str) -> pd.DataFrame | None:
    """``reports/tables/<name>.csv`` as written by an analysis notebook of the first wave (for
    the second wave, ``notebooks/8*``), or None when the run wrote no such table."""
    from evaluation.io.files import record_read

    record_read(name)
    path = s.study.paths.tables / f"{name}.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# -------------------------------------------------------------------------------------------
# A proxy's agreement with the instrument's own score (10-data-quality, proxy_agreement.csv)
# -------------------------------------------------------------------------------------------


def show_agreement(s: Session, table: pd.DataFrame) -> None:
    """Show ``proxy_agreement.csv`` (as written): per proxy what it is and that it is not the
    instrument's own score, the table, and a Bland-Altman figure over all rounds: the pairs in
    bins of at least ``min_n`` respondents, the bias and the limits of agreement with their
    intervals from the table. No figure when the all-rounds row is hidden; nothing at all for
    an empty table (e.g. data without the area columns)."""
    from evaluation.analyse.quant.agreement import ALL_ROUNDS, agreement_pairs
    from evaluation.report import locale
    from evaluation.report.display import heading, note, show, show_figure
    from evaluation.report.plots import blandaltman_plot

    if table is None or table.empty:
        return
    heading(s.label("proxy_agreement"))
    for (measure, reference), rows in table.groupby(["measure", "reference"], sort=False):
        names = {"measure": s.label(str(measure)), "reference": s.label(str(reference))}
        k = locale.number(float(rows["loa_multiplier"].iloc[0]), s.language, 2)
        heading(names["measure"], 3)
        note(s.label("proxy_agreement_note").format(**names, k=k))
        show(rows, s.labels, digits=2)
        whole = rows[rows["round"].astype(str).eq(ALL_ROUNDS) & ~rows["suppressed"].astype(bool)]
        if whole.empty:
            continue
        row = whole.iloc[0].to_dict()
        pairs = agreement_pairs(
            s.scores, measure=str(measure), reference=str(reference),
            rounds=str(row["rounds"]).split(),
        )  # fmt: skip
        fig = blandaltman_plot(
            pairs, row, labels=s.labels, min_n=s.study.min_n, ci=s.study.analysis.ci
        )
        show_figure(
            fig,
            figure_path(s, "blandaltman", str(measure)),
            alt=s.label("fig_blandaltman_alt").format(**names),
            language=s.language,
        )


# Unit risk indicators (data.risks; risks.csv of 10-data-quality)
# -------------------------------------------------------------------------------------------


def plan_hidden_groups(s: Session) -> set[tuple[str, str, str]]:
    """``(round, group_by, group)`` of every group whose respondent count the study's
    disclosure plan hides (with individual answers: ``T|_respondents|...`` cells; in summary
    mode, a group hidden for any measure). Empty without a plan."""
    from evaluation.disclosure.plan import RESPONDENTS, SEP, load_plan

    plan = load_plan(s.study.paths.processed)
    if plan is None:
        return set()
    out = set()
    for cell in plan.hidden:
        parts = cell.split(SEP)
        if parts[0] != "T" or len(parts) != 5:
            continue
        if parts[1] == RESPONDENTS or not s.has_responses:
            out.add((parts[2], parts[3], parts[4]))
    return out


def study_risk_table(s: Session) -> pd.DataFrame | None:
    """``risks.csv`` before it is written: the vendor's unit risk indicators
    (:func:`evaluation.analyse.quant.risks.risk_table`) weighted by each row's ``n`` or else the
    unit's respondents that round (``scores``, or the summaries' largest n), with the groups
    the disclosure plan hides. None when the study declares no ``data.risks``."""
    from evaluation.analyse.quant.risks import risk_table
    from evaluation.config import risk_definitions

    risks = s.processed("risks")
    if risks is None:
        return None
    keys = ["round", "organisation", "unit"]
    if s.has_responses:
        counts = s.scores.groupby(keys, as_index=False, observed=True).size()
        counts = counts.rename(columns={"size": "n"})
    else:
        counts = respondent_cells(s)
    return risk_table(
        risks,
        counts,
        definitions=risk_definitions(s.study),
        rounds=s.study.round_ids,
        min_n=s.study.min_n,
        hidden=plan_hidden_groups(s),
    )


def risk_figures(s: Session, table: pd.DataFrame) -> None:
    """The whole study's trend of every risk indicator (``risks.csv`` rows ``all``)."""
    from evaluation.config import risk_definitions
    from evaluation.report.display import show_figure
    from evaluation.report.plots import risk_trend_plot

    fig = risk_trend_plot(
        table, definitions=risk_definitions(s.study), rounds=s.study.round_ids,
        groups=[("all", "all", s.label("all"))], labels=s.labels, min_n=s.study.min_n,
    )  # fmt: skip
    if fig is not None:
        show_figure(fig, figure_path(s, "risks"), alt=s.label("fig_risks_alt"),
                    language=s.language)  # fmt: skip


def risk_display(s: Session, table: pd.DataFrame) -> pd.DataFrame:
    """``risks.csv`` as a notebook shows it: indicators and levels by their labels, and the
    change named as the change from the previous round (``change`` of other tables is from
    the baseline)."""
    out = table.copy()
    out["indicator"] = [s.label(f"risk_{i}") for i in out["indicator"]]
    out["level"] = [s.label(f"risk_level_{x}") if isinstance(x, str) else x for x in out["level"]]
    return out.rename(columns={"change": "change_previous"})


# Training feedback (notebook 47-feedback)
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackRecords:
    """The processed feedback answers with the feedback instrument's score per answer
    (``data``), the instrument, its items and the scales summarised (items, then the score)."""

    data: pd.DataFrame
    instrument: str
    items: list[str]
    scales: list[str]


def feedback_records(s: Session) -> FeedbackRecords | None:
    """``feedback.parquet`` with the score of the instrument read from the feedback file (the
    study's, else the shipped ``feedback``: items and scoring rule as in its YAML), or None
    when the study has no feedback."""
    from evaluation.config import instrument_file, load_instrument
    from evaluation.score import instrument_score

    data = s.processed("feedback")
    if data is None:
        return None
    defs = [i for i in s.study.instruments.values() if i.file == "feedback"]
    inst = defs[0] if defs else load_instrument(instrument_file("feedback", s.study.paths))
    items = [c for c in inst.items if c in data]
    scored = data.copy()
    scored[inst.id] = instrument_score(scored, inst)
    return FeedbackRecords(scored, inst.id, items, [*items, inst.id])


def feedback_figure(s: Session, table: pd.DataFrame) -> None:
    """Means with their intervals by round per activity type (``feedback_summary.csv``)."""
    from evaluation.report.display import show_figure
    from evaluation.report.feedback import feedback_plot_for

    fig = feedback_plot_for(s, table)
    if fig is not None:
        show_figure(
            fig, figure_path(s, "feedback"), alt=s.label("fig_feedback_alt"), language=s.language
        )
