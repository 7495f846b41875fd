"""CSV for people who open it in a spreadsheet: a cell that starts like a formula is written as text.

Excel, LibreOffice and Google Sheets run a cell starting with `=`, `+`, `-` or `@` (and, after a tab or
carriage return, what follows) as a formula, so a name, device or note a stranger typed could run
`=HYPERLINK(...)` or worse in an admin's spreadsheet. Every CSV the app writes goes through `csv_writer`,
which puts a single quote before such a cell (OWASP's advice): the text stays readable, nothing runs.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The cell as a spreadsheet may safely open it: text that starts like a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, target: IO[str]) -> None:
        self._writer = csv.writer(target)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])


def csv_writer(target: IO[str]) -> SafeCsvWriter:
    """The only CSV writer the app uses."""
    return SafeCsvWriter(target)
