"""Limits on what a chat export may hold: lines and messages are read bounded and refused whole (never cut), and
zip bombs are refused on the central directory, before anything is unpacked or written."""

from __future__ import annotations

import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from pkcrm_app.imports.chat_export import ExportFile, ExportFormatError, parse_text, source
from pkcrm_app.imports.chat_export.formats import MAX_LINE

HEAD = "16/03/2022, 15:10 - Alice Martin: "
MB = 1024 * 1024


def _scan(path: Path) -> None:
    export = ExportFile(path)
    try:
        fmt = export.scan()
        with export.messages(fmt) as messages:
            for _ in messages:
                pass
    finally:
        export.close()


def test_a_line_longer_than_the_limit_is_refused_with_its_number_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD + "hello\n" + HEAD)
        for _ in range(50):
            out.write("x" * MB)  # one 50 MB line
        out.write("\n")
    tracemalloc.start()
    try:
        with pytest.raises(ExportFormatError, match="line 2 is longer than 262,144 characters"):
            _scan(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB  # the line is never held whole


def test_a_long_real_message_is_kept_whole(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200,000 characters: longer than WhatsApp lets anyone type, within the limit
    _, messages = parse_text(f"{HEAD}{long_text}\n{HEAD}second\n")
    assert [len(m.text) for m in messages] == [len(long_text), len("second")]
    lines = "\n".join(["line " * 20_000] * 3)  # 300,000 characters over three lines: one message too long
    with pytest.raises(ExportFormatError, match="message that starts on line 1 is longer"):
        parse_text(f"{HEAD}{lines}\n")


def _bomb(path: Path, member: str, size: int, chat: str = HEAD + "see the file <attached: big.bin>\n") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_chat.txt", chat)
        with archive.open(member, "w", force_zip64=True) as out:
            for _ in range(size // MB):
                out.write(b"\0" * MB)
    return path


def test_a_media_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _bomb(tmp_path / "bomb.zip", "big.bin", 64 * MB)
    assert path.stat().st_size < MB
    opened: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(str(name)) or
                        real_open(self, name, *a, **k))
    with pytest.raises(ExportFormatError, match="zip bomb"):
        ExportFile(path)
    assert opened == []  # refused on the central directory


def test_a_chat_text_zip_bomb_is_refused(tmp_path: Path) -> None:
    """One 300 MB line inside a zip of a few hundred KB (the chat text itself is the bomb)."""
    path = tmp_path / "chat-bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("_chat.txt", "w", force_zip64=True) as out:
        out.write(HEAD.encode())
        for _ in range(300):
            out.write(b"a" * MB)
    assert path.stat().st_size < 2 * MB
    with pytest.raises(ExportFormatError, match="chat text unpacks to more than 100 times"):
        ExportFile(path)


def test_a_well_packed_chat_line_is_still_bounded_when_the_ratio_allows_it(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_RATIO", 10_000)
    path = tmp_path / "chat-line.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("_chat.txt", "w") as out:
        out.write((HEAD + "hi\n" + HEAD).encode() + b"a" * (2 * MAX_LINE) + b"\n")
    with pytest.raises(ExportFormatError, match="line 2 is longer"):
        _scan(path)


def test_media_over_the_file_limit_is_left_out_and_never_read(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_MEDIA_BYTES", MB)
    path = tmp_path / "media.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_chat.txt", HEAD + "<attached: big.bin>\n" + HEAD + "<attached: small.jpg>\n")
        archive.writestr("big.bin", os.urandom(2 * MB))
        archive.writestr("small.jpg", os.urandom(1000))
    export = ExportFile(path)
    try:
        assert export.media_names() == {"small.jpg"}
        assert export.read_media("big.bin") is None
        export.check_media({"big.bin", "small.jpg"})
    finally:
        export.close()


def test_everything_unpacked_together_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_UNPACKED", 3 * MB)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_chat.txt", HEAD + "two files\n")
        archive.writestr("one.bin", os.urandom(2 * MB))
        archive.writestr("two.bin", os.urandom(2 * MB))
    with pytest.raises(ExportFormatError, match="unpacks to more than 3 MB"):
        ExportFile(path)


def test_too_many_members_are_refused_before_the_zip_module_lists_them(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_MEMBERS", 5)
    path = tmp_path / "members.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_chat.txt", HEAD + "hi\n")
        for n in range(10):
            archive.writestr(f"f{n}.txt", "x")
    monkeypatch.setattr(zipfile.ZipFile, "infolist", lambda self: pytest.fail("listed"))
    with pytest.raises(ExportFormatError, match="more than 5 files"):
        ExportFile(path)
