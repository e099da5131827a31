"""Workshop and interview notes in the reports (issue 18, item 3 follow-up): quotes per source
kind, who may be quoted, the documents' pseudonyms, and the qualitative section's part on the
notes (each audience only its own organisations' documents, text redacted and escaped).
Constructed inputs; the last test reads the demo run's reports."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.analyse.qual.themes import (
    document_quotes,
    document_table,
    quotable,
    quotes,
)
from evaluation.config import load_labels, load_study
from evaluation.disclosure.pseudonyms import pseudonyms
from evaluation.disclosure.redact import Redactor
from evaluation.report import audiences
from evaluation.report.audiences import Audience, ReportView
from evaluation.safety import escape_markdown
from tests.conftest import STUDY_YAML, write_study

TWO_ORGS = STUDY_YAML.replace(
    "  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}",
    "  Org A: {actor: Actor 1, units: {Ward 1: 10, Ward 2: 8}}\n"
    "  Org B: {actor: Actor 2, units: {Ward 1: 10}}",
)
OPTIONS = {"actors": {}, "rounds": ["T0", "T1"], "min_n": 5, "seed": 3}
EMAIL, HETU = "liisa.esimerkki@example.org", "131052-308T"
TITLE = "Työpaja Liisa Esimerkin tiimin kanssa"  # a title that names a person


def _sources(n_open: dict[str, int], documents: list[dict]) -> pd.DataFrame:
    """Open answers per organisation (all in T1) and document paragraphs, in the shape of
    :func:`evaluation.pipeline.session.qualitative_sources` (real ids)."""
    rows = []
    for org, n in n_open.items():
        rows += [{"answer_id": f"{org[-1]}{i}", "round": "T1", "organisation": org,
                  "text": f"Vastaus numero {i} dialogista.", "kind": "open_answer",
                  "document": None} for i in range(n)]  # fmt: skip
    for doc in documents:
        for k, text in enumerate(doc["paragraphs"], start=1):
            rows.append({"answer_id": f"{doc['file']}#p{k}", "round": doc["round"],
                         "organisation": doc["organisation"], "text": text,
                         "kind": doc["kind"], "document": doc["file"]})  # fmt: skip
    return pd.DataFrame(rows)


def _codings(sources: pd.DataFrame, codes: dict[str, str]) -> pd.DataFrame:
    """Two coders agree on every segment: ``codes`` maps a segment id to its code (default
    ``dialogue``)."""
    rows = []
    for seg, org, rnd in sources[["answer_id", "organisation", "round"]].itertuples(index=False):
        for coder in ("coder_a", "coder_b"):
            rows.append({"segment": seg, "coder": coder, "code": codes.get(seg, "dialogue"),
                         "round": rnd, "organisation": org, "source": "human"})  # fmt: skip
    return pd.DataFrame(rows)


WORKSHOP_A = {
    "file": "documents/tyopaja-a.md", "round": "T1", "organisation": "Org A",
    "kind": "workshop_notes", "title": TITLE,
    "paragraphs": ["Tiimi keskusteli avoimesti ja ideoi uuden vuorolistan.",
                   f"Lisätietoja antaa {EMAIL}, henkilötunnus {HETU}, kertoi tiimi."],
}  # fmt: skip
WORKSHOP_B = {
    "file": "documents/tyopaja-b.txt", "round": "T1", "organisation": "Org B",
    "kind": "workshop_notes", "title": "Vertaistyöpaja",
    "paragraphs": ["Vertaisryhmässä opittiin toisilta uusia tapoja tehdä työtä."],
}  # fmt: skip
ONLY_IN_NOTES = {"documents/tyopaja-a.md#p2": "planted_theme"}


def _public(sources: pd.DataFrame, codings: pd.DataFrame):
    """Codings and sources as the notebooks use them: documents by their pseudonyms."""
    docs = sources["kind"].ne("open_answer")
    names = pseudonyms(codings, sources.loc[~docs, "answer_id"],
                       documents=sources.loc[docs, "document"])  # fmt: skip
    public = sources.copy()
    public.loc[docs, "answer_id"] = public.loc[docs, "answer_id"].map(names.segment)
    public.loc[docs, "document"] = public.loc[docs, "document"].map(names.document)
    return names.apply(codings), public


def test_document_paragraphs_keep_their_document_under_a_pseudonym():
    sources = _sources({"Org A": 5}, [WORKSHOP_A, WORKSHOP_B])
    codings = _codings(sources, {})
    open_ids = sources.loc[sources["kind"].eq("open_answer"), "answer_id"]
    names = pseudonyms(codings[~codings["segment"].str.startswith("documents/tyopaja-b")],
                       open_ids, documents=["documents/tyopaja-b.txt"])  # fmt: skip
    assert names.segment("documents/tyopaja-a.md#p2") == "D1#p2"
    assert names.segment("documents/tyopaja-b.txt#p1") == "D2#p1"  # uncoded, still numbered
    assert names.segment("A0") == "A0"


def test_a_theme_coded_only_in_workshop_notes_gets_a_workshop_quote_beside_the_answers():
    sources = _sources({"Org A": 6}, [WORKSHOP_A])
    codings, public = _public(sources, _codings(sources, ONLY_IN_NOTES))
    redact = Redactor()
    q = quotes(codings, public, **OPTIONS, redact=redact)
    planted = q[q["code"] == "planted_theme"]
    assert list(planted["source_kind"]) == ["workshop_notes"]
    assert planted["segment"].iloc[0] == "D1#p2"
    assert EMAIL not in planted["quote"].iloc[0] and HETU not in planted["quote"].iloc[0]
    # dialogue is coded in answers and in the notes: one quote of each kind
    kinds = q.loc[q["code"] == "dialogue", "source_kind"].tolist()
    assert sorted(kinds) == ["open_answer", "workshop_notes"]
    # the joint display keeps one quote per theme over all kinds
    one = quotes(codings, public, **OPTIONS, redact=redact, by_kind=False)
    assert one.groupby(["code", "round"]).size().max() == 1


def test_notes_never_make_respondents_answers_quotable():
    """Four answers and a workshop note in one organisation x round: the note may be quoted,
    the four answers may not (the note does not count towards their group's size)."""
    sources = _sources({"Org A": 4}, [WORKSHOP_A])
    codings, public = _public(sources, _codings(sources, {}))
    q = quotes(codings, public, **OPTIONS, redact=str)
    assert set(q["source_kind"]) == {"workshop_notes"}
    five = _sources({"Org A": 5}, [WORKSHOP_A])
    codings, public = _public(five, _codings(five, {}))
    assert "open_answer" in set(quotes(codings, public, **OPTIONS, redact=str)["source_kind"])


def test_interview_notes_need_min_n_interviews():
    base = pd.DataFrame(
        {
            "segment": [f"D{i}#p1" for i in range(5)],
            "organisation": "Org A",
            "round": "T1",
            "source_kind": "interview_notes",
        }
    )
    units = {f"D{i}#p1": f"doc:D{i}" for i in range(5)}
    assert quotable(base, units, min_n=5).all()
    assert not quotable(base.iloc[:4], units, min_n=5).any()
    one_doc = {f"D{i}#p1": "doc:D0" for i in range(5)}  # five paragraphs of one interview
    assert not quotable(base, one_doc, min_n=5).any()


def _report_tables() -> dict[str, pd.DataFrame]:
    sources = _sources({"Org A": 6, "Org B": 6}, [WORKSHOP_A, WORKSHOP_B])
    codings, public = _public(sources, _codings(sources, ONLY_IN_NOTES))
    redact = Redactor()
    by_org = quotes(codings, public, **OPTIONS, redact=redact, by_organisation=True)
    return {
        "documents": document_table(codings, public, rounds=["T0", "T1"]),
        "document_quotes": document_quotes(by_org),
    }


@pytest.fixture
def shown(monkeypatch) -> list[str]:
    """The HTML and Markdown the section displays (as nbconvert would put it in the page)."""
    import IPython.display

    out: list[str] = []

    def collect(*objects, **_):
        for obj in objects:
            html = getattr(obj, "_repr_html_", None)
            markdown = getattr(obj, "_repr_markdown_", None)
            out.append(html() if html else markdown() if markdown else str(obj))

    monkeypatch.setattr(IPython.display, "display", collect)
    return out


def _html(tmp_path, shown, kind: str, name: str, language: str = "en") -> str:
    study = load_study(write_study(tmp_path, [], TWO_ORGS))
    labels = load_labels(language, study.paths)
    labels.update({"planted_theme": "Planted theme", "dialogue": "Dialogue"})
    view = ReportView(study=study, audience=Audience(kind, name), labels=labels,
                      language=language, _tables=_report_tables())  # fmt: skip
    audiences.qualitative_documents(view)
    return "\n".join(shown)


def test_consortium_report_shows_the_notes_and_their_quotes(tmp_path, shown):
    page = _html(tmp_path, shown, "consortium", "S")
    labels = load_labels("en")
    assert labels["rep_documents"] in page and labels["workshop_notes"] in page
    assert "D1" in page and "D2" in page
    assert "Planted theme" in page  # the theme coded only in the notes, with its quote
    assert "avoimesti ja ideoi" in page or "kertoi tiimi" in page
    for secret in (EMAIL, HETU, "Liisa", "Esimerkin", "tyopaja-a", "tyopaja-b"):
        assert secret not in page, secret


def test_organisation_report_shows_only_its_own_documents(tmp_path, shown):
    page = _html(tmp_path, shown, "organisation", "Org B", language="fi")
    assert escape_markdown(load_labels("fi")["rep_documents"]) in page  # a Markdown heading
    assert "Vertaisryhmässä" in page
    assert "Org A" not in page and "vuorolistan" not in page and "kertoi tiimi" not in page
    assert "D1" not in page  # Org A's document


def test_document_text_is_escaped(tmp_path, shown):
    tables = _report_tables()
    tables["document_quotes"].loc[0, "quote"] = "<script>alert(1)</script> teksti"
    study = load_study(write_study(tmp_path, [], TWO_ORGS))
    view = ReportView(study=study, audience=Audience("consortium", "S"),
                      labels=load_labels("en", study.paths), language="en",
                      _tables=tables)  # fmt: skip
    audiences.qualitative_documents(view)
    page = "\n".join(shown)
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("language", ["fi", "en"])
def test_demo_consortium_report_shows_both_workshop_notes(shared_demo_run, language):
    from evaluation.demo.generate import DEMO_DOCUMENTS

    quotes_csv = pd.read_csv(shared_demo_run / "reports" / "tables" / "quotes.csv")
    assert "workshop_notes" in set(quotes_csv["source_kind"])
    documents = pd.read_csv(shared_demo_run / "reports" / "tables" / "documents.csv")
    assert len(documents) == len(DEMO_DOCUMENTS)
    page = (shared_demo_run / "reports" / "html" / language / "consortium.html").read_text(
        encoding="utf-8"
    )
    labels = load_labels(language)
    assert labels["rep_documents"] in page
    for doc in DEMO_DOCUMENTS:
        assert doc["meta"]["title"] not in page  # titles are not shown
        assert doc["file"] not in page
        # a paragraph of each document is quoted (redacted: compare its first words)
        firsts = [" ".join(text.split()[:4]) for text, codes in doc["paragraphs"] if codes]
        assert any(first in page for first in firsts), doc["file"]
    assert "kehittaja.demo@example.org" not in page and "040 123 4567" not in page
