"""An uploaded export on disk: a `.txt`, or a `.zip` holding the chat's `.txt` and its media files.

The text is read as a stream of lines (a zip member is decompressed as it is read), any number of times:
once to detect the format, once to parse. Whatever goes wrong while reading (not UTF-8, a broken zip,
a zip without a chat) becomes an ExportFormatError, the parser's only error.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from pkcrm_app.whatsapp.chat_export.formats import ExportFormat, ExportFormatError, detect
from pkcrm_app.whatsapp.chat_export.parser import ChatMessage, parse

T = TypeVar("T")
# What the zip module raises on damaged or unsupported archives (versions, methods, encryption, bad offsets).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError,
              ValueError, OverflowError, struct.error, OSError)
MAX_MEMBERS = 20_000
MAX_MEDIA_BYTES = 100 * 1024 * 1024  # one file inside a zip (the Cloud API's largest document)
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
    """Errors of reading the text (decoding, decompressing) in plain words."""
    try:
        yield
    except ExportFormatError:
        raise
    except UnicodeError as exc:
        raise ExportFormatError("the file is not UTF-8 text (is it really a WhatsApp export?)") from exc
    except ZIP_ERRORS as exc:
        raise ExportFormatError(f"the file could not be read ({type(exc).__name__}: {exc})"[:300]) from exc


def _checked(items: Iterator[T]) -> Iterator[T]:
    with _reading():
        yield from items


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
            archive = zipfile.ZipFile(self.path)
            infos = archive.infolist()
        except ZIP_ERRORS as exc:
            raise ExportFormatError(f"the zip file is damaged ({type(exc).__name__}: {exc})"[:300]) from exc
        if len(infos) > MAX_MEMBERS:
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
            yield _checked(text)

    @contextmanager
    def _text(self) -> Iterator[Iterator[str]]:
        binary: IO[bytes]
        with _reading():
            binary = self._zip.open(self._chat) if self._zip and self._chat else self.path.open("rb")
        with binary:
            with _reading():
                head = binary.peek(4)[:4] if hasattr(binary, "peek") else b""
            text = io.TextIOWrapper(binary, encoding=_encoding(head), errors="strict", newline=None)
            yield iter(text)

    def read_media(self, name: str) -> bytes | None:
        """A media file of the zip by its name in the chat, or None when the zip lacks it (or it is too big)."""
        member = self._media.get(name)
        if self._zip is None or member is None:
            return None
        with _reading():
            if self._zip.getinfo(member).file_size > MAX_MEDIA_BYTES:
                return None
            with self._zip.open(member) as handle:
                data = handle.read(MAX_MEDIA_BYTES + 1)
        return data if len(data) <= MAX_MEDIA_BYTES else None

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
                with self._zip.open(member) as handle:
                    while handle.read(1024 * 1024):
                        pass

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def scan(self) -> ExportFormat:
        """First pass: the whole chat is read and checked; ExportFormatError when it is not an export."""
        with self._text() as text, _reading():
            return detect(text)

    @contextmanager
    def messages(self, fmt: ExportFormat) -> Iterator[Iterator[ChatMessage]]:
        """Second pass: the messages, streamed."""
        with self._text() as text:
            yield _checked(parse(text, fmt))


def parse_text(text: str) -> tuple[ExportFormat, list[ChatMessage]]:
    """Detect and parse an export held in a string (tests, fuzzing, small files)."""
    lines = list(io.StringIO(text, newline=None))
    fmt = detect(lines)
    return fmt, list(parse(lines, fmt))
