"""Every word of an HTML report is in the page's language (issue 16).

On the demo study run in both languages: each page says its language (``<html lang>``) and has
a title of its own; no table header or categorical cell of a Finnish page is an English label
(a value of en.yaml that differs from its fi.yaml value, an English round or theme label) or
a raw identifier (a snake_case id, a label key shown instead of its label, a column name of a
table of record), and the other way round for the English pages. Round labels per language:
``rounds: - {id: T0, label: {fi: ..., en: ...}}``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from evaluation.config import load_labels, load_study
from evaluation.errors import ConfigError
from evaluation.report.view import view_labels

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
LETTER = re.compile(r"[^\W\d_]")  # a number, interval or dash has none
OTHER = {"fi": "en", "en": "fi"}


def _codebook_labels(study_dir: Path, language: str) -> dict[str, str]:
    study = load_study(study_dir)
    path = study_dir / (study.codebook or "config/codebook.yaml")
    codes = yaml.safe_load(path.read_text(encoding="utf-8")).get("codes", [])
    return {c["id"]: str(c[f"label_{language}"]) for c in codes if f"label_{language}" in c}


def _words(study_dir: Path, language: str) -> dict[str, str]:
    """Every label a page in ``language`` may show: the label files with the rounds' labels
    (:func:`view_labels`) and the codebook's theme labels."""
    study = load_study(study_dir)
    return {**view_labels(study, language), **_codebook_labels(study_dir, language)}


def _pages(run: Path) -> list[tuple[Path, str, str]]:
    """(page, language, expected title) of every report page of a run."""
    study = load_study(run)
    html = study.paths.html
    out = []
    for language in ("fi", "en"):
        labels = load_labels(language, study.paths)
        for page in sorted((html / language).glob("*.html")):
            out.append((page, language, f"{labels['report_title']}: "))
    labels = load_labels(study.language, study.paths)
    for page in sorted(html.glob("*.html")):
        if page.name != "index.html":  # analysis notebooks: in the study's language
            out.append((page, study.language, labels[f"nb_{page.stem}"]))
    return out


NBCONVERT_ALT = "No description has been provided for this image"


def _cell_problem(text: str, own: dict, foreign: set, ids: set) -> str | None:
    if text in foreign:
        return "a label of the other language"
    if text in own.values():
        return None
    if SNAKE.match(text) or text in ids:
        return "a raw id"
    if text in own and own[text] != text:
        return "a label key, not its label"
    return None


def language_problems(run: Path) -> list[str]:
    """What a reader would see in the wrong language, one line per page, place and text."""
    study = load_study(run)
    columns = set()
    for table in study.paths.tables.glob("*.csv"):
        columns |= set(pd.read_csv(table, nrows=0).columns)
    items = {item for inst in study.instruments.values() for item in inst.items}
    words = {lang: _words(run, lang) for lang in ("fi", "en")}
    problems = []
    for page, language, title in _pages(run):
        own, other = words[language], words[OTHER[language]]
        foreign = {v for k, v in other.items() if own.get(k, v) != v and v not in own.values()}
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        where = page.relative_to(study.paths.html)
        lang = soup.html.get("lang") if soup.html else None
        if lang != language:
            problems.append(f"{where}: <html lang={lang!r}>, not {language!r}")
        shown = soup.title.get_text(strip=True) if soup.title else ""
        if not shown.startswith(title) or shown == "Notebook":
            problems.append(f"{where}: <title>{shown}</title>, expected {title!r}...")
        for cell in soup.find_all(["th", "td"]):
            if cell.find_parent("table", class_="provenance"):
                continue  # file names and versions
            text = cell.get_text(" ", strip=True)
            if not LETTER.search(text) or text in items:
                continue
            ids = columns if cell.name == "th" else set()
            why = _cell_problem(text, own, foreign, ids)
            if why:
                problems.append(f"{where}: <{cell.name}>{text}</{cell.name}> is {why}")
        for image in soup.find_all("img"):  # nbconvert's fallback alt text is English
            alt = (image.get("alt") or "").strip()
            if not alt or alt == NBCONVERT_ALT or alt in foreign:
                problems.append(f"{where}: <img alt={alt!r}> has no text in its language")
        for block in soup.find_all(["p", "h1", "h2", "h3"]):
            text = block.get_text(" ", strip=True)
            if text in foreign:
                problems.append(f"{where}: <{block.name}>{text}</{block.name}> is foreign")
    return problems


def test_every_page_speaks_its_language(shared_demo_run: Path) -> None:
    pages = _pages(shared_demo_run)
    assert {lang for _, lang, _ in pages} == {"fi", "en"}
    assert len(pages) > 20  # the audience reports of both languages and the analyses
    problems = language_problems(shared_demo_run)
    shown = "\n".join(sorted(set(problems))[:60])
    assert not problems, f"{len(problems)} word(s) in the wrong language:\n{shown}"


def test_english_pages_show_english_round_labels(shared_demo_run: Path) -> None:
    study = load_study(shared_demo_run)
    baseline = next(r for r in study.rounds if r.id == study.baseline)
    assert baseline.label_in("fi") != baseline.label_in("en")  # the demo gives both
    cover = (study.paths.html / "en" / "consortium.html").read_text(encoding="utf-8")
    assert baseline.label_in("en") in cover and baseline.label_in("fi") not in cover


# ---------------------------------------------------------------------- round labels


def _study_with_rounds(tiny_study: Path, rounds: str) -> Path:
    path = tiny_study / "config" / "study.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("rounds:")
    end = text.index("\n", text.index("T1", start))
    path.write_text(text[:start] + rounds + text[end:], encoding="utf-8")
    return tiny_study


def test_round_label_per_language(tiny_study: Path) -> None:
    rounds = "rounds:\n- {id: T0, label: {fi: Lähtötaso, en: Baseline}}\n- {id: T1, label: '2026'}"
    study = load_study(_study_with_rounds(tiny_study, rounds))
    t0, t1 = study.rounds
    assert (t0.label_in("fi"), t0.label_in("en")) == ("Lähtötaso", "Baseline")
    assert t1.label_in("fi") == t1.label_in("en") == "2026"  # a plain string: every language
    assert view_labels(study, "en")["T0"] == "Baseline"
    assert view_labels(study, "fi")["T0"] == "Lähtötaso"


def test_round_label_in_one_language_falls_back(tiny_study: Path) -> None:
    rounds = "rounds:\n- {id: T0, label: {fi: Lähtötaso}}\n- {id: T1}"
    study = load_study(_study_with_rounds(tiny_study, rounds))
    assert study.rounds[0].label_in("en") == "Lähtötaso"
    assert "T1" not in view_labels(study, "en")  # no label: the id is shown as it is


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("{fi: Lähtötaso, sv: Baslinje}", r"rounds entry 1 `label`\.sv: unknown language"),
        ("{fi: Lähtötaso, en: 2025}", r"rounds entry 1 `label`\.en: 2025 must be text"),
        ("{fi: [a, b]}", r"rounds entry 1 `label`\.fi: .* must be text"),
        ("{}", r"rounds entry 1 `label`: give the label as text"),
    ],
)
def test_bad_round_label_is_named(tiny_study: Path, label: str, message: str) -> None:
    rounds = f"rounds:\n- {{id: T0, label: {label}}}\n- {{id: T1}}"
    with pytest.raises(ConfigError, match=message):
        load_study(_study_with_rounds(tiny_study, rounds))
