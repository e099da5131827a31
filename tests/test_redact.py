"""Redaction: each kind of personal data goes, near misses survive."""

from __future__ import annotations

import pytest

from evaluation.demo.generate import _PII_SENTENCES, PLANTED_PII
from evaluation.disclosure.redact import Redactor, redact


@pytest.mark.parametrize(
    "text",
    [
        "Soita 040 123 4567 huomenna.",
        "Soita 040-1234567 huomenna.",
        "Soita 0401234567 huomenna.",
        "Soita +358 40 123 4567 huomenna.",
        "Soita +358401234567 huomenna.",
        "Soita +358 (0)40 123 4567 huomenna.",
        "Vaihde (09) 123 4567, kysy lisää.",
        "Vaihde 09 1234 567, kysy lisää.",
        "Numero on 050 5551234.",
    ],
)
def test_finnish_phone_numbers_are_redacted(text):
    out = redact(text)
    assert "[puhelin]" in out
    assert not any(ch.isdigit() for ch in out), out


@pytest.mark.parametrize("sign", list("+-ABCDEFYXWVU"))
def test_identity_codes_with_every_century_sign(sign):
    out = redact(f"Hetu 131052{sign}308T tähän.")
    assert out == "Hetu [hetu] tähän."


def test_identity_code_with_a_wrong_check_character_is_still_redacted():
    assert redact("Hetu 131052-3089 virheellinen") == "Hetu [hetu] virheellinen"


@pytest.mark.parametrize(
    "email", ["mervi.virtanen@example.fi", "a+b@sub.example.com", "Tiimi_1@hoiva-aapa.fi"]
)
def test_email_addresses(email):
    assert redact(f"Kirjoita osoitteeseen {email}.") == "Kirjoita osoitteeseen [sähköposti]."


@pytest.mark.parametrize(
    "text",
    [
        "Koulutus oli 15.10.2025 ja seuraava 3.4.2026.",
        "Aloitamme klo 14.30 ja lopetamme klo 16.00.",
        "Budjetti 1 200 € eli 12 % enemmän.",
        "Vuonna 2025 kävimme 3 kertaa, 0,5 päivää kerrallaan.",
        "Postinumero 00100 Helsinki.",
        "Versio 2.1.0 otettiin käyttöön.",
        "Luova suunta -hanke ja THL:n mittari.",
        "Kotihoito toimii hyvin.",
        "Vastaajia oli 123456 eli paljon.",
    ],
)
def test_near_misses_survive(text):
    assert redact(text) == text


def test_configured_names_with_finnish_case_endings():
    r = Redactor(names=["Mervi Virtanen"])
    assert r("Kysy lisää Mervi Virtaselta.") == "Kysy lisää [nimi]."
    assert r("Virtasen mielestä hyvä.") == "[nimi] mielestä hyvä."
    assert r("Mervin ryhmä.") == "[nimi] ryhmä."


def test_capitalised_name_pairs_unless_known_phrases():
    r = Redactor(keep=["Hoiva Aapa Oy", "Lapin AMK", "Kotihoito Itä"])
    assert r("Esihenkilömme Jari Mäkinen kuuntelee.") == "Esihenkilömme [nimi] kuuntelee."
    assert r("Hoiva Aapa Oy on mukana.") == "Hoiva Aapa Oy on mukana."
    assert r("Kotihoito Itä kokeili uutta.") == "Kotihoito Itä kokeili uutta."
    assert r("Sanna-Maria Korhonen veti.") == "[nimi] veti."


def test_the_demo_planted_personal_data_never_survives():
    r = Redactor(keep=["Luova suunta"])
    for sentence in _PII_SENTENCES:
        out = r(sentence)
        for values in PLANTED_PII.values():
            for value in values:
                assert value not in out, (sentence, out)
        for word in " ".join(PLANTED_PII["name"]).split():
            assert word not in out, (sentence, out)


def test_missing_text_is_empty():
    assert redact(None) == "" and redact(float("nan")) == ""
