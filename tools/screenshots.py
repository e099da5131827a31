"""Report pages in a real browser: layout measurements and the README's screenshots.

Headless Chromium opens a copy of a report page inside an ``<iframe>`` of the wanted width
(the page's layout viewport). The window itself cannot be narrower than 500 CSS pixels in
headless mode (``--window-size=390,900`` gives ``innerWidth == 500``), so the frame, not the
window, sets the width; :func:`measure` reports the frame's ``innerWidth`` so a caller can check
it. Network access is cut (``--host-resolver-rules``): the CDN scripts of nbconvert's template
fail at once instead of waiting, so a run is the same offline and online.

Used by ``tests/test_browser.py`` (:func:`measure`) and by ``make screenshots``::

    python tools/screenshots.py --study .          # after `make report`
    python tools/screenshots.py --study DIR --out docs/img

No dependency beyond the project's own: Chromium is run as a program and Pillow (installed
with matplotlib) crops the screenshots.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

#: Widths of the checks and screenshots: a laptop and a phone (CSS pixels).
DESKTOP, PHONE = 1280, 390
#: Seconds one Chromium run may take before it is stopped (a page loads in about one).
TIMEOUT = 120

# Runs in the report page once it has loaded; posts what a reader's browser shows to the
# wrapper page, which writes it into its own DOM (the one `--dump-dom` prints).
CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var root = document.documentElement;
  var figures = [];
  document.querySelectorAll("img, svg").forEach(function (el) {
    if (el.tagName.toLowerCase() === "svg" && el.parentElement.closest("svg")) return;
    var box = el.getBoundingClientRect();
    figures.push({
      tag: el.tagName.toLowerCase(),
      alt: el.getAttribute("alt") || el.getAttribute("aria-label") || "",
      right: box.right
    });
  });
  var wide = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var svg = el.parentElement && el.parentElement.closest("svg");
    if (svg || (el.parentElement && el.parentElement.closest(".table-scroll"))) return;
    var box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > window.innerWidth + 1) {
      var name = el.tagName.toLowerCase();
      if (typeof el.className === "string" && el.className) {
        name += "." + el.className.trim().split(/\\s+/).join(".");
      }
      wide.push(name + " (right edge at " + Math.round(box.right) + " px)");
    }
  });
  var viewport = document.querySelector('meta[name="viewport"]');
  var result = {
    innerWidth: window.innerWidth,
    clientWidth: root.clientWidth,
    scrollWidth: root.scrollWidth,
    lang: root.getAttribute("lang") || "",
    title: document.title,
    viewport: viewport ? viewport.getAttribute("content") : null,
    figures: figures,
    headers: Array.prototype.map.call(document.querySelectorAll("th"), function (th) {
      return th.textContent.trim();
    }),
    wide: wide.slice(0, 20)
  };
  parent.postMessage(JSON.stringify(result), "*");
});
</script>
"""

# Scrolls the page so that the element with this id is a little below the top.
SCROLL_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var el = document.getElementById(%s);
  if (el) window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 12);
});
</script>
"""

WRAPPER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>html,body{{margin:0;padding:0}}
iframe{{display:block;border:0;width:{width}px;height:{height}px}}</style></head>
<body><iframe src="{page}"></iframe><pre id="result"></pre>
<script>window.addEventListener("message", function (e) {{
  document.getElementById("result").textContent = e.data;
}});</script></body></html>
"""

RESULT = re.compile(r'<pre id="result">(.*?)</pre>', re.DOTALL)


def find_chromium() -> str | None:
    """The path of ``chromium`` or ``chromium-browser`` on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # in containers and as root; the pages are our own
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, encoding="utf-8"
    )


def _stage(page: Path, folder: Path, *, width: int, height: int, script: str = "") -> Path:
    """Copy `page` into `folder` (with `script` before ``</body>``) and write the wrapper page
    that frames it at `width` x `height`; returns the wrapper."""
    text = page.read_text(encoding="utf-8")
    if script:
        at = text.rfind("</body>")
        text = text[:at] + script + text[at:] if at >= 0 else text + script
    (folder / "page.html").write_text(text, encoding="utf-8")
    wrapper = folder / "wrapper.html"
    wrapper.write_text(
        WRAPPER.format(
            width=width,
            height=height,
            page="page.html",
        ),
        encoding="utf-8",
    )
    return wrapper


def measure(page: Path, width: int, *, height: int = 900, chromium: str | None = None) -> dict:
    """What a browser `width` CSS pixels wide shows of `page`: ``innerWidth``,
    ``scrollWidth`` and ``clientWidth`` of the page, its ``lang``, ``title`` and viewport meta,
    every figure (``img`` and outermost ``svg``, with its ``alt`` or ``aria-label``), the text
    of every ``th``, and (``wide``) elements that reach beyond the right edge outside a
    scrolling table box."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no chromium or chromium-browser on PATH")
    with tempfile.TemporaryDirectory(prefix="browser-") as tmp:
        folder = Path(tmp)
        wrapper = _stage(page, folder, width=width, height=height, script=CHECK_SCRIPT)
        done = _chromium(
            chromium,
            folder / "profile",
            f"--window-size={max(width, 500) + 20},{height + 100}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            wrapper.as_uri(),
        )
    found = RESULT.search(done.stdout)
    if done.returncode != 0 or found is None or not found.group(1).strip():
        raise RuntimeError(
            f"chromium gave no measurement of {page} at {width} px "
            f"(exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(html.unescape(found.group(1)))


def screenshot(
    page: Path,
    target: Path,
    *,
    width: int,
    height: int,
    scale: float = 1,
    anchor: str = "",
    chromium: str | None = None,
) -> Path:
    """A PNG of `height` CSS pixels of `page` in a browser `width` pixels wide (at `scale`
    device pixels per CSS pixel), from the top or from the element with id `anchor`."""
    from PIL import Image

    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no chromium or chromium-browser on PATH")
    with tempfile.TemporaryDirectory(prefix="browser-") as tmp:
        folder = Path(tmp)
        script = SCROLL_SCRIPT % json.dumps(unquote(anchor)) if anchor else ""
        wrapper = _stage(page, folder, width=width, height=height, script=script)
        shot = folder / "shot.png"
        done = _chromium(
            chromium,
            folder / "profile",
            f"--window-size={max(width, 500)},{height}",
            f"--force-device-scale-factor={scale:g}",
            "--virtual-time-budget=15000",
            f"--screenshot={shot}",
            wrapper.as_uri(),
        )
        if done.returncode != 0 or not shot.is_file():
            raise RuntimeError(f"chromium made no screenshot of {page}: {done.stderr[-2000:]}")
        with Image.open(shot) as image:
            box = (0, 0, round(width * scale), round(height * scale))
            target.parent.mkdir(parents=True, exist_ok=True)
            image.crop(box).save(target, optimize=True)
    return target


#: The README's screenshots: (file in docs/img, report page, width, height, scale, the label
#: key of the heading to start from or "" for the top). The phone shows the key results table
#: (it scrolls sideways in its own box).
SCREENSHOTS: list[tuple[str, str, int, int, float, str]] = [
    ("report.png", "fi/consortium.html", DESKTOP, 1000, 1, ""),
    ("report-phone.png", "fi/consortium.html", PHONE, 844, 2, "rep_key_results"),
    ("joint-display.png", "fi/consortium.html", DESKTOP, 900, 1, "rep_joint_display"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=Path("."), help="a study after `run`")
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="PNG folder")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("screenshots: no chromium or chromium-browser on PATH", file=sys.stderr)
        return 1
    from evaluation.config import load_labels, load_study
    from evaluation.report.html import _anchor  # the id nbconvert gives a heading

    labels = load_labels("fi", load_study(args.study).paths)
    html_dir = args.study / "reports" / "html"
    for name, page, width, height, scale, heading in SCREENSHOTS:
        source = html_dir / page
        if not source.is_file():
            print(f"screenshots: {source} is missing: run `make report` first", file=sys.stderr)
            return 1
        anchor = _anchor(labels[heading]) if heading else ""
        out = screenshot(
            source,
            args.out / name,
            width=width,
            height=height,
            scale=scale,
            anchor=anchor,
            chromium=chromium,
        )
        print(f"{out} ({page}, {width} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
