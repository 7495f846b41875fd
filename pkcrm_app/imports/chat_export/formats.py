"""How a WhatsApp "Export chat" line starts: the header pattern, clock words, and the file's date order.

Every export line that opens a message starts with a date and a time, either in brackets (iOS:
`[16/03/2022, 15:10:17] `) or followed by a dash (Android: `16/03/2022, 15:10 - `). The order of day,
month and year is not written anywhere: `detect` reads the whole file once and keeps the order under
which every date is valid (a first field above 12 means day first); when several remain, the one whose
dates lie closest together wins (a chat moves a day at a time, not a month), and day first breaks a tie.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

# Spaces WhatsApp puts in timestamps: plain, no-break (U+00A0) and narrow no-break (U+202F, before AM/PM).
_SP = "[ \u00a0\u202f]"
# Marks that may open a line (U+200E/U+200F direction marks, a byte-order mark) and are not part of it.
LEADING_MARKS = "\u200e\u200f\ufeff\u202a\u202b\u202c"
# 12-hour clock words, as written by locales we have seen (normalised by `meridiem_is_pm`).
_MERIDIEM = (
    rf"[AaPp]\.?{_SP}?[Mm]\.?|vorm\.|nachm\.|[fe]\.?{_SP}?m\.?|午前|午後|上午|下午|오전|오후|ص|م"
)
_MERIDIEM_FIRST = "午前|午後|上午|下午|오전|오후"  # Chinese, Japanese and Korean write it before the time
# Groups: 1 date, 2 a, 3 sep, 4 b, 5 c, 6 meridiem before, 7 h, 8 m, 9 s, 10 meridiem after, 11 close.
HEADER = re.compile(
    rf"\[?(?P<date>(?P<a>\d{{1,4}})(?P<sep>[./-]) ?(?P<b>\d{{1,2}})(?P=sep) ?(?P<c>\d{{2,4}}))\.?,?{_SP}*"
    rf"(?:(?P<pre>{_MERIDIEM_FIRST}){_SP}*)?"
    rf"(?P<h>\d{{1,2}})[:.](?P<m>\d{{2}})(?:[:.](?P<s>\d{{2}}))?\.?"
    rf"(?:{_SP}*(?P<ap>{_MERIDIEM}))?"
    rf"(?P<close>\]{_SP}?|{_SP}+[-\u2013]{_SP}+)"
)
# What a system line says (iOS writes them as "Group: \u200e<text>", so they look authored).
SYSTEM = re.compile(
    r"Messages and calls are end-to-end encrypted|Messages to this group are now secured|"
    r"Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt|Los mensajes y las llamadas están cifrados|"
    r".* (?:added|removed|left|joined using this group's invite link|created (?:group|this group)|"
    r"changed the subject|changed this group's (?:icon|settings)|changed the group description|"
    r"deleted this group's icon|changed their phone number|changed to \+|security code (?:with .* )?changed|"
    r"turned (?:on|off) disappearing messages|hinzugefügt|entfernt|hat die Gruppe verlassen|"
    r"hat den Betreff|añadió|salió|cambió el asunto)\b.*|"
    r"You (?:were added|added|removed|left|created|changed|joined|turned|blocked|unblocked)\b.*|"
    r"Missed (?:voice|video) call|Waiting for this message.*|This chat is with a business account.*",
    re.DOTALL,
)
_PM_WORDS = frozenset({"pm", "nachm.", "e.m.", "em", "午後", "下午", "오후", "م"})
_AM_WORDS = frozenset({"am", "vorm.", "f.m.", "fm", "午前", "上午", "오전", "ص"})
MAX_AUTHORS = 2000  # distinct authors a chat may have (a big group) before the file is refused
# Characters of one line, and of one message (its lines joined): four times WhatsApp's own 65,536-character
# limit, so no real message is refused, and a longer one is refused with its line number, never cut.
MAX_LINE = 256 * 1024
MAX_MESSAGE = MAX_LINE


class ExportFormatError(ValueError):
    """The file is not a WhatsApp chat export we can read; the message says why, in plain words."""


class DateOrder(enum.StrEnum):
    DMY = "day/month/year"
    MDY = "month/day/year"
    YMD = "year/month/day"


def meridiem_is_pm(word: str) -> bool | None:
    """True for PM, False for AM, None when the word is not a clock word."""
    key = word.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").lower()
    if key.replace(".", "") in ("am", "pm"):
        key = key.replace(".", "")
    if key in _PM_WORDS:
        return True
    if key in _AM_WORDS:
        return False
    return None


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if len(text) <= 2 else value


def date_under(order: DateOrder, a: str, b: str, c: str) -> date | None:
    """The date the three fields mean under an order, or None when they mean none."""
    try:
        if order is DateOrder.YMD:
            return date(int(a), int(b), int(c)) if len(a) == 4 else None
        if len(a) > 2 or len(b) > 2:
            return None
        if order is DateOrder.DMY:
            return date(_year(c), int(b), int(a))
        return date(_year(c), int(a), int(b))
    except ValueError:
        return None


@dataclass
class ExportFormat:
    """What `detect` learned about one file."""

    order: DateOrder
    bracketed: bool  # iOS style
    twelve_hour: bool
    headers: int  # lines that open a message (an upper bound on what `parse` yields)
    authors: dict[str, int] = field(default_factory=dict)  # author -> messages (system lines have none)


@dataclass
class _OrderScore:
    valid: int = 0
    spread: int = 0  # sum of day gaps between consecutive distinct dates
    last: int | None = None


def _resolve(scores: dict[DateOrder, _OrderScore]) -> DateOrder:
    best = max(s.valid for s in scores.values())
    if best == 0:
        raise ExportFormatError("no line has a valid date")
    fitting = [o for o, s in scores.items() if s.valid == best]
    preference = [DateOrder.DMY, DateOrder.MDY, DateOrder.YMD]
    return min(fitting, key=lambda o: (scores[o].spread, preference.index(o)))


def split_author(rest: str) -> tuple[str | None, str]:
    """'Name: text' -> (name, text); a line without an author (a system line) -> (None, line)."""
    i = rest.find(": ")
    if i > 0:
        return rest[:i], rest[i + 2:]
    j = rest.find(":")
    if j > 0 and rest[j + 1:].strip() in ("", "."):
        return rest[:j], ""  # 'Name:.' / 'Name:' : a message without a body (a disappearing one)
    return None, rest


def too_long(start: int | None) -> ExportFormatError:
    where = f"the message that starts on line {start}" if start else "a message"
    return ExportFormatError(f"{where} is longer than {MAX_MESSAGE:,} characters: "
                             "this is not a WhatsApp chat export we can read")


def detect(lines: Iterable[str]) -> ExportFormat:
    """First pass over the whole file: check it is an export, learn its date order, count messages and authors.

    Raises ExportFormatError for anything else (the first line must open a message, as in every export; no
    message may be longer than MAX_MESSAGE).
    """
    scores = {order: _OrderScore() for order in DateOrder}
    match = HEADER.match
    headers = bracketed = meridiem = 0
    authors: dict[str, int] = {}
    seen_text = False
    previous_date = ""
    start = size = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if line and line[0] in LEADING_MARKS:
            line = line.lstrip(LEADING_MARKS)
        found = match(line)
        if found is None:
            if not seen_text and line.strip():
                raise ExportFormatError(f"line {number} should start with a date and a time: "
                                        "this is not a WhatsApp chat export")
            size += len(line) + 1
            if size > MAX_MESSAGE:
                raise too_long(start)
            continue
        seen_text = True
        headers += 1
        start, size = number, len(line) - found.end()
        if line[0] == "[":
            bracketed += 1
        if found.group(10) or found.group(6):
            meridiem += 1
        end = found.end()
        i = line.find(": ", end)
        author = line[end:i] if i > end else split_author(line[end:])[0]
        if i > end and line.startswith("\u200e", i + 2) and SYSTEM.match(line, i + 3):
            author = None  # an iOS system line: the group is not a person
        if author is not None:
            if author not in authors and len(authors) >= MAX_AUTHORS:
                raise ExportFormatError(f"more than {MAX_AUTHORS} people write in this chat")
            authors[author] = authors.get(author, 0) + 1
        key = found.group(1)
        if key == previous_date:
            continue
        previous_date = key
        a, b, c = found.group(2, 4, 5)
        for order in DateOrder:
            day = date_under(order, a, b, c)
            if day is not None:
                ordinal = day.toordinal()
                score = scores[order]
                score.valid += 1
                if score.last is not None:
                    score.spread += abs(ordinal - score.last)
                score.last = ordinal
    if headers == 0:
        raise ExportFormatError("the file is empty: no message found")
    return ExportFormat(order=_resolve(scores), bracketed=bracketed * 2 > headers,
                        twelve_hour=meridiem * 2 > headers, headers=headers, authors=authors)
