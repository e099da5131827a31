"""The audience reports in a real browser (headless Chromium): the consortium's, one actor's and
one organisation's report, in Finnish and English, at a laptop's width (1,280 px) and a phone's
(390 px). A reader must see the whole page without sideways scrolling (a wide table scrolls in
its own box), a text alternative for every figure in the page's language, the page's language
declared, and no English table header on a Finnish page.

Runs when `chromium` or `chromium-browser` is on PATH (`.ci/run` installs Debian's chromium);
skipped, with the reason in pytest's summary, when none is. The browser side is
tools/screenshots.py, which also makes the README's screenshots (`make screenshots`).
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser)

CHROMIUM = browser.find_chromium()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="BROWSER CHECKS NOT RUN: no chromium or chromium-browser on PATH "
        "(install Debian's `chromium` package; .ci/run does)",
    ),
]

LANGUAGES = ("fi", "en")
AUDIENCES = ("consortium", "actor", "organisation")
WIDTHS = (browser.DESKTOP, browser.PHONE)
CASES = [(a, lang, w) for a in AUDIENCES for lang in LANGUAGES for w in WIDTHS]
IDS = [f"{a}-{lang}-{w}px" for a, lang, w in CASES]

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _pages(study: Path) -> dict[str, str]:
    """One report page per audience kind (file name in reports/html/<lang>/): the consortium's,
    and of the actors' and organisations' the one with the most content (the largest page)."""
    from evaluation.config import load_study
    from evaluation.report.audiences import audiences

    html_dir = study / "reports" / "html" / "fi"
    chosen = {}
    for kind in AUDIENCES:
        slugs = sorted(a.slug for a in audiences(load_study(study)) if a.kind == kind)
        if not slugs:
            raise AssertionError(f"the demo study has no {kind} report")
        chosen[kind] = max(slugs, key=lambda s: ((html_dir / f"{s}.html").stat().st_size, s))
    return chosen


def _measure(page: Path, width: int) -> dict:
    """One measurement; a second try when Chromium gives none (a crash under load)."""
    try:
        return browser.measure(page, width, chromium=CHROMIUM)
    except (RuntimeError, TimeoutError, OSError):
        return browser.measure(page, width, chromium=CHROMIUM)


@pytest.fixture(scope="module")
def measured(shared_demo_run) -> dict[tuple[str, str, int], dict]:
    """What the browser shows of every case, measured once per module, three at a time. The
    pages are copied by tools/screenshots.py before they are opened: the shared study is never
    written to."""
    html_dir = shared_demo_run / "reports" / "html"
    pages = _pages(shared_demo_run)
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            (kind, lang, width): pool.submit(
                _measure, html_dir / lang / f"{pages[kind]}.html", width
            )
            for kind, lang, width in CASES
        }
        out = {case: future.result() for case, future in futures.items()}
    for case, result in out.items():
        result["page"] = f"{case[1]}/{pages[case[0]]}.html"
    return out


@pytest.fixture(scope="module")
def labels(shared_demo_run) -> dict[str, dict[str, str]]:
    from evaluation.config import load_labels, load_study

    paths = load_study(shared_demo_run).paths
    return {lang: load_labels(lang, paths) for lang in LANGUAGES}


def _pattern(value: str) -> re.Pattern[str] | None:
    """A label value as a whole-text pattern (``{placeholder}`` matches any text); None for a
    value with no letters of its own (``{measure}``, ``–``), which says nothing of a language."""
    parts = PLACEHOLDER.split(" ".join(value.split()))
    if not re.search(r"[^\W\d_]", "".join(parts)):
        return None
    return re.compile("(?s)" + ".+?".join(re.escape(p) for p in parts))


def english_headers(headers: list[str], labels: dict[str, dict[str, str]]) -> list[str]:
    """The headers (``th`` texts) that are an English label: the whole text equals a value of
    en.yaml whose Finnish value differs, and equals no Finnish value."""
    fi, en = labels["fi"], labels["en"]
    finnish = [p for p in map(_pattern, fi.values()) if p is not None]
    english = [
        p
        for key, value in en.items()
        if " ".join(value.split()) != " ".join(fi.get(key, "").split())
        for p in [_pattern(value)]
        if p is not None
    ]
    out = []
    for header in headers:
        text = " ".join(header.split())
        if not text or any(p.fullmatch(text) for p in finnish):
            continue
        if any(p.fullmatch(text) for p in english):
            out.append(text)
    return out


def _fragments(own: dict[str, str], other: dict[str, str]) -> set[str]:
    """Fixed stretches of text (the parts between placeholders, at least 8 characters with a
    letter) of one language's labels that occur in none of the other language's labels."""
    other_text = "\n".join(" ".join(v.split()) for v in other.values())
    out = set()
    for value in own.values():
        for part in PLACEHOLDER.split(" ".join(value.split())):
            part = part.strip(" .,:;–-()[]")
            if len(part) >= 8 and re.search(r"[^\W\d_]", part) and part not in other_text:
                out.add(part)
    return out


def alt_language(alt: str, labels: dict[str, dict[str, str]]) -> set[str]:
    """The languages whose labels an alt text is written with (both, one or none)."""
    found = set()
    for lang, other in (("fi", "en"), ("en", "fi")):
        if any(f in alt for f in _fragments(labels[lang], labels[other])):
            found.add(lang)
    return found


@pytest.mark.parametrize(("audience", "lang", "width"), CASES, ids=IDS)
def test_the_page_fits_the_window(measured, audience, lang, width):
    m = measured[(audience, lang, width)]
    # The frame, not the window, sets the width (a headless window is at least 500 px wide).
    assert m["innerWidth"] == width, m
    assert m["viewport"] is not None and "width=device-width" in m["viewport"], m["page"]
    assert m["scrollWidth"] <= m["innerWidth"], (
        f"{m['page']} at {width} px: the page scrolls sideways ({m['scrollWidth']} px wide)"
    )
    # nbconvert's output boxes clip what does not fit, so a page that does not scroll can
    # still hide columns: past the right edge only inside a table's own scroll box.
    assert m["wide"] == [], f"{m['page']} at {width} px: past the right edge: {m['wide']}"


@pytest.mark.parametrize(("audience", "lang", "width"), CASES, ids=IDS)
def test_every_figure_has_alt_text_in_the_page_language(measured, labels, audience, lang, width):
    m = measured[(audience, lang, width)]
    assert m["figures"], f"{m['page']}: no figure found"
    for figure in m["figures"]:
        alt = figure["alt"].strip()
        assert alt, f"{m['page']}: a {figure['tag']} figure has no alt text or aria-label"
        assert alt_language(alt, labels) == {lang}, f"{m['page']}: alt text not in {lang}: {alt}"
    assert all(f["right"] <= width + 1 for f in m["figures"]), (m["page"], m["figures"])


@pytest.mark.parametrize(("audience", "lang"), [(a, lang) for a in AUDIENCES for lang in LANGUAGES])
def test_the_page_declares_the_language_of_its_folder(measured, audience, lang):
    m = measured[(audience, lang, browser.DESKTOP)]
    assert m["lang"] == lang, f'{m["page"]}: <html lang="{m["lang"]}">'


@pytest.mark.parametrize("audience", AUDIENCES)
def test_no_english_header_on_a_finnish_page(measured, labels, audience):
    m = measured[(audience, "fi", browser.DESKTOP)]
    assert m["headers"], f"{m['page']}: no table header found"
    english = sorted(set(english_headers(m["headers"], labels)))
    assert english == [], f"{m['page']}: English headers: {english}"


def test_the_language_checks_can_fail():
    """The helpers above tell English from Finnish text built from the label files."""
    from evaluation.config import load_labels

    labels = {lang: load_labels(lang) for lang in LANGUAGES}
    en, fi = labels["en"], labels["fi"]
    finnish = [p for p in map(_pattern, fi.values()) if p is not None]
    key = next(
        k
        for k, v in en.items()
        if "{" not in v and _pattern(v) and not any(p.fullmatch(v) for p in finnish)
    )
    assert english_headers([en[key], fi[key], "n"], labels) == [" ".join(en[key].split())]
    alt_fi = fi["rep_trajectory_alt"].format(measures="QWL", group="Xamk")
    alt_en = en["rep_trajectory_alt"].format(measures="QWL", group="Xamk")
    assert alt_language(alt_fi, labels) == {"fi"} and alt_language(alt_en, labels) == {"en"}
