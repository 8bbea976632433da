"""The dossier as files: an Excel workbook, one HTML page, a zip with both and the mails.

The same dossier always gives the same bytes: every timestamp inside a file (the
workbook's properties, the zip entries) is the dossier's ``as_of``, never the time of
the export. Each file is written to a temporary name beside the target and renamed into
place, so a failed export leaves no half-written file behind.

Cell values are data, never formulas: a value such as ``=HYPERLINK(...)`` from a mail is
stored as text, and characters XML cannot carry are dropped.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from workflow.export import Dossier, render_html

#: Excel's limit on the characters of one cell.
_CELL_LIMIT = 32767
#: Characters XML 1.0 cannot carry (openpyxl refuses them).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: A name for a message in the zip: ours, never a path.
_MESSAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)?$")
_WIDEST = 60
_HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")
_TOP = Alignment(vertical="top", wrap_text=True)
# Workbook document properties are plain UTC timestamps.
_UTC = ZoneInfo("UTC")


def default_filename(number: str, extension: str) -> str:
    """``XT-2026-0001.xlsx``; anything that could make the number a path becomes ``_``."""
    safe = re.sub(r"[^\w.-]+", "_", number).lstrip(".") or "dossier"
    return f"{safe}.{extension}"


# --- xlsx ---------------------------------------------------------------------------------


def xlsx_bytes(dossier: Dossier) -> bytes:
    """One worksheet per sheet: the title in row 1, the bold header in row 2 (both stay
    in view when scrolling), the rows below, then the sheet's note if it has one."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in dossier.sheets:
        ws = workbook.create_sheet(sheet.name)
        _put(ws, 1, 1, sheet.title).font = Font(bold=True, size=13)
        for col, column in enumerate(sheet.columns, start=1):
            cell = _put(ws, 2, col, column)
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = _TOP
        for row_index, row in enumerate(sheet.rows, start=3):
            for col, value in enumerate(row, start=1):
                _put(ws, row_index, col, value).alignment = _TOP
        if sheet.note:
            _put(ws, len(sheet.rows) + 4, 1, sheet.note).font = Font(italic=True, color="666666")
        ws.freeze_panes = "A3"
        for col, column in enumerate(sheet.columns, start=1):
            values = [column, *(row[col - 1] for row in sheet.rows)]
            ws.column_dimensions[get_column_letter(col)].width = _width(values)
    as_of = dossier.as_of.astimezone(_UTC).replace(tzinfo=None)
    props = workbook.properties
    props.title = dossier.title
    props.subject = dossier.number
    props.description = "\n".join(dossier.notes)
    props.creator = props.lastModifiedBy = "liaison"
    props.created = props.modified = as_of
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # ExcelWriter, not Workbook.save: save stamps the time of saving into the file.
        ExcelWriter(workbook, archive).save()
    return _restamp(buffer.getvalue(), _zip_time(dossier))


def _put(ws: Any, row: int, col: int, value: str) -> Any:
    cell = ws.cell(row=row, column=col)
    text = _ILLEGAL.sub("", value)
    if len(text) > _CELL_LIMIT:
        text = text[: _CELL_LIMIT - 1] + "…"
    cell.value = text
    cell.data_type = "s"  # text, even when it starts with "=": never a formula
    return cell


def _width(values: Sequence[str]) -> float:
    """Room for the longest line of the column (CJK characters count twice), capped."""
    widest = max(
        (
            sum(2 if ord(ch) > 0x2E80 else 1 for ch in line)
            for value in values
            for line in value.splitlines() or [""]
        ),
        default=0,
    )
    return float(min(max(widest + 2, 8), _WIDEST))


# --- html ---------------------------------------------------------------------------------


def html_bytes(dossier: Dossier) -> bytes:
    return render_html(dossier).encode("utf-8")


# --- zip ----------------------------------------------------------------------------------


def zip_bytes(dossier: Dossier, raw_messages: Sequence[tuple[str, bytes]]) -> bytes:
    """``dossier.xlsx``, ``dossier.html`` and each raw message as ``messages/NAME``.

    Names must be plain file names (``001-request-1.eml``); a name that could be a
    path (``../x``, ``/etc/x``, ``a/b``) is refused with :class:`ValueError`.
    """
    entries = [("dossier.xlsx", xlsx_bytes(dossier)), ("dossier.html", html_bytes(dossier))]
    seen: set[str] = set()
    for name, raw in raw_messages:
        if not _MESSAGE_NAME.match(name) or name in seen:
            raise ValueError(f"not a message file name: {name!r}")
        seen.add(name)
        entries.append((f"messages/{name}", raw))
    return _zip(entries, _zip_time(dossier))


def _zip_time(dossier: Dossier) -> tuple[int, int, int, int, int, int]:
    local = dossier.as_of.astimezone(ZoneInfo(dossier.timezone))
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)


def _zip(entries: Sequence[tuple[str, bytes]], when: tuple[int, int, int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _restamp(data: bytes, when: tuple[int, int, int, int, int, int]) -> bytes:
    """The same archive with every entry dated ``when`` (zipfile dates entries now)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    return _zip(entries, when)


# --- writing ------------------------------------------------------------------------------


def write_xlsx(dossier: Dossier, path: Path) -> None:
    _write(path, xlsx_bytes(dossier))


def write_html(dossier: Dossier, path: Path) -> None:
    _write(path, html_bytes(dossier))


def write_zip(dossier: Dossier, raw_messages: Sequence[tuple[str, bytes]], path: Path) -> None:
    _write(path, zip_bytes(dossier, raw_messages))


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o666 & ~umask)  # as a plain open() would have created it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
