"""Figures drawn once for what they show (evaluation.report.plot_cache, issue 17): a figure is
copied from the study's cache only when the same plot function would get the same arguments
in the same language; any other change draws it again."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from evaluation.io.files import FIGURES_ENV, STAGING_ENV
from evaluation.report import plot_cache
from evaluation.report.display import show_plot
from evaluation.report.plots import new_figure, style_context

TABLE = pd.DataFrame({"round": ["t1", "t2"], "value": [3.0, 5.0]})


def line_plot(indicators: pd.DataFrame, rounds: list[str], labels: dict | None = None):
    """A small figure of a table (what a plot function of evaluation.report.plots is)."""
    with style_context():
        fig = new_figure(3, 2)
        ax = fig.add_subplot()
        ax.plot(rounds, indicators["value"])
        ax.set_title((labels or {}).get("t1", "t1"))
    return fig


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    limit: float


def test_a_fingerprint_is_the_content_and_refuses_what_it_cannot_read():
    same = TABLE.copy()
    assert plot_cache.fingerprint({"t": TABLE, "n": 5}) == plot_cache.fingerprint(
        {"n": 5, "t": same}
    )
    changed = TABLE.assign(value=[3.0, 5.000001])
    assert plot_cache.fingerprint(TABLE) != plot_cache.fingerprint(changed)
    as_text = TABLE.assign(value=TABLE["value"].astype(str))
    assert plot_cache.fingerprint(TABLE) != plot_cache.fingerprint(as_text)  # dtypes count
    assert plot_cache.fingerprint([1]) != plot_cache.fingerprint([True])
    assert plot_cache.fingerprint(Rule("a", 1.0)) != plot_cache.fingerprint(Rule("a", 2.0))
    with pytest.raises(TypeError, match="no fingerprint"):
        plot_cache.fingerprint({"figure": object()})


def _in_a_run(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """The environment `evaluation run` sets while a notebook runs: its staging folder and
    the figure cache."""
    reports = tmp_path / "reports"
    stage = reports / ".staging" / "report"
    stage.mkdir(parents=True)
    monkeypatch.setenv(STAGING_ENV, json.dumps({"reports": str(reports), "stage": str(stage)}))
    monkeypatch.setenv(FIGURES_ENV, str(reports / ".cache" / "figures"))
    return reports, stage


ARGUMENTS = {"indicators": TABLE, "rounds": ["t1", "t2"], "labels": {"t1": "Kevät"}}


def _counted(drawn: list[dict]):
    """``line_plot`` that notes the arguments of every figure it draws in ``drawn``."""

    def plot(**arguments):
        drawn.append(arguments)
        return line_plot(**arguments)

    return plot


def test_a_figure_is_drawn_once_for_the_same_arguments_and_again_for_others(tmp_path, monkeypatch):
    reports, stage = _in_a_run(tmp_path, monkeypatch)
    drawn: list[dict] = []
    plot = _counted(drawn)
    arguments = dict(ARGUMENTS)
    first = reports / "figures" / "reports" / "fi" / "consortium" / "indicators"
    second = reports / "figures" / "reports" / "fi" / "actor-a" / "indicators"
    assert show_plot(plot, arguments, first, alt="Indikaattorit", png=False, language="fi")
    assert show_plot(plot, dict(arguments), second, alt="Indikaattorit", png=False, language="fi")
    assert len(drawn) == 1  # the second report's figure came from the cache
    staged = [stage / p.relative_to(reports) for p in (first, second)]
    svg = [p.with_name(p.name + ".svg").read_bytes() for p in staged]
    assert svg[0] == svg[1] and b"<svg" in svg[0]
    assert len(list((reports / ".cache" / "figures").glob("*.svg"))) == 1

    # another language, another label, another value, PNG too: drawn again each time
    show_plot(plot, arguments, second, alt="Indicators", png=False, language="en")
    show_plot(plot, {**arguments, "labels": {"t1": "Syksy"}}, second, png=False, language="fi")
    changed = TABLE.assign(value=[3.0, 4.0])
    show_plot(plot, {**arguments, "indicators": changed}, second, png=False, language="fi")
    show_plot(plot, arguments, second, png=True, language="fi")
    assert len(drawn) == 5
    assert (stage / second.relative_to(reports)).with_name("indicators.png").is_file()


def test_a_figure_saved_as_svg_and_png_serves_a_report_that_shows_only_the_svg(
    tmp_path, monkeypatch
):
    """An analysis saves a figure as SVG and PNG; a report that shows only its SVG, with the
    same arguments, copies that SVG (byte for byte the SVG the report would have drawn). One
    that needs the PNG too where only an SVG is cached draws it."""
    reports, stage = _in_a_run(tmp_path, monkeypatch)
    drawn: list[dict] = []
    plot = _counted(drawn)
    arguments = dict(ARGUMENTS)
    analysis = reports / "figures" / "indicator_trajectories"
    report = reports / "figures" / "reports" / "fi" / "consortium" / "indicators"
    assert show_plot(plot, arguments, analysis, png=True, language="fi")
    assert show_plot(plot, dict(arguments), report, png=False, language="fi")
    assert len(drawn) == 1  # the report's SVG came from the analysis' figure
    from evaluation.report.display import show_figure

    alone = reports / "figures" / "alone"
    show_figure(line_plot(**arguments), alone, png=False, language="fi")  # not cached
    svg = (stage / report.relative_to(reports)).with_name("indicators.svg").read_bytes()
    assert svg == (stage / "figures" / "alone.svg").read_bytes()  # as if saved alone

    other = {**arguments, "labels": {"t1": "Syksy"}}
    show_plot(plot, other, report, png=False, language="fi")  # SVG only in the cache
    drawn.clear()
    show_plot(plot, other, analysis, png=True, language="fi")
    assert len(drawn) == 1  # the PNG was not cached: drawn


def test_outside_a_run_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.delenv(STAGING_ENV, raising=False)
    monkeypatch.delenv(FIGURES_ENV, raising=False)
    calls = []

    def plot(**arguments):
        calls.append(1)
        return line_plot(**arguments)

    target = tmp_path / "figures" / "indicators"
    for _ in range(2):
        show_plot(plot, {"indicators": TABLE, "rounds": ["t1", "t2"]}, target, png=False)
    assert len(calls) == 2 and target.with_name("indicators.svg").is_file()
    assert not (tmp_path / ".cache").exists()


def test_a_plot_that_draws_nothing_shows_nothing(tmp_path, monkeypatch):
    reports, _ = _in_a_run(tmp_path, monkeypatch)
    assert not show_plot(lambda: None, {}, reports / "figures" / "none", png=False)
    assert not list((reports / ".cache" / "figures").glob("*.svg"))


@pytest.mark.skipif(os.name != "posix", reason="figures are held with flock (POSIX)")
def test_a_file_system_without_locks_draws_the_figure_all_the_same(tmp_path, monkeypatch):
    """Where ``flock`` fails (a network file system without locks), a figure is not held: it
    is drawn and cached as without the lock."""
    import fcntl

    reports, _ = _in_a_run(tmp_path, monkeypatch)

    def no_locks(*_args):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    drawn: list[dict] = []
    target = reports / "figures" / "indicators"
    assert show_plot(_counted(drawn), ARGUMENTS, target, png=False, language="fi")
    assert len(drawn) == 1
    assert len(list((reports / ".cache" / "figures").glob("*.svg"))) == 1


@pytest.mark.skipif(os.name != "posix", reason="figures are held with flock (POSIX)")
def test_a_figure_being_drawn_elsewhere_is_waited_for_and_copied(tmp_path, monkeypatch):
    """Two reports ask for the same figure at once: the second waits while the first draws it
    (here the test holds the figure, as another worker would), then copies it: drawn once."""
    reports, stage = _in_a_run(tmp_path, monkeypatch)
    folder = plot_cache.cache_folder()
    drawn: list[dict] = []
    plot = _counted(drawn)
    key = plot_cache.figure_key(plot, ARGUMENTS, "fi")
    target = reports / "figures" / "reports" / "fi" / "actor-a" / "indicators"
    shown: list[bool] = []
    with plot_cache.drawing(folder, key):  # another worker is drawing it
        waiting = threading.Thread(
            target=lambda: shown.append(
                show_plot(plot, ARGUMENTS, target, png=False, language="fi")
            )
        )
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # it waits for the figure
        elsewhere = tmp_path / "elsewhere" / "indicators.svg"
        elsewhere.parent.mkdir()
        line_plot(**ARGUMENTS).savefig(elsewhere, format="svg")
        plot_cache.store(folder, key, [elsewhere])
    waiting.join(10)
    assert shown == [True] and drawn == []  # copied, not drawn again
    copied = (stage / target.relative_to(reports)).with_name("indicators.svg")
    assert copied.read_bytes() == elsewhere.read_bytes()


def test_figures_unused_for_two_weeks_are_pruned(tmp_path):
    folder = tmp_path / "reports" / ".cache" / "figures"
    folder.mkdir(parents=True)
    old, new = folder / "a.svg", folder / "b.svg"
    old.write_text("<svg/>")
    new.write_text("<svg/>")
    weeks_ago = time.time() - 15 * 86400
    os.utime(old, (weeks_ago, weeks_ago))
    assert plot_cache.prune(folder) == 1
    assert not old.exists() and new.exists()
