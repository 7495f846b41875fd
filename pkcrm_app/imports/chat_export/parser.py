"""Second pass: turn the lines of an export into messages, one at a time (a generator; nothing is kept).

Per line the work is one precompiled regex match; dates are cached per distinct date text, so a
million-line file costs little more than reading it. A message's continuation lines are joined with
newlines; a message longer than MAX_MESSAGE characters (the first pass refuses those) raises
ExportFormatError, so memory stays bounded and no message is ever cut.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from pkcrm_app.imports.chat_export.formats import (
    HEADER,
    LEADING_MARKS,
    MAX_MESSAGE,
    SYSTEM,
    ExportFormat,
    date_under,
    meridiem_is_pm,
    split_author,
    too_long,
)


class Kind(enum.StrEnum):
    TEXT = "text"
    MEDIA = "media"  # a file: attached (in a .zip) or omitted from the export
    SYSTEM = "system"  # encryption notice, "X added Y", subject changes...: no author
    EMPTY = "empty"  # 'Name:.' : a message whose body the export left out (disappearing)
    DELETED = "deleted"  # "This message was deleted"


@dataclass(slots=True)
class ChatMessage:
    timestamp: datetime  # as written in the file (the exporting phone's local time)
    author: str | None
    text: str
    kind: Kind
    attachment: str | None = None  # the file name inside the .zip, when the line names one
    media_type: str = ""  # "image", "video", "audio", "sticker", "document" or "" when unknown


_ATTACHED = re.compile(r"<attached: (?P<name>[^>]+)>")
_FILE_ATTACHED = re.compile(r"(?P<name>\S.*?\.\w{1,5}) \((?:file attached|Datei angehängt|archivo adjunto|"
                            r"fichier joint|arquivo anexado|bestand bijgevoegd|file allegato)\)")
_STRIP = LEADING_MARKS + " "
_OMITTED_ENDS = (">", "omitted", "weggelassen", "omitido", "omitida", "omis", "oculto", "oculta", "weggelaten")
_OMITTED = re.compile(
    r"<(?:Media omitted|Medien ausgeschlossen|Multimedia omitido|Médias omis|Mídia oculta|Media weggelaten|"
    r"Media omessi|Archivo omitido|Media tidak disertakan)>|"
    r"(?P<what>image|video|audio|sticker|GIF|document|Contact card|Kontaktkarte|Bild|Video|Audio|Sticker|"
    r"Dokument|imagen|vídeo|audio|documento|imagem|afbeelding) (?:omitted|weggelassen|omitido|omitida|omis|"
    r"oculto|oculta|weggelaten)|"
    r"(?P<doc>\S.*) • \d+ (?:page|pages|Seite|Seiten|páginas?) (?:document )?omitted"
)
_DELETED = frozenset({"This message was deleted", "You deleted this message", "Diese Nachricht wurde gelöscht.",
                      "Se eliminó este mensaje.", "Este mensaje fue eliminado"})
_WHAT = {"image": "image", "bild": "image", "imagen": "image", "imagem": "image", "afbeelding": "image",
         "gif": "video", "video": "video", "vídeo": "video", "audio": "audio", "sticker": "sticker"}
_EXTENSIONS = {
    "jpg": "image", "jpeg": "image", "png": "image", "heic": "image", "gif": "image",
    "webp": "sticker", "mp4": "video", "3gp": "video", "mov": "video",
    "opus": "audio", "ogg": "audio", "m4a": "audio", "mp3": "audio", "aac": "audio", "amr": "audio",
}


def media_type_of(filename: str) -> str:
    """The message kind a file name suggests: image, video, audio, sticker, or document."""
    return _EXTENSIONS.get(filename.rpartition(".")[2].lower(), "document")


def classify(author: str | None, text: str) -> tuple[Kind, str | None, str]:
    """(kind, attached file name, media type) of a message's body."""
    if len(text) > 300:
        return (Kind.TEXT if author is not None else Kind.SYSTEM), None, ""
    first = text.partition("\n")[0] if "\n" in text else text
    if first and (first[0] in _STRIP or first[-1] in _STRIP):
        first = first.strip(_STRIP)
    if first.endswith(_OMITTED_ENDS):
        attached = _ATTACHED.search(first) if first.endswith(">") else None
        if attached:
            name = attached["name"].strip()
            return Kind.MEDIA, name, media_type_of(name)
        omitted = _OMITTED.fullmatch(first)
        if omitted:
            what = omitted["what"]
            kind = _WHAT.get(what.lower(), "document") if what else ("document" if omitted["doc"] else "")
            return Kind.MEDIA, None, kind
    elif first.endswith(")"):
        attached = _FILE_ATTACHED.fullmatch(first)
        if attached:
            name = attached["name"].strip()
            return Kind.MEDIA, name, media_type_of(name)
    if author is None:
        return Kind.SYSTEM, None, ""
    if first in _DELETED:
        return Kind.DELETED, None, ""
    if text.startswith("\u200e") and SYSTEM.match(first):  # iOS marks system lines in a group with U+200E
        return Kind.SYSTEM, None, ""
    return Kind.TEXT, None, ""


_NUMBERS = {**{str(i): i for i in range(60)}, **{f"{i:02d}": i for i in range(60)}}


def _clock(hour: int, minute: int, second: int, word: str | None) -> tuple[int, int, int] | None:
    """24-hour time of a header, or None when impossible ('13:37 p.m.' is 13:37, as WhatsApp wrote it)."""
    if word and hour <= 12:
        pm = meridiem_is_pm(word)
        if pm is True and hour < 12:
            hour += 12
        elif pm is False and hour == 12:
            hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def _finish(stamp: datetime, author: str | None, first: str, more: list[str] | None) -> ChatMessage:
    text = first if not more else "\n".join([first, *more])
    if not text and author is not None:
        return ChatMessage(stamp, author, text, Kind.EMPTY)
    kind, attachment, media_type = classify(author, text)
    if kind is Kind.SYSTEM:
        author = None  # iOS names the group as the author of its system lines
    return ChatMessage(stamp, author, text, kind, attachment, media_type)


def parse(lines: Iterable[str], fmt: ExportFormat) -> Iterator[ChatMessage]:
    """The messages of the file, in file order. A line that looks like a header but holds an impossible date
    or time is kept as text of the message before it."""
    match = HEADER.match
    order = fmt.order
    last_date, valid_day, year, month, mday = "", False, 0, 0, 0
    number = _NUMBERS
    marks = LEADING_MARKS
    stamp: datetime | None = None
    author: str | None = None
    first = ""
    more: list[str] | None = None
    size = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line and line[0] in marks:
            line = line.lstrip(marks)
        found = match(line)
        if found is not None:
            date_text, a, _sep, b, c, before, h, m, s, word, _close = found.groups()
            if date_text != last_date:  # consecutive messages mostly share their date
                last_date, day = date_text, date_under(order, a, b, c)
                valid_day = day is not None
                if day is not None:
                    year, month, mday = day.year, day.month, day.day
            if word is None and before is None:
                hour, minute, second = number.get(h, 99), number.get(m, 99), number.get(s, 0) if s else 0
                valid_time = hour < 24 and minute < 60 and second < 60
            else:
                hms = _clock(int(h), int(m), int(s) if s else 0, before or word)
                valid_time = hms is not None
                if hms is not None:
                    hour, minute, second = hms
            if valid_time and valid_day:
                if stamp is not None:
                    yield _finish(stamp, author, first, more)
                stamp = datetime(year, month, mday, hour, minute, second)
                end = found.end()
                i = line.find(": ", end)
                if i > end:
                    author, first = line[end:i], line[i + 2:]
                else:
                    author, first = split_author(line[end:])
                more, size = None, len(first)
                continue
        if stamp is None:
            continue
        size += len(line) + 1
        if size > MAX_MESSAGE:
            raise too_long(None)  # the first pass refused these, unless it took one of the lines for a header
        if more is None:
            more = [line]
        else:
            more.append(line)
    if stamp is not None:
        yield _finish(stamp, author, first, more)
