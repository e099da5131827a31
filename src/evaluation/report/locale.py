"""Numbers, percentages and dates as the report's language writes them, done by Babel.

Every number a report shows in a table, a note or on a figure's axis goes through this module,
so a Finnish report writes ``0,42``, ``1 500``, ``−0,31``, ``< 0,001``, ``42 %`` and
``5.3.2025``, and an English one ``0.42``, ``1,500``, ``−0.31``, ``< 0.001``, ``42%`` and
``5 Mar 2025``.

Choices (see docs/reports.md, "Numbers and language"):

- Locales: ``fi`` is Babel's ``fi_FI``, ``en`` is ``en_GB`` (day-month-year dates, which a
  European reader does not misread; numbers are the same as in ``en_US``). Any other language
  id is given to Babel as it is, and English is used when Babel does not know it.
- Group separator: the locale's own (Finnish: a no-break space U+00A0, so ``1 500`` never
  breaks over two lines; it is plain UTF-8 text and survives the HTML as it is).
- Minus: the minus sign U+2212 in both languages (CLDR's Finnish minus sign; matplotlib's axes
  use it too). Babel writes a hyphen-minus, which this module replaces; Babel's
  ``parse_decimal`` reads the hyphen-minus only, so :data:`MINUS` must be turned back into
  ``-`` before parsing.
- Rounding: Babel's (decimal, half to even on the shortest repr of the float). A value that
  rounds to zero is written without a sign (``0,00``, not ``−0,00``). Below 1e20 a number is
  written by Babel's own decimal steps here (:func:`_apply`, the same text, twice as fast).
- Missing values (None, NaN, NaT, pandas NA): an en dash :data:`MISSING`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

MISSING = "–"  # en dash: a value that is missing or hidden
MINUS = "\u2212"  # minus sign
NBSP = "\u00a0"  # no-break space
LOCALES = {"fi": "fi_FI", "en": "en_GB"}
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=32)
def babel_locale(language: str | None) -> Locale:
    """The Babel locale of a report language (``fi`` -> fi_FI, ``en`` -> en_GB; another id as
    Babel knows it; English when it is empty or unknown)."""
    name = LOCALES.get(language or DEFAULT_LANGUAGE, language or DEFAULT_LANGUAGE)
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(LOCALES[DEFAULT_LANGUAGE])


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas' NA (a value shown as :data:`MISSING`)."""
    if value is None:
        return True
    import numpy as np
    import pandas as pd

    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return isinstance(missing, bool | np.bool_) and bool(missing)


def _signed(text: str) -> str:
    """Babel's hyphen-minus as the minus sign; no sign on a value that rounds to zero."""
    if not text.startswith("-"):
        return text
    if not any(ch in "123456789" for ch in text):  # -0,00: rounded to zero
        return text[1:]
    return MINUS + text[1:]


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


@lru_cache(maxsize=64)
def _decimal_pattern(digits: int) -> babel_numbers.NumberPattern:
    return babel_numbers.parse_pattern(_pattern(digits))


def number(value: float | Decimal | None, language: str | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals in ``language``: ``number(-1234.5, "fi")`` is
    ``"−1 234,50"`` (no-break space), in English ``"−1,234.50"``. Missing: ``"–"``."""
    if is_missing(value):
        return MISSING
    if not isinstance(value, Decimal | int):
        value = float(value)  # numpy scalars: Babel is three times slower on them
    if math.isinf(value):
        return ("" if value > 0 else MINUS) + "∞"
    digits = max(int(digits), 0)
    if abs(value) < 1e20:
        return _signed(_apply(value, digits, language))
    # Babel's format_decimal(value, format=..., locale=...), with the pattern parsed once
    pattern, where = _decimal_pattern(digits), babel_locale(language)
    # the precision of the largest float: with the default 28 digits Babel raises
    # decimal.InvalidOperation from about 1e25 on
    with decimal.localcontext() as context:
        context.prec = max(context.prec, _FLOAT_DIGITS + digits)
        return _signed(pattern.apply(value, where))


_FLOAT_DIGITS = 330  # the integer digits of the largest float (1.8e308), and some


@lru_cache(maxsize=32)
def _separators(language: str | None) -> dict[int, str]:
    """A :meth:`str.translate` table: Python's ``,`` and ``.`` as the language's group and
    decimal symbols (Babel's, of :func:`babel_locale`)."""
    where = babel_locale(language)
    group, point = babel_numbers.get_group_symbol(where), babel_numbers.get_decimal_symbol(where)
    return str.maketrans({",": group, ".": point})


@lru_cache(maxsize=64)
def _quantum(digits: int) -> Decimal:
    return Decimal(10) ** (-digits)  # Babel's get_decimal_quantum


def _apply(value: float | int | Decimal, digits: int, language: str | None) -> str:
    """What Babel's ``NumberPattern.apply`` writes for :func:`_pattern` (``digits``) in
    ``language``, by its own decimal steps (``Decimal(str(value))``, ``scaleb(0)``, the sign,
    ``normalize``, ``quantize`` in the current context, groups of three), without its
    per-call lookups of the pattern's and the locale's properties: half the time, for every
    number of every table, export, note and axis. Checked against Babel by hypothesis
    (``tests/test_locale.py``)."""
    exact = (value if isinstance(value, Decimal) else Decimal(str(value))).scaleb(0)
    sign = "-" if exact.is_signed() else ""
    rounded = abs(exact).normalize().quantize(_quantum(digits))
    return sign + format(rounded, ",f").translate(_separators(language))


def integer(value: float | int | None, language: str | None) -> str:
    """A whole number with the language's group separator: ``integer(1500, "fi")`` is
    ``"1 500"`` (no-break space), in English ``"1,500"``. A fraction is rounded."""
    return number(value, language, digits=0)


def p_value(value: float | None, language: str | None) -> str:
    """A p-value in APA style: three decimals, and ``< 0,001`` (Finnish) / ``< 0.001``
    (English) rather than 0,000; a no-break space after ``<``."""
    if is_missing(value):
        return MISSING
    if float(value) < 0.001:
        return f"<{NBSP}{number(0.001, language, 3)}"
    return number(value, language, 3)


def percent(value: float | None, language: str | None, digits: int = 0) -> str:
    """A proportion (0.42) as a percentage: ``"42 %"`` in Finnish (no-break space before the
    sign), ``"42%"`` in English; ``digits`` decimals."""
    if is_missing(value):
        return MISSING
    locale = babel_locale(language)
    pattern = locale.percent_formats[None].pattern.replace("#,##0", _pattern(max(digits, 0)), 1)
    text = babel_numbers.format_percent(value, format=pattern, locale=locale)
    return _signed(text)


def date(value: dt.date | str | None, language: str | None, format: str = "medium") -> str:
    """A date as the language writes it: ``5.3.2025`` in Finnish, ``5 Mar 2025`` in English
    (Babel's ``medium`` format; ``format`` may be ``short``, ``long`` or a CLDR pattern). An
    ISO string ("2025-03-05") is read first; a time of day is left out."""
    if is_missing(value) or value == "":
        return MISSING
    if isinstance(value, str):
        value = dt.date.fromisoformat(value.strip()[:10])
    if isinstance(value, dt.datetime):  # also a pandas Timestamp
        value = value.date()
    return babel_dates.format_date(value, format=format, locale=babel_locale(language))


# -------------------------------------------------------------------------------------------
# Figures: numeric tick labels in the report's language
# -------------------------------------------------------------------------------------------


def tick_digits(locs: Iterable[float]) -> int:
    """The fewest decimals (0-6) that write every tick location exactly (3.64, 3.66 -> 2)."""
    locs = [float(x) for x in locs if math.isfinite(x)]
    if not locs:
        return 0
    steps = [abs(b - a) for a, b in pairwise(locs) if b != a]
    scale = min(steps) if steps else max(abs(x) for x in locs) or 1.0
    tolerance = scale * 1e-6
    for d in range(7):
        if all(abs(round(x, d) - x) <= tolerance for x in locs):
            return d
    return 6


@lru_cache(maxsize=1)
def _formatter_class() -> type[Formatter]:
    """The tick formatter class (made on first use: matplotlib is imported only by figures)."""
    from matplotlib.ticker import Formatter

    class LocaleFormatter(Formatter):
        """Tick labels in one language; ``digits`` None: as many decimals as the ticks need."""

        def __init__(self, language: str | None, digits: int | None = None) -> None:
            self.language = language
            self.fixed = digits
            self.digits = digits

        def set_locs(self, locs) -> None:
            super().set_locs(locs)
            if self.fixed is None:
                self.digits = tick_digits(locs)

        def __call__(self, x: float, pos: int | None = None) -> str:
            shown = self.digits if self.digits is not None else tick_digits([x])
            return number(x, self.language, shown)

        def format_data_short(self, value: float) -> str:
            return number(value, self.language, 4)

    return LocaleFormatter


def axis_formatter(language: str | None, digits: int | None = None) -> Formatter:
    """A matplotlib tick formatter that writes numbers in ``language`` (decimal comma and
    no-break group space in Finnish; the minus sign in both). ``digits=None``: as many
    decimals as the ticks need (all ticks of an axis get the same number)."""
    return _formatter_class()(language, digits)


def localise_axes(fig: Figure, language: str | None) -> Figure:
    """Every numeric tick label of ``fig`` in ``language``: the axes that use matplotlib's
    default number formatter (``ScalarFormatter``) or one of :func:`axis_formatter` get a new
    :func:`axis_formatter`. Category labels (fixed ticks) and formatters a plot chose itself
    (percentages, functions) are left as they are."""
    from matplotlib.ticker import ScalarFormatter

    ours = (ScalarFormatter, _formatter_class())
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_formatter(), ours):
                axis.set_major_formatter(axis_formatter(language))
            if isinstance(axis.get_minor_formatter(), ours):
                axis.set_minor_formatter(axis_formatter(language))
    return fig
