"""Property-based tests of the readers: random bytes, types and encodings give either data or a
DataError, never another exception, and never change the file."""

from __future__ import annotations

import contextlib
import hashlib

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.config import load_study
from evaluation.errors import DataError
from evaluation.io.readers import read_table_file
from evaluation.pipeline.process import validate_study
from tests.conftest import HEADER, write_study

# The number of examples comes from the hypothesis profile (tests/conftest.py).
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read(path) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        frame = read_table_file(path)
        assert isinstance(frame, pd.DataFrame)
    except DataError as exc:
        assert str(path.name) in str(exc)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([".csv", ".xlsx", ".sav", ".txt"]))
def test_random_bytes_give_data_or_a_data_error(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _read(path)


CELL = st.one_of(
    st.text(max_size=12),
    st.integers(-10, 200).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:g}"),
    st.sampled_from(["", "EOS", "en osaa sanoa", "4,5", "T0", "T1", "Org A", "ä;ö", '"', "\n"]),
)


@pytest.mark.slow
@SETTINGS
@given(
    st.lists(st.lists(CELL, min_size=17, max_size=17), max_size=8),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    st.sampled_from([",", ";"]),
)
def test_random_tables_in_random_encodings_validate_or_fail_cleanly(tmp_path, rows, enc, sep):
    root = write_study(tmp_path / "s", [])
    text = "\n".join([HEADER.replace(",", sep)] + [sep.join(r) for r in rows]) + "\n"
    raw = root / "data" / "raw" / "responses.csv"
    try:
        raw.write_bytes(text.encode(enc))
    except UnicodeEncodeError:
        return  # not representable in this encoding: nothing to test
    before = hashlib.sha256(raw.read_bytes()).hexdigest()
    with contextlib.suppress(DataError):
        validate_study(load_study(root))
    assert hashlib.sha256(raw.read_bytes()).hexdigest() == before
