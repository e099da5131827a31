"""Deterministic synthetic demo study shaped like the "Luova suunta" project (2025-2028).

:func:`write_demo` writes a complete study folder: ``config/study.yaml``,
``config/codebook.yaml`` and ``data/raw/{responses, codings, open_answers, activities,
feedback}.csv``. Every name in it is fictional; no real person or organisation is described.

The design follows the project plan (``MISSION.md``): three actors (Metropolia with three
wellbeing services counties, Xamk with three small and three medium companies, Lapland UAS with
one micro, five small and two medium companies), units with headcounts, four annual QWL rounds
(T0 = baseline), about 60 % response rates, programme participants (about 100 / 45 / 60 per
actor at the default size) and non-participants, supervisors and staff. QWL starts near the
InnOKE baseline of 60.1 and rises about 13 points among participants by T3 (about 3 among
non-participants); the participation scale (ESIS) follows a one-factor model. Three
organisations carry pseudonymous respondent codes that link people across rounds (a stable
panel with attrition and newcomers); elsewhere answers are anonymous.

Determinism
-----------
One ``numpy.random.default_rng(seed)`` is split with ``Generator.spawn`` into one child
generator per file (population, responses, open answers, codings, activities, feedback), so a
change to one part does not shift the random numbers of another. Output is sorted, numbers are
written with fixed formats, lines end in ``\\n`` and nothing carries a timestamp: the same
``seed`` and ``respondents`` give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evaluation.config import Analysis, Disclosure, Study
from evaluation.errors import OverwriteError, UsageError
from evaluation.io.files import write_text

log = logging.getLogger(__name__)

__all__ = ["PLANTED_PII", "codebook", "codebook_yaml", "study_config", "write_demo"]

DEFAULT_RESPONDENTS = 600
DEFAULT_SEED = Study.seed  # the one default seed: config.Study
MIN_RESPONDENTS = 20

STUDY_NAME = "Luova suunta (demo)"
ROUNDS: tuple[tuple[str, str, dt.date], ...] = (
    ("T0", "Lähtötaso 2025", dt.date(2025, 10, 15)),
    ("T1", "2026", dt.date(2026, 10, 15)),
    ("T2", "2027", dt.date(2027, 10, 15)),
    ("T3", "2028", dt.date(2028, 10, 15)),
)
BASELINE = "T0"

RESPONSE_RATE = 0.60  # expected share of a unit's headcount answering in a round
TURNOVER = 0.12  # share of positions that get a new person between rounds
SUPERVISOR_SHARE = {True: 0.25, False: 0.0875}  # by participation: about 12 % overall
NEWCOMER_PARTICIPANT = 0.06  # a newcomer joins the programme
INITIAL_PARTICIPANT_SHARE = 0.92  # of the actor's target, among the people there at T0

# The plan's participant targets per actor (MITTARIT), at the default size.
ACTORS: dict[str, int] = {"Metropolia": 100, "Xamk": 45, "Lapin AMK": 60}

# (organisation, actor, sector, size, {unit: headcount at the default size}).
# Micro companies keep their headcount at every size: small groups exercise disclosure control.
ORGANISATIONS: tuple[tuple[str, str, str, str, dict[str, int]], ...] = (
    (
        "Hyvinvointialue A",
        "Metropolia",
        "public",
        "large",
        {"Kotihoito itä": 60, "Kotihoito länsi": 55, "Osasto 2": 45, "Päivystys": 50},
    ),
    (
        "Hyvinvointialue B",
        "Metropolia",
        "public",
        "large",
        {"Sisätautiosasto 3": 50, "Kotihoito keskusta": 60, "Vammaispalvelut": 35},
    ),
    (
        "Hyvinvointialue C",
        "Metropolia",
        "public",
        "large",
        {
            "Osasto 4": 40,
            "Kuntoutusosasto": 45,
            "Mielenterveyspalvelut": 40,
            "Ikäihmisten palvelut": 55,
        },
    ),
    ("Hoivakoti Kaarna Oy", "Xamk", "private", "small", {"Tiimi 1": 14, "Tiimi 2": 12}),
    ("Kotihoito Virta Oy", "Xamk", "private", "small", {"Kotihoito": 22}),
    ("Terapiakeskus Tyyni Oy", "Xamk", "private", "small", {"Terapiatiimi": 9, "Vastaanotto": 11}),
    (
        "Palvelutalo Lehto Oy",
        "Xamk",
        "private",
        "medium",
        {"Palvelutalo": 35, "Kotihoito": 25, "Tukipalvelut": 12},
    ),
    ("Hoivapalvelut Kajo Oy", "Xamk", "private", "medium", {"Tiimi 1": 30, "Tiimi 2": 28}),
    (
        "Sote-palvelut Routa Oy",
        "Xamk",
        "private",
        "medium",
        {"Hoivakoti Routa": 32, "Kotihoito": 26, "Hallinto": 10},
    ),
    ("Kotipalvelu Kuura Oy", "Lapin AMK", "private", "micro", {"Kotipalvelu": 7}),
    ("Hoivakoti Revontuli Oy", "Lapin AMK", "private", "small", {"Hoivakoti": 18, "Yöhoito": 8}),
    ("Palvelukoti Kelo Oy", "Lapin AMK", "private", "small", {"Palvelukoti": 20}),
    (
        "Kuntoutus Jänkä Oy",
        "Lapin AMK",
        "private",
        "small",
        {"Fysioterapia": 12, "Toimintaterapia": 8},
    ),
    ("Hoiva Aapa Oy", "Lapin AMK", "private", "small", {"Tiimi 1": 15, "Tiimi 2": 11}),
    (
        "Terveyspalvelut Kaamos Oy",
        "Lapin AMK",
        "private",
        "small",
        {"Vastaanotto": 16, "Kotisairaanhoito": 12},
    ),
    (
        "Hoivapalvelut Ruska Oy",
        "Lapin AMK",
        "private",
        "medium",
        {"Palvelutalo": 30, "Kotihoito": 24, "Tiimi 3": 15},
    ),
    ("Tunturihoiva Oy", "Lapin AMK", "private", "medium", {"Hoivakoti": 28, "Kotihoito": 22}),
)
# Organisations whose survey carries a pseudonymous respondent code (linked across rounds).
CODED_ORGANISATIONS = ("Hyvinvointialue B", "Hoivakoti Kaarna Oy", "Palvelutalo Lehto Oy")

# QWL (vendor index 0-100): baseline near the InnOKE start (60.1); gains by round index.
QWL_BASELINE = 60.1
QWL_GAIN_PARTICIPANT = (0.0, 5.0, 9.5, 13.0)
QWL_GAIN_OTHER = (0.0, 1.0, 2.0, 3.0)
QWL_SD = {"organisation": 3.5, "unit": 2.5, "person": 6.0, "occasion": 6.0}
QWL_ORG_DRIFT = 0.8  # SD of an organisation's yearly change shared by all its staff
QWL_AREAS = {  # area column -> offset from the index; each area = index + offset + noise
    "qwl_leadership": 2.0,
    "qwl_line_management": 4.0,
    "qwl_operating_culture": -1.0,
    "qwl_competence": 6.0,
    "qwl_processes": -5.0,
}
QWL_AREA_NOISE = 6.0
QWL_MISSING = 0.02
QWL_AREA_MISSING = 0.02

# ESIS: one factor; the latent mean shifts (in SD units) by round index and participation.
ESIS_ITEMS = tuple(f"esis_{i}" for i in range(1, 11))
ESIS_LOADINGS = (0.72, 0.78, 0.75, 0.70, 0.80, 0.74, 0.77, 0.71, 0.79, 0.76)
ESIS_CUTS = (-1.9, -1.1, -0.25, 0.85)  # latent -> 1..5 (mean item about 3.6)
ESIS_SHIFT_PARTICIPANT = (0.0, 0.12, 0.24, 0.35)
ESIS_SHIFT_OTHER = (0.0, 0.03, 0.06, 0.10)
ESIS_ITEM_MISSING = 0.03
ESIS_PARTIAL = 0.01  # respondents who skip 3-6 items (fewer than the 8 needed for a score)

RESPONSE_COLUMNS = [
    "round",
    "organisation",
    "unit",
    "respondent",
    "participant",
    "role",
    "qwl",
    *QWL_AREAS,
    *ESIS_ITEMS,
]
OPEN_ANSWER_COLUMNS = [
    "answer_id",
    "round",
    "organisation",
    "unit",
    "participant",
    "role",
    "question",
    "text",
]
CODING_COLUMNS = ["segment", "coder", "code", "text", "document", "round", "organisation"]
ACTIVITY_COLUMNS = [
    "date",
    "round",
    "actor",
    "organisation",
    "activity",
    "participants",
    "person_ids",
    "creative_methods",
    "reach",
]
FEEDBACK_COLUMNS = [
    "date",
    "round",
    "actor",
    "organisation",
    "activity",
    "satisfaction",
    "competence_growth",
    "goal_attainment",
]
FEEDBACK_ITEMS = ("satisfaction", "competence_growth", "goal_attainment")
FEEDBACK_PROBS = {  # P(1..5); means about 4.2, 3.9, 3.8
    "satisfaction": (0.01, 0.03, 0.12, 0.44, 0.40),
    "competence_growth": (0.02, 0.05, 0.20, 0.45, 0.28),
    "goal_attainment": (0.02, 0.06, 0.24, 0.44, 0.24),
}

# --------------------------------------------------------------------------------------------
# Codebook: the project's themes (ids in English, labels in Finnish and English).
# --------------------------------------------------------------------------------------------

CODEBOOK: tuple[dict[str, Any], ...] = (
    {
        "id": "psychological_safety",
        "label_fi": "Psykologinen turvallisuus",
        "label_en": "Psychological safety",
        "description": "Daring to speak up, ask, disagree or admit mistakes without fear.",
        "keywords": ["turvalli", "turvassa", "uskal", "pelk", "virhe", "syyllist"],
        "parent": "participation",
        "tone": "resource",
    },
    {
        "id": "dialogue",
        "label_fi": "Dialogi",
        "label_en": "Dialogue",
        "description": "Open, two-way conversation and listening in the work community.",
        "keywords": ["dialog", "keskustel", "vuorovaikut", "kuuntel", "puhu"],
        "parent": "participation",
        "tone": "resource",
    },
    {
        "id": "creativity",
        "label_fi": "Luovuus",
        "label_en": "Creativity",
        "description": "Creative methods, new ideas and experimenting in everyday work.",
        "keywords": ["luov", "ideoi", "idea", "kokeil", "menetelm"],
        "parent": "development",
        "tone": "resource",
    },
    {
        "id": "co_development",
        "label_fi": "Yhteiskehittäminen",
        "label_en": "Co-development",
        "description": "Staff and management developing ways of working together.",
        "keywords": ["yhteiskehit", "kehitä", "kehittä", "kehitt", "pdca", "ehdotuk"],
        "parent": "development",
        "tone": "resource",
    },
    {
        "id": "peer_learning",
        "label_fi": "Vertaisoppiminen",
        "label_en": "Peer learning",
        "description": "Learning from colleagues, sharing skills and tacit knowledge.",
        "keywords": ["vertais", "toisiltamme", "toisiltaan", "jaamme", "osaamis", "hiljai"],
        "parent": "learning",
        "tone": "resource",
    },
    {
        "id": "being_heard",
        "label_fi": "Kuulluksi tuleminen",
        "label_en": "Being heard",
        "description": "Feeling that one's views are listened to and affect decisions.",
        "keywords": ["kuul", "mielipit", "ääne", "huomioon", "päätö"],
        "parent": "participation",
        "tone": "resource",
    },
    {
        "id": "diversity",
        "label_fi": "Monimuotoisuus",
        "label_en": "Diversity",
        "description": "Different ages, cultures, languages and backgrounds in the team.",
        "keywords": ["monimuotoi", "moninai", "kulttuuritaust", "eri-ikäi", "kieli", "ulkopuol"],
        "parent": "participation",
        "tone": "resource",
    },
    {
        "id": "workload",
        "label_fi": "Työkuorma",
        "label_en": "Workload",
        "description": "Haste, heavy workload, staff shortage and coping.",
        "keywords": ["kiire", "kuormit", "työkuorm", "työmäärä", "resurssi", "jaksa", "sijai"],
        "parent": "strain",
        "tone": "problem",
    },
    {
        "id": "change_fatigue",
        "label_fi": "Muutosväsymys",
        "label_en": "Change fatigue",
        "description": "Exhaustion and uncertainty from continuous organisational change.",
        "keywords": ["muutos", "muutoks", "muutosväs", "uudistu", "väsy", "epävarm"],
        "parent": "strain",
        "tone": "problem",
    },
    {
        "id": "mentoring",
        "label_fi": "Mentorointi",
        "label_en": "Mentoring",
        "description": "Group and peer mentoring (work package TP3).",
        "keywords": ["mentor", "ryhmämentor", "mentorointiryhm"],
        "parent": "learning",
        "tone": "resource",
    },
    {
        "id": "leadership",
        "label_fi": "Johtaminen",
        "label_en": "Leadership",
        "description": "Supervisors' and management's way of leading; coaching leadership.",
        "keywords": ["johtami", "johto", "esihenkilö", "esimie", "lähijohta", "valmentav"],
        "parent": "leadership",
        "tone": "resource",
    },
    {
        "id": "wellbeing",
        "label_fi": "Työhyvinvointi",
        "label_en": "Wellbeing at work",
        "description": "Coping, enjoying one's work and energy at work.",
        "keywords": ["hyvinvoin", "viihty", "työilo", "voimavar", "innostu"],
        "parent": "wellbeing",
        "tone": "resource",
    },
)
THEMES = tuple(c["id"] for c in CODEBOOK)


def codebook() -> dict[str, Any]:
    """The codebook as written to ``config/codebook.yaml`` (a fresh copy)."""
    return {
        "codes": [
            dict(c, keywords=list(c["keywords"]), examples=[TEMPLATES[c["id"]][0][0]])
            for c in CODEBOOK
        ]
    }


def codebook_yaml() -> str:
    """The text of ``config/codebook.yaml``."""
    header = (
        "# Codebook of the Luova suunta project: the themes the qualitative coding looks for.\n"
        "# ids are English snake_case; labels in Finnish and English; keywords are Finnish\n"
        "# word stems used only to *suggest* codes (never mixed with human coding); parent is\n"
        "# the wider theme, tone marks a resource or a problem theme (used by the joint display).\n"
        "# The demo generator (evaluation.demo.generate) writes this same file into a demo study.\n"
    )
    return header + yaml.safe_dump(
        codebook(), sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
    )


# --------------------------------------------------------------------------------------------
# Finnish open-answer templates per theme: (positive sentences, negative sentences).
# --------------------------------------------------------------------------------------------

TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "psychological_safety": (
        (
            "Työyhteisössä on nyt turvallista sanoa ääneen, jos jokin ei toimi.",
            "Uskallan kertoa virheistäni, koska ilmapiiri tuntuu turvalliselta.",
            "Psykologinen turvallisuus on vahvistunut, eikä kukaan naura tyhmille kysymyksille.",
            "Koen olevani turvassa, kun tuon esiin eriävän näkemyksen.",
        ),
        (
            "Virheistä ei uskalla puhua, koska niistä seuraa syyllistämistä.",
            "En koe ilmapiiriä turvalliseksi, palaverissa on helpompi olla hiljaa.",
            "Psykologista turvallisuutta pitäisi vahvistaa, nyt moni pelkää sanoa asioita.",
        ),
    ),
    "dialogue": (
        (
            "Keskustelemme nykyään avoimemmin ja kuuntelemme toisiamme.",
            "Tiimipalavereissa on enemmän aitoa dialogia kuin ennen.",
            "Vuorovaikutus eri ammattiryhmien välillä on parantunut.",
            "Dialogiset menetelmät ovat tuoneet rauhaa yhteisiin palavereihin.",
        ),
        (
            "Keskustelua ei juuri käydä, tieto tulee ylhäältä sähköpostilla.",
            "Vuorovaikutus vuorojen välillä takkuaa ja raportointi jää lyhyeksi.",
            "Kaipaisin enemmän yhteistä keskustelua työn arjesta.",
        ),
    ),
    "creativity": (
        (
            "Olemme kokeilleet luovia menetelmiä, kuten kuvakortteja ja draamaa.",
            "Luovuus näkyy arjessa, ideoimme yhdessä uusia ratkaisuja asiakastyöhön.",
            "Meillä on lupa kokeilla uutta ja myös epäonnistua.",
            "Luovat harjoitukset ovat tuoneet iloa työpäivään.",
        ),
        (
            "Luovuudelle ei ole aikaa, kun perustyö vie kaiken.",
            "Uusia ideoita ei oteta vastaan, kaikki tehdään kuten ennenkin.",
            "Luovat menetelmät tuntuvat vierailta tähän työhön.",
        ),
    ),
    "co_development": (
        (
            "Kehitämme toimintatapoja yhdessä, ja jokainen saa tuoda ehdotuksia.",
            "Yhteiskehittäminen on tuonut käytäntöön uuden perehdytysmallin.",
            "Kehittämispäivissä työstämme arjen ongelmia yhdessä PDCA-syklin avulla.",
            "Henkilöstö pääsee mukaan kehittämään työvuorosuunnittelua.",
        ),
        (
            "Kehittämistyö tehdään johdon kesken, meiltä ei kysytä.",
            "Yhteiset kehittämisideat jäävät toteuttamatta.",
            "Kehittämiseen ei ole varattu työaikaa.",
        ),
    ),
    "peer_learning": (
        (
            "Vertaisoppiminen toimii, opimme toisiltamme enemmän kuin koulutuksissa.",
            "Jaamme osaamista ja hiljaista tietoa kokeneiden ja uusien työntekijöiden kesken.",
            "Vertaisryhmässä on helppo jakaa hyviä käytäntöjä.",
        ),
        (
            "Osaamisen jakamiselle ei ole rakenteita, jokainen opettelee yksin.",
            "Kaipaisin enemmän vertaistukea, varsinkin uusille työntekijöille.",
        ),
    ),
    "being_heard": (
        (
            "Tunnen tulevani kuulluksi, ja mielipiteeni otetaan huomioon.",
            "Ehdotuksemme kuullaan, ja moni niistä on jo toteutunut.",
            "Meitä kuullaan nyt aidosti ennen päätösten tekemistä.",
        ),
        (
            "En koe tulevani kuulluksi, päätökset tulevat valmiina.",
            "Palautetta kerätään, mutta mikään ei muutu, joten en koe tulevani kuulluksi.",
            "Henkilöstön ääntä ei kuulla päätöksenteossa.",
        ),
    ),
    "diversity": (
        (
            "Eri kulttuuritaustaiset työntekijät tuovat tiimiin uusia näkökulmia.",
            "Monimuotoisuus nähdään vahvuutena, ja eri-ikäiset oppivat toisiltaan.",
            "Moninaisuutta arvostetaan, ja kieliasioihin on tartuttu yhdessä.",
        ),
        (
            "Kielimuuri ja erilaiset toimintatavat aiheuttavat väärinymmärryksiä.",
            "Monimuotoisuutta ei osata hyödyntää, ja uudet työntekijät jäävät ulkopuolisiksi.",
        ),
    ),
    "workload": (
        (
            "Kiire on hieman helpottanut, kun tehtäviä on jaettu uudelleen.",
            "Työkuorma on tasaisempi, kun suunnittelemme viikon yhdessä.",
        ),
        (
            "Kiire on jatkuvaa, eikä taukoja ehdi pitää.",
            "Työmäärä on liian suuri, eikä sijaisia saada.",
            "Kuormitus on kovaa, ja moni miettii alanvaihtoa.",
            "Resurssipula näkyy joka vuorossa, ja jaksaminen on koetuksella.",
            "Hankkeen tapaamisiin on vaikea irrottautua, kun kiire on niin kova.",
        ),
    ),
    "change_fatigue": (
        (
            "Muutokset on nyt perusteltu paremmin, ja niihin on ehtinyt valmistautua.",
            "Muutosten tahti on rauhoittunut, mikä näkyy jaksamisessa.",
        ),
        (
            "Muutoksia tulee liikaa ja liian nopeasti, olemme muutosväsyneitä.",
            "Hyvinvointialueen uudistus on vienyt voimat, kun kaikki muuttuu koko ajan.",
            "Jatkuva muutos väsyttää, eikä edellistä ehditä viedä loppuun.",
            "Organisaatiomuutos on lisännyt epävarmuutta.",
        ),
    ),
    "mentoring": (
        (
            "Mentorointiryhmä on ollut tämän vuoden paras asia.",
            "Ryhmämentoroinnissa sain tukea omaan työhöni ja uusia näkökulmia.",
            "Toimin nyt itse mentorina, ja se on vahvistanut osaamistani.",
            "Mentorointitapaamiset ovat tila, jossa kokemuksia voi jakaa rauhassa.",
        ),
        (
            "Mentorointitapaamisiin on vaikea päästä vuorotyön takia.",
            "Mentorointi jäi kesken, kun ryhmän vetäjä vaihtui.",
        ),
    ),
    "leadership": (
        (
            "Esihenkilön johtamistapa on muuttunut valmentavammaksi.",
            "Johtaminen on osallistavampaa, ja esihenkilö on läsnä arjessa.",
            "Lähijohtaminen on selkeää, ja palautetta saa.",
        ),
        (
            "Johto on kaukana arjesta, eikä esihenkilöllä ole aikaa meille.",
            "Esihenkilöt vaihtuvat usein, ja johtaminen on epäjohdonmukaista.",
            "Johtamisessa pitäisi olla enemmän läsnäoloa ja vähemmän taulukoita.",
        ),
    ),
    "wellbeing": (
        (
            "Työhyvinvointi on parantunut, ja töihin on mukava tulla.",
            "Viihdyn työssäni paremmin kuin vuosi sitten.",
            "Työilo on palannut, kun saamme tehdä asioita yhdessä.",
        ),
        (
            "Työhyvinvointi on heikentynyt, ja moni miettii alanvaihtoa.",
            "En viihdy enää työssäni samalla tavalla kuin ennen.",
            "Voimavarat ovat vähissä, eikä palautumiseen jää aikaa.",
        ),
    ),
}
OPENERS = ("", "", "", "Mielestäni ", "Omasta näkökulmastani ", "Rehellisesti sanottuna ")
CLOSERS_POSITIVE = ("", "", " Toivottavasti tämä jatkuu.", " Tähän kannattaa panostaa jatkossakin.")
CLOSERS_NEGATIVE = ("", "", " Tähän toivoisin parannusta.", " Tilanne on ollut tällainen pitkään.")
QUESTIONS = ("work_community", "development_ideas")
# Themes a second coder mixes up with the true one (adjacent in meaning).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "psychological_safety": ("being_heard", "dialogue"),
    "dialogue": ("being_heard", "leadership"),
    "creativity": ("co_development",),
    "co_development": ("creativity", "peer_learning"),
    "peer_learning": ("mentoring", "co_development"),
    "being_heard": ("dialogue", "psychological_safety"),
    "diversity": ("psychological_safety", "peer_learning"),
    "workload": ("change_fatigue",),
    "change_fatigue": ("workload",),
    "mentoring": ("peer_learning",),
    "leadership": ("dialogue", "being_heard"),
    "wellbeing": ("workload", "peer_learning"),
}

_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _identity_code(birth: str, century: str, individual: str) -> str:
    """A Finnish personal identity code ``ddmmyy C nnn X`` with a valid check character."""
    return f"{birth}{century}{individual}{_HETU_CHECK[int(birth + individual) % 31]}"


# Fake personal data planted in open answers so redaction gets exercised. The first identity
# code is the public example of the Digital and Population Data Services Agency; the second
# uses an individual number of 900-999 (temporary codes, never given to a person).
PLANTED_PII: dict[str, tuple[str, ...]] = {
    "email": ("mervi.virtanen@example.fi", "tiimi.kotihoito@example.com"),
    "phone": ("040 123 4567", "+358 40 1234567"),
    "identity_code": (_identity_code("131052", "-", "308"), _identity_code("150607", "A", "934")),
    "name": ("Mervi Virtaselta", "Jari Mäkinen"),
}
_PII_SENTENCES = (
    f"Kysy lisää {PLANTED_PII['name'][0]}, hän veti mentorointiryhmäämme.",
    f"Lisätietoja saa minulta, {PLANTED_PII['email'][0]} tai {PLANTED_PII['phone'][0]}.",
    f"Soittakaa vaikka numeroon {PLANTED_PII['phone'][1]}, kerron mielelläni lisää.",
    f"Henkilötunnukseni on {PLANTED_PII['identity_code'][0]}, jos sitä tarvitaan palkkioon.",
    f"Esihenkilömme {PLANTED_PII['name'][1]} kuuntelee aina, tiimin osoite on "
    f"{PLANTED_PII['email'][1]}.",
    f"Hetu {PLANTED_PII['identity_code'][1]} kuuluu kollegalle, joka ei päässyt vastaamaan.",
)


def _targets() -> list[dict]:
    """Indicator targets of the demo study (``targets:`` in study.yaml); empty = key omitted.

    The participant targets per actor are the project plan's (MITTARIT: 100 / 45 / 60); the
    plan names the other indicators without numbers, so their targets here are illustrative.
    The spec is documented in :mod:`evaluation.analyse.quant.indicators`.
    """
    actors = {"metropolia": ("Metropolia", 100), "xamk": ("Xamk", 45), "lapland": ("Lapin AMK", 60)}
    targets: list[dict] = [
        {
            "id": f"participants_{key}",
            "label_key": f"ind_participants_{key}",
            "aggregate": "nunique_person",
            "filter": {"actor": actor, "activity": ["training", "workshop", "mentoring_meeting"]},
            "target": target,
            "unit": "persons",
        }
        for key, (actor, target) in actors.items()
    ]
    targets += [
        {"id": "trainings_workshops", "label_key": "ind_trainings_workshops", "aggregate": "count",
         "filter": {"activity": ["training", "workshop"]}, "target": 150, "unit": "events"},
        {"id": "training_participants", "label_key": "ind_training_participants",
         "aggregate": "sum", "measure": "participants",
         "filter": {"activity": ["training", "workshop"]}, "target": 1500, "unit": "persons"},
        {"id": "feedback_satisfaction", "label_key": "ind_feedback_satisfaction",
         "source": "feedback", "aggregate": "mean", "measure": "satisfaction", "target": 4.0,
         "unit": "1-5"},
        {"id": "feedback_competence", "label_key": "ind_feedback_competence",
         "source": "feedback", "aggregate": "mean", "measure": "competence_growth",
         "target": 4.0, "unit": "1-5"},
        {"id": "feedback_goals", "label_key": "ind_feedback_goals", "source": "feedback",
         "aggregate": "mean", "measure": "goal_attainment", "target": 4.0, "unit": "1-5"},
        {"id": "mentoring_adoption", "label_key": "ind_mentoring_adoption",
         "aggregate": "share_organisations", "filter": {"activity": "mentoring_meeting"},
         "target": 0.8, "unit": "share"},
        {"id": "creative_methods", "label_key": "ind_creative_methods", "aggregate": "sum",
         "measure": "creative_methods", "target": 200, "unit": "uses"},
        {"id": "communication_reach", "label_key": "ind_communication_reach", "aggregate": "sum",
         "measure": "reach", "filter": {"activity": "communication"}, "target": 20000,
         "unit": "persons"},
    ]  # fmt: skip
    return targets


# --------------------------------------------------------------------------------------------
# Structure: organisations, units, headcounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    organisation: str
    actor: str
    sector: str
    size: str
    unit: str
    headcount: int
    coded: bool


def _units(respondents: int) -> list[_Unit]:
    """Units with headcounts scaled so that about ``respondents`` answer per round."""
    total = respondents / RESPONSE_RATE
    fixed = sum(sum(u.values()) for *_, size, u in ORGANISATIONS if size == "micro")
    scalable = sum(sum(u.values()) for *_, size, u in ORGANISATIONS if size != "micro")
    factor = max(total - fixed, 1.0) / scalable
    out = []
    for org, actor, sector, size, units in ORGANISATIONS:
        for name, base in units.items():
            head = base if size == "micro" else max(2, round(base * factor))
            out.append(_Unit(org, actor, sector, size, name, head, org in CODED_ORGANISATIONS))
    return out


def study_config(
    *, seed: int = DEFAULT_SEED, respondents: int = DEFAULT_RESPONDENTS
) -> dict[str, Any]:
    """The ``config/study.yaml`` of the demo study as a dict (key order as written)."""
    organisations: dict[str, Any] = {}
    for u in _units(respondents):
        spec = organisations.setdefault(
            u.organisation,
            {"actor": u.actor, "sector": u.sector, "size": u.size, "units": {}},
        )
        spec["units"][u.unit] = u.headcount
    config: dict[str, Any] = {
        "study": STUDY_NAME,
        "language": "fi",
        # Reports in both languages; `evaluation run --language` overrides this.
        "reports": {"languages": ["fi", "en"]},
        "seed": int(seed),
        "rounds": [{"id": rid, "label": label, "date": date} for rid, label, date in ROUNDS],
        "baseline": BASELINE,
        "design": "auto",
        "instruments": ["qwl", "esis"],
        "data": {
            key: f"data/raw/{key}.csv"
            for key in ("responses", "codings", "open_answers", "activities", "feedback")
        },
        "codebook": "config/codebook.yaml",
        # The package's defaults, written out so a user sees (and may change) them.
        "disclosure": {"min_n": Disclosure.min_n},
        "analysis": {
            "correction": Analysis.correction,
            "ci": Analysis.ci,
            "alpha": Analysis.alpha,
            "group_by": list(Analysis.group_by),
            "bootstrap_reps": Analysis.bootstrap_reps,
        },
        "organisations": organisations,
    }
    targets = _targets()
    if targets:
        config["targets"] = targets
    config["demo"] = {"respondents": int(respondents), "generator": "evaluation.demo.generate"}
    return config


def _flow(key: str, value: Any) -> bool:
    """Short inner lists and mappings on one line; scalars, `data` and `targets` in block style."""
    return isinstance(value, (dict, list)) and key not in ("data", "targets")


def _study_yaml(seed: int, respondents: int) -> str:
    header = (
        f"# {STUDY_NAME}: a synthetic study written by evaluation.demo.generate\n"
        f"# (seed {seed}, about {respondents} respondents per round). Every organisation,\n"
        "# unit and person in it is fictional. Regenerate with\n"
        f"#   evaluation demo --study DIR --respondents {respondents} --seed {seed}\n"
    )
    # One safe_dump per top-level key, so that short lists and mappings read as one line
    # (rounds, units) while `data` and `targets` stay in block style.
    body = "".join(
        yaml.safe_dump(
            {key: value},
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=None if _flow(key, value) else False,
        )
        for key, value in study_config(seed=seed, respondents=respondents).items()
    )
    return header + body


# --------------------------------------------------------------------------------------------
# Population and survey responses
# --------------------------------------------------------------------------------------------


@dataclass
class _Population:
    units: list[_Unit]
    slot_unit: np.ndarray  # (S,) unit index of each position
    occupant: np.ndarray  # (S, R) person id holding the position in each round
    participant: np.ndarray  # (P,) bool
    supervisor: np.ndarray  # (P,) bool
    qwl_person: np.ndarray  # (P,) person effect on QWL
    esis_person: np.ndarray  # (P,) person effect on the ESIS latent
    code: np.ndarray  # (P,) int: pseudonymous respondent code number (unique)
    project_id: np.ndarray  # (P,) int: programme participant id number (unique)


def _unique_codes(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    return rng.choice(space, size=n, replace=False)


def _population(rng: np.random.Generator, units: list[_Unit], respondents: int) -> _Population:
    n_rounds = len(ROUNDS)
    heads = np.array([u.headcount for u in units])
    slot_unit = np.repeat(np.arange(len(units)), heads)
    n_slots = len(slot_unit)
    occupant = np.empty((n_slots, n_rounds), dtype=np.int64)
    occupant[:, 0] = np.arange(n_slots)
    next_id = n_slots
    for r in range(1, n_rounds):
        leave = rng.random(n_slots) < TURNOVER
        occupant[:, r] = occupant[:, r - 1]
        occupant[leave, r] = np.arange(next_id, next_id + leave.sum())
        next_id += int(leave.sum())
    n_persons = next_id

    # Programme participants: a fixed number among the people there at T0, per actor,
    # plus a few newcomers who join later.
    scale = respondents / DEFAULT_RESPONDENTS
    participant = np.zeros(n_persons, dtype=bool)
    slot_actor = np.array([units[i].actor for i in slot_unit])
    for actor, target in ACTORS.items():
        slots = np.flatnonzero(slot_actor == actor)
        k = min(len(slots), max(2, round(target * scale * INITIAL_PARTICIPANT_SHARE)))
        participant[rng.choice(slots, size=k, replace=False)] = True
    participant[n_slots:] = rng.random(n_persons - n_slots) < NEWCOMER_PARTICIPANT

    p_super = np.where(participant, SUPERVISOR_SHARE[True], SUPERVISOR_SHARE[False])
    supervisor = rng.random(n_persons) < p_super
    qwl_person = rng.normal(0.0, QWL_SD["person"], n_persons)
    esis_person = rng.normal(0.0, 0.65, n_persons)
    code = _unique_codes(rng, n_persons, 16**6)
    project_id = _unique_codes(rng, n_persons, 16**5)
    return _Population(
        units,
        slot_unit,
        occupant,
        participant,
        supervisor,
        qwl_person,
        esis_person,
        code,
        project_id,
    )


def _responses(rng: np.random.Generator, pop: _Population) -> pd.DataFrame:
    """One row per respondent per round, typed (floats, nullable integers), sorted."""
    units = pop.units
    n_units, n_rounds = len(units), len(ROUNDS)
    orgs = list(dict.fromkeys(u.organisation for u in units))
    unit_org = np.array([orgs.index(u.organisation) for u in units])

    org_effect = rng.normal(0.0, QWL_SD["organisation"], len(orgs))
    org_gain = np.clip(rng.normal(1.0, 0.3, len(orgs)), 0.2, None)  # heterogeneity of effects
    org_drift = rng.normal(0.0, QWL_ORG_DRIFT, len(orgs))  # everyone's yearly change, per org
    unit_effect = rng.normal(0.0, QWL_SD["unit"], n_units)
    rate = np.clip(rng.normal(RESPONSE_RATE, 0.06, (n_units, n_rounds)), 0.35, 0.85)

    answered = rng.random(pop.occupant.shape) < rate[pop.slot_unit]
    slot_idx, round_idx = np.nonzero(answered)
    person = pop.occupant[slot_idx, round_idx]
    unit_idx = pop.slot_unit[slot_idx]
    org_idx = unit_org[unit_idx]
    part = pop.participant[person]
    n = len(person)

    gain = np.where(
        part,
        np.asarray(QWL_GAIN_PARTICIPANT)[round_idx] * org_gain[org_idx],
        np.asarray(QWL_GAIN_OTHER)[round_idx],
    )
    qwl = (
        QWL_BASELINE
        + org_effect[org_idx]
        + unit_effect[unit_idx]
        + pop.qwl_person[person]
        + 2.0 * pop.supervisor[person]
        + 0.5 * part
        + gain
        + org_drift[org_idx] * round_idx
        + rng.normal(0.0, QWL_SD["occasion"], n)
    )
    qwl = np.round(np.clip(qwl, 0.0, 100.0), 1)
    areas = {}
    for col, offset in QWL_AREAS.items():
        value = np.clip(qwl + offset + rng.normal(0.0, QWL_AREA_NOISE, n), 0.0, 100.0)
        areas[col] = np.round(value, 1)
    qwl_missing = rng.random(n) < QWL_MISSING
    qwl[qwl_missing] = np.nan
    for col in QWL_AREAS:
        areas[col][qwl_missing | (rng.random(n) < QWL_AREA_MISSING)] = np.nan

    # ESIS: one factor; items = loading * latent + unique part, cut into 1..5.
    shift = np.where(
        part,
        np.asarray(ESIS_SHIFT_PARTICIPANT)[round_idx],
        np.asarray(ESIS_SHIFT_OTHER)[round_idx],
    )
    latent = (
        shift
        + 0.35 * pop.qwl_person[person] / QWL_SD["person"]
        + pop.esis_person[person]
        + rng.normal(0.0, 0.66, n)
    )
    loadings = np.asarray(ESIS_LOADINGS)
    unique = np.sqrt(1.0 - loadings**2)
    cuts = np.asarray(ESIS_CUTS)[None, :] + rng.normal(0.0, 0.1, (len(loadings), 1))
    y = latent[:, None] * loadings + rng.normal(0.0, 1.0, (n, len(loadings))) * unique
    items = 1.0 + (y[:, :, None] > cuts[None, :, :]).sum(axis=2)
    missing = rng.random(items.shape) < ESIS_ITEM_MISSING
    partial = np.flatnonzero(rng.random(n) < ESIS_PARTIAL)
    for row in partial:  # a few answer fewer than 8 items: no ESIS score for them
        k = int(rng.integers(3, 7))
        missing[row, rng.choice(len(loadings), size=k, replace=False)] = True
    items[missing] = np.nan

    role = np.where(pop.supervisor[person], "supervisor", "staff").astype(object)
    role[rng.random(n) < 0.01] = None
    coded = np.array([units[i].coded for i in unit_idx])
    respondent = np.full(n, None, dtype=object)
    respondent[coded] = [f"R-{c:06X}" for c in pop.code[person[coded]]]

    frame = pd.DataFrame(
        {
            "round": np.array([r[0] for r in ROUNDS])[round_idx],
            "organisation": np.array(orgs, dtype=object)[org_idx],
            "unit": np.array([u.unit for u in units], dtype=object)[unit_idx],
            "respondent": respondent,
            "participant": part.astype(int),
            "role": role,
            "qwl": qwl,
            **areas,
        }
    )
    for j, col in enumerate(ESIS_ITEMS):
        frame[col] = pd.array(items[:, j], dtype="Float64").astype("Int64")
    # Hidden helpers for the open answers; the row order within a unit is shuffled so that
    # anonymous rows cannot be matched across rounds by position.
    frame["_round_idx"] = round_idx
    frame["_order"] = rng.permutation(n)
    frame = frame.sort_values(
        ["_round_idx", "organisation", "unit", "respondent", "_order"],
        kind="mergesort",
        na_position="last",
    ).reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------------------------
# Open answers and codings
# --------------------------------------------------------------------------------------------


def _theme_weights(round_idx: np.ndarray, part: np.ndarray) -> np.ndarray:
    """(n, themes) probabilities: positive themes grow among participants in later rounds."""
    r = round_idx.astype(float)
    p = part.astype(float)
    w = np.ones((len(r), len(THEMES)))
    for j, theme in enumerate(THEMES):
        if theme == "workload":
            w[:, j] = 1.8 - 0.15 * r * p
        elif theme == "change_fatigue":
            w[:, j] = np.where(r <= 1, 1.5, 1.0) - 0.1 * r * p
        elif theme in ("mentoring", "peer_learning"):
            w[:, j] = 0.25 + 1.0 * p * (r > 0)
        else:
            w[:, j] = 1.0 + 0.2 * r * p
    return w / w.sum(axis=1, keepdims=True)


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row from row-wise probabilities."""
    cum = probs.cumsum(axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return (u > cum).sum(axis=1)


def _sentence(rng: np.random.Generator, theme: str, positive: bool) -> str:
    options = TEMPLATES[theme][0 if positive else 1]
    return options[int(rng.integers(len(options)))]


def _open_answers(
    rng: np.random.Generator, responses: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Finnish open answers (public columns) and their true themes (for the coders)."""
    part = responses["participant"].to_numpy()
    round_idx = responses["_round_idx"].to_numpy()
    writes = rng.random(len(responses)) < np.where(part == 1, 0.28, 0.16)
    src = responses[writes].reset_index(drop=True)
    r_idx, p = round_idx[writes], part[writes]
    n = len(src)
    weights = _theme_weights(r_idx, p)
    primary = _draw(rng, weights)
    second_w = weights.copy()
    second_w[np.arange(n), primary] = 0.0
    secondary = np.where(rng.random(n) < 0.15, _draw(rng, second_w), -1)
    neg_theme = np.isin(np.asarray(THEMES), ("workload", "change_fatigue"))
    p_pos = np.where(
        neg_theme[primary], 0.1 + 0.05 * r_idx * p, 0.4 + 0.1 * r_idx * p + 0.03 * r_idx
    )
    positive = rng.random(n) < p_pos
    texts = []
    for i in range(n):
        theme = THEMES[primary[i]]
        opener = OPENERS[int(rng.integers(len(OPENERS)))]
        first = _sentence(rng, theme, bool(positive[i]))
        text = opener + (first[0].lower() + first[1:] if opener else first)
        if secondary[i] >= 0:
            text += " " + _sentence(rng, THEMES[secondary[i]], bool(rng.random() < p_pos[i]))
        closers = CLOSERS_POSITIVE if positive[i] else CLOSERS_NEGATIVE
        text += closers[int(rng.integers(len(closers)))]
        texts.append(text)
    if n:  # plant fake personal data (several sentences share an answer if there are few)
        hosts = rng.choice(n, size=min(n, len(_PII_SENTENCES)), replace=False)
        for k, sentence in enumerate(_PII_SENTENCES):
            host = int(hosts[k % len(hosts)])
            texts[host] = f"{texts[host]} {sentence}"
    question = np.asarray(QUESTIONS, dtype=object)[rng.integers(len(QUESTIONS), size=n)]
    answers = pd.DataFrame(
        {
            "round": src["round"],
            "organisation": src["organisation"],
            "unit": src["unit"],
            "participant": src["participant"],
            "role": src["role"],
            "question": question,
            "text": texts,
            "_round_idx": r_idx,
            "_order": rng.permutation(n),
            "_primary": primary,
            "_secondary": secondary,
        }
    )
    answers = answers.sort_values(
        ["_round_idx", "organisation", "unit", "question", "_order"], kind="mergesort"
    ).reset_index(drop=True)
    width = max(5, len(str(n)))
    answers.insert(0, "answer_id", [f"A{i:0{width}d}" for i in range(1, n + 1)])
    return answers[OPEN_ANSWER_COLUMNS], answers


def _neighbour(rng: np.random.Generator, theme: str) -> str:
    options = NEIGHBOURS[theme]
    return options[int(rng.integers(len(options)))]


def _codings(rng: np.random.Generator, answers: pd.DataFrame, respondents: int) -> pd.DataFrame:
    """coder_a codes every answer; coder_b double-codes a subset (for inter-coder reliability)
    and disagrees realistically."""
    n_segments = min(len(answers), max(10, round(150 * respondents / DEFAULT_RESPONDENTS)))
    chosen = set(np.sort(rng.choice(len(answers), size=n_segments, replace=False)).tolist())
    rows = []
    for i in range(len(answers)):
        rec = answers.iloc[i]
        true = THEMES[int(rec["_primary"])]
        second = THEMES[int(rec["_secondary"])] if rec["_secondary"] >= 0 else None
        codes: dict[str, list[str]] = {"coder_a": [], "coder_b": []}
        double = i in chosen
        u = rng.random()
        codes["coder_a"].append(true if u < 0.92 else _neighbour(rng, true))
        u = rng.random()
        if u < 0.76:
            codes["coder_b"].append(true)
        elif u < 0.93:
            codes["coder_b"].append(_neighbour(rng, true))
        if second is not None:
            if rng.random() < 0.75:
                codes["coder_a"].append(second)
            if rng.random() < 0.5:
                codes["coder_b"].append(second)
        if not double:
            codes["coder_b"].clear()
        for coder, applied in codes.items():
            for code in dict.fromkeys(applied):
                rows.append(
                    {
                        "segment": rec["answer_id"],
                        "coder": coder,
                        "code": code,
                        "text": rec["text"],
                        "document": "open_answers",
                        "round": rec["round"],
                        "organisation": rec["organisation"],
                    }
                )
    frame = pd.DataFrame(rows, columns=CODING_COLUMNS)
    return frame.sort_values(["segment", "coder", "code"], kind="mergesort")


# --------------------------------------------------------------------------------------------
# Activity records and training feedback
# --------------------------------------------------------------------------------------------

TRAININGS_PER_YEAR = (3, 2, 1)  # coaching sessions per cohort in project years 1-3
WORKSHOPS_PER_YEAR = (1, 2, 3)  # development forums; year 3: embedding workshops (TP3)
TRAINING_COHORT = 14
WORKSHOP_GROUP = 25
MENTORING_GROUP = 9  # 8-10 participants per group (TP3)
MENTORING_ADOPTION_YEAR3 = 0.8  # organisations that keep mentoring going in year 3


def _day(start: dt.date, offset: int) -> str:
    return (start + dt.timedelta(days=int(offset))).isoformat()


def _split(ids: list[str], size: int) -> list[list[str]]:
    if not ids:
        return []
    k = math.ceil(len(ids) / size)
    return [list(chunk) for chunk in np.array_split(np.asarray(ids, dtype=object), k)]


def _activities(rng: np.random.Generator, pop: _Population) -> pd.DataFrame:
    """Trainings, workshops, mentoring meetings, seminars and communication per project year."""
    units = pop.units
    orgs = list(dict.fromkeys(u.organisation for u in units))
    org_actor = {u.organisation: u.actor for u in units}
    slot_org = np.array([units[i].organisation for i in pop.slot_unit])
    ids = np.array([f"P-{c:05X}" for c in pop.project_id], dtype=object)
    rows: list[dict[str, Any]] = []

    def add(
        date: str,
        rnd: str,
        actor: str,
        org: str | None,
        activity: str,
        people: list[str] | tuple = (),
        *,
        extra: int = 0,
        creative: int | None = None,
        reach: int | None = None,
        group_end: int = 0,
    ) -> None:
        people = sorted(people)
        rows.append(
            {
                "date": date,
                "round": rnd,
                "actor": actor,
                "organisation": org,
                "activity": activity,
                "participants": None if activity == "communication" else len(people) + extra,
                "person_ids": ";".join(people) or None,
                "creative_methods": creative,
                "reach": reach,
                "_group_end": group_end,  # members of a mentoring group, at its last meeting
            }
        )

    actor_of_slot = np.array([org_actor[o] for o in slot_org], dtype=object)

    def present(round_index: int, *, org: str | None = None, actor: str | None = None) -> list:
        persons = pop.occupant[:, round_index]
        mask = pop.participant[persons].copy()
        if org is not None:
            mask &= slot_org == org
        if actor is not None:
            mask &= actor_of_slot == actor
        return sorted(ids[persons[mask]])

    def attend(people: list[str], share: float) -> list[str]:
        keep = rng.random(len(people)) < share
        return [p for p, k in zip(people, keep, strict=True) if k]

    def creative(probs: tuple[float, ...]) -> int:
        return int(rng.choice(len(probs), p=probs))

    kickoff = (ROUNDS[0][2] - dt.timedelta(days=7)).isoformat()
    for actor in ACTORS:
        people = attend(present(0, actor=actor), 0.4)
        extra = int(rng.integers(10, 40))
        add(kickoff, ROUNDS[0][0], actor, None, "seminar", people, extra=extra, creative=1)

    adopt_year3 = {org: bool(rng.random() < MENTORING_ADOPTION_YEAR3) for org in orgs}
    for year in (1, 2, 3):
        rid, start = ROUNDS[year][0], ROUNDS[year - 1][2] + dt.timedelta(days=1)
        for org in orgs:
            actor = org_actor[org]
            people = list(rng.permutation(np.asarray(present(year, org=org), dtype=object)))
            for cohort in _split(people, TRAINING_COHORT):
                for _ in range(TRAININGS_PER_YEAR[year - 1]):
                    date = _day(start, rng.integers(20, 340))
                    attendees = attend(cohort, 0.8)
                    methods = creative((0.2, 0.35, 0.3, 0.15))
                    add(date, rid, actor, org, "training", attendees, creative=methods)
            for group in _split(people, WORKSHOP_GROUP):
                for _ in range(WORKSHOPS_PER_YEAR[year - 1]):
                    date = _day(start, rng.integers(20, 340))
                    attendees = attend(group, 0.75)
                    methods = creative((0.1, 0.3, 0.35, 0.25))
                    add(date, rid, actor, org, "workshop", attendees, creative=methods)
            if year < 3 or adopt_year3[org]:
                for group in _split(people, MENTORING_GROUP):
                    meetings = int(rng.integers(6, 9))  # 6-8 x 1.5 h per group per year
                    first, gap = int(rng.integers(15, 60)), int(rng.integers(21, 36))
                    for m in range(meetings):
                        date = _day(start, first + m * gap)
                        attendees = attend(group, 0.85)
                        methods = creative((0.4, 0.4, 0.2))
                        end = len(group) if m == meetings - 1 else 0
                        add(
                            date,
                            rid,
                            actor,
                            org,
                            "mentoring_meeting",
                            attendees,
                            creative=methods,
                            group_end=end,
                        )
        for actor in ACTORS:
            date = _day(start, rng.integers(150, 250))
            people = attend(present(year, actor=actor), 0.3)
            extra = int(rng.integers(30, 150))
            add(
                date,
                rid,
                actor,
                None,
                "seminar",
                people,
                extra=extra,
                creative=int(rng.integers(0, 3)),
            )
            for _ in range(int(rng.integers(6, 11))):
                date = _day(start, rng.integers(0, 365))
                add(date, rid, actor, None, "communication", reach=int(rng.integers(50, 2500)))
    frame = pd.DataFrame(rows, columns=[*ACTIVITY_COLUMNS, "_group_end"])
    for col in ("participants", "creative_methods", "reach"):
        frame[col] = frame[col].astype("Int64")
    return frame.sort_values(
        ["date", "actor", "organisation", "activity", "person_ids"],
        kind="mergesort",
        na_position="first",
    ).reset_index(drop=True)


def _feedback(rng: np.random.Generator, activities: pd.DataFrame) -> pd.DataFrame:
    """One row per feedback answer after trainings, workshops, seminars and mentoring groups."""
    share = {"training": 0.7, "workshop": 0.6, "seminar": 0.3}
    acts = activities[activities["activity"].isin(list(share))]
    n_answers = rng.binomial(
        acts["participants"].to_numpy(dtype=np.int64),
        acts["activity"].map(share).to_numpy(dtype=float),
    )
    base = acts.loc[acts.index.repeat(n_answers), ["date", "round", "actor", "organisation"]]
    base["activity"] = acts["activity"].repeat(n_answers).to_numpy()
    # Mentoring groups give feedback once a year, at their last meeting.
    last = activities[activities["_group_end"] > 0]
    n_ment = rng.binomial(last["_group_end"].to_numpy(dtype=np.int64), 0.6)
    ment_rows = last.loc[last.index.repeat(n_ment), ["date", "round", "actor", "organisation"]]
    ment_rows["activity"] = "mentoring_meeting"
    frame = pd.concat([base, ment_rows], ignore_index=True)
    n = len(frame)
    for item in FEEDBACK_ITEMS:
        values = pd.array(rng.choice(5, size=n, p=FEEDBACK_PROBS[item]) + 1, dtype="Int64")
        values[rng.random(n) < 0.015] = pd.NA
        frame[item] = values
    return frame[FEEDBACK_COLUMNS].sort_values(FEEDBACK_COLUMNS, kind="mergesort")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _csv(frame: pd.DataFrame, columns: list[str]) -> str:
    return frame[columns].to_csv(index=False, lineterminator="\n", float_format="%.1f", na_rep="")


def _differs(path: Path, text: str) -> bool:
    """Whether something is at ``path`` with other content than ``text``."""
    if not path.exists() and not path.is_symlink():
        return False
    try:
        return path.read_bytes() != text.encode("utf-8")
    except OSError:  # a folder, a dangling link, unreadable: not ours to replace
        return True


def write_demo(
    study_dir: Path,
    *,
    respondents: int = DEFAULT_RESPONDENTS,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> list[Path]:
    """Write the deterministic synthetic Luova suunta study into ``study_dir``.

    Writes ``config/study.yaml``, ``config/codebook.yaml`` and ``data/raw/responses.csv``,
    ``codings.csv``, ``open_answers.csv``, ``activities.csv``, ``feedback.csv``; each file
    atomically (temporary file beside it, then ``os.replace``). Nothing else in ``study_dir``
    is touched. The same ``seed`` and ``respondents`` give byte-identical files. A file that
    is already there with other content (an existing study) is not overwritten unless
    ``force``: :class:`~evaluation.errors.OverwriteError` and nothing is written. A file with
    exactly the content it would get is accepted (writing the demo twice is harmless).

    Parameters
    ----------
    study_dir : Path
        The study folder (created if missing).
    respondents : int
        About this many respondents per round (at least 20); headcounts, participants,
        open answers, coded segments and activities scale with it.
    seed : int
        Seed of ``numpy.random.default_rng``; recorded in ``study.yaml``.
    force : bool
        Overwrite files whose content differs from the demo's.

    Returns
    -------
    list of Path
        The files written, in the order above.

    Examples
    --------
    >>> files = write_demo(Path("demo-study"), respondents=300)  # doctest: +SKIP
    """
    if respondents < MIN_RESPONDENTS:
        raise UsageError(f"--respondents must be at least {MIN_RESPONDENTS} (got {respondents})")
    root = Path(study_dir).expanduser().resolve()
    streams = dict(
        zip(
            ("population", "responses", "open_answers", "codings", "activities", "feedback"),
            np.random.default_rng(seed).spawn(6),
            strict=True,
        )
    )
    units = _units(respondents)
    pop = _population(streams["population"], units, respondents)
    responses = _responses(streams["responses"], pop)
    open_answers, answers_full = _open_answers(streams["open_answers"], responses)
    codings = _codings(streams["codings"], answers_full, respondents)
    activities = _activities(streams["activities"], pop)
    feedback = _feedback(streams["feedback"], activities)

    contents = {
        root / "config" / "study.yaml": _study_yaml(seed, respondents),
        root / "config" / "codebook.yaml": codebook_yaml(),
        root / "data" / "raw" / "responses.csv": _csv(responses, RESPONSE_COLUMNS),
        root / "data" / "raw" / "codings.csv": _csv(codings, CODING_COLUMNS),
        root / "data" / "raw" / "open_answers.csv": _csv(open_answers, OPEN_ANSWER_COLUMNS),
        root / "data" / "raw" / "activities.csv": _csv(activities, ACTIVITY_COLUMNS),
        root / "data" / "raw" / "feedback.csv": _csv(feedback, FEEDBACK_COLUMNS),
    }
    differ = [path for path, text in contents.items() if _differs(path, text)]
    if differ and not force:
        names = ", ".join(str(p.relative_to(root)) for p in differ)
        raise OverwriteError(
            f"{root} already holds a study: {names} would be overwritten by the demo's. "
            "Nothing was written; use another folder, or --force to overwrite them."
        )
    written = [write_text(path, text) for path, text in contents.items()]
    log.info(
        "demo study in %s: %d responses over %d rounds, %d open answers, %d codings, "
        "%d activities, %d feedback answers",
        root,
        len(responses),
        len(ROUNDS),
        len(open_answers),
        len(codings),
        len(activities),
        len(feedback),
    )
    return written
