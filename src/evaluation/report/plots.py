"""Figures drawn from the tables of record, and their deterministic, atomic saving.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``: no global figure state, no GUI backend, the same bytes for the same table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from evaluation.io.files import atomic_path

#: The house style for every figure; fonts bundled with matplotlib so output is the same
#: everywhere, and a fixed SVG hash salt so SVG ids do not change between runs.
STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100.0,
    "savefig.dpi": 300.0,  # publication PNGs
    "savefig.bbox": None,
    "svg.fonttype": "path",
    "svg.hashsalt": "evaluation",
    "path.simplify": True,
    # Names and labels are drawn as typed: "$" in a name never starts mathtext.
    "text.parse_math": False,
}

#: The settings under which a figure's layout engine set to None stays None.
_NO_LAYOUT = {"figure.autolayout": False, "figure.constrained_layout.use": False}

#: Metadata that would otherwise embed the date or the software version.
_METADATA = {"svg": {"Date": None, "Creator": None}, "png": {"Software": None}}

#: zlib level 3, not Pillow's 6: the demo's 25 publication PNGs take 0.5 s less to write
#: (a seventh of their drawing and encoding) and are 18 % larger (5.6 MB, not 4.7 MB).
_SAVE_OPTIONS: dict[str, dict] = {"svg": {}, "png": {"pil_kwargs": {"compress_level": 3}}}

_METHOD_NAMES = {"dl": "DerSimonian-Laird", "pm": "Paule-Mandel", "reml": "REML"}

# --------------------------------------------------------------------------- colours and scales

#: Okabe & Ito (2008), "Color Universal Design": eight colours that stay apart under the
#: common colour-vision deficiencies.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Lines of groups, in drawing order: the whole study, participants (or the audience's own
#: group), others.
GROUP_COLOURS: tuple[str, ...] = (OKABE_ITO["black"], OKABE_ITO["blue"], OKABE_ITO["vermillion"])

#: Two-way marks: a target met / not met, a study / a pooled estimate.
PAIR_COLOURS: tuple[str, str] = (OKABE_ITO["blue"], OKABE_ITO["vermillion"])

#: The most ordered categories (bands) one figure colours; :func:`ordered_colours` keeps them
#: apart under colour-vision deficiency up to this number (tests/test_plots_palette.py).
MAX_ORDERED = 6


def ordered_colours(n: int) -> list[str]:
    """``n`` colours for ordered categories (bands, lowest first): cividis sampled evenly
    from its dark end to 90 % (its palest yellow is lost on white). Cividis is built to read the
    same with and without red-green colour-vision deficiency (Nuñez et al. 2018, PLoS ONE
    13(7): e0199239); its lightness rises monotonically, so the order survives greyscale print.
    """
    if n < 1:
        return []
    if n > MAX_ORDERED:
        raise ValueError(f"at most {MAX_ORDERED} ordered categories can be told apart, not {n}")
    cmap = matplotlib.colormaps["cividis"]
    return [matplotlib.colors.to_hex(cmap(x)) for x in np.linspace(0.0, 0.9, n)]


def palettes() -> dict[str, list[list[str]]]:
    """Every palette a figure uses, each with every number of categories it is used with
    (the colour-vision test checks each list)."""
    return {
        "groups": [list(GROUP_COLOURS)],
        "pairs": [list(PAIR_COLOURS)],
        "activities": [list(ACTIVITY_COLOURS)],
        "ordered": [ordered_colours(n) for n in range(2, MAX_ORDERED + 1)],
    }


def scale_range(instrument: object) -> tuple[float, float]:
    """The range of an instrument's score in its own units: the items' range for a mean or a
    vendor's column (``range`` in ``config/instruments/<id>.yaml``), the number of items times
    it for a sum."""
    low, high = float(instrument.range_min), float(instrument.range_max)
    if getattr(instrument, "score_method", "mean") == "sum":
        k = len(instrument.items)
        return low * k, high * k
    return low, high


def measure_scales(instruments: Mapping[str, object]) -> dict[str, tuple[float, float]]:
    """Scale range of every measure (an instrument and its ``<id>_<part>`` areas, which share
    the instrument's range)."""
    return {m: scale_range(inst) for inst in instruments.values() for m in inst.measures}


def _scale_text(scale: tuple[float, float]) -> str:
    return f"{scale[0]:g}–{scale[1]:g}"


def scale_ylim(ax, scale: tuple[float, float] | None, values: Sequence[float] = ()) -> None:
    """The rule for every axis of scores: it covers the scale's whole range (a small margin
    each side), widened only if a value (an interval end) lies outside; without a scale the
    axis is left to matplotlib. So a change looks as large as it is on the instrument, never
    as large as the chart."""
    if scale is None:
        return
    low, high = scale
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    low, high = min([low, *finite]), max([high, *finite])
    pad = 0.03 * (high - low)
    ax.set_ylim(low - pad, high + pad)


def _label(labels: Mapping[str, str], key: str) -> str:
    """A display text; the key itself (never an English fallback) when the labels lack it."""
    return str(labels.get(key, key))


def _ci_percent(ci: float) -> str:
    return f"{ci * 100:g}"


def hidden_note(fig: Figure, hidden: Sequence[tuple[str, str]], labels: Mapping[str, str], *,
                min_n: int | None = None) -> None:  # fmt: skip
    """Say under the figure which categories disclosure control left out (``fig_hidden_note``),
    so that a gap or a bar short of 100 % is never unexplained; nothing when none is hidden.

    ``hidden`` holds ``(what, round)`` display texts (``what`` may be empty), listed as
    ``what: round, round; what: round``."""
    import textwrap

    if not hidden:
        return
    rounds: dict[str, list[str]] = {}
    for what, when in hidden:
        rounds.setdefault(what, [])
        if when not in rounds[what]:
            rounds[what].append(when)
    names = "; ".join(
        f"{what}: {', '.join(whens)}" if what else ", ".join(whens)
        for what, whens in rounds.items()
    )
    if min_n is None:
        text = _label(labels, "fig_hidden_note_plain").format(hidden=names)
    else:
        text = _label(labels, "fig_hidden_note").format(hidden=names, min_n=min_n)
    width = max(40, int(fig.get_figwidth() * 16))  # characters of 7.5 pt per line
    fig.supxlabel(textwrap.fill(text, width), x=0.01, ha="left", fontsize=7.5, color="#333333")


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply :data:`STYLE` for the duration of a ``with`` block (figure creation and saving)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas in the house style (call inside :func:`style_context`)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def forest_plot(
    meta: pd.DataFrame,
    *,
    measure: str,
    round: str,
    labels: Mapping[str, str] | None = None,
    baseline: str | None = None,
    methods: Sequence[str] | None = None,
) -> Figure:
    """Forest plot of one measure x round of ``meta.csv``.

    One square per organisation (area proportional to its random-effects weight) with its CI,
    and one diamond per pooled estimate (width = its CI). Suppressed rows and rows without an
    effect size are omitted. The x axis is Hedges' g, round minus baseline; a dashed line marks
    no change.

    Parameters
    ----------
    meta : DataFrame
        The table from :func:`evaluation.analyse.quant.pooling.meta_table`. Not modified.
    measure, round : str
        Which block of the table to draw.
    labels : mapping, optional
        Display texts: organisation names, ``pooled_<method>`` for a pooled row, the measure id
        for the title, ``fig_forest_xlabel`` for the x axis, ``fig_pooled`` for a pooled row,
        ``no_data``. Missing keys fall back to the ids.
    baseline : str, optional
        Baseline round id, shown in the x label.
    methods : list of str, optional
        Pooled rows to draw (default: every pooled method in the table).

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = dict(labels or {})
    block = meta[(meta["measure"] == measure) & (meta["round"] == round)]
    shown = block[~block["suppressed"].astype(bool) & block["effect_size"].notna()]
    studies = shown[shown["row_type"] == "study"]
    pooled = shown[shown["row_type"] == "pooled"]
    if methods is not None:
        pooled = pooled[pooled["method"].isin(list(methods))]
    n_rows = len(studies) + len(pooled)
    xlabel = _label(labels, "fig_forest_xlabel").format(
        round=_label(labels, round), baseline=_label(labels, baseline or "baseline")
    )
    with style_context():
        fig = new_figure(6.5, 1.4 + 0.32 * max(n_rows, 1) + (0.3 if len(pooled) else 0.0))
        ax = fig.add_subplot()
        ax.set_title(f"{_label(labels, measure)} · {_label(labels, round)}", loc="left")
        ax.set_xlabel(xlabel)
        if n_rows == 0:
            text = _label(labels, "no_data")
            ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
            return fig
        # rows from the top: studies, a gap, pooled estimates
        y_study = np.arange(n_rows + 1, n_rows + 1 - len(studies), -1, dtype=float)
        y_pooled = np.arange(len(pooled), 0, -1, dtype=float)
        weights = studies["weight"].fillna(0).to_numpy(dtype=float)
        sizes = 20.0 + 180.0 * weights / max(weights.max(initial=0.0), 1e-12)
        est = studies["effect_size"].to_numpy(dtype=float)
        lo = studies["ci_low"].to_numpy(dtype=float)
        hi = studies["ci_high"].to_numpy(dtype=float)
        ax.hlines(y_study, lo, hi, color="#333333", linewidth=1.0)
        ax.scatter(est, y_study, s=sizes, marker="s", color=PAIR_COLOURS[0], zorder=3)
        for y, row in zip(y_pooled, pooled.itertuples(index=False), strict=True):
            g, a, b = row.effect_size, row.ci_low, row.ci_high
            corners = [(a, y), (g, y + 0.3), (b, y), (g, y - 0.3)]
            ax.add_patch(Polygon(corners, closed=True, color=PAIR_COLOURS[1], zorder=3))
        ax.axvline(0.0, color="#777777", linestyle="--", linewidth=0.8, zorder=1)
        ticks = np.concatenate([y_study, y_pooled])
        names = [_label(labels, o) for o in studies["organisation"]]
        names += [
            _label(labels, "fig_pooled").format(method=_METHOD_NAMES.get(m, m))
            for m in pooled["method"]
        ]
        ax.set_yticks(ticks, names)
        ax.tick_params(axis="y", length=0)
        both = pd.concat([studies, pooled])
        for y, (g, a, b) in zip(
            ticks, both[["effect_size", "ci_low", "ci_high"]].to_numpy(dtype=float), strict=True
        ):
            text = f"{g:.2f} [{a:.2f}, {b:.2f}]"
            ax.text(1.01, y, text, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
        x_all = np.concatenate([lo, hi, both["ci_low"], both["ci_high"], [0.0]])
        span = float(np.nanmax(x_all) - np.nanmin(x_all)) or 1.0
        ax.set_xlim(np.nanmin(x_all) - 0.05 * span, np.nanmax(x_all) + 0.05 * span)
        ax.set_ylim(0.3, n_rows + 1.7)
        ax.spines["left"].set_visible(False)
    return fig


def save_figure(
    fig: Figure, path_without_suffix: str | Path, *, formats: Sequence[str] = ("svg", "png")
) -> list[Path]:
    """Write ``fig`` as ``<path>.svg`` and ``<path>.png``, deterministically and atomically.

    Each file is written to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so a reader never sees a half-written figure. Date and software
    metadata are left out and the SVG hash salt is fixed, so the same figure gives the same
    bytes on every run.

    Returns
    -------
    list of Path
        The files written, in ``formats`` order.
    """
    base = Path(path_without_suffix)
    written = []
    engine = fig.get_layout_engine()
    try:
        for fmt in formats:
            if fmt not in _METADATA:
                raise ValueError(f"format must be one of {tuple(_METADATA)}, not {fmt!r}")
            target = base.with_name(f"{base.name}.{fmt}")
            with style_context(), atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, metadata=_METADATA[fmt], **_SAVE_OPTIONS[fmt])
            written.append(target)
            if engine is not None and len(formats) > 1:
                # the first file laid the figure out: the others keep that layout (a
                # constrained layout costs as much as drawing the figure again). None, not
                # "none": savefig still draws a figure once more, unseen, before saving it
                # while it has any engine, even "none"'s placeholder (0.02 s a PNG).
                with matplotlib.rc_context(_NO_LAYOUT):
                    fig.set_layout_engine(None)
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
    return written


def _mean_ylabel(labels: Mapping[str, str], scale: tuple[float, float] | None, ci: float) -> str:
    """``Mean, scale 1–5 (95 % CI)`` from the labels: the axis says its units and range."""
    text = _label(labels, "fig_mean_ci").format(level=_ci_percent(ci))
    if scale is not None:
        text = _label(labels, "fig_mean_scale_ci").format(
            level=_ci_percent(ci), scale=_scale_text(scale)
        )
    return text


def _draw_means(ax, rows: pd.DataFrame, *, rounds: Sequence[str], colour: str, name: str,
                offset: float = 0.0) -> tuple[list[str], list[float]]:  # fmt: skip
    """One group's means per round as a line with its interval (``ci_low``/``ci_high`` of the
    table) as a shaded band and error bars; suppressed or missing cells are gaps. Returns the
    rounds hidden by disclosure control and every interval end drawn."""
    part = rows.drop_duplicates("round").set_index("round").reindex(list(rounds))
    suppressed = part["suppressed"].astype("boolean").fillna(False).astype(bool)
    shown = ~suppressed & part["mean"].notna()
    xs = np.arange(len(rounds), dtype=float) + offset
    y = part["mean"].astype(float).where(shown).to_numpy()
    lo = part["ci_low"].astype(float).where(shown).to_numpy()
    hi = part["ci_high"].astype(float).where(shown).to_numpy()
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.12, linewidth=0)
    ax.errorbar(
        xs, y, yerr=[y - lo, hi - y], marker="o", capsize=3, linewidth=1.4, color=colour,
        label=name,
    )  # fmt: skip
    hidden = [r for r, gone in zip(rounds, suppressed, strict=True) if gone]
    return hidden, [*lo[np.isfinite(lo)], *hi[np.isfinite(hi)]]


def trajectory_plot(
    means: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    labels: Mapping[str, str] | None = None,
    scale: tuple[float, float] | None = None,
    ci: float = 0.95,
    min_n: int | None = None,
) -> Figure:
    """Mean per round with its CI, one line per group of ``round_means`` (all, participants,
    others) and the interval as a band; suppressed cells are not drawn (a line breaks there)
    and a note under the figure names them.

    The y axis covers ``scale`` (the measure's range, :func:`scale_range`) by the rule of
    :func:`scale_ylim`, and its label gives the scale; ``ci`` is the level the table was
    computed at (``analysis.ci``), named on the axis."""
    labels = dict(labels or {})
    block = means[means["measure"] == measure]
    if "group_by" in block:
        block = block[block["group_by"].astype(str).isin(["all", "participant"])]
    names = {"all": _label(labels, "all"), "1": _label(labels, "participants")}
    names["0"] = _label(labels, "non_participants")
    hidden: list[tuple[str, str]] = []
    ends: list[float] = []
    with style_context():
        fig = new_figure(6.0, 3.6)
        ax = fig.add_subplot()
        ax.set_title(_label(labels, measure), loc="left")
        present = set(block["group"].astype(str))
        order = [g for g in ("all", "1", "0") if g in present] + sorted(present - {"all", "1", "0"})
        for offset, group in enumerate(order):
            name = str(names.get(str(group), group))
            gone, drawn = _draw_means(
                ax, block[block["group"].astype(str) == group], rounds=rounds,
                colour=GROUP_COLOURS[offset % len(GROUP_COLOURS)], name=name,
                offset=(offset - 1) * 0.06,
            )  # fmt: skip
            hidden += [(name, _label(labels, r)) for r in gone]
            ends += drawn
        ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds])
        ax.set_ylabel(_mean_ylabel(labels, scale, ci))
        scale_ylim(ax, scale, ends)
        ax.legend(frameon=False, loc="best")
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


def band_plot(
    bands: pd.DataFrame,
    *,
    measure: str,
    band_order: Sequence[str],
    rounds: Sequence[str],
    labels: Mapping[str, str] | None = None,
    min_n: int | None = None,
) -> Figure:
    """Stacked shares of respondents per band and round, lowest band at the bottom, in
    :func:`ordered_colours`. A suppressed cell is left out of its bar, which then stops short
    of 100 %: a note under the figure names each band and round so hidden."""
    labels = dict(labels or {})
    block = bands[bands["measure"] == measure]
    colours = ordered_colours(len(band_order))
    hidden: list[tuple[str, str]] = []
    with style_context():
        fig = new_figure(6.0, 3.6)
        ax = fig.add_subplot()
        ax.set_title(_label(labels, measure), loc="left")
        bottom = np.zeros(len(rounds))
        for i, band in enumerate(band_order):
            part = block[block["band"] == band].set_index("round").reindex(list(rounds))
            if "suppressed" in part:
                gone = part["suppressed"].astype("boolean").fillna(False).astype(bool)
                hidden += [
                    (_label(labels, band), _label(labels, r))
                    for r, g in zip(rounds, gone, strict=True)
                    if g
                ]
            share = part["share"].astype(float).fillna(0.0).to_numpy() * 100
            ax.bar(
                range(len(rounds)), share, bottom=bottom, color=colours[i],
                label=_label(labels, band), width=0.6, edgecolor="white", linewidth=0.6,
            )  # fmt: skip
            bottom += share
        ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds])
        ax.set_ylabel(_label(labels, "fig_share_pct"))
        ax.set_ylim(0, 100)
        # legend top to bottom in the order the bands are stacked (highest on top)
        handles, texts = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], texts[::-1], frameon=False, fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))  # fmt: skip
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


def indicator_plot(indicators: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> Figure:
    """Achieved share of each target (``round == "all"`` rows); 100 % marks the target."""
    labels = dict(labels or {})
    rows = indicators[(indicators["round"] == "all") & ~indicators["suppressed"].astype(bool)]
    if "group" in rows:  # the whole study's rows (not the per-organisation ones)
        rows = rows[rows["group"].astype(str) == "all"]
    rows = rows.iloc[::-1]
    with style_context():
        fig = new_figure(6.5, 1.0 + 0.3 * max(len(rows), 1))
        ax = fig.add_subplot()
        share = rows["share_of_target"].astype(float).fillna(0.0).to_numpy() * 100
        if "status" in rows:  # met / not_met / uncertain (the interval's rule)
            status = rows["status"].fillna("").astype(str).to_numpy()
        else:  # an indicators.csv of an older run
            met = rows["met"].astype(str).str.lower().eq("true").to_numpy()
            status = np.where(met, "met", "not_met")
        colours = np.select(
            [status == "met", status == "uncertain"],
            [PAIR_COLOURS[0], OKABE_ITO["orange"]],
            PAIR_COLOURS[1],
        )
        ax.barh(range(len(rows)), share, color=colours, height=0.6)
        ax.axvline(100, color="#777777", linestyle="--", linewidth=0.8)
        names = [
            labels.get(k, i) for k, i in zip(rows["label_key"], rows["indicator"], strict=True)
        ]
        ax.set_yticks(range(len(rows)), names)
        ax.set_xlabel(_label(labels, "share_of_target") + " (%)")
    return fig


def indicator_trajectory_plot(
    indicators: pd.DataFrame,
    *,
    rounds: Sequence[str],
    labels: Mapping[str, str] | None = None,
    group: str = "all",
    ncols: int = 3,
    min_n: int | None = None,
) -> Figure:
    """Achieved value per round against the target, one panel per indicator, from the rows of
    ``indicators.csv`` of one ``group`` (``all``: the whole study): the value (a point, joined
    by a line), its confidence interval where the indicator has one (``ci_low``, ``ci_high``:
    rates and means) and the target as a dashed line. A cumulative indicator climbs toward its
    target; a mean (``window = round``) is each round's own. Rounds hidden by disclosure
    control are gaps, named in a note."""
    labels = dict(labels or {})
    rows = indicators[indicators["group"].astype(str) == str(group)]
    keys = list(dict.fromkeys(rows["indicator"].astype(str)))
    hidden: list[tuple[str, str]] = []
    cols = max(1, min(ncols, len(keys)))
    nrows = max(1, -(-len(keys) // cols))
    with style_context():
        fig = new_figure(3.0 * cols, 2.3 * nrows + 0.4)
        axes = fig.subplots(nrows, cols, squeeze=False).ravel()
        for ax in axes[len(keys) :]:
            ax.set_visible(False)
        for ax, key in zip(axes, keys, strict=False):
            block = rows[rows["indicator"].astype(str) == key].set_index("round")
            block = block.reindex([r for r in rounds if r in block.index])
            first = block.iloc[0] if len(block) else None
            name = _label(labels, str(first["label_key"])) if first is not None else key
            ax.set_title(name, loc="left", fontsize=8.5, wrap=True)
            x = np.arange(len(block))
            value = block["achieved"].astype(float).to_numpy()
            low = block["ci_low"].astype(float).to_numpy()
            high = block["ci_high"].astype(float).to_numpy()
            for rnd, flag in zip(block.index, block["suppressed"], strict=True):
                if pd.notna(flag) and str(flag).lower() == "true":
                    hidden.append((name, _label(labels, str(rnd))))
            ax.plot(x, value, marker="o", color=PAIR_COLOURS[0], linewidth=1.2, markersize=4)
            has = ~np.isnan(low) & ~np.isnan(high) & ~np.isnan(value)
            if has.any():
                ax.errorbar(
                    x[has], value[has],
                    yerr=[value[has] - low[has], high[has] - value[has]],
                    fmt="none", ecolor=PAIR_COLOURS[0], capsize=3, linewidth=1,
                )  # fmt: skip
            targets = block["target"].astype(float).dropna()
            if len(targets):
                ax.axhline(targets.iloc[-1], color=PAIR_COLOURS[1], linestyle="--", linewidth=1)
            ax.set_xticks(x, [_label(labels, str(r)) for r in block.index], fontsize=7.5)
            ax.set_xlim(-0.5, max(len(block), 1) - 0.5)
            ax.set_ylim(bottom=min(0.0, float(np.nanmin(low)) if has.any() else 0.0))
            unit = str(first["unit"]) if first is not None and pd.notna(first["unit"]) else ""
            if unit:
                ax.set_ylabel(_label(labels, unit), fontsize=7.5)
        if keys:
            handles = [
                Line2D([], [], color=PAIR_COLOURS[0], marker="o"),
                Line2D([], [], color=PAIR_COLOURS[1], linestyle="--"),
            ]
            fig.legend(
                handles, [_label(labels, "achieved"), _label(labels, "target")],
                loc="outside upper right", ncols=2, fontsize=7.5, frameon=False,
            )  # fmt: skip
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


def distribution_plot(
    quantiles: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    labels: Mapping[str, str] | None = None,
    scale: tuple[float, float] | None = None,
    min_n: int | None = None,
) -> Figure:
    """Distribution per round from the quantile table: box = 25-75 %, line = median, whiskers
    = 10-90 %. Minimum, maximum and outliers are never drawn: they are single respondents.
    The y axis covers ``scale`` (:func:`scale_ylim`); a suppressed round is named in a note."""
    labels = dict(labels or {})
    block = quantiles[quantiles["measure"] == measure].set_index("round").reindex(list(rounds))
    colour = OKABE_ITO["blue"]
    hidden: list[tuple[str, str]] = []
    ends: list[float] = []
    with style_context():
        fig = new_figure(6.0, 3.2)
        ax = fig.add_subplot()
        ax.set_title(_label(labels, measure), loc="left")
        for i, (rnd, row) in enumerate(block.iterrows()):
            flag = row.get("suppressed")
            if pd.notna(flag) and bool(flag):  # in the table, hidden (not a round without data)
                hidden.append(("", _label(labels, str(rnd))))
            if bool(row.get("suppressed", True)) or pd.isna(row["q50"]):
                continue
            ax.add_patch(
                Rectangle(
                    (i - 0.25, row["q25"]), 0.5, row["q75"] - row["q25"],
                    facecolor=OKABE_ITO["sky_blue"], edgecolor=colour,
                )
            )  # fmt: skip
            ax.hlines(row["q50"], i - 0.25, i + 0.25, color=colour, linewidth=2)
            ax.vlines(i, row["q10"], row["q25"], color=colour)
            ax.vlines(i, row["q75"], row["q90"], color=colour)
            ends += [float(row["q10"]), float(row["q90"])]
        ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds])
        ax.set_xlim(-0.6, len(rounds) - 0.4)
        ax.autoscale(axis="y")
        scale_ylim(ax, scale, ends)
        ylabel = _label(labels, "fig_quantiles")
        if scale is not None:
            ylabel = _label(labels, "fig_quantiles_scale").format(scale=_scale_text(scale))
        ax.set_ylabel(ylabel)
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


def theme_heatmap(themes: pd.DataFrame, *, rounds: list[str], labels: dict):
    """Themes × rounds heatmap of the whole study's shares (suppressed cells left blank)."""
    from evaluation.analyse.qual.themes import NO_ROUND

    whole = themes[themes["group_by"] == "all"]
    grid = whole.pivot_table(index="code", columns="round", values="share", aggfunc="first")
    grid = grid.reindex(columns=[r for r in [*rounds, NO_ROUND] if r in grid.columns])
    order = grid.mean(axis=1).sort_values(ascending=False).index
    grid = grid.loc[order]
    with style_context():
        fig = new_figure(6.5, 0.35 * len(grid) + 1.2)
        ax = fig.subplots()
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="Blues", vmin=0, aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [labels.get(r, r) for r in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [labels.get(c, c) for c in grid.index])
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if value == value:
                colour = "white" if value > 0.6 * np.nanmax(grid.to_numpy(dtype=float)) else "black"
                ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8, color=colour)
        fig.colorbar(image, ax=ax, fraction=0.03, format=lambda v, _: f"{v:.0%}")
    return fig


def _group_lines(
    ax,
    means: pd.DataFrame,
    measure: str,
    lines: Sequence[tuple[str, str, str]],
    *,
    rounds: Sequence[str],
    colours: Sequence[str],
    offsets: Sequence[float],
    title: str,
    labels: Mapping[str, str],
) -> tuple[list[tuple[str, str]], list[float]]:
    """One panel's lines: for each ``(group_by, group, name)`` of ``lines`` its rows of
    ``means`` for ``measure`` drawn by :func:`_draw_means` (colour and x offset by position).
    Returns the hidden cells as ``("<title>, <name>", round label)`` and the drawn values and
    interval ends (for :func:`scale_ylim`)."""
    hidden: list[tuple[str, str]] = []
    ends: list[float] = []
    for i, (by, group, name) in enumerate(lines):
        rows = means[
            (means["measure"] == measure)
            & (means["group_by"].astype(str) == str(by))
            & (means["group"].astype(str) == str(group))
        ]
        if rows.empty:
            continue
        gone, drawn = _draw_means(
            ax, rows, rounds=rounds, colour=colours[i % len(colours)], name=name,
            offset=offsets[i],
        )  # fmt: skip
        hidden += [(f"{title}, {name}", _label(labels, r)) for r in gone]
        ends += drawn
    return hidden, ends


def mean_trajectory_plot(
    means: pd.DataFrame,
    *,
    measures: Sequence[str],
    lines: Sequence[tuple[str, str, str]],
    rounds: Sequence[str],
    labels: Mapping[str, str],
    scales: Mapping[str, tuple[float, float]] | None = None,
    ci: float = 0.95,
    min_n: int | None = None,
) -> Figure:
    """Mean per round with its CI, one panel per measure, from rows of ``trajectories.csv``
    (``round_means``: ``measure, round, group_by, group, mean, ci_low, ci_high, suppressed``).

    ``lines`` are ``(group_by, group, name)``: the first black (the whole study), the second
    blue (the audience's group). Each y axis covers its measure's scale (``scales``, by
    :func:`scale_ylim`); cells hidden by disclosure control are gaps, named in a note."""
    scales = dict(scales or {})
    hidden: list[tuple[str, str]] = []
    with style_context():
        fig = new_figure(3.75 * len(measures) if len(measures) > 1 else 4.8, 3.6)
        axes = fig.subplots(1, max(len(measures), 1), squeeze=False)[0]
        for ax, measure in zip(axes, measures, strict=False):
            gone, ends = _group_lines(
                ax, means, measure, lines, rounds=rounds, colours=GROUP_COLOURS,
                offsets=[0.05 * i for i in range(len(lines))], title=_label(labels, measure),
                labels=labels,
            )  # fmt: skip
            hidden += gone
            scale = scales.get(measure)
            scale_ylim(ax, scale, ends)
            ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds], rotation=20)
            ax.set_title(_label(labels, measure), fontsize=10)
            ax.set_ylabel(_mean_ylabel(labels, scale, ci))
        axes[0].legend(frameon=False, fontsize=8)
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


# --------------------------------------------------------------------------- model diagnostics

#: Okabe & Ito (2008) colour-blind-safe colours of the diagnostic figures: points, reference
#: lines, smooth.
_DIAG_POINTS = "#0072B2"  # blue
_DIAG_REFERENCE = "#D55E00"  # vermillion
_DIAG_SMOOTH = "#009E73"  # bluish green


def _qq(ax, values: np.ndarray, *, labels: Mapping[str, str]) -> None:
    """Normal Q-Q plot of ``values`` on ``ax``: ordered values against normal quantiles (Blom's
    plotting positions, scipy ``probplot``), with the line through the quartiles."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    ax.set_xlabel(_label(labels, "diag_theoretical_quantiles"))
    ax.set_ylabel(_label(labels, "diag_sample_quantiles"))
    if len(values) < 2:
        ax.text(0.5, 0.5, _label(labels, "no_data"), ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        return
    (theory, ordered), _ = stats.probplot(values, dist="norm")
    ax.scatter(theory, ordered, s=8, color=_DIAG_POINTS, alpha=0.6, linewidths=0)
    q1, q3 = np.percentile(ordered, [25, 75])
    t1, t3 = stats.norm.ppf([0.25, 0.75])
    slope = (q3 - q1) / (t3 - t1)
    xs = np.array([theory.min(), theory.max()])
    ax.plot(xs, q1 + slope * (xs - t1), color=_DIAG_REFERENCE, linewidth=1.0)


def residual_plot(
    fitted: Sequence[float] | np.ndarray | pd.Series,
    resid: Sequence[float] | np.ndarray | pd.Series,
    labels: Mapping[str, str] | None = None,
    *,
    min_n: int = 5,
) -> Figure:
    """Residual diagnostics of a fitted model, drawn from groups of at least ``min_n``
    respondents so that the figure can be published: no mark stands for fewer people.

    Left: residuals against fitted values as hexagonal bins (a bin with fewer than ``min_n``
    respondents is not drawn), a dashed line at 0 and the means of equal-count bins of the
    fitted values (each of at least ``min_n`` respondents) that should stay flat near 0; a
    funnel shape means the variance changes with the mean. Right: a normal Q-Q plot of the
    means of consecutive blocks of ``min_n`` or more ordered residuals against the normal
    quantiles of the blocks' middle plotting positions, with the line through the quartiles;
    heavy tails bend away from it at both ends (block means pull the extremes in a little).

    Parameters
    ----------
    fitted, resid : array-like of float
        Fitted values and residuals of the same rows (NaNs dropped pairwise).
    labels : mapping, optional
        Display texts: ``diag_residuals_title``, ``diag_fitted``, ``diag_residual``,
        ``diag_qq_title``, ``diag_theoretical_quantiles``, ``diag_sample_quantiles``,
        ``no_data``.
    min_n : smallest number of respondents behind any mark.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: residuals vs fitted, normal Q-Q.
    """
    from scipy import stats

    labels = dict(labels or {})
    x = np.asarray(fitted, dtype=float)
    y = np.asarray(resid, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"fitted and resid differ in length: {x.shape} vs {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    k = max(int(min_n), 1)
    with style_context():
        fig = new_figure(7.5, 3.3)
        left, right = fig.subplots(1, 2)
        left.set_title(_label(labels, "diag_residuals_title"), loc="left")
        left.set_xlabel(_label(labels, "diag_fitted"))
        left.set_ylabel(_label(labels, "diag_residual"))
        right.set_title(_label(labels, "diag_qq_title"), loc="left")
        right.set_xlabel(_label(labels, "diag_theoretical_quantiles"))
        right.set_ylabel(_label(labels, "diag_sample_quantiles"))
        blocks = len(x) // k
        if blocks < 2:
            for ax in (left, right):
                ax.text(0.5, 0.5, _label(labels, "no_data"), ha="center", va="center",
                        transform=ax.transAxes)  # fmt: skip
            return fig
        left.hexbin(x, y, gridsize=25, mincnt=k, cmap="Blues", linewidths=0)
        left.axhline(0.0, color=_DIAG_REFERENCE, linestyle="--", linewidth=0.8)
        order = np.argsort(x, kind="stable")
        bins = np.array_split(order, min(20, blocks))
        left.plot([x[b].mean() for b in bins], [y[b].mean() for b in bins],
                  color=_DIAG_SMOOTH, linewidth=1.4)  # fmt: skip
        ranked = np.sort(y)
        parts = np.array_split(np.arange(len(ranked)), min(200, blocks))
        means = np.array([ranked[p].mean() for p in parts])
        middle = np.array([(p[0] + p[-1]) / 2 for p in parts])
        theory = stats.norm.ppf((middle + 0.5) / len(ranked))
        right.scatter(theory, means, s=10, color=_DIAG_POINTS, linewidths=0)
        q1, q3 = np.percentile(ranked, [25, 75])
        t1, t3 = stats.norm.ppf([0.25, 0.75])
        slope = (q3 - q1) / (t3 - t1)
        xs = np.array([theory.min(), theory.max()])
        right.plot(xs, q1 + slope * (xs - t1), color=_DIAG_REFERENCE, linewidth=1.0)
    return fig


def random_effects_plot(
    blups: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    min_n: int | None = None,
) -> Figure:
    """Normal Q-Q plot of the predicted random effects (BLUPs), one panel per level.

    The model assumes each level's random effects (organisations, units within them) are
    normal; a panel whose points leave the quartile line, or one point far from the rest,
    shows a cluster the model fits badly. Clusters are not named.

    Parameters
    ----------
    blups : DataFrame
        Columns ``level`` (e.g. ``organisation``, ``unit``), ``cluster`` and ``value`` (the
        predicted random effect), optionally ``n`` (respondents of the cluster). Not modified.
    labels : mapping, optional
        Display texts: the level ids (``organisation``, ``unit``) as panel titles,
        ``diag_random_effects_title``, ``diag_theoretical_quantiles``, ``diag_blup``,
        ``no_data``. Missing keys fall back to English.
    min_n : int, optional
        With an ``n`` column: clusters with fewer respondents are left out (a random effect
        of a small unit is close to its few respondents' mean).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per level, in order of appearance.
    """
    labels = dict(labels or {})
    missing = [c for c in ("level", "cluster", "value") if c not in blups]
    if missing:
        raise ValueError(f"blups has no column(s) {missing}")
    shown = blups
    if min_n is not None and "n" in blups:
        shown = blups[pd.to_numeric(blups["n"], errors="coerce").fillna(0) >= min_n]
    levels = list(dict.fromkeys(blups["level"].astype(str)))
    with style_context():
        fig = new_figure(3.6 * max(len(levels), 1) + 0.4, 3.3)
        fig.suptitle(_label(labels, "diag_random_effects_title"), x=0.02,
                     ha="left", fontsize=10)  # fmt: skip
        axes = fig.subplots(1, max(len(levels), 1), squeeze=False)[0]
        for ax, level in zip(axes, levels, strict=False):
            values = shown.loc[shown["level"].astype(str) == level, "value"]
            ax.set_title(labels.get(level, level), loc="left")
            _qq(ax, values.to_numpy(dtype=float), labels=labels)
            ax.set_ylabel(_label(labels, "diag_blup"))
        if not levels:
            axes[0].text(0.5, 0.5, _label(labels, "no_data"), ha="center", va="center",
                         transform=axes[0].transAxes)  # fmt: skip
    return fig


def blandaltman_plot(
    pairs: pd.DataFrame,
    row: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    min_n: int = 5,
    ci: float = 0.95,
) -> Figure:
    """Bland-Altman figure of a proxy against a reference (Bland & Altman 1986, fig. 2).

    The difference (``measure`` − ``reference``) against the pair's mean, drawn as hexagonal
    bins of at least ``min_n`` respondents (no mark stands for fewer people); a solid line at
    the bias, dashed lines at the limits of agreement, each with its interval as a band; a
    dotted line at no difference. Numbers come from ``row`` (a row of
    ``proxy_agreement.csv``: ``measure``, ``reference``, ``bias``, ``loa_low``, ``loa_high``
    and their ``*_ci_low`` / ``*_ci_high``).

    Parameters
    ----------
    pairs : DataFrame with ``mean`` and ``diff`` (from
        :func:`evaluation.analyse.quant.agreement.agreement_pairs`). Not modified.
    row : the agreement row (mapping).
    labels : display texts: the measure ids, ``fig_blandaltman_title``, ``fig_blandaltman_x``,
        ``fig_blandaltman_y``, ``fig_blandaltman_bias``, ``fig_blandaltman_loa``, ``no_data``.
    min_n : smallest number of respondents behind a bin.
    ci : the intervals' level (for the legend).
    """
    import textwrap

    labels = dict(labels or {})
    measure, reference = str(row["measure"]), str(row["reference"])
    x = pairs["mean"].to_numpy(dtype=float)
    y = pairs["diff"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    names = {"measure": _label(labels, measure), "reference": _label(labels, reference)}
    level = _ci_percent(ci)
    with style_context():
        fig = new_figure(6.5, 4.0)
        ax = fig.add_subplot()
        title = _label(labels, "fig_blandaltman_title").format(**names)
        ax.set_title(textwrap.fill(title, 75), loc="left")  # a proxy's label is long
        ax.set_xlabel(_label(labels, "fig_blandaltman_x").format(**names))
        ax.set_ylabel(_label(labels, "fig_blandaltman_y").format(**names))
        if len(x) < max(int(min_n), 1) or not np.isfinite(float(row.get("bias", np.nan))):
            ax.text(0.5, 0.5, _label(labels, "no_data"), ha="center", va="center",
                    transform=ax.transAxes)  # fmt: skip
            return fig
        bins = ax.hexbin(x, y, gridsize=30, mincnt=max(int(min_n), 1), cmap="Blues", linewidths=0)
        centres = np.asarray(bins.get_offsets(), dtype=float)
        if len(centres):  # the axis spans the bins drawn, not a single respondent's extreme
            span = float(np.ptp(centres[:, 0])) or 1.0
            ax.set_xlim(centres[:, 0].min() - 0.08 * span, centres[:, 0].max() + 0.08 * span)
        ax.axhline(0.0, color="#777777", linestyle=":", linewidth=0.8)
        lines = (
            ("bias", "-", PAIR_COLOURS[0], _label(labels, "fig_blandaltman_bias")),
            ("loa_low", "--", PAIR_COLOURS[1], _label(labels, "fig_blandaltman_loa")),
            ("loa_high", "--", PAIR_COLOURS[1], None),
        )
        for key, style, colour, name in lines:
            value = float(row[key])
            low, high = float(row[f"{key}_ci_low"]), float(row[f"{key}_ci_high"])
            ax.axhspan(low, high, color=colour, alpha=0.12, linewidth=0)
            text = None if name is None else name.format(level=level)
            ax.axhline(value, color=colour, linestyle=style, linewidth=1.2, label=text)
        marks = [float(row["loa_low_ci_low"]), float(row["loa_high_ci_high"]), 0.0]
        marks += list(centres[:, 1]) if len(centres) else []
        low, high = float(np.nanmin(marks)), float(np.nanmax(marks))
        pad = 0.12 * ((high - low) or 1.0)
        ax.set_ylim(low - pad, high + 2 * pad)  # room for the legend above
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    return fig


# --------------------------------------------------------------------------- unit risk indicators


def risk_trend_plot(
    risks: pd.DataFrame,
    *,
    definitions: Sequence[object],
    rounds: Sequence[str],
    groups: Sequence[tuple[str, str, str]],
    labels: Mapping[str, str],
    min_n: int | None = None,
) -> Figure | None:
    """The value of each risk indicator per round (rows of ``risks.csv``), one panel per
    indicator with a value to show, one line per ``groups`` entry ``(group_by, group, name)``;
    the thresholds of the indicator's levels as dashed lines; the y axis over the indicator's
    scale. Hidden cells are gaps, named in a note. None when nothing is left to draw."""
    hidden: list[tuple[str, str]] = []
    shown_rows = risks[~risks["suppressed"].astype("boolean").fillna(True).astype(bool)]
    wanted = [
        d
        for d in definitions
        if any(
            (
                shown_rows["indicator"].eq(d.id)
                & shown_rows["group_by"].astype(str).eq(by)
                & shown_rows["group"].astype(str).eq(group)
            ).any()
            for by, group, _ in groups
        )
    ]
    if not wanted:
        return None
    columns = min(len(wanted), 2)
    panels = -(-len(wanted) // columns)
    with style_context():
        fig = new_figure(3.6 * columns + 0.4, 2.9 * panels + 0.4)
        axes = fig.subplots(panels, columns, squeeze=False).ravel()
        for ax in axes[len(wanted) :]:
            ax.set_visible(False)
        for ax, d in zip(axes, wanted, strict=False):
            for i, (by, group, name) in enumerate(groups):
                rows = risks[
                    risks["indicator"].eq(d.id)
                    & risks["group_by"].astype(str).eq(str(by))
                    & risks["group"].astype(str).eq(str(group))
                ]
                if rows.empty:
                    continue
                part = rows.drop_duplicates("round").set_index("round").reindex(list(rounds))
                gone = part["suppressed"].astype("boolean").fillna(False).astype(bool)
                y = part["value"].astype(float).where(~gone).to_numpy()
                ax.plot(range(len(rounds)), y, marker="o", linewidth=1.4, label=name,
                        color=GROUP_COLOURS[i % len(GROUP_COLOURS)])  # fmt: skip
                hidden += [
                    (f"{_label(labels, 'risk_' + d.id)}, {name}", _label(labels, r))
                    for r, g in zip(rounds, gone, strict=True) if g
                ]  # fmt: skip
            for band in d.thresholds:
                if band.upper is not None:
                    ax.axhline(band.upper, color="#777777", linestyle="--", linewidth=0.8)
            top = max([float(np.nanmax(risks.loc[risks["indicator"].eq(d.id), "value"]
                                       .astype(float).to_numpy(), initial=0.0)),
                       *(b.upper for b in d.thresholds if b.upper is not None)])  # fmt: skip
            ax.set_ylim(d.scale_min, min(d.scale_max, top * 1.25 + 1))
            ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds], rotation=20)
            ax.set_title(_label(labels, f"risk_{d.id}"), fontsize=10)
            ax.set_ylabel(_label(labels, f"risk_unit_{d.scale_unit}"))
        axes[0].legend(frameon=False, fontsize=8)
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig


# --------------------------------------------------------------------------- training feedback

#: Lines of the feedback figure: all activities (black), then one colour per activity type.
ACTIVITY_COLOURS: tuple[str, ...] = (
    OKABE_ITO["black"],
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["orange"],
)


def feedback_plot(
    summary: pd.DataFrame,
    *,
    scales: Sequence[tuple[str, str]],
    lines: Sequence[tuple[str, str, str]],
    rounds: Sequence[str],
    labels: Mapping[str, str],
    scale: tuple[float, float] = (1.0, 5.0),
    ci: float = 0.95,
    min_n: int | None = None,
) -> Figure:
    """Feedback means per round with their CIs (``feedback_summary.csv``), one panel per
    scale (two columns), one line per group.

    ``scales`` are ``(scale id, title)``; ``lines`` are ``(group_by, group, name)``: the whole
    set first (black), then e.g. each activity type. Each y axis covers ``scale`` (the
    answers' range, by :func:`scale_ylim`); cells hidden by disclosure control are gaps,
    named in a note under the figure."""
    means = summary.rename(columns={"scale": "measure"})
    hidden: list[tuple[str, str]] = []
    n_cols = 2 if len(scales) > 1 else 1
    n_rows = max(1, -(-len(scales) // n_cols))
    with style_context():
        fig = new_figure(7.2 if n_cols == 2 else 4.8, 2.9 * n_rows + 0.6)
        axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
        centred = [0.05 * (i - (len(lines) - 1) / 2) for i in range(len(lines))]
        for ax, (measure, title) in zip(axes, scales, strict=False):
            gone, ends = _group_lines(
                ax, means, measure, lines, rounds=rounds, colours=ACTIVITY_COLOURS,
                offsets=centred, title=title, labels=labels,
            )  # fmt: skip
            hidden += gone
            scale_ylim(ax, scale, ends)
            ax.set_xticks(range(len(rounds)), [_label(labels, r) for r in rounds], rotation=20)
            ax.set_title(title, fontsize=10, loc="left")
            ax.set_ylabel(_mean_ylabel(labels, scale, ci), fontsize=8)
        for ax in axes[len(scales) :]:
            ax.set_visible(False)
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="outside upper center", ncols=min(len(names), 3),
                       frameon=False, fontsize=8)  # fmt: skip
        hidden_note(fig, hidden, labels, min_n=min_n)
    return fig
