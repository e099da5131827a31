"""REFI-QDA project exchange (``.qdpx``): import codings from, and export a codebook to, the
qualitative tools coders use (QualCoder, NVivo, ATLAS.ti, MAXQDA).

A ``.qdpx`` file is a zip holding ``project.qde`` (XML, namespace ``urn:QDA-XML:project:1.0``)
and the text sources under ``sources/``. What we read and write (REFI-QDA Project standard 1.0):

* ``Users/User`` (guid, name): the coders;
* ``CodeBook/Codes/Code`` (guid, name, nested codes, ``Description``): mapped to our codebook by
  id, by Finnish or English label, or by an ``id: <code>`` line in the description;
* ``Sources/TextSource`` (guid, name, ``plainTextPath="internal://<file>"`` or
  ``PlainTextContent``) with ``PlainTextSelection`` (``startPosition``/``endPosition``: Unicode
  character offsets, end exclusive) and ``Coding/CodeRef targetGUID``.

Import gives one row per coded selection and code: ``segment`` is the source name when the
selection covers the whole source (our exports: one source per open answer, named by its
answer id), else ``<source>@<start>-<end>``; ``coder`` is the user's name; ``text`` the selected
characters; ``source`` is ``suggestion`` for the user named "suggestion", else ``human``.
Export writes our codebook (labels, descriptions, keywords), each open answer as a text source,
and optionally existing codings and suggestions (under the user "suggestion"), so coders start
in their own tool. Same inputs give a byte-identical file (GUIDs derived from ids, fixed zip
timestamps).

A project is untrusted input, so the import is bounded: the members' declared sizes must add up
to at most ``max_bytes`` (``study.yaml: limits: {qdpx_max_bytes: ...}``, default 200 MiB)
before anything is extracted, and each member is read with a reader that stops at the bytes
left (a header that lies about its size cannot blow the memory); codes nested deeper than
``max_depth`` (``limits: {qdpx_max_depth: ...}``, default 50) are refused, and the code tree is
walked without recursion; the XML is parsed with defusedxml (no entities, no external
references). Each gives a :class:`DataError` naming the file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse as safe_iterparse
from lxml import etree as LET  # writes the export: C serialisation (reading: defusedxml)

from evaluation.config import Limits
from evaluation.errors import DataError
from evaluation.io.files import atomic_path

log = logging.getLogger(__name__)

NS = "urn:QDA-XML:project:1.0"
Q = f"{{{NS}}}"
_GUID_NS = uuid.UUID("8c1f4d8e-5b0a-4d8f-9a57-2f6c0b0e7a11")
_GUID_PREFIX = _GUID_NS.bytes
SUGGESTION_USER = "suggestion"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
# default limits: limits.qdpx_max_bytes / qdpx_max_depth in study.yaml (config.Limits)
MAX_BYTES = Limits.qdpx_max_bytes
MAX_DEPTH = Limits.qdpx_max_depth
_LIMITS_HINT = "limits: {%s: ...} in config/study.yaml"


def guid(kind: str, key: str) -> str:
    """A stable GUID for an object of our project (same id, same GUID): the name-based UUID
    (version 5, RFC 4122 section 4.3) of ``kind:key``, as ``str(uuid.uuid5(...))`` gives it,
    computed without building a ``uuid.UUID`` (an export makes millions)."""
    raw = bytearray(hashlib.sha1(_GUID_PREFIX + f"{kind}:{key}".encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_shared_guid = functools.lru_cache(maxsize=4096)(guid)  # users and codes: asked per coding


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-zåäö]+", "_", text.strip().lower()).strip("_") or "code"


# -------------------------------------------------------------------------------------------
# Import
# -------------------------------------------------------------------------------------------


def _code_lookup(codebook: pd.DataFrame | None) -> dict[str, str]:
    lookup: dict[str, str] = {}
    if codebook is None or codebook.empty:
        return lookup
    for rec in codebook.to_dict("records"):
        for key in ("id", "label_fi", "label_en"):
            if isinstance(rec.get(key), str) and rec[key]:
                lookup[rec[key].strip().lower()] = rec["id"]
    return lookup


def _walk_codes(book: ET.Element, out: dict[str, tuple[str, str]]) -> None:
    """Every code under ``book`` in document order, without recursion."""
    stack = list(reversed(book.findall(f"{Q}Code")))
    while stack:
        code = stack.pop()
        desc = code.findtext(f"{Q}Description") or ""
        out[code.get("guid", "")] = (code.get("name", ""), desc)
        stack.extend(reversed(code.findall(f"{Q}Code")))


class _Budget:
    """The bytes an archive may still expand to; reads stop as soon as it is spent."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path, self.max_bytes, self.left = path, max_bytes, max_bytes

    def read(self, archive: zipfile.ZipFile, member: str) -> bytes:
        try:
            with archive.open(member) as f:
                data = f.read(self.left + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise DataError(f"{self.path}: member {member} cannot be read ({exc})") from None
        if len(data) > self.left:
            raise self.too_big(f"{member} expands past")
        self.left -= len(data)
        return data

    def too_big(self, what: str) -> DataError:
        return DataError(
            f"{self.path}: {what} the limit of {self.max_bytes:,} bytes for a .qdpx project "
            f"({_LIMITS_HINT % 'qdpx_max_bytes'})"
        )


def _parse_project(data: bytes, path: Path, max_depth: int) -> ET.Element:
    """project.qde as a tree, refusing entities, external references and codes nested deeper
    than ``max_depth`` (checked while parsing, before the tree is complete)."""
    root = None
    code_depth = depth = 0
    try:
        for event, elem in safe_iterparse(io.BytesIO(data), events=("start", "end")):
            is_code = elem.tag == f"{Q}Code"
            if event == "start":
                root = elem if root is None else root
                depth += 1
                code_depth += is_code
                if code_depth > max_depth or depth > max_depth + 16:
                    raise DataError(
                        f"{path}: project.qde nests codes (or elements) deeper than "
                        f"{max_depth} levels ({_LIMITS_HINT % 'qdpx_max_depth'})"
                    )
            else:
                depth -= 1
                code_depth -= is_code
    except ET.ParseError as exc:
        line, col = exc.position
        raise DataError(f"{path}: project.qde line {line}, column {col}: {exc}") from None
    except DefusedXmlException as exc:
        raise DataError(
            f"{path}: project.qde uses XML entities or external references, which are not "
            f"allowed ({type(exc).__name__})"
        ) from None
    if root is None:
        raise DataError(f"{path}: project.qde is empty")
    return root


def import_qdpx(
    path: Path,
    codebook: pd.DataFrame | None = None,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> pd.DataFrame:
    """Read the coded text selections of a REFI-QDA project (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: not a REFI-QDA project (.qdpx is a zip file): {exc}") from None
    with archive:
        budget = _Budget(path, max_bytes)
        declared = sum(info.file_size for info in archive.infolist())
        if declared > max_bytes:
            raise budget.too_big(f"its members declare {declared:,} bytes, more than")
        names = archive.namelist()
        qde = next((n for n in names if n.lower().endswith("project.qde")), None)
        if qde is None:
            raise DataError(f"{path}: no project.qde inside; is this a REFI-QDA export?")
        root = _parse_project(budget.read(archive, qde), path, max_depth)
        if root.tag != f"{Q}Project":
            raise DataError(f"{path}: project.qde is not a REFI-QDA project ({root.tag})")
        users = {u.get("guid"): u.get("name", "") for u in root.iter(f"{Q}User")}
        codes: dict[str, tuple[str, str]] = {}
        book = root.find(f"{Q}CodeBook/{Q}Codes")
        if book is not None:
            _walk_codes(book, codes)
        lookup = _code_lookup(codebook)
        code_ids = {g: _map_code(name, desc, lookup) for g, (name, desc) in codes.items()}
        rows = []
        read: dict[str, str] = {}  # a member several sources share is read (and counted) once
        for src in root.iter(f"{Q}TextSource"):
            text = _source_text(archive, src, path, budget, read)
            name = src.get("name") or src.get("guid", "")
            for sel in src.findall(f"{Q}PlainTextSelection"):
                rows += _selection_rows(sel, name, text, users, code_ids, path)
    frame = pd.DataFrame(
        rows,
        columns=["segment", "coder", "code", "text", "document", "start", "end", "source"],
    )
    return frame.drop_duplicates(["segment", "coder", "code"]).reset_index(drop=True)


def _map_code(name: str, description: str, lookup: Mapping[str, str]) -> str:
    declared = re.search(r"^id:\s*(\S+)", description, re.MULTILINE)
    for key in (declared.group(1) if declared else None, name):
        if key and key.strip().lower() in lookup:
            return lookup[key.strip().lower()]
    if declared:
        return declared.group(1)
    if lookup:
        log.warning("code '%s' is not in the codebook: kept as '%s'", name, _slug(name))
    return _slug(name)


def _source_text(
    archive: zipfile.ZipFile,
    src: ET.Element,
    path: Path,
    budget: _Budget,
    read: dict[str, str],
) -> str:
    content = src.find(f"{Q}PlainTextContent")
    if content is not None and content.text is not None:
        return content.text
    ref = src.get("plainTextPath", "")
    member = ref.removeprefix("internal://")
    candidates = [member, f"sources/{member}", f"Sources/{member}"]
    for candidate in candidates:
        if candidate in archive.NameToInfo:
            if candidate not in read:
                data = budget.read(archive, candidate)
                try:
                    read[candidate] = data.decode("utf-8-sig")
                except UnicodeDecodeError as exc:
                    raise DataError(
                        f"{path}: {candidate} is not UTF-8 text (byte {exc.start})"
                    ) from None
            return read[candidate]
    raise DataError(
        f"{path}: text source '{src.get('name')}' refers to '{ref}', which is not in the file"
    )


def _selection_rows(
    sel: ET.Element,
    source: str,
    text: str,
    users: Mapping[str, str],
    code_ids: Mapping[str, str],
    path: Path,
) -> list[tuple]:
    try:
        start, end = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
    except ValueError:
        raise DataError(
            f"{path}: selection {sel.get('guid')} in '{source}' has no valid start/end position"
        ) from None
    if not 0 <= start <= end <= len(text):
        raise DataError(
            f"{path}: selection {sel.get('guid')} in '{source}' ({start}-{end}) lies outside "
            f"its text of {len(text)} characters"
        )
    segment = source if (start, end) == (0, len(text)) else f"{source}@{start}-{end}"
    rows = []
    for coding in sel.findall(f"{Q}Coding"):
        user = users.get(coding.get("creatingUser") or sel.get("creatingUser"), "unknown")
        for ref in coding.findall(f"{Q}CodeRef"):
            code = code_ids.get(ref.get("targetGUID", ""))
            if code is None:
                raise DataError(
                    f"{path}: coding in '{source}' refers to a code that is not in the codebook "
                    f"({ref.get('targetGUID')})"
                )
            kind = "suggestion" if user == SUGGESTION_USER else "human"
            rows.append((segment, user, code, text[start:end], source, start, end, kind))
    return rows


# -------------------------------------------------------------------------------------------
# Export
# -------------------------------------------------------------------------------------------


def export_qdpx(
    path: Path,
    codebook: pd.DataFrame,
    texts: pd.DataFrame,
    codings: pd.DataFrame | None = None,
    *,
    language: str = "fi",
    project: str = "evaluation",
) -> Path:
    """Write a REFI-QDA project: the codebook, each text (``segment, text``) as a source, and
    optional codings (``segment, coder, code``; rows with ``source == suggestion`` go under the
    user "suggestion"). Whole-text selections, so the import gives the same segments back.

    ``project.qde`` is streamed into the zip source by source (a national study has hundreds of
    thousands), so the whole XML tree is never held in memory."""
    if codings is None:
        codings = pd.DataFrame(columns=["segment", "coder", "code"])
    coder_names = set(codings["coder"].astype(str).unique())
    if "source" in codings and codings["source"].eq("suggestion").any():
        coder_names = coder_names - set(
            codings.loc[codings["source"].eq("suggestion"), "coder"].unique()
        )
        coder_names.add(SUGGESTION_USER)
    coder_names = sorted(coder_names)
    # Elements are built without a namespace: inside <Project xmlns="urn:QDA-XML:project:1.0">
    # an unprefixed element is in the project's namespace.
    users = LET.Element("Users")
    for name in coder_names or ["evaluation"]:
        LET.SubElement(users, "User", {"guid": guid("user", name), "name": name})
    codebook_element = LET.Element("CodeBook")
    book = LET.SubElement(codebook_element, "Codes")
    known = set()
    for rec in codebook.to_dict("records"):
        known.add(rec["id"])
        label = rec.get(f"label_{language}") or rec["id"]
        code = LET.SubElement(
            book, "Code", {"guid": guid("code", rec["id"]), "name": str(label), "isCodable": "true"}
        )
        keywords = rec.get("keywords")
        words = ", ".join(keywords) if isinstance(keywords, list | tuple) else ""
        desc = f"id: {rec['id']}\n{rec.get('description') or ''}".rstrip()
        if words:
            desc += f"\nkeywords: {words}"
        LET.SubElement(code, "Description").text = desc
    for code_id in sorted(set(codings["code"].unique()) - known):
        LET.SubElement(
            book, "Code", {"guid": guid("code", code_id), "name": code_id, "isCodable": "true"}
        )
    # segment -> user -> codes, built once; columns as lists (iterating Arrow strings is slow)
    by_segment: dict[str, dict[str, set[str]]] = {}
    kinds = codings["source"].fillna("human") if "source" in codings else None
    for seg, coder, code_id, kind in zip(
        codings["segment"].astype(str).tolist(), codings["coder"].astype(str).tolist(),
        codings["code"].astype(str).tolist(),
        kinds.tolist() if kinds is not None else ["human"] * len(codings), strict=True,
    ):  # fmt: skip
        user = SUGGESTION_USER if kind == "suggestion" else coder
        by_segment.setdefault(seg, {}).setdefault(user, set()).add(code_id)
    sources = [
        (seg, text, guid("source", seg))
        for seg, text in sorted(zip(texts["segment"].astype(str).tolist(),
                                    texts["text"].fillna("").astype(str).tolist(), strict=True))
    ]  # fmt: skip
    files = {f"{source_guid}.txt": text for _seg, text, source_guid in sources}
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(zipfile.ZipInfo("project.qde", _ZIP_TIME), "w") as qde:
            _write_project(qde, project, (users, codebook_element), sources, by_segment)
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(f"sources/{name}", _ZIP_TIME), files[name].encode())
    return path


def _write_project(
    stream: IO[bytes],
    project: str,
    head: tuple[LET._Element, ...],
    sources: list[tuple[str, str, str]],
    by_segment: Mapping[str, Mapping[str, set[str]]],
) -> None:
    """``project.qde``, indented two spaces per level like ``lxml.etree.indent``."""
    with LET.xmlfile(stream, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{Q}Project", {"name": project, "origin": "evaluation"}, nsmap={None: NS}):
            for element in head:
                LET.indent(element, level=1)
                xf.write("\n  ", element)
            xf.write("\n  ")
            if not sources:
                xf.write(LET.Element("Sources"))
            else:
                with xf.element("Sources"):
                    for seg, text, source_guid in sources:
                        codes_of = by_segment.get(seg, {})
                        xf.write("\n    ", _source(seg, text, source_guid, codes_of))
                    xf.write("\n  ")
            xf.write("\n")


def _source(
    seg: str, text: str, source_guid: str, codes_of: Mapping[str, set[str]]
) -> LET._Element:
    """One ``TextSource`` with a whole-text selection per user and their codings."""
    src = LET.Element(
        "TextSource",
        {"guid": source_guid, "name": seg, "plainTextPath": f"internal://{source_guid}.txt"},
    )
    for user, codes in sorted(codes_of.items()):
        user_guid = _shared_guid("user", user)
        sel = LET.SubElement(
            src,
            "PlainTextSelection",
            {
                "guid": guid("selection", f"{seg}|{user}"),
                "name": seg,
                "startPosition": "0",
                "endPosition": str(len(text)),
                "creatingUser": user_guid,
            },
        )
        for code_id in sorted(codes):
            coding = LET.SubElement(
                sel,
                "Coding",
                {"guid": guid("coding", f"{seg}|{user}|{code_id}"), "creatingUser": user_guid},
            )
            LET.SubElement(coding, "CodeRef", {"targetGUID": _shared_guid("code", code_id)})
    LET.indent(src, level=2)
    return src
