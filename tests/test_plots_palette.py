"""Every palette of the figures stays apart under colour-vision deficiency.

Each colour is passed through colorspacious's simulation of deuteranomaly and protanomaly
(red-green; severity 100 = dichromacy, deuteranopia and protanopia) and tritanomaly (blue-yellow;
severity 100), then every pair of categories a palette colours together is measured in
CAM02-UCS (Luo, Cui & Li 2006), where a Euclidean distance of about 1 is just noticeable for two
large patches side by side.

The minimum is 10: a legend swatch has to be matched to a thin line or a bar segment several
centimetres away, not to an adjacent patch, and an order of magnitude above the just-noticeable
difference is a common working margin for categorical colours. The old band palette's orange
and green, which a reviewer could not tell apart, measure about 6 under deuteranopia.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.colors import to_rgb

colorspacious = pytest.importorskip("colorspacious")

from evaluation.report.plots import MAX_ORDERED, ordered_colours, palettes  # noqa: E402

MIN_DELTA_E = 10.0
DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")
SEVERITY = 100

#: main's band colours before issue 16 (the figure a reviewer could not read).
OLD_BAND_PALETTE = ["#c0504d", "#f79646", "#9bbb59", "#1f4e79"]


def _seen(colour: str, deficiency: str | None) -> np.ndarray:
    """The colour in CAM02-UCS as seen with ``deficiency`` (None: normal vision)."""
    rgb = np.array(to_rgb(colour))
    if deficiency is not None:
        cvd = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": SEVERITY}
        rgb = np.clip(colorspacious.cspace_convert(rgb, cvd, "sRGB1"), 0.0, 1.0)
    return colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def smallest_difference(colours: list[str], deficiency: str | None) -> tuple[float, tuple]:
    """The closest pair of ``colours`` under ``deficiency`` and its CAM02-UCS distance."""
    return min(
        (float(np.linalg.norm(_seen(a, deficiency) - _seen(b, deficiency))), (a, b))
        for a, b in itertools.combinations(colours, 2)
    )


CASES = [
    (name, colours, deficiency)
    for name, sizes in palettes().items()
    for colours in sizes
    for deficiency in (None, *DEFICIENCIES)
]


@pytest.mark.parametrize(
    ("name", "colours", "deficiency"),
    CASES,
    ids=[f"{n}-{len(c)}-{d or 'normal'}" for n, c, d in CASES],
)
def test_every_pair_of_categories_stays_apart(name, colours, deficiency):
    distance, pair = smallest_difference(colours, deficiency)
    assert distance >= MIN_DELTA_E, (
        f"palette {name} ({len(colours)} categories): {pair} are {distance:.1f} apart in "
        f"CAM02-UCS under {deficiency or 'normal vision'} (minimum {MIN_DELTA_E})"
    )


@pytest.mark.parametrize("deficiency", ["deuteranomaly", "protanomaly"])
def test_the_check_rejects_the_old_band_palette(deficiency):
    """The check can fail: main's orange and green merge under red-green deficiency."""
    distance, pair = smallest_difference(OLD_BAND_PALETTE, deficiency)
    assert distance < MIN_DELTA_E and set(pair) == {"#f79646", "#9bbb59"}


def test_every_band_count_of_the_shipped_instruments_has_a_palette():
    """Each instrument's bands fit in the ordered palette, so the test above covers them."""
    from pathlib import Path

    import yaml

    folder = Path(__file__).resolve().parents[1] / "config" / "instruments"
    counts = [len(yaml.safe_load(p.read_text()).get("bands") or []) for p in folder.glob("*.yaml")]
    assert max(counts) <= MAX_ORDERED
    assert all(len(ordered_colours(n)) == n for n in counts)


def test_ordered_colours_keep_their_order_in_lightness():
    """Bands are ordered: lightness rises with the band, so greyscale print keeps the order."""
    lightness = [_seen(c, None)[0] for c in ordered_colours(MAX_ORDERED)]
    assert lightness == sorted(lightness)
