"""The chat-export parser on every shared export fixture (figures from INDEX.md) and on our own format fixtures."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from pkcrm_app.imports.chat_export import (
    ChatMessage,
    DateOrder,
    ExportFile,
    ExportFormatError,
    Kind,
    chat_title,
    parse_text,
    phone_digits,
)
from tests.support.data import SHARED_DATA

EXPORTS = SHARED_DATA / "exports"
OWN = Path(__file__).resolve().parents[2] / "fixtures" / "chat_exports"
needs_shared = pytest.mark.skipif(not EXPORTS.is_dir(), reason=f"shared export fixtures absent at {EXPORTS}")


def read(path: Path) -> list[ChatMessage]:
    export = ExportFile(path)
    try:
        fmt = export.scan()
        with export.messages(fmt) as messages:
            return list(messages)
    finally:
        export.close()


def written(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Messages people wrote with a body (what chat-miner's target keeps)."""
    return [m for m in messages if m.author is not None and m.kind is not Kind.EMPTY]


CHAT_MINER = ["test_[mmddyy]_24hrs.txt", "test_ddmmyy_24hrs.txt", "test_mmddyy_24hrs.txt",
              "test_mmddyyyy_12hrs.txt", "test_yyyymmdd_24hrs.txt"]


@needs_shared
@pytest.mark.parametrize("name", CHAT_MINER)
def test_chat_miner_exports_match_its_target(name: str) -> None:
    target = json.loads((EXPORTS / "chat-miner" / "target.json").read_text(encoding="utf-8"))
    messages = read(EXPORTS / "chat-miner" / name)
    ours = [{"timestamp": m.timestamp.isoformat(), "author": m.author, "message": m.text.replace("\n", " ")}
            for m in reversed(written(messages))]
    assert ours == target  # 6 messages, newest first, 2-line bodies joined
    assert [m.kind for m in messages].count(Kind.SYSTEM) == 2  # 'created group', 'You were added'
    assert [m.kind for m in messages].count(Kind.EMPTY) == 1  # 'John Doe:.'


LEGACY = {  # file: (rows in the target csv incl. system lines, first, last timestamp)
    "test_dateformat1.txt": (10, "2014-12-24 17:08", "2020-01-18 14:53"),
    "test_dateformat2.txt": (4, "2019-09-24 23:30", "2019-12-24 11:30"),
    "test_dateformat3.txt": (4, "2022-12-14 13:34", "2022-12-24 11:35"),
    "test_dateformat4.txt": (4, "2022-10-09 23:37", "2022-10-12 14:37"),
    "test_dateformat5.txt": (4, "2021-10-21 15:21:45", "2021-10-24 15:21:48"),
    "test_unicode.txt": (3, "2022-10-09 22:37", "2022-10-09 22:37"),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(LEGACY))
def test_chat_miner_legacy_exports_match_their_target_rows(name: str) -> None:
    rows, first, last = LEGACY[name]
    messages = read(EXPORTS / "chat-miner" / "legacy-71990a9" / name)
    assert len(messages) == rows
    stamps = sorted(m.timestamp for m in messages)
    assert stamps[0] == datetime.fromisoformat(first)
    assert stamps[-1] == datetime.fromisoformat(last)
    target = (EXPORTS / "chat-miner" / "legacy-71990a9" / name.replace(".txt", "_target.csv")).read_text("utf-8")
    expected_system = target.count(",System,")
    assert sum(m.kind is Kind.SYSTEM for m in messages) == expected_system


def test_unicode_no_break_space_in_the_meridiem_and_emoji_authors() -> None:
    if not EXPORTS.is_dir():
        pytest.skip(f"shared export fixtures absent at {EXPORTS}")
    messages = read(EXPORTS / "chat-miner" / "legacy-71990a9" / "test_unicode.txt")
    assert [m.author for m in messages] == ["John Doe", "John Doe 🤓", "🤓"]
    assert messages[0].text == "Testing abnormal\u00a0unicode"


PORT = ["_chat.txt", "_chat_file1.txt", "_chat_file2.txt", "_chat_file3.txt", "_chat_file4.txt",
        "_chat_file5.txt", "_chat_file6.txt", "whatsapp_chat.zip"]
PORT_EXPECTED = {  # author: (messages, first, last) from the source's EXPECTED table
    "person1": (3, "2022-03-16 15:20:25", "2022-03-24 20:19:38"),
    "person2": (3, "2022-03-16 15:25:38", "2022-03-26 18:52:15"),
    "person3": (1, "2022-03-16 15:26:48", "2022-03-16 15:26:48"),
    "person4": (2, "2020-07-14 22:05:54", "2022-03-20 20:08:51"),
}


@needs_shared
@pytest.mark.parametrize("name", PORT)
def test_datadonation_exports_give_the_expected_author_figures(name: str) -> None:
    messages = read(EXPORTS / "port-whatsapp-datadonation" / name)
    assert len(messages) == 10 and sum(m.kind is Kind.SYSTEM for m in messages) == 1
    minute_only = name in ("_chat_file3.txt", "_chat_file4.txt")  # Android files carry no seconds
    for author, (count, first, last) in PORT_EXPECTED.items():
        mine = [m.timestamp for m in messages if m.author == author]
        assert len(mine) == count
        expected = [datetime.fromisoformat(first), datetime.fromisoformat(last)]
        if minute_only:
            expected = [e.replace(second=0) for e in expected]
        assert [min(mine), max(mine)] == expected
    hi = next(m for m in messages if m.author == "person1")
    assert hi.text.replace("\n", "") in ("Hi shiva!", "Hi shiva!")  # 'Hi \n\nshiva!' in files 2-6 stays one message
    location = [m for m in messages if "Location:" in m.text]
    assert location and location[0].text.startswith("\u200eLocation:")  # a mark inside the body is kept


def _one(name: str) -> list[ChatMessage]:
    return read(OWN / name)


def test_android_24h_day_first_with_multiline_media_omitted_deleted_and_system() -> None:
    messages = _one("android_24h_ddmmyy.txt")
    assert [m.kind for m in messages] == [Kind.SYSTEM, Kind.TEXT, Kind.TEXT, Kind.MEDIA, Kind.DELETED, Kind.TEXT]
    assert messages[2].text == "Yes! It is 450 EUR.\nDelivery is free within 20 km.\n\nPick-up also possible."
    assert messages[3].timestamp == datetime(2023, 3, 14, 18, 2) and messages[3].attachment is None


def test_android_12h_month_first_with_narrow_no_break_space() -> None:
    messages = _one("android_12h_mmddyy.txt")
    assert [m.timestamp for m in messages] == [
        datetime(2023, 3, 13, 9, 15), datetime(2023, 3, 13, 12, 5), datetime(2023, 3, 13, 0, 40),
        datetime(2023, 3, 14, 23, 59), datetime(2023, 3, 14, 23, 59)]
    assert messages[1].author == "Sam Seller" and messages[1].text == "Hello Alice: what can I do for you?"
    assert messages[4].kind is Kind.SYSTEM and messages[4].author is None


def test_ios_brackets_with_seconds_system_marks_media_and_attachment() -> None:
    messages = _one("ios_brackets_seconds.txt")
    assert [m.kind for m in messages] == [Kind.SYSTEM, Kind.SYSTEM, Kind.TEXT, Kind.MEDIA, Kind.MEDIA, Kind.TEXT]
    assert messages[3].media_type == "image" and messages[3].attachment is None
    assert messages[4].attachment == "00000012-PHOTO-2023-03-13-09-18-30.jpg" and messages[4].media_type == "image"
    assert messages[5].timestamp == datetime(2023, 3, 13, 9, 19, 59) and messages[5].text.endswith("\nof the sofa")


def test_german_dotted_dates_and_localised_media_line() -> None:
    messages = _one("german_dotted.txt")
    assert messages[0].kind is Kind.SYSTEM and messages[3].kind is Kind.MEDIA
    assert messages[-1].timestamp == datetime(2022, 3, 31, 20, 19)


def test_year_first_dates() -> None:
    messages = _one("iso_yyyy_mm_dd.txt")
    assert [m.timestamp.date().isoformat() for m in messages] == ["2023-03-13", "2023-03-13", "2023-12-01"]


def test_crlf_byte_order_mark_and_left_to_right_marks() -> None:
    messages = _one("crlf_lrm_bom.txt")
    assert [m.author for m in messages] == ["Alice Martin", "Sam Seller", "Alice Martin"]
    assert messages[1].text == "Hello\nsecond line"
    assert all("\r" not in m.text for m in messages)


def test_ambiguous_dates_resolved_over_the_whole_file_by_the_closest_dates() -> None:
    assert ExportFile(OWN / "ambiguous_day_first.txt").scan().order is DateOrder.DMY
    assert ExportFile(OWN / "ambiguous_month_first.txt").scan().order is DateOrder.MDY
    _, messages = parse_text("01/02/23, 10:00 - A: x\n13/02/23, 10:00 - B: y\n")
    assert messages[0].timestamp == datetime(2023, 2, 1, 10, 0)  # 13 in the first field: day first


def test_a_zip_with_media(tmp_path: Path) -> None:
    archive = tmp_path / "WhatsApp Chat with +49 151 2345678.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(OWN / "android_attached_zip_chat.txt", "WhatsApp Chat with +49 151 2345678.txt")
        zf.writestr("IMG-20230313-WA0001.jpg", b"\xff\xd8\xff fake jpeg")
        zf.writestr("PTT-20230313-WA0002.opus", b"OggS fake")
        zf.writestr("__MACOSX/._IMG-20230313-WA0001.jpg", b"junk")
    export = ExportFile(archive)
    assert export.is_zip and export.title == "+49 151 2345678" and phone_digits(export.title) == "491512345678"
    assert export.media_names() == {"IMG-20230313-WA0001.jpg", "PTT-20230313-WA0002.opus"}
    messages = read(archive)
    assert [(m.attachment, m.media_type) for m in messages[1:]] == [
        ("IMG-20230313-WA0001.jpg", "image"), ("PTT-20230313-WA0002.opus", "audio"), ("quote.pdf", "document")]
    assert messages[1].text.endswith("\nthe corner where it goes")
    assert export.read_media("IMG-20230313-WA0001.jpg") == b"\xff\xd8\xff fake jpeg"
    assert export.read_media("quote.pdf") is None  # named in the chat, not in the zip


@pytest.mark.parametrize("content", [b"", b"hello world\nthis is not an export\n", b"\xff\xfe\x00garbage\x81",
                                     b"PK\x03\x04broken zip", "13/03/23, 09:15 - A: ok\n".encode("utf-16-le")])
def test_unrecognised_files_fail_with_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes(content)
    with pytest.raises(ExportFormatError):
        ExportFile(path).scan()


def test_a_damaged_zip_member_is_refused_before_any_message(tmp_path: Path) -> None:
    archive = tmp_path / "chat.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", "".join(f"13/03/23, 09:{i % 60:02d} - A: message {i}\n" for i in range(2000)))
    data = bytearray(archive.read_bytes())
    data[200] ^= 0xFF  # inside the compressed chat
    archive.write_bytes(bytes(data))
    with pytest.raises(ExportFormatError):
        ExportFile(archive).scan()


def test_chat_titles_and_phone_numbers_from_file_names() -> None:
    assert chat_title("WhatsApp Chat with Alice Martin.txt") == "Alice Martin"
    assert chat_title("WhatsApp Chat - Alice Martin (2).zip") == "Alice Martin"
    assert chat_title("WhatsApp-Chat mit Anna.txt") == "Anna"
    assert chat_title("_chat.txt") is None
    assert phone_digits("+1 (415) 555-0134") == "14155550134" and phone_digits("Alice") is None


def test_ios_group_system_lines_name_no_author() -> None:
    fmt = ExportFile(OWN / "ios_brackets_seconds.txt").scan()
    assert fmt.authors == {"Alice Martin": 2, "Sam Seller": 2}
    assert [m.author for m in _one("ios_brackets_seconds.txt")][:2] == [None, None]


@pytest.mark.parametrize(("name", "stamps"), [
    ("korean_meridiem_first.txt", [datetime(2023, 3, 13, 15, 15), datetime(2023, 3, 13, 0, 5),
                                   datetime(2023, 3, 14, 12, 30)]),
    ("japanese_meridiem_first.txt", [datetime(2023, 3, 13, 15, 15, 9), datetime(2023, 3, 13, 11, 59)]),
])
def test_clock_words_before_the_time_and_spaced_dotted_dates(name: str, stamps: list[datetime]) -> None:
    messages = _one(name)
    assert [m.timestamp for m in messages] == stamps
    assert messages[0].author in ("김민수", "山田")


def test_swedish_and_german_clock_words() -> None:
    swedish = parse_text("2023-03-13 3:15 em - Anna: Hej\n2023-03-13 9:15 fm - Anna: Hej då\n")[1]
    german = parse_text("13.03.23, 9:15 nachm. - Anna: Hallo\n13.03.23, 12:15 vorm. - Anna: Tschüss\n")[1]
    assert [m.timestamp.hour for m in swedish + german] == [15, 9, 21, 0]
