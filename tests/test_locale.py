"""Numbers, percentages and dates in the report's language (evaluation.report.locale)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import matplotlib
import numpy as np
import pandas as pd
import pytest
from babel.numbers import parse_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.report import locale
from evaluation.report.display import display_table
from evaluation.report.view import Labels
from evaluation.safety import escape_markdown

matplotlib.use("Agg")

NBSP, MINUS = "\u00a0", "\u2212"


@pytest.mark.parametrize(
    ("value", "digits", "fi", "en"),
    [
        (0.4234, 2, "0,42", "0.42"),
        (-0.31, 2, f"{MINUS}0,31", f"{MINUS}0.31"),
        (1234.5678, 1, f"1{NBSP}234,6", "1,234.6"),
        (-1500000, 0, f"{MINUS}1{NBSP}500{NBSP}000", f"{MINUS}1,500,000"),
        (-0.001, 2, "0,00", "0.00"),  # rounds to zero: no sign
        (3.0, 3, "3,000", "3.000"),
    ],
)
def test_number_in_finnish_and_english(value, digits, fi, en):
    assert locale.number(value, "fi", digits) == fi
    assert locale.number(value, "en", digits) == en


def test_integer_groups_thousands_with_the_languages_separator():
    assert locale.integer(1500, "fi") == f"1{NBSP}500"
    assert locale.integer(1500, "en") == "1,500"
    assert locale.integer(np.int64(631), "fi") == "631"
    assert locale.integer(2.6, "fi") == "3"


def test_p_values_in_apa_style():
    assert locale.p_value(0.0004, "fi") == f"<{NBSP}0,001"
    assert locale.p_value(0.0004, "en") == f"<{NBSP}0.001"
    assert locale.p_value(0.001, "fi") == "0,001"
    assert locale.p_value(0.2512, "fi") == "0,251"
    assert locale.p_value(1.0, "en") == "1.000"


def test_percent():
    assert locale.percent(0.42, "fi") == f"42{NBSP}%"
    assert locale.percent(0.42, "en") == "42%"
    assert locale.percent(0.4234, "fi", digits=1) == f"42,3{NBSP}%"
    assert locale.percent(-0.05, "en") == f"{MINUS}5%"


def test_dates():
    day = dt.date(2025, 3, 5)
    assert locale.date(day, "fi") == "5.3.2025"
    assert locale.date(day, "en") == "5 Mar 2025"
    assert locale.date("2025-03-05", "fi") == "5.3.2025"
    assert locale.date(pd.Timestamp("2025-03-05 14:00"), "en") == "5 Mar 2025"
    assert locale.date("2025-03-05", "fi", format="long") == "5. maaliskuuta 2025"


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_missing_values_are_an_en_dash(missing):
    for fn in (locale.number, locale.p_value, locale.percent):
        assert fn(missing, "fi") == "–"
    assert locale.integer(missing, "en") == "–"
    assert locale.date(missing, "fi") == "–"
    assert locale.date("", "en") == "–"  # a round without a data date


def test_an_unknown_language_falls_back_to_english_and_others_go_to_babel():
    assert locale.number(1234.5, "xx", 1) == "1,234.5"
    assert locale.number(1234.5, None, 1) == "1,234.5"
    assert locale.number(0.5, "de", 1) == "0,5"  # Babel knows German


@given(
    value=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    digits=st.integers(min_value=0, max_value=4),
    language=st.sampled_from(["fi", "en"]),
)
def test_number_round_trips_through_babels_parser(value, digits, language):
    """What a report writes, Babel reads back as the same number (within the rounding); the
    minus sign is turned back into Babel's hyphen-minus first (see the module docstring)."""
    text = locale.number(value, language, digits)
    assert "-" not in text  # the minus sign, never a hyphen
    if language == "fi":
        assert "." not in text and "," not in text[: -digits - 1] if digits else "," not in text
    parsed = parse_decimal(text.replace(MINUS, "-"), locale=locale.babel_locale(language))
    assert abs(parsed - Decimal(repr(value))) <= Decimal(10) ** -digits / 2 + Decimal("1e-9")


@settings(max_examples=500)
@given(
    value=st.one_of(
        st.floats(min_value=-1e19, max_value=1e19, allow_nan=False),
        st.floats(min_value=-2, max_value=2).map(lambda x: round(x, 3)),  # ties: 0.125, 2.675
        st.integers(-(10**19), 10**19),
        st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6),
        st.sampled_from([0.0, -0.0, 0.5, 2.5, -0.004, 1e-300, 123456.785]),
    ),
    digits=st.integers(min_value=0, max_value=6),
    language=st.sampled_from(["fi", "en", "de", "sv", "xx"]),
)
def test_numbers_are_babel_s_own_text(value, digits, language):
    """number() writes a value below 1e20 itself (Babel's decimal steps, without its per-call
    lookups): for floats, integers and decimals, half-way values, signed zero and any
    language, the very text Babel's pattern writes."""
    babel = locale._decimal_pattern(digits).apply(value, locale.babel_locale(language))
    assert locale._apply(value, digits, language) == babel
    assert locale.number(value, language, digits) == locale._signed(babel)


def _cells(html_text: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", html_text, flags=re.S)


def test_display_table_writes_numbers_in_the_labels_language():
    frame = pd.DataFrame(
        {
            "measure": ["qwl", "qwl", "qwl"],
            "n": [1500.0, np.nan, 12.0],
            "p": [0.0004, 0.2512, np.nan],
            "effect_size": [0.4234, -0.31, np.nan],
            "met": [True, False, None],
            "converged": np.array([True, False, True]),
            "suppressed": [False, True, False],
        }
    )
    fi = Labels({"qwl": "Työelämän laatu", "yes": "kyllä", "no": "ei"}, language="fi")
    cells = _cells(display_table(frame, fi).to_html())
    assert "0,42" in cells and f"{MINUS}0,31" in cells and f"&lt;{NBSP}0,001" in cells
    assert f"1{NBSP}500" in cells and "12" in cells and "0,251" in cells
    assert "kyllä" in cells and "ei" in cells and "–" in cells
    assert not any(re.search(r"\d\.\d", c) for c in cells)  # no point decimal
    assert not {"True", "False"} & set(cells)
    en = Labels({"yes": "yes", "no": "no"}, language="en")
    cells_en = _cells(display_table(frame, en).to_html())
    assert "0.42" in cells_en and "1,500" in cells_en and f"&lt;{NBSP}0.001" in cells_en
    assert "yes" in cells_en and not {"True", "False"} & set(cells_en)


def test_display_table_language_argument_and_plain_dict_fallback():
    frame = pd.DataFrame({"g": [0.5]})
    assert "0.50" in display_table(frame, {}).to_html()  # a plain dict: English
    assert "0,50" in display_table(frame, {}, language="fi").to_html()
    assert "0.50" in display_table(frame, Labels({}, language="fi"), language="en").to_html()


def test_display_table_still_escapes_text():
    frame = pd.DataFrame({"name": ["<script>x</script>"], "v": [1.5]})
    html_text = display_table(frame, Labels({}, language="fi")).to_html()
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text


def test_labels_keep_their_language_through_copies():
    import copy
    import pickle

    labels = Labels({"a": "A"}, language="fi")
    labels.update({"b": "B"})
    for other in (labels.copy(), copy.deepcopy(labels), pickle.loads(pickle.dumps(labels))):
        assert isinstance(other, Labels) and other.language == "fi" and other == labels
    assert (labels | {"c": "C"}).language == "fi"


def test_view_labels_carry_the_language(tmp_path):
    from evaluation.config import load_study
    from evaluation.report.view import view_labels
    from tests.conftest import write_study

    study = load_study(write_study(tmp_path, []))
    for language in ("fi", "en"):
        labels = view_labels(study, language)
        assert isinstance(labels, Labels) and labels.language == language


def test_tick_formatter_on_a_real_figure():
    import matplotlib.pyplot as plt

    fig, (ax, cat) = plt.subplots(1, 2)
    ax.plot([0, 1, 2], [-0.25, 3.64, 3.72])
    cat.bar(["T0", "T1"], [1200, 1500])
    cat.set_xticks([0, 1], ["Lähtötaso", "Seuranta"])
    locale.localise_axes(fig, "fi")
    fig.canvas.draw()
    y = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert y and all("." not in t for t in y) and any("," in t for t in y)
    assert any(t.startswith(MINUS) for t in y)  # the minus sign, not a hyphen
    assert "-" not in "".join(y)
    bars = [t.get_text() for t in cat.get_yticklabels() if t.get_text()]
    assert f"1{NBSP}000" in bars  # thousands with a no-break space
    assert [t.get_text() for t in cat.get_xticklabels()] == ["Lähtötaso", "Seuranta"]
    locale.localise_axes(fig, "en")
    fig.canvas.draw()
    y = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert any("." in t for t in y) and "1,000" in [t.get_text() for t in cat.get_yticklabels()]
    plt.close(fig)


def test_tick_digits_are_the_fewest_that_write_every_tick():
    assert locale.tick_digits([3.64, 3.66, 3.68]) == 2
    assert locale.tick_digits([0.0, 0.5, 1.0]) == 1
    assert locale.tick_digits([0, 500, 1000]) == 0
    assert locale.tick_digits([0.1 + 0.2, 0.4]) == 1  # float noise is not a digit
    assert locale.number(3.64, "fi", locale.axis_formatter("fi", digits=1).digits) == "3,6"


def test_show_cuts_a_long_table_and_says_where_every_row_is(monkeypatch):
    import IPython.display

    from evaluation.report import display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    frame = pd.DataFrame({"group": [f"g{i}" for i in range(1500)], "v": np.arange(1500.0)})
    labels = Labels(
        {"shown_rows": "Ensimmäiset {shown} riviä {total} rivistä; kaikki: {source}."},
        language="fi",
    )
    display.show(frame, labels, max_rows=300, source="reports/tables/x.csv")
    table, text = shown
    cells = _cells(table.to_html())
    assert "g299" in cells and "g300" not in cells and len(cells) == 2 * 300
    said = f"Ensimmäiset 300 riviä 1{NBSP}500 rivistä; kaikki: reports/tables/x.csv."
    assert text.data == escape_markdown(said, inline=False)  # shown as typed
    shown.clear()
    display.show(frame.head(300), labels, max_rows=300, source="reports/tables/x.csv")
    assert len(shown) == 1 and len(_cells(shown[0].to_html())) == 2 * 300  # nothing cut


def test_numbers_beyond_28_digits_are_written_not_an_error():
    """Babel quantizes in the decimal context: with its default 28 digits, 1e26 with two
    decimals raised decimal.InvalidOperation (a report or export of a degenerate estimate
    then failed). Every float is written now, the common ones as before."""
    from evaluation.report.locale import number

    assert number(1e26, "fi").replace("\u00a0", " ") == "100 000 000 000 000 000 000 000 000,00"
    assert number(-1e30, "en", 0) == "\u2212" + "1" + ",000" * 10
    assert len(number(1.7976931348623157e308, "fi", 3)) > 400
    assert number(1234.5, "fi") == "1\u00a0234,50"
