"""An uploaded export on disk: a `.txt`, or a `.zip` holding the chat's `.txt` and its media files.

The text is read as a stream of lines (a zip member is decompressed as it is read), any number of times:
once to detect the format, once to parse. Whatever goes wrong while reading (not UTF-8, a broken zip,
a zip without a chat) becomes an ExportFormatError, the parser's only error.

Everything a stranger can put in a file is bounded before it is read: a line is read at most MAX_LINE
characters at a time (a longer one is refused with its number), and a zip is refused as a whole when it holds
too many files, a chat text or a media file that unpacks to more than its limit, a member that unpacks to more
than MAX_RATIO times its packed size, or more than MAX_UNPACKED bytes in all (zip bombs): all of it checked on
the central directory before a byte is unpacked, and counted again while unpacking.
"""

from __future__ import annotations

import io
import logging
import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO, TypeVar

from pkcrm_app.imports.chat_export.formats import MAX_LINE, ExportFormat, ExportFormatError, detect
from pkcrm_app.imports.chat_export.parser import ChatMessage, parse

T = TypeVar("T")
log = logging.getLogger(__name__)
# What the zip module raises on damaged or unsupported archives (versions, methods, encryption, bad offsets).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError,
              ValueError, OverflowError, struct.error, OSError)
MAX_MEMBERS = 20_000
MAX_MEDIA_BYTES = 100 * 1024 * 1024  # one file in a zip (the Cloud API's largest document); larger ones are left out
MAX_CHAT_BYTES = 1024 * 1024 * 1024  # the chat text of a zip, unpacked
MAX_UNPACKED = 4 * 1024 * 1024 * 1024  # the chat and every media file together, unpacked
MAX_RATIO = 100  # unpacked / packed size of one member (text packs about 5:1, media about 1:1; a bomb 1000:1)
RATIO_FLOOR = 1024 * 1024  # members smaller than this unpack to little whatever their ratio
MB = 1024 * 1024
_TITLE = re.compile(r"^(?:WhatsApp[ -]Chat (?:with|mit|-|met|avec|con)|Chat de WhatsApp con|Conversa do WhatsApp com"
                    r"|WhatsApp Chat -)\s*(?P<title>.+?)(?:\s*\(\d+\))?$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d ()\-\u00a0\u202f]{7,24}$")


def chat_title(filename: str) -> str | None:
    """'WhatsApp Chat with Alice.txt' -> 'Alice'; None for names that do not say who (e.g. '_chat.txt')."""
    stem = Path(filename.replace("\\", "/")).name.rsplit(".", 1)[0].strip()
    found = _TITLE.match(stem)
    return found["title"].strip() if found else None


def phone_digits(text: str | None) -> str | None:
    """The digits of a phone number written as a name ('+49 151 2345 678'), or None."""
    if not text or not _PHONE.match(text.strip()):
        return None
    digits = "".join(c for c in text if c.isdigit())
    return digits if 7 <= len(digits) <= 15 else None


@contextmanager
def _reading() -> Iterator[None]:
    """Errors of reading the text (decoding, decompressing) in plain words; the details go to the log only."""
    try:
        yield
    except ExportFormatError:
        raise
    except UnicodeError as exc:
        raise ExportFormatError("the file is not UTF-8 text (is it really a WhatsApp export?)") from exc
    except ZIP_ERRORS as exc:
        log.info("a chat export could not be read: %s: %s", type(exc).__name__, exc)
        raise ExportFormatError("the file could not be read (a damaged zip, or not an export)") from exc


def _checked(items: Iterator[T]) -> Iterator[T]:
    with _reading():
        yield from items


def bounded_lines(text: TextIO) -> Iterator[str]:
    """The lines of `text`, each read at most MAX_LINE characters at a time: a longer line is refused with its
    number (never held whole, never cut)."""
    readline = text.readline
    number = 0
    while line := readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE and line[-1] != "\n":
            raise ExportFormatError(f"line {number} is longer than {MAX_LINE:,} characters: "
                                    "this is not a WhatsApp chat export we can read")
        yield line


def _member_entries(path: Path) -> int:
    """How many files the zip's end record announces, read before the zip module builds one object per entry."""
    with path.open("rb") as handle:
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # the zip module's own end-record reader
    if not end:
        raise ExportFormatError("the zip file is damaged (no end of central directory)")
    return int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]


def _check_member(info: zipfile.ZipInfo, limit: int, what: str) -> None:
    """Refuse a member that would unpack to more than `limit`, or that packs suspiciously well (a zip bomb)."""
    if info.file_size > limit:
        raise ExportFormatError(f"the zip's {what} unpacks to more than {limit // MB:,} MB")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
        raise ExportFormatError(f"the zip's {what} unpacks to more than {MAX_RATIO} times its packed size: "
                                "refused as a zip bomb")


class _Counted(io.RawIOBase):
    """A zip member read through a counter: more than `limit` bytes (its declared size lied) is refused."""

    def __init__(self, member: IO[bytes], limit: int) -> None:
        self.member, self.limit, self.seen = member, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.member.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.limit:
            raise ExportFormatError("a file in the zip unpacks to more than it declares")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.member.close()
        super().close()


def _encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig"


class ExportFile:
    """A chat export at `path`; `name` is the uploaded file name (it may say who the chat is with)."""

    def __init__(self, path: Path, name: str = "") -> None:
        self.path, self.name = path, name or path.name
        self._zip: zipfile.ZipFile | None = None
        self._chat: str | None = None
        self._media: dict[str, str] = {}  # base name -> member name
        try:
            with path.open("rb") as handle:
                head = handle.read(4)
            if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
                self._open_zip()
        except OSError as exc:
            raise ExportFormatError(f"the file could not be read ({exc.strerror or exc})") from exc

    def _open_zip(self) -> None:
        try:
            if _member_entries(self.path) > MAX_MEMBERS:
                raise ExportFormatError(f"the zip holds more than {MAX_MEMBERS} files")
            archive = zipfile.ZipFile(self.path)
            infos = archive.infolist()
        except ExportFormatError:
            raise
        except ZIP_ERRORS as exc:
            raise ExportFormatError("the zip file is damaged or not a zip we can read") from exc
        if len(infos) > MAX_MEMBERS:
            archive.close()
            raise ExportFormatError(f"the zip holds more than {MAX_MEMBERS} files")
        self._zip = archive
        texts = []
        for info in infos:
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or info.filename.startswith("__MACOSX/") or base.startswith("._") or not base:
                continue
            if base.lower().endswith(".txt"):
                texts.append(info.filename)
            self._media[base] = info.filename
        if not texts:
            raise ExportFormatError("the zip holds no chat (.txt) file")
        # The export's own chat file: _chat.txt (iOS) or 'WhatsApp Chat with X.txt' (Android); else the first.
        texts.sort(key=lambda n: (not n.rsplit("/", 1)[-1].startswith(("_chat", "WhatsApp")), n))
        self._chat = texts[0]
        self._media.pop(self._chat.rsplit("/", 1)[-1], None)
        self._check_sizes(archive)

    def _check_sizes(self, archive: zipfile.ZipFile) -> None:
        """Zip bombs are refused on the central directory, before anything is unpacked; media files over
        MAX_MEDIA_BYTES are left out of the import (their messages say no file came with them)."""
        assert self._chat is not None
        chat = archive.getinfo(self._chat)
        _check_member(chat, MAX_CHAT_BYTES, "chat text")
        total = chat.file_size
        for base, member in list(self._media.items()):
            info = archive.getinfo(member)
            _check_member(info, MAX_UNPACKED, f"file {base[:80]!r}")
            if info.file_size > MAX_MEDIA_BYTES:
                del self._media[base]
                continue
            total += info.file_size
        if total > MAX_UNPACKED:
            raise ExportFormatError(f"the zip unpacks to more than {MAX_UNPACKED // MB:,} MB")

    def _member(self, name: str, limit: int) -> IO[bytes]:
        """A member opened for reading, counted against `limit` as it is unpacked."""
        assert self._zip is not None
        return io.BufferedReader(_Counted(self._zip.open(name), limit), buffer_size=1024 * 1024)

    @property
    def is_zip(self) -> bool:
        return self._zip is not None

    @property
    def title(self) -> str | None:
        if self._chat and chat_title(self._chat):
            return chat_title(self._chat)
        return chat_title(self.name)

    def media_names(self) -> set[str]:
        return set(self._media)

    @contextmanager
    def lines(self) -> Iterator[Iterator[str]]:
        """The chat's lines, streamed (universal newlines; reading errors become ExportFormatError)."""
        with self._text() as text:
            yield _checked(bounded_lines(text))

    @contextmanager
    def _text(self) -> Iterator[TextIO]:
        binary: IO[bytes]
        with _reading():
            binary = self._member(self._chat, MAX_CHAT_BYTES) if self._zip and self._chat else self.path.open("rb")
        with binary:
            with _reading():
                head = binary.peek(4)[:4] if hasattr(binary, "peek") else b""
            yield io.TextIOWrapper(binary, encoding=_encoding(head), errors="strict", newline=None)

    def read_media(self, name: str) -> bytes | None:
        """A media file of the zip by its name in the chat, or None when the zip lacks it (or it is too big)."""
        member = self._media.get(name)
        if self._zip is None or member is None:
            return None
        with _reading(), self._member(member, MAX_MEDIA_BYTES) as handle:
            return handle.read()

    def check_media(self, names: set[str]) -> None:
        """Read every named media file once, a chunk at a time (the zip checks each file's checksum at its end),
        so a damaged zip fails before anything is imported."""
        if self._zip is None:
            return
        with _reading():
            for name in sorted(names):
                member = self._media.get(name)
                if member is None:
                    continue
                with self._member(member, MAX_MEDIA_BYTES) as handle:
                    while handle.read(1024 * 1024):
                        pass

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def scan(self) -> ExportFormat:
        """First pass: the whole chat is read and checked; ExportFormatError when it is not an export."""
        with self._text() as text, _reading():
            return detect(bounded_lines(text))

    @contextmanager
    def messages(self, fmt: ExportFormat) -> Iterator[Iterator[ChatMessage]]:
        """Second pass: the messages, streamed."""
        with self._text() as text:
            yield _checked(parse(bounded_lines(text), fmt))


def parse_text(text: str) -> tuple[ExportFormat, list[ChatMessage]]:
    """Detect and parse an export held in a string (tests, fuzzing, small files)."""
    lines = list(bounded_lines(io.StringIO(text, newline=None)))
    fmt = detect(lines)
    return fmt, list(parse(lines, fmt))
