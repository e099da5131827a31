"""Redaction under attack (issue 12): each way personal data escaped, tried again.

Unit cases for every format found in the attack; pseudonyms; error text; .qdpx archive limits;
and end to end: personal data planted in open answers, coder names and document names of a small
study (and in the error of a failing notebook) appears in no file under ``reports/``.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from evaluation.analyse.qual.suggest import suggest_codes
from evaluation.disclosure.pseudonyms import pseudonyms
from evaluation.disclosure.redact import Redactor, public_config, redact, scrub_error
from evaluation.errors import ConfigError, DataError, NotebookError
from evaluation.io.qdpx import NS, import_qdpx

NAMES = ["Mervi Virtanen", "Pekka Korhonen", "Jana Nováková", "Sean O'Brien", "Aapa"]
KEEP = ["Hoiva Aapa Oy", "Kotipalvelu Kuura Oy", "Luova suunta", "Kotihoito Itä"]
R = Redactor(names=NAMES, keep=KEEP)


def _gone(out: str, *values: str) -> None:
    low = out.lower()
    for value in values:
        assert value.lower() not in low, (value, out)


# -------------------------------------------------------------------------------------------
# Names
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Kiitos mervi virtaselle avusta.", ["mervi", "virtas"]),
        ("MERVI VIRTANEN veti ryhmää.", ["mervi", "virtanen"]),
        ("VIRTASELLE kiitos.", ["virtas"]),
        ("Virtasen mielestä hyvä.", ["virtas"]),
        ("Kysyin virtaselta ja korhoselta.", ["virtas", "korhos"]),
        ("Pekan ryhmässä ja Pekalle kiitos.", ["pekan", "pekalle"]),
        ("Korhosen tiimi, Korhoselle terveisiä.", ["korhos"]),
        ("Mervin mielestä hyvä.", ["mervin"]),
    ],
)
def test_configured_names_in_any_case_with_finnish_endings(text, gone):
    _gone(R(text), *gone)
    assert "[nimi]" in R(text)


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Soitin Pekka Virtaselle eilen.", ["pekka", "virtas"]),  # a configured surname
        ("Pekka Virtanen sanoi niin.", ["pekka", "virtanen"]),  # at the sentence start
        ("Kysy Mervi Kalliolta lisää.", ["mervi", "kallio"]),  # a configured first name
        ("Tiimiä veti Anna-Liisa Korhonen.", ["anna", "liisa", "korhonen"]),
        ("PEKKA VIRTANEN soitti.", ["pekka", "virtanen"]),
    ],
)
def test_first_name_goes_with_the_surname(text, gone):
    out = R(text)
    _gone(out, *gone)
    assert "[nimi] [nimi]" not in out and "Pekka [nimi]" not in out


def test_a_name_that_is_a_word_of_an_organisation_name():
    out = R("Hoiva Aapa Oy:n esihenkilö Sanna Aapa kertoi, että Aapan tiimi kasvaa.")
    assert out.startswith("Hoiva Aapa Oy:n esihenkilö [nimi] kertoi")
    assert "Aapan" not in out and "Sanna" not in out
    # an unconfigured person named with words of two organisation names
    out = Redactor(keep=KEEP)("Tiimiä vetää Aapa Kuura nykyään.")
    _gone(out, "aapa", "kuura")
    # the organisation itself survives, also inflected
    assert R("Kotipalvelu Kuura Oy:ssä ja Kotihoito Idässä") == (
        "Kotipalvelu Kuura Oy:ssä ja Kotihoito Idässä"
    )


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Kiitos Jana Novákovállé ja Sean O'Brienille!", ["jana", "novákov", "sean", "o'brien"]),
        ("Kollega Jana Nováková auttoi.", ["jana", "nováková"]),
        ("Kysyin O'Brienilta.", ["o'brien"]),
        ("Kysyin myös Sean O’Brienilta.", ["sean", "brien"]),  # typographic apostrophe
        ("Tapasin Łukasz Żółćin ja Ana Müllerin.", ["łukasz", "żółć", "müller"]),
        ("Kävimme McDonaldin kanssa.", ["mcdonald"]),
        ("Vieraana oli Nováková.", ["nováková"]),
    ],
)
def test_foreign_names_with_any_unicode_letters(text, gone):
    _gone(R(text), *gone)  # configured or not: foreign-made names go
    _gone(Redactor()(text), *gone)


# -------------------------------------------------------------------------------------------
# E-mail addresses, phone numbers, identity codes
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "mervi.virtanen@example.fi",
        "x(at)example.fi",
        "x (at) example.fi",
        "x [at] example dot fi",
        "x[at]example[dot]fi",
        "mervi@localhost",
        "Tiimi_1@hoiva-aapa.fi",
        "etunimi.sukunimi＠example.com",
    ],
)
def test_email_addresses_also_obfuscated(email):
    out = redact(f"Kirjoita osoitteeseen {email} kiitos.")
    assert out == "Kirjoita osoitteeseen [sähköposti] kiitos.", out


@pytest.mark.parametrize(
    "phone",
    [
        "puh.0401234567",
        "040.123.4567",
        "358 40 123 4567",
        "358401234567",
        "+358 40 123 4567",
        "00358 40 1234567",
        "(09) 123 4567",
        "040 123 4567",
        "040-1234567",
        "+358 (0)40 123 4567",
        "09 1234 567",
        "040/1234567",
    ],
)
def test_phone_numbers_in_every_written_form(phone):
    out = redact(f"Soita {phone} huomenna.")
    assert "[puhelin]" in out and not any(ch.isdigit() for ch in out), out


@pytest.mark.parametrize(
    "code",
    [
        "131052-308T",
        "131052–308T",  # en dash
        "131052 308T",  # a space instead of the sign
        "131052 - 308T",
        "131052+308T",
        "131052A308T",
        "131052F308T",
        "131052U308T",
        "131052Y308T",
        "131052a308t",
        "131052-3089",  # wrong check character
        "131052308T",  # no sign, valid check character
    ],
)
def test_identity_codes_with_any_separator(code):
    assert redact(f"Hetu {code} tähän.") == "Hetu [hetu] tähän."


@pytest.mark.parametrize("glued", ["hetu131052-308T", "hetu:131052–308T", "(131052-308T)"])
def test_identity_code_glued_to_a_word(glued):
    out = redact(f"Tieto {glued} tässä.")
    assert "131052" not in out and "308T" not in out and "[hetu]" in out


@pytest.mark.parametrize(
    "text",
    [
        "Koulutus oli 01.02.2025 ja 15.10.2025, seuraava 3.4.2026.",
        "Aloitamme klo 09.30–10.00 ja jatkamme klo 14.30.",
        "Budjetti 358 400 € ja 1 200 € eli 12 % enemmän.",
        "Vuosina 2025–2028 vastaajia oli 1234 ja 358.",
        "Postinumero 00100 Helsinki, versio 2.1.0.",
        "Arvio 0,5 pistettä ja 040 kertaa.",
        "Sivut 12-24 ja luku 3.",
        "Tilausnumero 1310523089 on väärä.",  # no sign and a wrong check character
        "Kotihoito toimii hyvin, ja Luova suunta -hanke auttoi.",
        "Anna palautetta, annettiin paljon.",
        "Kollegamme ovat (a) kiireisiä ja (b) väsyneitä.",
        "Palaveri @ toimisto klo 10.",
    ],
)
def test_near_misses_survive(text):
    assert R(text) == text


def test_redaction_before_lower_casing_in_suggestion_evidence():
    texts = pd.DataFrame(
        {
            "segment": ["a1", "a2"],
            "text": ["Virtanen turvallisuus hyvä", "virtasen turvallisuuden takia"],
        }
    )
    codebook = pd.DataFrame({"id": ["safety", "who"], "keywords": [["turvalli"], ["virtas"]]})
    plain = suggest_codes(texts, codebook)
    assert "who" in set(plain["code"])  # without redaction the name is evidence
    out = suggest_codes(texts, codebook, redact=R.words_only)
    assert set(out["code"]) == {"safety"}
    assert not out["evidence"].str.contains("virta", case=False).any()


# -------------------------------------------------------------------------------------------
# Pseudonyms, manifest configuration, error text
# -------------------------------------------------------------------------------------------


def test_coders_and_documents_get_deterministic_pseudonyms():
    codings = pd.DataFrame(
        {
            "segment": ["A1", "Haastattelu Virtanen@0-10", "Haastattelu Virtanen@11-20", "A1"],
            "coder": ["mervi.virtanen", "Pekka K", "mervi.virtanen", "suggestion"],
            "code": ["x", "y", "x", "x"],
            "document": [None, "Haastattelu Virtanen", "Haastattelu Virtanen", None],
        }
    )
    p = pseudonyms(codings, ["A1"], labels={"pseudonym_coder": "Koodaaja {n}"})
    out = p.apply(codings)
    assert list(out["coder"]) == ["Koodaaja 2", "Koodaaja 1", "Koodaaja 2", "suggestion"]
    assert list(out["segment"]) == ["A1", "D1@0-10", "D1@11-20", "A1"]
    assert out["document"].iloc[1] == "D1"
    assert p.coder_list("Pekka K, mervi.virtanen") == "Koodaaja 1, Koodaaja 2"
    again = pseudonyms(codings.iloc[::-1], ["A1"], labels={"pseudonym_coder": "Koodaaja {n}"})
    assert again.coders == p.coders and again.documents == p.documents
    assert set(p.key()["name"]) == {"mervi.virtanen", "Pekka K", "Haastattelu Virtanen"}


def test_manifest_config_keeps_a_hash_of_the_names_never_the_names():
    raw = {"study": "S", "redaction": {"names": ["Mervi Virtanen"], "keep": ["Org"]}}
    out = public_config(raw)
    assert "Mervi" not in json.dumps(out)
    assert out["redaction"]["names_count"] == 1 and out["redaction"]["keep"] == ["Org"]
    assert len(out["redaction"]["names_sha256"]) == 64
    assert raw["redaction"]["names"] == ["Mervi Virtanen"]  # input unchanged


@pytest.mark.parametrize(
    "message",
    [
        "could not convert string to float: 'Mervi 131052-308T'",
        'invalid value "soita 0401234567" in row 3',
        "KeyError: 'mervi.virtanen@example.fi'",
        "bad answer: Mervi Virtanen 131052-308T x@example.fi",
        "None of [Index(['Jana Nováková'], dtype='object')] are in the [columns]",
    ],
)
def test_error_text_never_echoes_a_value(message):
    out = scrub_error(message, R)
    _gone(out, "131052", "mervi", "virtanen", "0401234567", "example", "nováková")


def test_error_text_keeps_files_rows_and_columns():
    out = scrub_error("responses.csv, row 212, column esis_4: value '7' is outside 1-5", R)
    assert out == "responses.csv, row 212, column esis_4: value '…' is outside 1-5"
    assert "'data/raw/open_answers.csv'" in scrub_error("in 'data/raw/open_answers.csv'", R)


def test_a_scrubbed_traceback_still_reads_as_one():
    # IPython's header and frame lines are not names ("[nimi] (most recent call last)" before)
    header = "IndexError                     Traceback (most recent call last)"
    out = scrub_error(f"{header}\nCell In[4], line 6\n----> 6 f(Mervi Virtanen)", R)
    assert out == "Traceback (most recent call last)\nCell In[4], line 6\n----> 6 f([nimi])"


# -------------------------------------------------------------------------------------------
# .qdpx archives: size and depth limits
# -------------------------------------------------------------------------------------------

_USERS = '<Users><User guid="u1" name="coder_a"/></Users>'


def _project(codes: str = "", sources: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="{NS}" name="p">{_USERS}'
        f"<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>{sources}</Sources></Project>"
    ).encode()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_a_small_project_within_the_limits_is_read(tmp_path):
    source = (
        '<TextSource guid="s1" name="A1" plainTextPath="internal://a.txt">'
        '<PlainTextSelection guid="x" startPosition="0" endPosition="5" creatingUser="u1">'
        '<Coding guid="c" creatingUser="u1"><CodeRef targetGUID="k1"/></Coding>'
        "</PlainTextSelection></TextSource>"
    )
    path = _zip(
        tmp_path / "ok.qdpx",
        {
            "project.qde": _project('<Code guid="k1" name="work"/>', source),
            "sources/a.txt": b"hello",
        },
    )
    out = import_qdpx(path, max_bytes=10_000, max_depth=3)
    assert list(out["segment"]) == ["A1"] and list(out["code"]) == ["work"]


def test_a_zip_bomb_is_refused_before_it_is_extracted(tmp_path):
    bomb = _zip(
        tmp_path / "bomb.qdpx",
        {"project.qde": _project(), "sources/big.txt": b"\0" * 2_000_000},
    )
    assert bomb.stat().st_size < 20_000  # compresses ~1000:1
    with pytest.raises(DataError, match=r"bomb\.qdpx.*qdpx_max_bytes"):
        import_qdpx(bomb, max_bytes=100_000)


def test_a_header_that_lies_about_the_size_cannot_blow_the_memory(tmp_path):
    path = _zip(tmp_path / "liar.qdpx", {"project.qde": _project() + b" " * 500_000})
    data = bytearray(path.read_bytes())
    real = (500_000 + len(_project())).to_bytes(4, "little")
    fake = (100).to_bytes(4, "little")
    assert data.count(real) == 2  # local header and central directory
    path.write_bytes(bytes(data).replace(real, fake))
    with pytest.raises(DataError, match=r"liar\.qdpx"):
        import_qdpx(path, max_bytes=10_000)


def test_codes_nested_too_deep_are_refused_without_recursion(tmp_path):
    depth = 5_000
    codes = "".join(f'<Code guid="k{i}" name="c{i}">' for i in range(depth)) + "</Code>" * depth
    path = _zip(tmp_path / "deep.qdpx", {"project.qde": _project(codes)})
    with pytest.raises(DataError, match=r"deep\.qdpx.*deeper than 50 levels.*qdpx_max_depth"):
        import_qdpx(path)
    # within a raised limit it is read (iteratively: no RecursionError at 5,000 levels)
    assert import_qdpx(path, max_depth=depth).empty


def test_entities_in_the_project_are_refused(tmp_path):
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + f'<Project xmlns="{NS}">&b;</Project>'.encode()
    )
    path = _zip(tmp_path / "lol.qdpx", {"project.qde": xml})
    with pytest.raises(DataError, match=r"lol\.qdpx.*entities"):
        import_qdpx(path)


def test_limits_come_from_study_yaml(tmp_path):
    from evaluation.config import load_study
    from evaluation.io.codings import load_codings, qdpx_limits

    demo = _small_demo(tmp_path / "s")
    _zip(demo / "data" / "raw" / "bomb.qdpx", {"project.qde": _project() + b" " * 50_000})
    config = yaml.safe_load((demo / "config" / "study.yaml").read_text(encoding="utf-8"))
    config["data"]["codings"] = ["data/raw/codings.csv", "data/raw/bomb.qdpx"]
    config["limits"] = {"qdpx_max_bytes": 10_000, "qdpx_max_depth": 4}
    (demo / "config" / "study.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    study = load_study(demo)
    assert qdpx_limits(study) == {"max_bytes": 10_000, "max_depth": 4}
    with pytest.raises(DataError, match=r"bomb\.qdpx"):
        load_codings(study)
    config["limits"] = {"qdpx_max_bytes": "lots"}
    (demo / "config" / "study.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError, match="qdpx_max_bytes"):
        qdpx_limits(load_study(demo))


def test_cli_reports_a_bomb_with_exit_1_and_no_traceback(tmp_path):
    import os
    import subprocess
    import sys

    demo = _small_demo(tmp_path / "s")
    _zip(demo / "data" / "raw" / "bomb.qdpx", {"project.qde": _project() + b" " * 50_000})
    config = yaml.safe_load((demo / "config" / "study.yaml").read_text(encoding="utf-8"))
    config["data"]["codings"] = ["data/raw/bomb.qdpx"]
    config["limits"] = {"qdpx_max_bytes": 10_000}
    (demo / "config" / "study.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "evaluation.cli", "validate", "--study", str(demo)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert done.returncode == 1, done.stderr
    assert "bomb.qdpx" in done.stderr and "Traceback" not in done.stderr


# -------------------------------------------------------------------------------------------
# End to end: planted personal data never reaches reports/
# -------------------------------------------------------------------------------------------

PLANTED_TEXT = (
    "Kiitos mervi virtaselle ja PEKKA KORHOSELLE! Jana Nováková ja Sean O'Brien auttoivat. "
    "Hetu131052-308T, toinen 150607–934D, kolmas 010203 123A. "
    "Osoite x(at)example.fi tai mervi@localhost tai y [at] example dot fi. "
    "Puh.0401234567, 040.123.4567, 358 40 123 4567, 00358 40 1234567 tai (09) 123 4567."
)
CODERS = {"coder_a": "MERVI VIRTANEN 131052-308T", "coder_b": "pekka.korhonen@example.fi"}
# a document's name; its first word is made up, so that no label ("haastattelumuistiinpanot")
# contains it
DOCUMENT = "kvartsimuistio Jana Nováková puh 040.123.4567"
# What must not appear anywhere under reports/ (compared case-insensitively).
PLANTED = [
    "virtanen", "virtase", "korhonen", "korhose", "nováková", "novákov", "o'brien", "mervi",
    "pekka", "131052", "308t", "150607", "934d", "010203 123a", "example.fi", "example dot",
    "localhost", "0401234567", "040.123.4567", "358 40 123 4567", "00358 40", "(09) 123 4567",
    "kvartsimuistio",
]  # fmt: skip


def _small_demo(root: Path, respondents: int = 80) -> Path:
    from evaluation.demo.generate import write_demo

    write_demo(root, respondents=respondents)
    return root


def _plant(root: Path) -> None:
    """Personal data in every open answer, in the coder names and in a document's name; the
    names are configured (``redaction.names``) in another letter case than they are written."""
    raw = root / "data" / "raw"
    answers = pd.read_csv(raw / "open_answers.csv", dtype=str)
    answers["text"] = answers["text"] + " " + PLANTED_TEXT
    answers.to_csv(raw / "open_answers.csv", index=False)
    codings = pd.read_csv(raw / "codings.csv", dtype=str)
    codings["text"] = codings["segment"].map(answers.set_index("answer_id")["text"])
    codings["coder"] = codings["coder"].map(lambda c: CODERS.get(c, c))
    codings["document"] = DOCUMENT
    # a document's passages (not open answers), coded differently by the two coders
    extra = pd.DataFrame(
        {
            "segment": [f"{DOCUMENT}@0-40", f"{DOCUMENT}@0-40", f"{DOCUMENT}@41-90"],
            "coder": [CODERS["coder_a"], CODERS["coder_b"], CODERS["coder_a"]],
            "code": [codings["code"].iloc[0], codings["code"].iloc[1], codings["code"].iloc[0]],
            "text": [PLANTED_TEXT] * 3,
            "document": [DOCUMENT] * 3,
            "round": ["T0"] * 3,
            "organisation": [codings["organisation"].iloc[0]] * 3,
        }
    )
    pd.concat([codings, extra], ignore_index=True).to_csv(raw / "codings.csv", index=False)
    config = yaml.safe_load((root / "config" / "study.yaml").read_text(encoding="utf-8"))
    config["redaction"] = {
        "names": ["Mervi Virtanen", "pekka korhonen", "JANA NOVÁKOVÁ", "Sean O'Brien"]
    }
    (root / "config" / "study.yaml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def _report_texts(reports: Path):
    """(path, text) of every readable file under reports/: HTML, CSV, TeX, SVG, JSON, ipynb,
    and the XML inside the xlsx workbook; entities and JSON escapes decoded."""
    for path in sorted(reports.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    yield path / name, html.unescape(z.read(name).decode("utf-8", "replace"))
            continue
        if path.suffix in {".png", ".pdf"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix in {".json", ".ipynb"}:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        yield path, html.unescape(text)


def _planted_pattern(value: str) -> re.Pattern:
    """A planted value as it would leak. A value with digits (an identity code or a part of
    one, a phone number) counts only as a token of its own: inside a longer number (a table's
    0.0150607...) or a hex digest (a cache key's ...a934d7...) it is not the planted text, and
    matching it there made the check flaky. Names match anywhere (inflected forms)."""
    if any(ch.isdigit() for ch in value):
        return re.compile(rf"(?<![0-9a-z])(?<![0-9][.,]){re.escape(value)}(?![0-9a-z])")
    return re.compile(re.escape(value))


_PLANTED_PATTERNS = [(value, _planted_pattern(value)) for value in PLANTED]


def _leaks(reports: Path) -> list[tuple[str, str]]:
    found = []
    for path, text in _report_texts(reports):
        low = text.lower()
        found += [(str(path), value) for value, pattern in _PLANTED_PATTERNS if pattern.search(low)]
    return found


def test_the_leak_check_finds_planted_numbers_but_not_digits_inside_other_numbers():
    patterns = dict(_PLANTED_PATTERNS)
    assert patterns["150607"].search("toinen 150607–934d, kolmas")
    assert patterns["934d"].search("toinen 150607–934d, kolmas")
    assert patterns["308t"].search("hetu131052-308t,")
    assert patterns["0401234567"].search("puh.0401234567,")
    assert patterns["virtase"].search("kiitos mervi virtaselle")
    assert not patterns["150607"].search("p,0.00150607339")
    assert not patterns["131052"].search("12131052")
    assert not patterns["934d"].search('"sha256": "0a1b934d7f"')


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory) -> Path:
    from evaluation.pipeline.run import run

    study = _small_demo(tmp_path_factory.mktemp("planted"), respondents=120)
    _plant(study)
    run(study, jobs=2, language="both")
    return study


@pytest.mark.slow
def test_planted_personal_data_appears_in_no_file_under_reports(planted_run):
    reports = planted_run / "reports"
    checked = list(_report_texts(reports))
    assert any(p.suffix == ".csv" for p, _ in checked)
    assert any(".xlsx" in str(p) for p, _ in checked)
    assert any(p.suffix == ".ipynb" for p, _ in checked)
    assert any(p.suffix == ".tex" for p, _ in checked)
    assert not _leaks(reports)


@pytest.mark.slow
def test_the_planted_text_was_published_redacted(planted_run):
    tables = planted_run / "reports" / "tables"
    quotes = pd.read_csv(tables / "quotes.csv")
    joined = " ".join(quotes["quote"].dropna())
    for placeholder in ("[nimi]", "[hetu]", "[sähköposti]", "[puhelin]"):
        assert placeholder in joined
    dis = pd.read_csv(tables / "disagreements.csv")
    coders = set(
        ", ".join(dis["coders_with"].fillna("") + ", " + dis["coders_without"]).split(", ")
    )
    assert coders - {""} <= {"Koodaaja 1", "Koodaaja 2"}
    # open answers by their ids; the planted document's passages and the demo's workshop notes'
    # paragraphs by their documents' pseudonyms
    assert dis["segment"].str.match(r"^(A\d+|D\d+@\d+-\d+|D\d+#p\d+)$").all()
    assert dis["document"].dropna().str.fullmatch(r"D\d+").all()
    suggestions = pd.read_csv(tables / "suggestions.csv")
    assert (
        not suggestions["evidence"].fillna("").str.contains("virta|korho|mervi", case=False).any()
    )
    key = pd.read_csv(planted_run / "data" / "processed" / "pseudonyms.csv")
    documents = key.loc[key["kind"] == "document"]
    assert set(key["pseudonym"]) - set(documents["pseudonym"]) == {"Koodaaja 1", "Koodaaja 2"}
    assert DOCUMENT in set(documents["name"])
    assert documents["pseudonym"].str.fullmatch(r"D\d+").all()
    manifest = json.loads((planted_run / "reports" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["redaction"]["names_count"] == 4
    en = (planted_run / "reports" / "html" / "en" / "consortium.html").read_text(encoding="utf-8")
    assert "[name]" in en or "Coder 1" in en or "quote" in en.lower()


FAILING_NOTEBOOK = textwrap.dedent(
    """\
    import pandas as pd
    answers = pd.read_csv(f"{study_dir}/data/raw/open_answers.csv")
    value = answers["text"].iloc[0]
    print("reading", len(answers), "answers")
    raise ValueError(f"bad answer in open_answers.csv, row 2, column text: {value!r} / " + value)
    """
)


@pytest.mark.slow
def test_a_failing_notebook_never_echoes_the_value_into_reports(tmp_path):
    from evaluation.pipeline.run import run

    study = _small_demo(tmp_path / "s", respondents=60)
    _plant(study)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('study_dir: str = "."\nlanguage: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(FAILING_NOTEBOOK)]
    nb.metadata["kernelspec"] = {
        "name": "evaluation",
        "display_name": "evaluation",
        "language": "python",
    }
    (study / "notebooks").mkdir()
    nbformat.write(nb, study / "notebooks" / "15-fail.ipynb")
    with pytest.raises(NotebookError) as caught:
        run(study, jobs=1, reports=False)
    message = str(caught.value)
    assert "ValueError" in message and "15-fail" in message
    _gone(message, *PLANTED)
    reports = study / "reports"
    executed = nbformat.read(reports / "notebooks" / "15-fail.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    assert "open_answers.csv, row 2, column text" in errors[0].evalue
    streams = [o.text for c in executed.cells for o in c.get("outputs", []) if "text" in o]
    assert any("reading" in s for s in streams)  # the partial output is kept
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["notebooks"]["15-fail"]["status"] == "failed"
    assert not _leaks(reports)


def test_scrubbing_a_failed_notebook_keeps_its_partial_output(tmp_path):
    from evaluation.pipeline.run import _scrub_notebook

    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("print(1)")
    ok.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n")]
    bad = nbformat.v4.new_code_cell("boom()")
    bad.metadata["papermill"] = {"exception": True}
    bad.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="warning for 131052-308T\n"),
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="bad 'Mervi Virtanen'",
            traceback=["\x1b[0;31mValueError\x1b[0m: bad 'Mervi Virtanen' 131052-308T"],
        ),
    ]
    nb.cells = [ok, bad]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    _scrub_notebook(path, lambda t: scrub_error(t, R))
    text = path.read_text(encoding="utf-8")
    _gone(text, "mervi", "131052")
    out = nbformat.read(path, as_version=4)
    assert out.cells[0].outputs[0].text == "fine\n"
    assert out.cells[1].outputs[1].ename == "ValueError"
    assert out.cells[1].outputs[1].evalue == "bad '…'"
