"""Shared by the benchmark scripts: replace one marked section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(start: str, end: str, text: str, doc: Path = DOC) -> None:
    """Put ``text`` (which begins with ``start`` and ends with ``end``) in place of the section
    between the two markers, or append it when the document does not have it yet."""
    current = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    if start in current and end in current:
        current = current[: current.index(start)] + text + current[current.index(end) + len(end) :]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    doc.write_text(current, encoding="utf-8")
