"""Documents (workshop and interview notes) and feedback comments as qualitative sources."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from evaluation.analyse.qual.themes import quotes, source_kinds, theme_prevalence
from evaluation.config import load_study
from evaluation.demo.generate import DEMO_DOCUMENTS, write_demo
from evaluation.errors import DataError
from evaluation.io.documents import (
    FEEDBACK_COMMENT,
    load_documents,
    load_feedback_comments,
    safe_document_path,
    segment_plain,
)
from evaluation.io.qdpx import export_qdpx, import_qdpx

SECRET = "SALAINEN-SISÄLTÖ"  # document text that must never reach an error message


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, respondents=40)
    return root


def _study(tmp_path: Path, demo: Path, rows: list[dict], files: dict[str, bytes | str]) -> Path:
    """A copy of the demo study whose data.documents is a documents.csv of ``rows``."""
    root = tmp_path / "study"
    for path in demo.rglob("*"):
        if path.is_file():
            target = root / path.relative_to(demo)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    for name, content in files.items():
        target = root / "data" / "raw" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
    columns = ["file", "round", "organisation", "kind", "title", "date"]
    pd.DataFrame(rows, columns=columns).to_csv(root / "data" / "raw" / "documents.csv", index=False)
    return root


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Haastattelu", level=1)
    document.add_paragraph(f"Ensimmäinen kappale kiireestä. {SECRET}")
    document.add_paragraph("")
    document.add_heading("Johtaminen", level=2)
    document.add_paragraph("Toinen kappale esihenkilön tuesta.")
    document.save(str(path))


ORG = "Hyvinvointialue A"


def test_each_format_read_and_segmented(tmp_path, demo):
    md = (
        "---\nround: T1\norganisation: Hyvinvointialue A\nkind: workshop_notes\n---\n\n"
        "# Otsikko\n\nEnsimmäinen\nkappale.\n\n## Väliotsikko\nToinen kappale.\n\n\nKolmas.\n"
    )
    txt = "Yksi kappale.\r\n\r\nToinen   kappale\r\njatkuu.\r\n"
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "x").mkdir()
    _docx(tmp_path / "x" / "h.docx")
    files = {"notes/a.md": md, "notes/b.txt": txt,
             "notes/c.docx": (tmp_path / "x" / "h.docx").read_bytes()}  # fmt: skip
    rows = [
        {"file": "notes/a.md"},
        {"file": "notes/b.txt", "round": "T0", "organisation": ORG, "kind": "other"},
        {"file": "notes/c.docx", "round": "T2", "organisation": ORG, "kind": "interview_notes"},
    ]
    seg = load_documents(load_study(_study(tmp_path, demo, rows, files)))
    a = seg[seg["document"] == "notes/a.md"]
    assert list(a["segment"]) == ["notes/a.md#p1", "notes/a.md#p2", "notes/a.md#p3"]
    assert list(a["text"]) == ["Ensimmäinen kappale.", "Toinen kappale.", "Kolmas."]
    assert list(a["heading"].fillna("")) == ["Otsikko", "Väliotsikko", "Väliotsikko"]
    assert set(a["round"]) == {"T1"} and set(a["kind"]) == {"workshop_notes"}
    b = seg[seg["document"] == "notes/b.txt"]
    assert list(b["text"]) == ["Yksi kappale.", "Toinen kappale jatkuu."]
    c = seg[seg["document"] == "notes/c.docx"]
    assert len(c) == 2 and c["text"].iloc[1] == "Toinen kappale esihenkilön tuesta."
    assert list(c["heading"]) == ["Haastattelu", "Johtaminen"]  # headings are not segments
    assert seg["segment"].is_unique


def test_segment_ids_stable_under_reading_twice():
    text = "A.\n\nB.\n\n# H\n\nC."
    assert segment_plain(text, markdown=True) == segment_plain(text, markdown=True)
    assert [t for _, t in segment_plain(text, markdown=True)] == ["A.", "B.", "C."]


@pytest.mark.parametrize(
    "name",
    ["../../config/study.yaml", "/etc/passwd", "notes/../../../x.txt", "C:\\x.txt",
     "..\\..\\config\\study.yaml"],
)  # fmt: skip
def test_path_outside_data_raw_refused(tmp_path, demo, name):
    rows = [{"file": name, "round": "T1", "organisation": ORG, "kind": "other"}]
    with pytest.raises(DataError) as err:
        load_documents(load_study(_study(tmp_path, demo, rows, {})))
    p = err.value.problems
    assert list(p[["file", "row", "column"]].iloc[0]) == ["documents.csv", 2, "file"]
    assert "inside data/raw" in p["problem"].iloc[0]


def test_symlink_escape_refused(tmp_path, demo):
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET, encoding="utf-8")
    root = _study(tmp_path, demo, [{"file": "link.txt", "round": "T1", "organisation": ORG,
                                    "kind": "other"}], {})  # fmt: skip
    os.symlink(outside, root / "data" / "raw" / "link.txt")
    assert safe_document_path(root / "data" / "raw", "link.txt") is None
    with pytest.raises(DataError) as err:
        load_documents(load_study(root))
    assert SECRET not in str(err.value)
    assert err.value.problems["column"].iloc[0] == "file"


def test_malformed_metadata_named_by_file_row_column(tmp_path, demo):
    files = {"a.txt": f"Teksti {SECRET}.", "b.txt": "Teksti.", "c.txt": "Teksti.",
             "d.txt": " \n\n ", "e.docx": b"PK\x03\x04 not a zip"}  # fmt: skip
    rows = [
        {"file": "a.txt", "round": "T1", "organisation": ORG, "kind": "meeting"},  # row 2
        {"file": "missing.txt", "round": "T1", "organisation": ORG, "kind": "other"},  # 3
        {"file": "b.txt", "round": "T9", "organisation": ORG, "kind": "other"},  # 4
        {"file": "c.txt", "round": "T1", "organisation": "Tuntematon Oy", "kind": "other"},  # 5
        {"file": "d.txt", "round": "T1", "organisation": ORG, "kind": "other"},  # 6
        {"file": "e.docx", "round": "T1", "organisation": ORG, "kind": "other"},  # 7
    ]
    with pytest.raises(DataError) as err:
        load_documents(load_study(_study(tmp_path, demo, rows, files)))
    p = err.value.problems
    got = {(r["row"], r["column"]) for _, r in p.iterrows()}
    assert got == {(2, "kind"), (3, "file"), (4, "round"), (5, "organisation"), (6, "file"),
                   (7, "file")}  # fmt: skip
    assert set(p["file"]) == {"documents.csv"}
    assert SECRET not in str(err.value) and "Tuntematon" not in str(err.value)


def test_front_matter_conflicting_with_csv_is_an_error(tmp_path, demo):
    md = "---\nround: T2\n---\nTeksti.\n"
    rows = [{"file": "a.md", "round": "T1", "organisation": ORG, "kind": "other"}]
    with pytest.raises(DataError) as err:
        load_documents(load_study(_study(tmp_path, demo, rows, {"a.md": md})))
    assert list(err.value.problems[["row", "column"]].iloc[0]) == [2, "round"]


def test_feedback_comments_are_segments(demo):
    study = load_study(demo)
    comments = load_feedback_comments(study)
    raw = pd.read_csv(demo / "data" / "raw" / "feedback.csv", dtype=str)
    given = raw[raw["comment"].notna()]
    assert len(comments) == len(given) > 0
    assert set(comments["kind"]) == {FEEDBACK_COMMENT}
    first = comments.iloc[0]
    row = int(re.search(r"#r(\d+)$", first["segment"]).group(1))
    assert first["text"] == raw["comment"].iloc[row - 2]
    assert first["round"] == raw["round"].iloc[row - 2]
    org = raw["organisation"].iloc[row - 2]  # empty for an actor's own seminar
    assert pd.isna(first["organisation"]) if pd.isna(org) else first["organisation"] == org


def test_no_comment_column_no_segments(tmp_path, demo):
    root = _study(tmp_path, demo, [], {})
    path = root / "data" / "raw" / "feedback.csv"
    pd.read_csv(path, dtype=str).drop(columns=["comment"]).to_csv(path, index=False)
    assert load_feedback_comments(load_study(root)).empty


def _answers(n_open: int, n_paragraphs: int, text: str) -> pd.DataFrame:
    rows = [{"answer_id": f"A{i}", "round": "T1", "organisation": ORG, "text": f"Vastaus {i}.",
             "kind": "open_answer", "document": None} for i in range(n_open)]  # fmt: skip
    rows += [{"answer_id": f"d.txt#p{k}", "round": "T1", "organisation": ORG, "text": text,
              "kind": "workshop_notes", "document": "d.txt"}
             for k in range(1, n_paragraphs + 1)]  # fmt: skip
    return pd.DataFrame(rows)


def _codings(answers: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for seg in answers["answer_id"]:
        code = "planted" if "#p" in seg else "dialogue"
        for coder in ("a", "b"):
            rows.append({"segment": seg, "coder": coder, "code": code, "source": "human"})
    return pd.DataFrame(rows)


QUOTE_OPTIONS = {"actors": {}, "rounds": ["T0", "T1"], "min_n": 5, "seed": 1}


def test_document_quote_redacted_with_its_kind():
    from evaluation.disclosure.redact import Redactor

    text = ("Matti Meikäläinen kertoi kiireestä, matti@example.org, "
            "henkilötunnus 131052-308T.")  # fmt: skip
    answers = _answers(4, 1, text)
    redact = Redactor(names=["Matti Meikäläinen"])
    q = quotes(_codings(answers), answers, **QUOTE_OPTIONS, redact=redact)
    planted = q[q["code"] == "planted"].iloc[0]
    assert planted["source_kind"] == "workshop_notes"
    for secret in ("Matti", "Meikäläinen", "matti@example.org", "131052-308T"):
        assert secret not in planted["quote"]
    assert "kiireestä" in planted["quote"]
    assert source_kinds(answers)["A0"] == "open_answer"


def test_document_counts_once_for_the_group_size():
    """Documents never count towards the size of respondents' groups: three answers and a
    workshop memo of six paragraphs quote the memo, never the three answers; an interview's
    six paragraphs count as one interview (docs/qualitative.md, who may be quoted)."""
    answers = _answers(3, 6, "Kappale.")
    q = quotes(_codings(answers), answers, **QUOTE_OPTIONS, redact=str)
    assert set(q["source_kind"]) == {"workshop_notes"}
    answers = _answers(5, 6, "Kappale.")  # five answers: quoted
    q = quotes(_codings(answers), answers, **QUOTE_OPTIONS, redact=str)
    assert set(q["source_kind"]) == {"open_answer", "workshop_notes"}
    interview = _answers(5, 6, "Kappale.").replace({"workshop_notes": "interview_notes"})
    q = quotes(_codings(interview), interview, **QUOTE_OPTIONS, redact=str)
    assert set(q["source_kind"]) == {"open_answer"}


def test_segments_in_themes_and_qdpx_round_trip(tmp_path):
    answers = _answers(5, 2, "Kappale.")
    codings = _codings(answers)
    themes = theme_prevalence(codings, answers, actors={}, rounds=["T0", "T1"], baseline="T0",
                              min_n=1)  # fmt: skip
    whole = themes[(themes["group_by"] == "all") & (themes["code"] == "planted")]
    assert int(whole["n_coded"].iloc[0]) == 2
    texts = answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
    path = export_qdpx(tmp_path / "p.qdpx", pd.DataFrame(columns=["id"]), texts, codings)
    with zipfile.ZipFile(path) as z:
        assert "d.txt#p2" in z.read("project.qde").decode()
    back = import_qdpx(path)
    assert {"d.txt#p1", "d.txt#p2"} <= set(back["segment"])


def test_demo_documents_processed(tmp_path, demo):
    from evaluation.pipeline.process import process
    from evaluation.pipeline.session import open_study, qualitative_inputs

    root = _study(tmp_path, demo, [], {})
    (root / "data" / "raw" / "documents.csv").write_bytes(
        (demo / "data" / "raw" / "documents.csv").read_bytes()
    )
    process(load_study(root))
    segments = pd.read_parquet(root / "data" / "processed" / "segments.parquet")
    documents = {d["file"] for d in DEMO_DOCUMENTS}
    assert set(segments["document"].dropna()) == documents
    q = qualitative_inputs(open_study(root))
    coded = set(q.codings["segment"])
    assert {f"{d}#p1" for d in documents} <= coded
    assert set(q.answers.loc[q.answers["document"].notna(), "kind"]) == {"workshop_notes"}
    # the planted e-mail address and phone number are redacted in the suggestions' evidence
    evidence = " ".join(q.suggestions["evidence"].astype(str))
    assert "example.org" not in evidence and "4567" not in evidence
