"""The national-size computational paths (issue 17) give what the row-by-row paths they
replace gave: the same rows, the same numbers (exactly, or to 1e-10 where the summation order
differs). Simulated data; no timing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant import effects


def _mask_rows(group, round_code, has_value, g, r):
    """The old path: one boolean pass over every row per group and round."""
    return np.flatnonzero(has_value & (group == g) & (round_code == r))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_round_cells_equal_the_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    group = rng.integers(-1, 7, n)  # -1: no group
    round_code = rng.integers(-1, 4, n)  # -1: a round not compared
    has_value = rng.random(n) > 0.2
    cells = effects._GroupRoundCells(group, round_code, has_value, 4)
    for g in range(-1, 8):
        for r in range(4):
            want = _mask_rows(group, round_code, has_value, g, r) if g >= 0 else np.array([])
            np.testing.assert_array_equal(cells.rows(g, r) if g >= 0 else np.array([]), want)


def _old_prepost_rows(scores, measure, group_by, baseline, compare):
    """The arrays the old loop handed to each comparison (mask per group x round)."""
    round_of = scores["round"].astype("string").to_numpy(dtype=object, na_value=None)
    values = pd.to_numeric(scores[measure], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    has_value = ~np.isnan(values)
    group_of = effects._group_labels(scores, group_by)
    out = {}
    for group in sorted({g for g in group_of[has_value] if g is not None}, key=str):
        in_group = has_value & (group_of == group)
        for rnd in [baseline, *compare]:
            out[(group, rnd)] = values[in_group & (round_of == rnd)]
    return out


def _scores(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rounds = np.array(["T0", "T1", "T2", "T9"], dtype=object)
    frame = pd.DataFrame(
        {
            "round": pd.array(rng.choice(rounds, n), dtype="string"),
            "organisation": rng.choice(["A", "B", "C"], n),
            "unit": rng.choice(["u1", "u2", "u3", "u4"], n),
            "participant": rng.choice([0.0, 1.0, np.nan], n),
            "respondent": [f"r{i}" if rng.random() < 0.4 else "" for i in rng.integers(0, 600, n)],
            "qwl": np.where(rng.random(n) < 0.1, np.nan, rng.normal(60, 15, n)),
        }
    )
    frame.loc[rng.random(n) < 0.05, "round"] = pd.NA
    return frame


@pytest.mark.parametrize("group_by", ["all", "organisation", "unit", "participant"])
def test_prepost_cells_are_the_old_subsets(group_by: str) -> None:
    scores = _scores(3)
    compare = ["T1", "T2"]
    old = _old_prepost_rows(scores, "qwl", group_by, "T0", compare)
    values = scores["qwl"].to_numpy(dtype="float64", na_value=np.nan)
    code, uniques = pd.factorize(effects._group_labels(scores, group_by))
    round_code = effects._round_codes(scores["round"], ["T0", *compare])
    cells = effects._GroupRoundCells(code, round_code, ~np.isnan(values), 3)
    new = {
        (uniques[g], rnd): values[cells.rows(g, i)]
        for g in range(len(uniques))
        for i, rnd in enumerate(["T0", *compare])
    }
    new = {k: v for k, v in new.items() if k in old or len(v)}
    assert new.keys() == old.keys()
    for key, want in old.items():
        np.testing.assert_array_equal(new[key], want)


def test_prepost_table_is_deterministic_in_row_order() -> None:
    """Shuffling the rows changes nothing but the order within cells, which the statistics
    do not see (a check that the grouped path still reads every row of a cell)."""
    scores = _scores(4)
    kw = dict(measures=["qwl"], rounds=["T0", "T1", "T2"], baseline="T0",
              group_bys=["all", "organisation", "unit"], design="independent", min_n=5)  # fmt: skip
    a = effects.prepost_table(scores, **kw)
    b = effects.prepost_table(scores.sample(frac=1, random_state=1), **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, atol=1e-12)


def test_parse_numbers_equals_to_numeric() -> None:
    from evaluation.validate import parse_numbers

    rng = np.random.default_rng(5)
    pool = ["1", "2", "3,5", "4.25", " 5", "", "x", "1e2", "-0", "EOS", None]
    for dtype in ("string", "object", "str"):
        text = pd.Series(rng.choice(np.array(pool, dtype=object), 500), dtype=dtype)
        text.index = text.index * 3 + 7  # not a default index
        want = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        got = parse_numbers(text)
        pd.testing.assert_series_equal(got, want.astype("float64"), check_exact=True)
    empty = pd.Series([], dtype="string")
    assert parse_numbers(empty).dtype == "float64" and parse_numbers(empty).empty


def _old_split_linked(b_val, b_code, r_val, r_code):
    """The row-by-row linking the vectorised one replaces (dicts and Counters)."""
    from collections import Counter

    b_count = Counter(c for c in b_code if c is not None)
    r_count = Counter(c for c in r_code if c is not None)
    repeated = sum(n for n in b_count.values() if n > 1) + sum(n for n in r_count.values() if n > 1)
    common = {c for c, n in b_count.items() if n == 1} & {c for c, n in r_count.items() if n == 1}
    b_pos = {c: i for i, c in enumerate(b_code) if c in common}
    r_pos = {c: i for i, c in enumerate(r_code) if c in common}
    order = sorted(common)
    b_idx = np.array([b_pos[c] for c in order], dtype=int)
    r_idx = np.array([r_pos[c] for c in order], dtype=int)
    b_rest = np.ones(len(b_val), dtype=bool)
    b_rest[b_idx] = False
    r_rest = np.ones(len(r_val), dtype=bool)
    r_rest[r_idx] = False
    return b_val[b_idx], r_val[r_idx], b_val[b_rest], r_val[r_rest], repeated


@pytest.mark.parametrize("seed", range(6))
def test_split_linked_equals_the_counters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nb, nr = rng.integers(0, 300, 2)
    pool = np.array([None] + [f"c{i}" for i in range(int(rng.integers(1, 400)))], dtype=object)
    b_code, r_code = rng.choice(pool, nb), rng.choice(pool, nr)
    b_val, r_val = rng.normal(size=nb), rng.normal(size=nr)
    # as prepost_table does: the codes of the whole column as integers, once
    ids, rank = effects._code_ids(np.concatenate([b_code, r_code]))
    got = effects._split_linked(b_val, ids[:nb], r_val, ids[nb:], rank)
    want = _old_split_linked(b_val, b_code, r_val, r_code)
    for g, w in zip(got[:4], want[:4], strict=True):
        np.testing.assert_array_equal(g, w)
    assert got[4] == want[4]


def test_release_memory_only_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluation.pipeline import memory

    collected = []
    monkeypatch.setattr(memory.gc, "collect", lambda: collected.append(1) or 0)
    assert memory.resident_bytes() > 0  # Linux: /proc/self/statm
    assert memory.release_memory(threshold=2**62) == 0
    assert collected == []  # a small process is left alone
    released = memory.release_memory(threshold=0)
    assert collected == [1] and released >= 0


def test_release_memory_gives_pages_back() -> None:
    """Many small blocks freed: glibc keeps them until malloc_trim, which returns them."""
    from evaluation.pipeline import memory

    if memory._malloc_trim() is None:
        pytest.skip("no glibc malloc_trim here")
    blocks = [bytearray(2000) for _ in range(150_000)]  # ~300 MB below the mmap threshold
    keep = blocks[-1]
    del blocks
    before = memory.resident_bytes()
    memory.release_memory(threshold=0)
    assert memory.resident_bytes() < before - 100 * 2**20
    assert len(keep) == 2000


@pytest.mark.parametrize("seed", range(4))
def test_distinct_pairs_equal_unique_axis_1(seed: int) -> None:
    from evaluation.disclosure.plan import _distinct_pairs

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 5000))
    first, second = rng.integers(0, 17, n), rng.integers(0, 5, n)
    got = _distinct_pairs(first, second, 5)
    want = np.unique(np.stack([first, second]), axis=1)
    np.testing.assert_array_equal(got, want.reshape(2, -1))


def test_suggestions_per_distinct_text_equal_per_answer() -> None:
    """Each text matched once: the same rows as matching every answer (repeated texts,
    segments out of order, a missing text)."""
    from evaluation.analyse.qual import suggest

    codebook = pd.DataFrame(
        {"id": ["load", "team"], "keywords": [["kiire", "kuormitus"], ["tiimi", "yhteistyö"]]}
    )
    pool = ["Kiire ja kuormitus kasvaa", "Tiimin yhteistyö toimii, kiire", "ei", "Matti kiire"]
    rng = np.random.default_rng(7)
    texts = pd.DataFrame(
        {"segment": [f"s{i}" for i in rng.permutation(60)],
         "text": [*rng.choice(np.array(pool, dtype=object), 59), None]}
    )  # fmt: skip
    redact = lambda t: "" if t is None else str(t).replace("Matti", " ")  # noqa: E731
    got = suggest.suggest_codes(texts, codebook, redact=redact)
    rows = []  # the old path: one answer at a time
    for seg, text in zip(texts["segment"], texts["text"], strict=True):
        one = suggest.suggest_codes(pd.DataFrame({"segment": [seg], "text": [text]}), codebook,
                                    redact=redact)  # fmt: skip
        rows.append(one)
    want = pd.concat(rows, ignore_index=True)
    want = want.sort_values(["segment", "code"], kind="mergesort").reset_index(drop=True)
    assert len(got) > 20
    pd.testing.assert_frame_equal(got, want, check_dtype=False)  # (concat of empty frames)


def _old_prepare_ids(scores: pd.DataFrame, measure: str, rounds: list[str]) -> pd.DataFrame:
    """The old ``longitudinal._prepare``: a string per row for every identifier."""
    src = scores.loc[scores["round"].astype(str).isin(rounds).to_numpy()]
    participant = pd.to_numeric(src["participant"], errors="coerce").astype(float)
    y = pd.to_numeric(src[measure], errors="coerce").astype(float)
    org, unit = src["organisation"], src["unit"]
    data = pd.DataFrame(
        {
            "_y": y.to_numpy(),
            "_round_id": src["round"].astype(str).to_numpy(dtype=object),
            "_participant": participant.to_numpy(),
            "_org": org.astype(str).to_numpy(dtype=object),
            "_unit": unit.astype(str).to_numpy(dtype=object),
        }
    )
    keep = (
        np.isfinite(data["_y"].to_numpy())
        & data["_participant"].notna().to_numpy()
        & org.notna().to_numpy()
        & unit.notna().to_numpy()
    )
    data = data.loc[keep].reset_index(drop=True)
    data["_round"] = data["_round_id"].map({r: f"r{i}" for i, r in enumerate(rounds)})
    data["_orgunit"] = data["_org"] + " / " + data["_unit"]
    code = src["respondent"].to_numpy(dtype=object)[keep]
    linked = pd.notna(code) & (pd.Series(code).astype(str).str.strip() != "").to_numpy()
    person = data["_org"] + " / " + data["_unit"] + " / " + pd.Series(code).astype(str)
    data["_person"] = np.where(linked, person, "_single " + pd.Series(data.index).astype(str))
    return data


def _panel(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    resp = rng.integers(0, 400, n).astype(str).astype(object)
    resp[rng.random(n) < 0.2] = None
    resp[rng.random(n) < 0.05] = "  "
    org = rng.choice(["B", "a", "Ä", "org 10", "org 9"], n).astype(object)
    org[rng.random(n) < 0.02] = None
    unit = rng.choice(["u1", "u2", "U 3"], n).astype(object)
    part = rng.choice([0.0, 1.0, np.nan], n, p=[0.45, 0.5, 0.05])
    y = rng.normal(3, 1, n)
    y[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "round": rng.choice(["2024", "2025", "2026", "x"], n),
            "organisation": pd.array(org, dtype="string"),
            "unit": unit,
            "respondent": pd.array(resp, dtype="string"),
            "participant": part,
            "qwl": y,
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_longitudinal_codes_equal_the_per_row_strings(seed: int) -> None:
    from evaluation.analyse.quant import longitudinal as lo
    from evaluation.analyse.quant.nested import _codes

    scores = _panel(seed)
    rounds = ["2024", "2025", "2026"]
    old = _old_prepare_ids(scores, "qwl", rounds)
    for cluster in ("organisation", "unit"):
        prep = lo._prepare(scores, measure="qwl", rounds=rounds, baseline="2024", cluster=cluster)
        new = prep.data
        assert len(new) == len(old)
        np.testing.assert_array_equal(new["_y"], old["_y"])
        for col in ("_round_id", "_round", "_org", "_unit", "_orgunit", "_person"):
            assert list(new[col].astype(object)) == list(old[col].astype(object)), col
            # the fits' cluster codes: the same as factorizing the strings, sorted
            want = pd.factorize(pd.Series(old[col].to_numpy(dtype=object)), sort=True)
            got = _codes(new[col].array) if col != "_round" else want
            np.testing.assert_array_equal(got[0], want[0])
            assert list(got[1]) == list(want[1])
        want = old["_org"] if cluster == "organisation" else old["_orgunit"]
        assert list(new["_cluster"].astype(object)) == list(want)
        counted = old.groupby(["_round_id", "_participant"]).size()
        for (r, p), n in prep.counts.items():
            assert n == int(counted.get((r, float(p)), 0))


def _old_linked(rows, g, at_b, at_r):
    """The old per measure x round x grouping pass: np.unique and np.isin over the rows."""
    gid = rows.groups[g][0]
    ok, coded = gid >= 0, rows.code >= 0
    n_codes = int(rows.code.max()) + 1 if coded.any() else 1
    key = gid.astype(np.int64) * n_codes + rows.code
    ub, cb = np.unique(key[at_b & ok & coded], return_counts=True)
    ur, cr = np.unique(key[at_r & ok & coded], return_counts=True)
    once = np.intersect1d(ub[cb == 1], ur[cr == 1], assume_unique=True)
    return ok & coded & (at_b | at_r) & np.isin(key, once)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_linked_rows_per_pair_equal_unique_isin(seed: int) -> None:
    from evaluation.disclosure.plan import _linked, _Rows

    rng = np.random.default_rng(seed)
    n = 4000
    code = rng.integers(-1, 2500 if seed else 0, n)  # seed 0: nobody linked
    groups = {
        "all": (np.zeros(n, dtype=np.intp), np.array(["all"], dtype=object)),
        "organisation": (rng.integers(-1, 6, n), np.array(list("abcdef"), dtype=object)),
    }
    rows = _Rows(rng.integers(0, 3, n), {"0": 0, "1": 1, "2": 2}, groups, code)
    has = rng.random(n) > 0.1
    at_b = has & rows.at("0")
    for x in ("1", "2"):
        at_r = has & rows.at(x)
        for g in groups:
            want = _old_linked(rows, g, at_b, at_r)
            np.testing.assert_array_equal(_linked(rows, g, at_b, at_r), want)
            assert seed == 0 or want.any()
