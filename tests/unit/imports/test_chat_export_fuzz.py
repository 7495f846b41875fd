"""Fuzzing the export parser: whatever the bytes or text, it parses or raises ExportFormatError, nothing else."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkcrm_app.imports.chat_export import ExportFile, ExportFormatError, parse_text

HEADERS = st.sampled_from([
    "13/03/23, 09:15 - ", "3/13/23, 9:15\u202fPM - ", "[13/03/2023, 09:15:01] ", "\u200e[03/13/23, 12:00:00 a.m.] ",
    "2023-03-13, 21:07 - ", "16.03.22, 15:10 - ", "99/99/99, 99:99 - ", "[1/1/1, 1:1] ", "31/02/2024, 24:00 - ",
])
BODIES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
EXPORTISH = st.lists(st.tuples(HEADERS, BODIES, st.sampled_from(["\n", "\r\n", "\r", ""])), max_size=12).map(
    lambda parts: "".join(h + b + e for h, b, e in parts))
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(text: str) -> None:
    try:
        fmt, messages = parse_text(text)
    except ExportFormatError as exc:
        assert str(exc)
        return
    assert len(messages) <= fmt.headers
    for message in messages:
        assert message.author is None or message.author.strip() == message.author or message.author


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    _parse_or_refuse(text)


@FUZZ
@given(EXPORTISH)
def test_export_shaped_text_never_crashes(text: str) -> None:
    _parse_or_refuse(text)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(tmp_path_factory: object, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    path = Path(folder) / "upload.txt"
    path.write_bytes(data)
    _read_file(path)


@FUZZ
@given(EXPORTISH, st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255))
def test_damaged_zips_never_crash(tmp_path_factory: object, text: str, where: int, flip: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", text)
        zf.writestr("IMG-1.jpg", b"\xff\xd8" * 20)
    data = bytearray(buffer.getvalue())
    data[where % len(data)] ^= flip
    path = Path(tmp_path_factory.mktemp("fuzz")) / "upload.zip"  # type: ignore[attr-defined]
    path.write_bytes(bytes(data))
    _read_file(path)


def _read_file(path: Path) -> None:
    try:
        export = ExportFile(path)
        fmt = export.scan()
        export.check_media(export.media_names())
        with export.messages(fmt) as messages:
            for _ in messages:
                pass
        export.close()
    except ExportFormatError as exc:
        assert str(exc)
