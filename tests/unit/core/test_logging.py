"""The app's own INFO lines reach stderr once logging is configured (before, nothing configured them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pkcrm_app.core.logging import APP_LOGGERS, configure_logging


@pytest.fixture
def app_logger() -> Iterator[None]:
    yield
    for logger in map(logging.getLogger, APP_LOGGERS):  # hand the hierarchy back to pytest's caplog
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate, logger.level = True, logging.NOTSET


def test_an_info_line_of_the_app_reaches_stderr_with_its_level(app_logger: None,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("pkcrm_app.accounts.identity.service").info("login refused for %s", "someone")
    logging.getLogger("pkcrm_app.accounts.identity.service").debug("not at this level")
    err = capsys.readouterr().err
    assert "INFO pkcrm_app.accounts.identity.service: login refused for someone" in err
    assert "not at this level" not in err
    logging.getLogger("pkcrm.auth").info("wrong code from %s", "10.0.0.1")  # a topic logger shared by modules
    assert "INFO pkcrm.auth: wrong code from 10.0.0.1" in capsys.readouterr().err


def test_warning_level_hides_info(app_logger: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    logging.getLogger("pkcrm_app.ui.guard").info("tab cut off")
    logging.getLogger("pkcrm_app.ui.guard").warning("setvar refused")
    err = capsys.readouterr().err
    assert "setvar refused" in err and "tab cut off" not in err
