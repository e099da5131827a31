"""The index page: sections for the consortium, actor and organisation reports per language,
the analyses and the exports; every link says what it is."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

from evaluation.config import load_labels
from evaluation.paths import StudyPaths
from evaluation.pipeline.run import index_sections
from evaluation.report.html import IndexLink, IndexSection, index_html

GROUPS = [("consortium", "Luova suunta", "consortium"), ("actor", "Xamk", "actor-xamk"),
          ("organisation", "Hoiva <b>Aapa</b> & Oy", "organisation-hoiva-aapa-oy"),
          ("organisation", "Kotihoito Virta Oy", "organisation-kotihoito-virta-oy")]  # fmt: skip


def _setup(tmp_path: Path, languages: list[str]):
    paths = StudyPaths.of(tmp_path)
    jobs = []
    for lang in languages:
        for kind, name, slug in GROUPS:
            page = paths.html / lang / f"{slug}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<html></html>", encoding="utf-8")
            params = {"language": lang, "audience": kind, "group": name}
            jobs.append(SimpleNamespace(parameters=params, html=page))
    (paths.html / "10-data-quality.html").write_text("<html></html>", encoding="utf-8")
    workbook = paths.reports / "exports" / "tables.xlsx"
    workbook.parent.mkdir(parents=True)
    workbook.write_bytes(b"x")
    study = SimpleNamespace(paths=paths)
    analyses = [Path("notebooks/10-data-quality.ipynb"), Path("notebooks/20-prepost.ipynb")]
    return study, analyses, jobs


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_index_has_a_section_per_audience_kind_and_language_with_labelled_links(tmp_path):
    study, analyses, jobs = _setup(tmp_path, ["fi", "en"])
    fi, en = load_labels("fi"), load_labels("en")
    sections = index_sections(study, ["fi", "en"], analyses, jobs, fi)
    target = index_html(tmp_path / "index.html", title="T", sections=sections, footer="f",
                        lang="fi")  # fmt: skip
    page = target.read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="fi">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    headings = [(level, _text(text)) for level, text in re.findall(r"<h([23])[^>]*>(.*?)</h", page)]
    assert headings == [
        ("2", f"{fi['rep_by_audience']} ({fi['index_in_language']})"),
        ("3", fi["index_section_consortium"]),
        ("3", fi["index_section_actor"]),
        ("3", fi["index_section_organisation"]),
        ("2", f"{en['rep_by_audience']} ({en['index_in_language']})"),
        ("3", en["index_section_consortium"]),
        ("3", en["index_section_actor"]),
        ("3", en["index_section_organisation"]),
        ("2", fi["rep_analyses"]),
        ("2", fi["index_exports"]),
    ]
    assert '<h3 lang="en">' in page and '<h3 lang="fi">' not in page
    links = {href: _text(text) for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', page)}
    assert links["fi/actor-xamk.html"] == f"Xamk ({fi['rep_audience_actor']})"
    assert links["en/consortium.html"] == f"Luova suunta ({en['rep_audience_consortium']})"
    org = f"Hoiva <b>Aapa</b> & Oy ({en['rep_audience_organisation']})"
    assert links["en/organisation-hoiva-aapa-oy.html"] == org
    assert "<b>Aapa</b>" not in page  # a name is text, never markup
    assert links["10-data-quality.html"] == f"{fi['nb_10-data-quality']} ({fi['index_analysis']})"
    assert "20-prepost.html" not in links  # no page, no link
    assert links["../exports/tables.xlsx"] == fi["index_export_workbook"]
    assert "../exports/latex/main_results.tex" not in links
    assert fi["index_intro_organisation"] in page and en["index_intro_actor"] in page


def test_index_in_one_language_has_no_language_suffix(tmp_path):
    study, analyses, jobs = _setup(tmp_path, ["en"])
    en = load_labels("en")
    sections = index_sections(study, ["en"], analyses, jobs, en)
    assert sections[0] == IndexSection(en["rep_by_audience"])
    kinds = [s.heading for s in sections if s.level == 3]
    assert kinds == [en[f"index_section_{k}"] for k in ("consortium", "actor", "organisation")]
    orgs = sections[3].links
    assert [link.text for link in orgs] == ["Hoiva <b>Aapa</b> & Oy", "Kotihoito Virta Oy"]
    assert all(link.kind == en["rep_audience_organisation"] for link in orgs)
    assert IndexLink("../exports/tables.xlsx", en["index_export_workbook"]) in sections[-1].links
