"""Reports per audience: the consortium, each actor and each organisation.

The report notebook (``notebooks/90-report.ipynb``) runs once per audience and language. It
computes nothing: it reads the tables of record the analysis notebooks wrote, keeps the rows its
audience may see, and shows them. An organisation's report holds its own rows next to the
whole study's (and the pooled estimate), never another organisation's; an actor's report holds
the rows of the actor and of its own organisations. Rows that disclosure control suppressed
stay suppressed (shown as "–").

The report is a cover and then the sections of :data:`SECTIONS`, one function each and one cell
each in the notebook. ``reports.sections`` in study.yaml selects which of them a study's reports
show (:data:`evaluation.config.REPORT_SECTIONS`; default all); a section that is not selected
shows nothing. The order is fixed; the cover is always shown, first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.config import REPORT_SECTIONS, load_study
from evaluation.io.codings import codebook_labels, load_codebook
from evaluation.io.files import record_read
from evaluation.report import locale
from evaluation.report.audience import KINDS, Audience, audiences
from evaluation.report.display import heading, link, markdown, note, show, show_plot
from evaluation.report.view import StudyView, view_labels
from evaluation.report.wording import size_word, summary_sentence
from evaluation.safety import escape_markdown

HEADLINE_EFFECTS = ("hedges_g", "d_z", "d_av_all")
# The tests of a comparison over every respondent of the group (prepost.csv population "all").
ALL_RESPONDENT_TESTS = ("welch_t", "paired_t", "partial_overlap_t")


@dataclass(kw_only=True)
class ReportView(StudyView):
    """One audience's view of a study's tables of record (read lazily)."""

    audience: Audience
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    def shows(self, section: str) -> bool:
        """Whether study.yaml ``reports.sections`` selects this section (the cover always)."""
        return section == "cover" or section in self.study.reports.sections

    @property
    def organisations(self) -> list[str]:
        """The organisations whose own rows this audience may see."""
        orgs = self.study.organisations
        if self.audience.kind == "consortium":
            return sorted(orgs)
        if self.audience.kind == "actor":
            return sorted(n for n, o in orgs.items() if o.actor == self.audience.name)
        return [self.audience.name]

    def table(self, name: str, rows: dict[str, str] | None = None) -> pd.DataFrame | None:
        """A table of record, or None when the run did not write it. ``rows``: only the rows
        whose columns have these values (compared as written, text): the run's cache of this
        report then depends on those rows only, not on the rest of the table."""
        record_read(name, rows)  # the run's cache of this report depends on it
        if name not in self._tables:
            path = self.study.paths.tables / f"{name}.csv"
            self._tables[name] = (
                pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.is_file() else None
            )
        frame = self._tables[name]
        if frame is None or rows is None:
            return frame
        keep = pd.Series(True, index=frame.index)
        for column, value in rows.items():
            keep &= frame[column].astype(str).eq(str(value)) if column in frame else False
        return frame[keep]

    def visible(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a grouped table (``group_by``/``group`` or ``organisation`` columns) that
        this audience may see: whole-study rows, and its own actor/organisations/units."""
        if self.audience.kind == "consortium":
            return frame
        orgs = set(self.organisations)
        keep = pd.Series(False, index=frame.index)
        if "group_by" in frame:
            by, group = frame["group_by"].astype(str), frame["group"].astype(str)
            keep |= by.eq("all")
            keep |= by.eq("organisation") & group.isin(orgs)
            keep |= by.eq("unit") & group.str.split(" / ").str[0].isin(orgs)
            if self.audience.kind == "actor":
                keep |= by.eq("actor") & group.eq(self.audience.name)
        elif "organisation" in frame:
            org = frame["organisation"].astype(str)
            keep |= org.isin(orgs) | frame["organisation"].isna() | org.eq("all")
        else:
            keep[:] = True  # a whole-study table
        return frame[keep]

    def figure_path(self, name: str) -> Path:
        """Where a figure of this report is saved (one folder per language and audience: the
        Finnish and English reports' figures differ in their words and numbers)."""
        return self.study.paths.figures / "reports" / self.language / self.audience.slug / name


def open_report(study_dir: str | Path, language: str, audience: str, group: str) -> ReportView:
    """Open the view of one audience (``audience`` = consortium / actor / organisation,
    ``group`` = its name)."""
    study = load_study(study_dir)
    language = language or study.language
    labels = view_labels(study, language)
    labels.update(codebook_labels(load_codebook(study), language))
    if audience not in KINDS:
        raise ValueError(f"audience must be one of {KINDS}, not {audience!r}")
    name = study.name if audience == "consortium" else group
    known = (a for a in audiences(study) if a.kind == audience and a.name == name)
    audience_ = next(known, Audience(audience, name))
    return ReportView(study=study, audience=audience_, labels=labels, language=language)


# -------------------------------------------------------------------------------------------
# Sections: each shows one part of the report (headings and texts from the label files).
# -------------------------------------------------------------------------------------------

Section = Callable[[ReportView], None]


def _section(show_section: Section) -> Section:
    """A report section, named like its id in ``reports.sections``: it shows nothing when the
    study's configuration does not select it."""
    if show_section.__name__ not in REPORT_SECTIONS:
        raise ValueError(f"{show_section.__name__} is not in config.REPORT_SECTIONS")

    @functools.wraps(show_section)
    def shown_when_selected(v: ReportView) -> None:
        if v.shows(show_section.__name__):
            show_section(v)

    return shown_when_selected


def cover(v: ReportView) -> None:
    """Title, audience, rounds with their data dates, respondents in this audience's scope."""
    kind = v.label(f"rep_audience_{v.audience.kind}")
    heading(f"{v.label('report_title')}: {v.audience.name}", 1)
    markdown("**{name}** · {kind}", name=v.study.name, kind=kind)
    rounds = pd.DataFrame(
        {
            "round": [r.id for r in v.study.rounds],
            "label": [r.label for r in v.study.rounds],
            "date": [locale.date(r.date, v.language) for r in v.study.rounds],
        }
    )
    totals = v.table("respondent_totals")
    if totals is not None:
        rounds["respondents"] = rounds["round"].map(audience_respondents(v, totals))
    show(rounds.drop(columns="label"), v.labels, digits=0)
    min_n = locale.integer(v.study.min_n, v.language)
    note(v.label("rep_intro").format(min_n=min_n, baseline=v.label(v.study.baseline)))


def audience_respondents(v: ReportView, totals: pd.DataFrame) -> pd.Series:
    """Respondents per round in this audience's scope, from ``respondent_totals.csv`` (the true
    totals, as the disclosure plan lets them be shown): the whole study's row for the
    consortium, the organisation's own row, and for an actor the sum of its organisations'
    rows, empty (shown as "–") for a round where any of them is hidden. Never a sum of the
    units left visible: the cover shows the count the tables are about."""
    rows = totals.copy()
    rows["n"] = pd.to_numeric(rows["n"], errors="coerce")
    if v.audience.kind == "consortium":
        rows = rows[rows["group_by"].eq("all")]
    else:
        rows = rows[rows["group_by"].eq("organisation") & rows["group"].isin(v.organisations)]
    rows = rows.assign(round=rows["round"].astype(str))
    # skipna=False: a hidden organisation hides its actor's sum (no total from the visible part).
    return rows.groupby("round")["n"].agg(
        lambda n: n.sum() if len(n) and n.notna().all() else float("nan")
    )


@_section
def key_results(v: ReportView) -> None:
    """Change from baseline in the headline measures: the whole study and this audience."""
    prepost = v.table("prepost")
    if prepost is None:
        return
    heading(v.label("rep_key_results"))
    if prepost.empty:  # no round besides the baseline yet: its levels, and why no change
        _baseline_levels(v)
        return
    rows = v.visible(prepost)
    whole = rows["population"].eq("all") if "population" in rows else False
    rows = rows[
        rows["measure"].isin(v.study.headline_measures)
        & rows["effect_size_type"].isin(HEADLINE_EFFECTS)
        & rows["group_by"].isin(_headline_groupings(v))
        # Paired rows (linked respondents only) for the whole study; groups by independent rows;
        # rows over every respondent of a group wherever there are (then only those).
        & (rows["group_by"].eq("all") | rows["design"].eq("independent") | whole)
    ].copy()
    rows = _with_primary_p(_all_respondents(rows), v.table("primary"))
    participant = rows["group_by"] == "participant"
    rows.loc[participant, "group"] = (
        rows.loc[participant, "group"]
        .astype(str)
        .map({"1": v.label("participants"), "0": v.label("non_participants")})
    )
    rows["es_size"] = [
        size_word(str(k), e, v.label)
        for k, e in zip(rows["effect_size_type"], rows["effect_size"], strict=True)
    ]
    columns = [
        "measure", "group", "round", "design", "n_baseline", "n_round", "mean_baseline",
        "mean_round", "diff", "effect_size_type", "effect_size", "es_ci_low", "es_ci_high",
        "es_size", "p_adjusted", "suppressed",
    ]  # fmt: skip
    for measure in v.study.headline_measures:
        block = rows[rows["measure"] == measure]
        if block.empty:
            continue
        heading(v.label(measure), 3)
        for sentence in measure_summaries(v, block):
            note(sentence)
        _show_or_say(v, block[columns].drop(columns="measure"))
    _primary_family(v)
    note(v.label("rep_effect_size_note"))
    _trajectory_figure(v, prepost)


def measure_summaries(v: ReportView, block: pd.DataFrame) -> list[str]:
    """Key results: one sentence on the latest round of the whole study and, for an actor or
    an organisation, one on its own group (:func:`evaluation.report.wording.summary_sentence`:
    only what the interval supports). ``block`` holds one measure's key-result rows, with the
    group names as in ``prepost.csv`` ("all", the actor's or organisation's name)."""
    groups = [("all", "all", v.label("all"))]
    if v.audience.kind in ("actor", "organisation"):
        groups.append((v.audience.kind, v.audience.name, v.audience.name))
    order = {r: i for i, r in enumerate(v.study.round_ids)}
    preference = {k: i for i, k in enumerate(("hedges_g", "d_av_all", "d_av", "d_z"))}
    out = []
    for by, group, shown in groups:
        own = block[block["group_by"].eq(by) & block["group"].astype(str).eq(group)]
        if own.empty:
            continue
        own = own.assign(
            _round=own["round"].astype(str).map(order).fillna(-1),
            _type=own["effect_size_type"].map(preference).fillna(len(preference)),
        ).sort_values(["_round", "_type"], ascending=[False, True], kind="mergesort")
        row = own.iloc[0]
        out.append(
            summary_sentence(
                row.to_dict(),
                v.label,
                measure=v.label(str(row["measure"])),
                group=shown,
                round_=v.label(str(row["round"])),
                baseline=v.label(str(v.study.baseline)),
                ci=v.ci,
                language=v.language,
            )
        )
    return out


def _with_primary_p(rows: pd.DataFrame, primary: pd.DataFrame | None) -> pd.DataFrame:
    """The primary family's rows of ``prepost.csv`` leave ``p_adjusted`` empty: their family
    also holds the DiD tests, so it is adjusted in ``primary.csv``; show that value."""
    if primary is None or primary.empty or "family" not in rows:
        return rows
    change = primary[primary["comparison"] == "change"]
    adjusted = dict(
        zip(zip(change["measure"], change["round"], strict=True), change["p_adjusted"], strict=True)
    )
    rows = rows.copy()
    is_primary = rows["family"].eq("primary")
    rows.loc[is_primary, "p_adjusted"] = [
        adjusted.get((m, r), float("nan"))
        for m, r in zip(rows.loc[is_primary, "measure"], rows.loc[is_primary, "round"], strict=True)
    ]
    return rows


def _all_respondents(rows: pd.DataFrame) -> pd.DataFrame:
    """Where a comparison has rows over every respondent of the group (``population = "all"``),
    only those; the others (tables written before the column existed) as they are."""
    if "population" not in rows:
        return rows
    key = [rows[c].astype(str) for c in ("measure", "group_by", "group", "round")]
    has_all = rows["population"].eq("all").groupby(key).transform("any")
    return rows[~has_all | rows["population"].eq("all")]


def _show_or_say(v: ReportView, rows: pd.DataFrame) -> None:
    """The rows, or, when disclosure control hides every one of them, a sentence saying so
    (a table of dashes says nothing)."""
    if "suppressed" in rows and rows["suppressed"].astype(bool).all():
        note(v.label("all_rows_hidden").format(min_n=v.study.min_n))
    else:
        show(rows, v.labels)


def _baseline_levels(v: ReportView) -> None:
    """A study at its first round: the headline measures' baseline means (``trajectories.csv``,
    whole study), and in words that the change needs a second round."""
    note(v.label("needs_second_round").format(baseline=v.label(v.study.baseline)))
    levels = v.table("trajectories")
    if levels is None:
        return
    rows = levels[
        levels["measure"].isin(v.study.headline_measures)
        & levels["group_by"].eq("all")
        & levels["round"].astype(str).eq(str(v.study.baseline))
    ]
    if rows.empty:
        return
    heading(v.label("rep_baseline_levels"), 3)
    columns = ["measure", "round", "n", "mean", "sd", "ci_low", "ci_high", "suppressed"]
    _show_or_say(v, rows[[c for c in columns if c in rows]])


def _headline_groupings(v: ReportView) -> list[str]:
    if v.audience.kind == "consortium":
        return ["all", "actor", "participant"]
    if v.audience.kind == "actor":
        return ["all", "actor", "organisation"]
    return ["all", "organisation"]


def _trajectory_figure(v: ReportView, prepost: pd.DataFrame) -> None:
    """Mean per round with its confidence interval: the whole study and this audience's own
    group, one panel per headline measure that has a mean to show, each y axis over the
    measure's scale; from ``trajectories.csv`` (the table of record of means and their
    intervals), in words when disclosure control leaves none. ``prepost`` is not read (kept
    for the caller)."""
    from evaluation.report.plots import mean_trajectory_plot, measure_scales

    means = v.table("trajectories")
    if means is None:
        return
    own_by = {"consortium": None, "actor": "actor", "organisation": "organisation"}[v.audience.kind]
    lines = [("all", "all", v.label("all"))]
    if own_by:
        lines.append((own_by, v.audience.name, v.audience.name))
    shown = means[~means["suppressed"].astype("boolean").fillna(True).astype(bool)]
    measures = [
        m
        for m in v.study.headline_measures
        if any(
            (
                shown["measure"].eq(m)
                & shown["group_by"].astype(str).eq(by)
                & shown["group"].astype(str).eq(group)
                & shown["mean"].notna()
            ).any()
            for by, group, _ in lines
        )
    ]
    if not measures:
        note(v.label("rep_trajectory_none").format(min_n=v.study.min_n))
        return
    arguments = {
        "means": means, "measures": measures, "lines": lines, "rounds": v.study.round_ids,
        "labels": v.labels, "scales": measure_scales(v.study.instruments),
        "ci": v.study.analysis.ci, "min_n": v.study.min_n,
    }  # fmt: skip
    alt = v.label("fig_trajectory_alt").format(
        group=v.audience.name,
        measures=", ".join(v.label(m) for m in measures),
        level=f"{v.study.analysis.ci * 100:g}",
    )
    # SVG only: the publication figures (SVG + 300 dpi PNG) are the analysis notebooks'.
    show_plot(mean_trajectory_plot, arguments, v.figure_path("trajectory"), alt=alt, png=False,
              language=v.language)  # fmt: skip


@_section
def participation(v: ReportView) -> None:
    """Difference in differences from the mixed model (whole study)."""
    lmm = v.table("lmm")
    if lmm is None or v.audience.kind == "organisation":
        return
    did = lmm[(lmm["term"] == "did") & lmm["measure"].isin(v.study.headline_measures)]
    if did.empty:
        return
    heading(v.label("lmm_did"))
    note(v.label("rep_did_note"))
    did = did_rows(v, did)
    primary = did.loc[did["analysis"].eq("primary"), "model"] if "analysis" in did else None
    if primary is not None and len(primary):
        model = str(primary.iloc[0])
        why = "bootstrap" if "bootstrap" in model else "mixed"
        note(
            v.label("rep_did_primary").format(
                model=v.label(model), why=v.label(f"rep_did_why_{why}")
            )
        )
    columns = ["measure", "round", "model", "analysis", "estimate", "ci_low", "ci_high", "p",
               "n", "n_clusters", "suppressed"]  # fmt: skip
    _show_or_say(v, did[[c for c in columns if c in did]])


def did_rows(v: ReportView, did: pd.DataFrame) -> pd.DataFrame:
    """The DiD rows of ``lmm.csv`` in reading order: per measure (headline order) and round
    (study order), the primary model's row first (``analysis = "primary"``), then the
    sensitivity analyses in the table's order; each row keeps its ``model`` id (shown by its
    label)."""
    measures = {m: i for i, m in enumerate(v.study.headline_measures)}
    rounds = {r: i for i, r in enumerate(v.study.round_ids)}
    primary = did["analysis"].eq("primary") if "analysis" in did else False
    keyed = did.assign(
        _m=did["measure"].map(measures).fillna(len(measures)),
        _r=did["round"].astype(str).map(rounds).fillna(len(rounds)),
        _p=~pd.Series(primary, index=did.index).astype(bool),
    )
    return keyed.sort_values(["_m", "_r", "_p"], kind="mergesort").drop(columns=["_m", "_r", "_p"])


@_section
def organisations(v: ReportView) -> None:
    """Per-organisation effects next to the pooled estimate (own organisations only)."""
    meta = v.table("meta")
    if meta is None:
        return
    rows = meta[meta["measure"].isin(v.study.headline_measures)]
    rows = rows[(rows["row_type"] == "pooled") | rows["organisation"].isin(v.organisations)]
    # One pooled estimate per measure and round: the first configured method (REML by default).
    methods = rows.loc[rows["row_type"] == "pooled", "method"].dropna().unique()
    if len(methods):
        rows = rows[(rows["row_type"] != "pooled") | (rows["method"] == methods[0])]
    if rows.empty:
        return
    heading(v.label("meta_studies"))
    note(v.label("rep_meta_note"))
    columns = ["measure", "round", "row_type", "organisation", "n", "effect_size", "ci_low",
               "ci_high", "method", "suppressed"]  # fmt: skip
    _show_or_say(v, rows[[c for c in columns if c in rows]])


@_section
def qualitative(v: ReportView) -> None:
    """The joint display rows and theme prevalence this audience may see."""
    from IPython.display import HTML, display

    from evaluation.analyse.qual.joint import joint_rule_values
    from evaluation.analyse.qual.themes import NO_ROUND
    from evaluation.report.display import joint_display_html

    themes = v.table("themes")
    joint = v.table("joint_display")
    if themes is None and joint is None:
        return
    heading(v.label("rep_qualitative"))
    if joint is not None:
        rows = v.visible(joint)
        rows = rows[~rows["suppressed"].astype(bool)]
        if not rows.empty:
            heading(v.label("rep_joint_display"), 3)
            # the rule first, in words, with its thresholds: then the verdicts can be followed
            note(v.label("jd_rule").format(**joint_rule_values(v.study.min_n)))
            display(HTML(joint_display_html(rows, v.labels)))
    if themes is not None:
        rows = v.visible(themes)
        rows = rows[rows["group_by"].isin(["all", "organisation", "actor"])]
        if v.audience.kind == "consortium":
            rows = rows[rows["group_by"] == "all"]
        latest = v.study.round_ids[-1]
        if not rows["round"].eq(latest).any() and rows["round"].eq(NO_ROUND).any():
            latest = NO_ROUND  # codings of material with no round (docs/qualitative.md)
        rows = rows[rows["round"] == latest].sort_values(
            ["group_by", "group", "share"], ascending=[True, True, False]
        )
        if not rows.empty:
            heading(f"{v.label('rep_themes')} ({v.label(latest)})", 3)
            hidden = rows["suppressed"].astype(bool)
            if hidden.all():  # a table of dashes says nothing
                note(v.label("themes_all_hidden").format(min_n=v.study.min_n))
            else:
                # A group whose every theme is hidden: its rows of dashes, in words instead.
                blank = hidden.groupby([rows["group_by"], rows["group"]]).transform("all")
                columns = ["group", "code", "n_segments", "share", "change", "suppressed"]
                show(rows.loc[~blank, columns], v.labels)
                for group in dict.fromkeys(rows.loc[blank, "group"].astype(str)):
                    name = v.label("all") if group == "all" else group
                    note(v.label("themes_group_hidden").format(group=name, min_n=v.study.min_n))
    qualitative_documents(v)


DOCUMENT_SHOWN = ("document", "source_kind", "round", "organisation", "n_paragraphs",
                  "n_paragraphs_coded", "themes_coded")  # fmt: skip
DOCUMENT_QUOTE_SHOWN = ("organisation", "round", "source_kind", "code", "quote")


def qualitative_documents(v: ReportView) -> None:
    """Part of the qualitative section: the workshop and interview notes of this audience's
    own organisations (``documents.csv``: by their pseudonyms, never file names or titles)
    and the quotes from them (``document_quotes.csv``, redacted when written). Nothing when
    the study has no documents."""
    documents = v.table("documents")
    if documents is None or documents.empty:
        return
    own = documents[documents["organisation"].astype(str).isin(v.organisations)]
    if own.empty:
        return
    heading(v.label("rep_documents"), 3)
    note(v.label("rep_documents_intro"))
    show(_in_study_order(v, own, ["round", "organisation"])[list(DOCUMENT_SHOWN)], v.labels)
    quoted = v.table("document_quotes")
    if quoted is None or quoted.empty:
        return
    quoted = quoted[quoted["organisation"].astype(str).isin(v.organisations)]
    if quoted.empty:
        return
    heading(v.label("rep_document_quotes"), 4)
    note(v.label("rep_document_quotes_intro").format(min_n=v.study.min_n))
    rows = _in_study_order(v, quoted, ["round", "organisation", "code"])
    show(rows[list(DOCUMENT_QUOTE_SHOWN)], v.labels)


@_section
def indicators(v: ReportView) -> None:
    """Project indicators against their targets: the rule for the status in words, the whole
    study's trajectory per round (figure) and latest round (table), and the per-organisation
    rows this audience may see. An organisation's report shows only its own rows of
    per-organisation targets (and reads ``indicators.csv`` only when the study has such)."""
    from evaluation.report.indicator_view import (
        has_own_rows,
        indicator_rows,
        indicator_rule,
        trajectory_arguments,
        with_new_columns,
    )

    if v.audience.kind == "organisation" and not has_own_rows(v.study):
        return  # not read at all: the report's cache skips it
    # An organisation's report reads only its own rows: its cache does not depend on the
    # others' rows or the whole study's (a changed activity elsewhere leaves it as it is).
    own_rows = {"group_by": "organisation", "group": v.audience.name}
    table = v.table("indicators", own_rows if v.audience.kind == "organisation" else None)
    if table is None or table.empty:
        return
    table = with_new_columns(table)
    latest = [r for r in v.study.round_ids if r in set(table["round"])][-1:]
    rule = indicator_rule(v.labels, v.study)
    if v.audience.kind == "organisation":
        own = table[table["round"].isin(latest)]
        if own.empty:
            return
        heading(v.label("rep_own_indicators"))
        note(rule)
        show(indicator_rows(own, v.labels).drop(columns=["group"]), v.labels)
        return
    heading(v.label("nb_45-indicators"))
    note(rule)
    arguments = trajectory_arguments(table, v.study, v.language)
    study = arguments["indicators"]
    if not study.empty:
        from evaluation.report.plots import indicator_trajectory_plot

        alt = v.label("fig_indicator_trajectory_alt")
        show_plot(indicator_trajectory_plot, arguments, v.figure_path("indicators"), alt=alt,
                  png=False, language=v.language)  # fmt: skip
        rows = study[study["round"].isin(latest)]
        show(indicator_rows(rows, v.labels).drop(columns=["group"]), v.labels)
    orgs = v.visible(table[table["group_by"].eq("organisation")])
    orgs = orgs[orgs["round"].isin(latest)]
    if not orgs.empty:
        heading(v.label("rep_indicators_by_org"), 3)
        shown = indicator_rows(orgs, v.labels).rename(columns={"group": "organisation"})
        show(shown, v.labels)


@_section
def technical_appendix(v: ReportView) -> None:
    """Links to the full analyses of the whole study (consortium report only: they show every
    organisation)."""
    if v.audience.kind != "consortium":
        return
    heading(v.label("rep_analyses"))
    links = []
    for nb in v.study.paths.notebooks:  # the 90-report has no top-level HTML: not listed
        if (v.study.paths.html / f"{nb.stem}.html").is_file():
            links.append(f"- {link(v.label(f'nb_{nb.stem}'), f'../{nb.stem}.html')}")
    markdown(escape_markdown(v.label("rep_appendix_note")) + "\n\n" + "\n".join(links))


# -------------------------------------------------------------------------------------------
# The audience's own rows next to the whole study's: change, QWL areas and bands, units, and
# what disclosure control hid (issue 16, item 7). Tables of record only; nothing computed.
# -------------------------------------------------------------------------------------------

OWN_SHOWN = ("n_round", "mean_round", "diff", "effect_size_type", "effect_size", "es_ci_low",
             "es_ci_high")  # fmt: skip
STUDY_SHOWN = ("mean_round", "diff", "effect_size_type", "effect_size")


def _own_group(v: ReportView) -> tuple[str, str] | None:
    """The grouping and group of this audience's own rows (None for the consortium)."""
    if v.audience.kind == "consortium":
        return None
    return v.audience.kind, v.audience.name


def _whole_group_rows(prepost: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """One row per measure, grouping, group and round of ``prepost.csv``: the comparison over
    every respondent of the group (``population = "all"``), or, in tables written before that
    column, Welch's test of the independent rows."""
    rows = prepost[prepost["measure"].isin(measures)]
    if "population" in rows:
        rows = rows[rows["population"].eq("all") & rows["test"].isin(ALL_RESPONDENT_TESTS)]
    else:
        rows = rows[rows["design"].eq("independent") & rows["test"].eq("welch_t")]
    return rows.drop_duplicates(["measure", "group_by", "group", "round"])


def _hide_small(rows: pd.DataFrame, min_n: int, n_columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows that disclosure control suppressed, or whose n is below ``min_n``, keep only their
    names: every number of theirs is shown as "–" (a table of record hides them already; this
    makes sure a report never shows one)."""
    rows = rows.copy()
    small = rows["suppressed"].astype(str).str.lower().eq("true") if "suppressed" in rows else False
    for col in n_columns:
        small = small | ~(pd.to_numeric(rows[col], errors="coerce") >= min_n)
    names = {"measure", "group_by", "group", "round", "band", "baseline"}
    numbers = [c for c in rows.columns if c not in names and c != "suppressed"]
    rows.loc[small, numbers] = np.nan  # numeric columns stay numeric (n without decimals)
    rows["suppressed"] = small
    return rows


def _beside_study(own: pd.DataFrame, study: pd.DataFrame, keys: list[str], shown) -> pd.DataFrame:
    """``own`` with the whole study's ``shown`` columns of the same ``keys`` beside it
    (``study_<column>``)."""
    whole = study[[*keys, *shown]].rename(columns={c: f"study_{c}" for c in shown})
    return own.merge(whole, on=keys, how="left")


def _in_study_order(v: ReportView, table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``table`` sorted by ``by``: measures as the study lists them, rounds in their order,
    other columns as text."""
    order = {
        "measure": {m: i for i, m in enumerate(v.study.measures)},
        "round": {r: i for i, r in enumerate(v.study.round_ids)},
    }

    def key(column: pd.Series) -> pd.Series:
        if column.name in order:
            return column.astype(str).map(order[str(column.name)]).fillna(len(order[column.name]))
        return column.astype(str)

    return table.sort_values(by, key=key, kind="mergesort")


@_section
def own_change(v: ReportView) -> None:
    """The audience's own change per headline measure and round beside the whole study's
    (``prepost.csv``, every respondent of the group), in one table."""
    own = _own_group(v)
    prepost = v.table("prepost")
    if own is None or prepost is None or prepost.empty:
        return
    rows = _whole_group_rows(prepost, v.study.headline_measures)
    mine = rows[rows["group_by"].eq(own[0]) & rows["group"].astype(str).eq(own[1])]
    if mine.empty:
        return
    mine = _hide_small(mine, v.study.min_n, ("n_baseline", "n_round"))
    keys = ["measure", "round"]
    table = _beside_study(
        mine[[*keys, *OWN_SHOWN, "suppressed"]], rows[rows["group_by"].eq("all")], keys,
        STUDY_SHOWN,
    )  # fmt: skip
    table = _in_study_order(v, table, ["measure", "round"])
    heading(v.label("rep_own_change"))
    note(v.label("rep_own_change_note").format(group=own[1], min_n=v.study.min_n))
    _show_or_say(v, table)


def _area_measures(v: ReportView) -> list[str]:
    """The areas (``parts``) of the instruments among the headline measures (QWL's
    leadership, line management, ...): ``<id>_<part>``."""
    out = []
    for inst in v.study.instruments.values():
        if inst.id in v.study.headline_measures:
            areas = [f"{inst.id}_{part}" for part in inst.parts]  # not the proxy: no area
            out += [m for m in areas if m in v.study.measures]
    return out


@_section
def own_qwl(v: ReportView) -> None:
    """The audience's own QWL areas (latest round, ``prepost.csv``) and bands (``bands.csv``,
    baseline and latest round) beside the whole study's."""
    own = _own_group(v)
    if own is None:
        return
    areas = _area_measures(v)
    prepost = v.table("prepost")
    area_rows = pd.DataFrame()
    if areas and prepost is not None and not prepost.empty:
        rows = _whole_group_rows(prepost, areas)
        latest = [r for r in v.study.round_ids if r in set(rows["round"].astype(str))][-1:]
        rows = rows[rows["round"].astype(str).isin(latest)]
        mine = rows[rows["group_by"].eq(own[0]) & rows["group"].astype(str).eq(own[1])]
        if not mine.empty:
            mine = _hide_small(mine, v.study.min_n, ("n_baseline", "n_round"))
            columns = ["measure", "round", "n_round", "mean_baseline", "mean_round", "diff"]
            area_rows = _beside_study(
                mine[[*columns, "suppressed"]], rows[rows["group_by"].eq("all")],
                ["measure", "round"], ("mean_round", "diff"),
            )  # fmt: skip
            area_rows = _in_study_order(v, area_rows, ["measure"])
    band_rows = _own_bands(v, own)
    if area_rows.empty and band_rows.empty:
        return
    heading(v.label("rep_own_qwl"))
    if not area_rows.empty:
        heading(v.label("rep_own_areas"), 3)
        note(v.label("rep_own_areas_note").format(group=own[1], min_n=v.study.min_n))
        _show_or_say(v, area_rows)
    if not band_rows.empty:
        heading(v.label("rep_own_bands"), 3)
        note(v.label("rep_own_bands_note").format(group=own[1], min_n=v.study.min_n))
        _show_or_say(v, band_rows)


def _own_bands(v: ReportView, own: tuple[str, str]) -> pd.DataFrame:
    """Own band shares beside the whole study's (``bands.csv`` rows of this group; a table
    without groups has none), at the baseline and the latest round."""
    bands = v.table("bands")
    if bands is None or bands.empty or "group_by" not in bands:
        return pd.DataFrame()
    mine = bands[bands["group_by"].eq(own[0]) & bands["group"].astype(str).eq(own[1])]
    if mine.empty:
        return pd.DataFrame()
    rounds = [r for r in v.study.round_ids if r in set(mine["round"].astype(str))]
    shown_rounds = list(dict.fromkeys([*rounds[:1], *rounds[-1:]]))
    mine = mine[mine["round"].astype(str).isin(shown_rounds)]
    mine = _hide_small(mine, v.study.min_n, ("n_round",))
    # A band of 1..min_n-1 is hidden where it is written; an empty band (0) is shown.
    keys = ["measure", "round", "band"]
    table = _beside_study(
        mine[[*keys, "n_band", "share", "suppressed"]],
        bands[bands["group_by"].eq("all")], keys, ("share",),
    )  # fmt: skip
    return table.drop(columns="measure")


@_section
def own_units(v: ReportView) -> None:
    """The units of this audience's own organisations in the latest round (headline measures,
    ``prepost.csv``, every respondent of the unit) beside the whole study; units with fewer
    than ``min_n`` respondents, or hidden to protect one, are shown as hidden."""
    if v.audience.kind == "consortium":
        return
    prepost = v.table("prepost")
    if prepost is None or prepost.empty:
        return
    rows = _whole_group_rows(prepost, v.study.headline_measures)
    latest = [r for r in v.study.round_ids if r in set(rows["round"].astype(str))][-1:]
    rows = rows[rows["round"].astype(str).isin(latest)]
    orgs = set(v.organisations)
    units = rows[
        rows["group_by"].eq("unit") & rows["group"].astype(str).str.split(" / ").str[0].isin(orgs)
    ]
    if units.empty:
        return
    units = _hide_small(units, v.study.min_n, ("n_baseline", "n_round"))
    keys = ["measure", "round"]
    table = _beside_study(
        units[["group", *keys, "n_round", "mean_round", "diff", "suppressed"]],
        rows[rows["group_by"].eq("all")], keys, ("mean_round", "diff"),
    )  # fmt: skip
    if v.audience.kind == "organisation":  # its own name before every unit says nothing
        table["group"] = table["group"].astype(str).str.split(" / ", n=1).str[-1]
    table = _in_study_order(v, table, ["measure", "group"])
    heading(v.label("rep_own_units"))
    note(v.label("rep_own_units_note").format(round=v.label(latest[0]), min_n=v.study.min_n))
    _show_or_say(v, table)
    hidden = int(table["suppressed"].sum())
    if 0 < hidden < len(table):  # all hidden: _show_or_say said so
        note(
            v.label("rep_own_units_hidden").format(
                k=locale.integer(hidden, v.language), min_n=v.study.min_n
            )
        )


@_section
def hidden_figures(v: ReportView) -> None:
    """What disclosure control hid in this audience's scope and why, in words (``hidden.csv``:
    counts of hidden cells; never a value, which group or which cells are the small ones)."""
    table = v.table("hidden")
    if table is None or table.empty:
        return
    by, group = _own_group(v) or ("all", "all")
    rows = table[table["group_by"].eq(by) & table["group"].astype(str).eq(group)]
    if rows.empty:
        return
    hidden = int(rows["n_cells"].sum())
    heading(v.label("rep_hidden"))
    if hidden == 0:
        note(v.label("rep_hidden_none").format(min_n=v.study.min_n))
        return
    note(
        v.label("rep_hidden_counts").format(
            k=locale.integer(hidden, v.language), min_n=v.study.min_n
        )
        + "\n"
        + v.label("rep_hidden_note")
    )


# -------------------------------------------------------------------------------------------
# A labelled proxy and its agreement with the vendor's index (issue 18, item 2)
# -------------------------------------------------------------------------------------------

PROXY_SHOWN = ("round", "n", "r", "r_ci_low", "r_ci_high", "bias", "bias_ci_low", "bias_ci_high",
               "sd_diff", "loa_low", "loa_high", "slope", "slope_ci_low", "slope_ci_high",
               "suppressed")  # fmt: skip


def proxy_sentences(v: StudyView, rows: pd.DataFrame) -> list[str]:
    """The proxy's agreement with its reference in words, from the all-rounds row of
    ``proxy_agreement.csv`` (numbers in the report's language); none when it is hidden."""
    from evaluation.analyse.quant.agreement import ALL_ROUNDS

    whole = rows[rows["round"].astype(str).eq(ALL_ROUNDS) & ~rows["suppressed"].astype(bool)]
    if whole.empty:
        return []
    r = whole.iloc[0]
    lang = v.language

    def num(x: object, digits: int = 1) -> str:
        return locale.number(float(x), lang, digits)

    level = locale.number(v.study.analysis.ci * 100, lang, 0)
    out = [
        v.label("rep_proxy_summary").format(
            n=locale.integer(r["n"], lang),
            r=num(r["r"], 2),
            r_low=num(r["r_ci_low"], 2),
            r_high=num(r["r_ci_high"], 2),
            level=level,
            bias=num(r["bias"]),
            bias_low=num(r["bias_ci_low"]),
            bias_high=num(r["bias_ci_high"]),
            loa_low=num(r["loa_low"]),
            loa_high=num(r["loa_high"]),
        )
    ]
    if pd.notna(r["slope"]):
        out.append(
            v.label("rep_proxy_slope").format(
                slope=num(r["slope"], 2),
                low=num(r["slope_ci_low"], 2),
                high=num(r["slope_ci_high"], 2),
                level=level,
            )
        )
    return out


@_section
def proxy(v: ReportView) -> None:
    """Consortium report, appendix: each labelled proxy (QWL: the mean of the areas), that it
    is not the vendor's index, and how well the two agree (``proxy_agreement.csv``)."""
    if v.audience.kind != "consortium":
        return
    table = v.table("proxy_agreement")
    if table is None or table.empty:
        return
    heading(v.label("rep_proxy"))
    for (measure, reference), rows in table.groupby(["measure", "reference"], sort=False):
        heading(v.label(str(measure)), 3)
        names = {"measure": v.label(str(measure)), "reference": v.label(str(reference))}
        note(v.label("rep_proxy_note").format(**names))
        for sentence in proxy_sentences(v, rows):
            note(sentence)
        _show_or_say(v, rows[[c for c in PROXY_SHOWN if c in rows]])


# Unit risk indicators of the QWL vendor (risks.csv of 10-data-quality; issue 18, item 1)
# -------------------------------------------------------------------------------------------


def risk_level_rule(v: StudyView, definition) -> str:
    """The rule of one indicator's levels in words, from its thresholds: "low under 10 %,
    elevated 10-20 %, high 20 % or more" (labels ``risk_rule_*``; numbers in the locale)."""
    unit = v.label(f"risk_unit_symbol_{definition.scale_unit}")
    parts, lower = [], None
    for band in definition.thresholds:
        name = v.label(f"risk_level_{band.id}")
        lo = None if lower is None else locale.number(lower, v.language, 0)
        hi = None if band.upper is None else locale.number(band.upper, v.language, 0)
        if lo is None:
            parts.append(v.label("risk_rule_below").format(level=name, upper=hi, unit=unit))
        elif hi is None:
            parts.append(v.label("risk_rule_above").format(level=name, lower=lo, unit=unit))
        else:
            parts.append(
                v.label("risk_rule_between").format(level=name, lower=lo, upper=hi, unit=unit)
            )
        lower = band.upper
    return f"{v.label('risk_' + definition.id)}: " + ", ".join(parts)


def risk_unit_columns(v: StudyView, units: pd.DataFrame, definitions: list) -> pd.DataFrame:
    """One row per unit, one column per indicator: "value level (change)" in the report's
    language ("10,5 kohonnut (−0,1)"), empty where the unit's value is hidden; ``n`` the
    unit's largest n over the indicators. A unit × indicator table would be four times as long."""
    lang = v.language
    out = pd.DataFrame(
        index=pd.Index(list(dict.fromkeys(units["group"].astype(str))), name="group")
    )
    out["n"] = pd.to_numeric(units["n"], errors="coerce").groupby(units["group"].astype(str)).max()
    for d in definitions:
        rows = units[units["indicator"].astype(str).eq(d.id)]
        rows = rows.set_index(rows["group"].astype(str))

        def cell(r: pd.Series) -> str | None:
            if pd.isna(r["value"]):
                return None
            text = f"{locale.number(float(r['value']), lang, 1)} {v.label(f'risk_level_{r.level}')}"
            if pd.notna(r["change"]):
                plus = "+" if float(r["change"]) > 0 else ""
                text += f" ({plus}{locale.number(float(r['change']), lang, 1)})"
            return text

        out[v.label(f"risk_{d.id}")] = rows.apply(cell, axis=1) if len(rows) else None
    out["suppressed"] = out.drop(columns="n").isna().all(axis=1)
    return out.reset_index()


@_section
def risks(v: ReportView) -> None:
    """The QWL vendor's unit risk indicators (``risks.csv``): the trend of each indicator for
    the whole study (and, in an organisation's report, the organisation), then the latest
    round's units with their levels, and the rule of the levels from the thresholds.
    Consortium and organisation reports."""
    if v.audience.kind not in ("consortium", "organisation"):
        return
    table = v.table("risks")
    if table is None or table.empty:
        return
    from evaluation.config import risk_definitions
    from evaluation.report.plots import risk_trend_plot

    definitions = [d for d in risk_definitions(v.study) if d.id in set(table["indicator"])]
    if not definitions:
        return
    heading(v.label("rep_risks"))
    note(v.label("rep_risks_note").format(min_n=v.study.min_n))
    groups = [("all", "all", v.label("all"))]
    if v.audience.kind == "organisation":
        groups.append(("organisation", v.audience.name, v.audience.name))
    arguments = {"risks": table, "definitions": definitions, "rounds": v.study.round_ids,
                 "groups": groups, "labels": v.labels, "min_n": v.study.min_n}  # fmt: skip
    if not show_plot(risk_trend_plot, arguments, v.figure_path("risks"),
                     alt=v.label("fig_risks_alt"), png=False, language=v.language):  # fmt: skip
        note(v.label("all_rows_hidden").format(min_n=v.study.min_n))
    rows = v.visible(table)
    units = rows[rows["group_by"].astype(str).eq("unit")]
    latest = [r for r in v.study.round_ids if r in set(units["round"].astype(str))][-1:]
    if latest:
        units = units[units["round"].astype(str).isin(latest)].copy()
        small = units["suppressed"].astype(str).str.lower().eq("true") | ~(
            pd.to_numeric(units["n"], errors="coerce") >= v.study.min_n
        )
        units.loc[small, ["n", "value", "change"]] = np.nan
        units.loc[small, "level"] = None
        units["suppressed"] = small
        if v.audience.kind == "organisation":
            units["group"] = units["group"].astype(str).str.split(" / ", n=1).str[-1]
        heading(v.label("rep_risks_units").format(round=v.label(latest[0])), 3)
        if pd.to_numeric(units["change"], errors="coerce").notna().any():  # a previous round
            note(v.label("rep_risks_cells"))
        _show_or_say(v, risk_unit_columns(v, units, definitions))
    note(v.label("rep_risks_rule"))
    markdown("\n".join(f"- {{r{i}}}" for i in range(len(definitions))),
             **{f"r{i}": risk_level_rule(v, d) for i, d in enumerate(definitions)})  # fmt: skip


# Training feedback (feedback_summary.csv of notebooks/47-feedback; issue 18, item 4)
# -------------------------------------------------------------------------------------------


def feedback_rows(v: ReportView, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``feedback_summary.csv`` the report's table shows: the feedback score
    (the instrument's, the table's last scale) per round for the whole study, each activity
    type and, for the consortium, each actor; for an actor its own actor row and its own
    organisations instead of the other actors. Whole-study rows (all, activity types) are
    every audience's; another actor's or organisation's rows never are."""
    score = list(dict.fromkeys(table["scale"].astype(str)))[-1]
    by, group = table["group_by"].astype(str), table["group"].astype(str)
    keep = by.isin(["all", "activity"])
    if v.audience.kind == "consortium":
        keep |= by.eq("actor")
    else:
        keep |= by.eq("actor") & group.eq(v.audience.name)
        keep |= by.eq("organisation") & group.isin(v.organisations)
    rows = table[keep & table["scale"].astype(str).eq(score)].copy()
    order = {"all": 0, "actor": 1, "organisation": 2, "activity": 3}
    rounds = {r: i for i, r in enumerate(v.study.round_ids)}
    rows["_o"] = rows["group_by"].astype(str).map(order)
    rows["_r"] = rows["round"].astype(str).map(rounds)
    rows = rows.sort_values(["_o", "group", "_r"], kind="mergesort")
    return rows.drop(columns=["_o", "_r"])


@_section
def feedback(v: ReportView) -> None:
    """Training feedback: means with their intervals by round per activity type (a figure,
    whole study) and the feedback score per round for the whole study, activity types and
    this audience's own actor and organisations (a table). Consortium and actor reports."""
    from evaluation.report.feedback import display_frame, feedback_note, feedback_plot_arguments
    from evaluation.report.plots import feedback_plot

    if v.audience.kind == "organisation":  # not read at all: the report's cache skips it
        return
    table = v.table("feedback_summary")
    if table is None or table.empty:
        return
    heading(v.label("nb_47-feedback"))
    note(feedback_note(v))
    whole = table[table["group_by"].astype(str).isin(["all", "activity"])]
    arguments = feedback_plot_arguments(v, whole)
    if arguments is not None:
        show_plot(feedback_plot, arguments, v.figure_path("feedback"),
                  alt=v.label("fig_feedback_alt"), png=False, language=v.language)  # fmt: skip
    heading(v.label("fb_score_by_group"), 3)
    note(v.label("fb_score_note"))
    _show_or_say(v, display_frame(v, feedback_rows(v, table)).drop(columns="fb_scale"))


# In the order of config.REPORT_SECTIONS (and of the notebook's cells).
SECTIONS: tuple[Section, ...] = (
    key_results,
    participation,
    organisations,
    own_change,
    own_qwl,
    own_units,
    risks,
    qualitative,
    indicators,
    feedback,
    hidden_figures,
    proxy,
    technical_appendix,
)


def render(v: ReportView) -> None:
    """Show the sections after the cover that the study selects, in order (what the notebook's
    section cells show one by one)."""
    for section in SECTIONS:
        section(v)


# -------------------------------------------------------------------------------------------
# The declared primary family (analysis.primary; primary.csv of notebooks/80-primary)
# -------------------------------------------------------------------------------------------

PRIMARY_SHOWN = ("measure", "comparison", "round", "method", "n", "estimate", "ci_low", "ci_high",
                 "effect_size_type", "effect_size", "es_ci_low", "es_ci_high", "p", "p_adjusted",
                 "suppressed")  # fmt: skip


def primary_family_note(v: StudyView, primary: pd.DataFrame) -> str:
    """The sentence that says which p-values are primary: the family's size, comparisons,
    measures and correction (from ``primary.csv`` and ``analysis.primary``), and that every
    other p-value is exploratory (Benjamini-Hochberg within each measure x grouping)."""
    from evaluation.config import primary_measures

    options = v.study.analysis.primary
    size = int(primary["family_size"].iloc[0]) if len(primary) else 0
    return v.label("primary_family_note").format(
        k=size,
        comparisons=", ".join(v.label(c) for c in options.comparisons),
        measures=", ".join(v.label(m) for m in primary_measures(v.study)),
        correction=v.label(f"correction_{options.correction}"),
    )


def small_sample_note(v: StudyView, lmm: pd.DataFrame | None) -> str:
    """With fewer than 30 organisations, the sentence that says how the intervals are made
    small-sample safe: the wild cluster bootstrap for the primary DiD, t with G - 1 df for the
    mixed model, Knapp-Hartung and a prediction interval in the meta-analysis. Empty when
    the study has 30 or more organisations or no DiD."""
    from evaluation.analyse.quant.longitudinal import FEW_CLUSTERS

    if lmm is None or lmm.empty or "n_clusters" not in lmm:
        return ""
    did = lmm[(lmm["term"] == "did") & lmm["n_clusters"].notna()]
    if did.empty:
        return ""
    clusters = int(did["n_clusters"].max())
    if clusters >= FEW_CLUSTERS:
        return ""
    return v.label("small_sample_note").format(
        g=locale.integer(clusters, v.language),
        reps=locale.integer(v.study.analysis.bootstrap_reps, v.language),
    )


def _primary_family(v: ReportView) -> None:
    """Key results: the primary family's tests and, in words, what is primary and what is
    exploratory (whole-study rows: every audience sees them)."""
    primary = v.table("primary")
    if primary is None:
        return
    heading(v.label("rep_primary"), 3)
    if primary.empty:
        note(v.label("primary_none"))
        return
    note(primary_family_note(v, primary))
    _show_or_say(v, primary[[c for c in PRIMARY_SHOWN if c in primary]])
    small = small_sample_note(v, v.table("lmm"))
    if small:
        note(small)
