"""Qualitative inputs: codings files, REFI-QDA projects, keyword suggestions."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from evaluation.analyse.qual.suggest import suggest_codes, suggestion_quality, tokens
from evaluation.config import load_study
from evaluation.demo.generate import write_demo
from evaluation.errors import DataError
from evaluation.io.codings import load_codebook, load_codings, load_open_answers
from evaluation.io.documents import as_answers, load_segments
from evaluation.io.qdpx import export_qdpx, import_qdpx

CODEBOOK = pd.DataFrame(
    {
        "id": ["psychological_safety", "dialogue", "workload"],
        "label_fi": ["Psykologinen turvallisuus", "Dialogi", "Työkuorma"],
        "label_en": ["Psychological safety", "Dialogue", "Workload"],
        "description": ["Daring to speak up.", "Two-way talk.", "Haste."],
        "keywords": [["turvalli", "uskal"], ["keskustel", "dialog"], ["kiire", "kuormit"]],
        "parent": [None, None, None],
    }
)

# A hand-built project in the style of QualCoder's REFI-QDA export: two users, nested codes,
# one internal text file and one inline text, selections with Finnish (non-ASCII) text.
NOTES = "Työpaja 3: Keskustelimme avoimesti. Kiire näkyy ja työkuormitus on suuri."
HAND_BUILT = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Luova" origin="QualCoder 3.5">
  <Users>
    <User guid="11111111-1111-4111-8111-111111111111" name="Anna"/>
    <User guid="22222222-2222-4222-8222-222222222222" name="Ville"/>
  </Users>
  <CodeBook><Codes>
    <Code guid="aaaaaaaa-0000-4000-8000-000000000001" name="Vuorovaikutus" isCodable="false">
      <Code guid="aaaaaaaa-0000-4000-8000-000000000002" name="Dialogi" isCodable="true"/>
    </Code>
    <Code guid="aaaaaaaa-0000-4000-8000-000000000003" name="Workload" isCodable="true"/>
    <Code guid="aaaaaaaa-0000-4000-8000-000000000004" name="Uusi teema" isCodable="true"/>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="bbbbbbbb-0000-4000-8000-000000000001" name="workshop-3"
                plainTextPath="internal://bbbbbbbb-0000-4000-8000-000000000001.txt">
      <PlainTextSelection guid="cccccccc-0000-4000-8000-000000000001" startPosition="11"
          endPosition="35" creatingUser="11111111-1111-4111-8111-111111111111">
        <Coding guid="dddddddd-0000-4000-8000-000000000001"
                creatingUser="11111111-1111-4111-8111-111111111111">
          <CodeRef targetGUID="aaaaaaaa-0000-4000-8000-000000000002"/>
        </Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="cccccccc-0000-4000-8000-000000000002" startPosition="36"
          endPosition="{len(NOTES)}" creatingUser="22222222-2222-4222-8222-222222222222">
        <Coding guid="dddddddd-0000-4000-8000-000000000002"
                creatingUser="22222222-2222-4222-8222-222222222222">
          <CodeRef targetGUID="aaaaaaaa-0000-4000-8000-000000000003"/>
          <CodeRef targetGUID="aaaaaaaa-0000-4000-8000-000000000004"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="bbbbbbbb-0000-4000-8000-000000000002" name="A00001">
      <PlainTextContent>Uskallan sanoa.</PlainTextContent>
      <PlainTextSelection guid="cccccccc-0000-4000-8000-000000000003" startPosition="0"
          endPosition="15" creatingUser="22222222-2222-4222-8222-222222222222">
        <Coding guid="dddddddd-0000-4000-8000-000000000003"
                creatingUser="22222222-2222-4222-8222-222222222222">
          <CodeRef targetGUID="aaaaaaaa-0000-4000-8000-000000000003"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
</Project>
"""


def _write_qdpx(path, xml: str, files: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        for name, text in (files or {}).items():
            archive.writestr(f"sources/{name}", text.encode("utf-8"))
    return path


def test_hand_built_qualcoder_style_project(tmp_path, caplog):
    path = _write_qdpx(
        tmp_path / "p.qdpx", HAND_BUILT, {"bbbbbbbb-0000-4000-8000-000000000001.txt": NOTES}
    )
    out = import_qdpx(path, CODEBOOK)
    rows = out[["segment", "coder", "code", "text", "source"]].values.tolist()
    assert rows == [
        ["workshop-3@11-35", "Anna", "dialogue", "Keskustelimme avoimesti.", "human"],
        ["workshop-3@36-73", "Ville", "workload",
         "Kiire näkyy ja työkuormitus on suuri.", "human"],
        ["workshop-3@36-73", "Ville", "uusi_teema",
         "Kiire näkyy ja työkuormitus on suuri.", "human"],
        ["A00001", "Ville", "workload", "Uskallan sanoa.", "human"],
    ]  # fmt: skip
    assert len(NOTES) == 73 < len(NOTES.encode())  # offsets count Unicode characters, not bytes
    assert "Uusi teema" in caplog.text  # a code not in the codebook: kept, with a warning


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "not a REFI-QDA project"),
        ("no-project", "no project.qde"),
        ("<Project", "line 1"),
        (HAND_BUILT, "not in the file"),  # the internal source file is missing
        (HAND_BUILT.replace('endPosition="15"', 'endPosition="99"'), "outside"),
    ],
)
def test_malformed_projects_give_a_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.qdpx"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "no-project":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("other.xml", "<x/>")
    else:
        files = {}
        if "outside" in message:
            files = {"bbbbbbbb-0000-4000-8000-000000000001.txt": NOTES}
        _write_qdpx(path, content, files)
    with pytest.raises(DataError, match=message) as info:
        import_qdpx(path, CODEBOOK)
    assert "bad.qdpx" in str(info.value)


def test_round_trip_of_our_export_is_exact_and_byte_identical(tmp_path):
    texts = pd.DataFrame(
        {"segment": ["A1", "A2"], "text": ["Keskustelu on avointa.", "Kiire, ääh – työkuorma."]}
    )
    codings = pd.DataFrame(
        {
            "segment": ["A1", "A1", "A2", "A2"],
            "coder": ["coder_a", "coder_b", "coder_a", "suggestion"],
            "code": ["dialogue", "dialogue", "workload", "workload"],
            "source": ["human", "human", "human", "suggestion"],
        }
    )
    first = export_qdpx(tmp_path / "a.qdpx", CODEBOOK, texts, codings)
    second = export_qdpx(tmp_path / "b.qdpx", CODEBOOK, texts, codings)
    assert first.read_bytes() == second.read_bytes()
    back = import_qdpx(first, CODEBOOK)
    got = back[["segment", "coder", "code", "source"]].sort_values(["segment", "coder"])
    assert got.values.tolist() == codings.sort_values(["segment", "coder"]).values.tolist()
    assert back.set_index("segment").loc["A2", "text"].iloc[0] == "Kiire, ääh – työkuorma."
    # The codebook travels with its ids, so another tool's labels map back.
    with zipfile.ZipFile(first) as archive:
        xml = archive.read("project.qde").decode()
    assert 'name="Psykologinen turvallisuus"' in xml and "id: psychological_safety" in xml


def test_the_streamed_project_is_lxml_s_own_indented_tree(tmp_path):
    """project.qde is written source by source (never one tree in memory); it must read as
    the document lxml.etree.indent + tostring would give for the same tree, with a self-closed
    <Sources/> when there are no texts, and codings may be left out."""
    from lxml import etree

    texts = pd.DataFrame({"segment": ["B", "A", "C"], "text": ['<&> "x"', "ää", None]})
    codings = pd.DataFrame(
        {"segment": ["A", "A", "B"], "coder": ["u", "suggestion", "u"],
         "code": ["dialogue", "workload", "other"], "source": ["human", "suggestion", "human"]}
    )  # fmt: skip
    empty = pd.DataFrame({"segment": [], "text": []})
    for name, frame, coded in [("a", texts, codings), ("b", texts, None), ("c", empty, None)]:
        path = export_qdpx(tmp_path / f"{name}.qdpx", CODEBOOK, frame, coded, project="P <&>")
        with zipfile.ZipFile(path) as archive:
            xml = archive.read("project.qde")
            assert len(archive.namelist()) == 1 + len(frame)
        root = etree.fromstring(xml)
        etree.indent(root)
        assert etree.tostring(root, encoding="utf-8", xml_declaration=True) == xml
        if frame.empty:
            assert b"<Sources/>" in xml
    back = import_qdpx(tmp_path / "a.qdpx", CODEBOOK)
    assert sorted(back["segment"]) == ["A", "A", "B"]
    assert back.set_index("code").loc["other", "text"] == '<&> "x"'


def test_guids_are_rfc_4122_name_based_uuids():
    """Our GUIDs are computed without uuid.UUID objects; they must equal uuid.uuid5 (RFC 4122
    section 4.3, SHA-1) of "kind:key" in our namespace."""
    import uuid

    from hypothesis import given
    from hypothesis import strategies as st

    from evaluation.io.qdpx import _GUID_NS, guid

    @given(st.text(max_size=40), st.text(max_size=40))
    def same(kind: str, key: str) -> None:
        assert guid(kind, key) == str(uuid.uuid5(_GUID_NS, f"{kind}:{key}"))

    same()


def test_codings_csv_problems_name_file_row_and_column(tmp_path):
    write_demo(tmp_path, respondents=60)
    path = tmp_path / "data" / "raw" / "codings.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[2, "coder"] = None
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_codings(load_study(tmp_path))
    problems = info.value.problems
    assert problems.iloc[0][["file", "row", "column"]].tolist() == ["codings.csv", 4, "coder"]
    frame.drop(columns="code").to_csv(path, index=False)
    with pytest.raises(DataError, match="code"):
        load_codings(load_study(tmp_path))


def test_demo_codings_are_enriched_from_open_answers_and_mixed_with_qdpx(tmp_path):
    write_demo(tmp_path, respondents=60)
    study = load_study(tmp_path)
    answers = load_open_answers(study)
    codings = load_codings(study)
    assert set(codings["source"]) == {"human"} and codings["round"].notna().all()
    assert set(load_codebook(study)["id"]) >= set(codings["code"])
    # Export the demo's answers, document paragraphs + codings, then declare the .qdpx beside
    # the csv: same rows.
    segments = as_answers(load_segments(study))
    texts = pd.concat([answers, segments], ignore_index=True).rename(
        columns={"answer_id": "segment"}
    )
    export_qdpx(tmp_path / "data" / "raw" / "c.qdpx", load_codebook(study), texts, codings)
    yaml = (tmp_path / "config" / "study.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("codings: data/raw/codings.csv", "codings: [data/raw/c.qdpx]")
    (tmp_path / "config" / "study.yaml").write_text(yaml, encoding="utf-8")
    again = load_codings(load_study(tmp_path))
    cols = ["segment", "coder", "code", "round", "organisation", "text"]
    pd.testing.assert_frame_equal(
        again[cols].reset_index(drop=True), codings[cols].reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Työyhteisön turvallisuuden tunne on kasvanut.", "psychological_safety"),
        ("Uskalsin kertoa virheestäni.", "psychological_safety"),
        ("Keskustelimme avoimesti tiimissä.", "dialogue"),
        ("Työkuormitus on liian suuri.", "workload"),  # compound: kuormit inside
        ("Kiireinen viikko taas.", "workload"),
    ],
)
def test_suggestions_find_inflected_and_compound_forms(text, code):
    out = suggest_codes(pd.DataFrame({"segment": ["s"], "text": [text]}), CODEBOOK)
    assert code in set(out["code"]), out
    assert (out["source"] == "suggestion").all() and (out["coder"] == "suggestion").all()


@pytest.mark.parametrize(
    "text", ["Muutama asia oli hyvin.", "Kävimme kirjastossa.", "Dialyysihoito sujui."]
)
def test_near_misses_suggest_nothing(text):
    out = suggest_codes(pd.DataFrame({"segment": ["s"], "text": [text]}), CODEBOOK)
    assert out.empty, out


def test_tokens_split_hyphenated_compounds():
    assert tokens("Työhyvinvointi-kysely, 2025!") == ["työhyvinvointi-kysely", "työhyvinvointi",
                                                     "kysely"]  # fmt: skip


def test_suggestion_quality_by_hand():
    human = pd.DataFrame(
        {"segment": ["1", "1", "2", "3"], "coder": ["a", "b", "a", "a"],
         "code": ["x", "x", "y", "x"]}
    )  # fmt: skip
    suggested = pd.DataFrame(
        {"segment": ["1", "2", "2", "9"], "code": ["x", "x", "y", "x"]}
    )  # segment 9 was not coded by humans: ignored
    q = suggestion_quality(suggested, human).set_index("code")
    assert q.loc["x", ["n_suggested", "n_human", "n_both"]].tolist() == [2, 2, 1]
    assert q.loc["x", "precision"] == 0.5 and q.loc["x", "recall"] == 0.5
    assert q.loc["all", "precision"] == pytest.approx(2 / 3)
    assert q.loc["all", "recall"] == pytest.approx(2 / 3)
