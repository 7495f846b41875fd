"""The app's own INFO lines reach stderr once logging is configured (before, nothing configured them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pkcrm_app.core.logging import configure_logging


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("pkcrm_app")
    yield logger
    for handler in list(logger.handlers):  # hand the hierarchy back to pytest's caplog for the other tests
        logger.removeHandler(handler)
    logger.propagate, logger.level = True, logging.NOTSET


def test_an_info_line_of_the_app_reaches_stderr_with_its_level(app_logger: logging.Logger,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("pkcrm_app.accounts.service").info("login refused for %s", "someone")
    logging.getLogger("pkcrm_app.accounts.service").debug("not at this level")
    err = capsys.readouterr().err
    assert "INFO pkcrm_app.accounts.service: login refused for someone" in err
    assert "not at this level" not in err


def test_warning_level_hides_info(app_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    logging.getLogger("pkcrm_app.ui.guard").info("tab cut off")
    logging.getLogger("pkcrm_app.ui.guard").warning("setvar refused")
    err = capsys.readouterr().err
    assert "setvar refused" in err and "tab cut off" not in err
