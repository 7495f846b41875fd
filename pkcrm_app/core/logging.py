"""The app's own log lines (failed sign-ins, refused codes, cut-off tabs) reach stderr with time and level.

Reflex and uvicorn configure only their own loggers, so without this every `pkcrm_app.*` INFO line vanished.
The standard library's dictConfig is enough here: one handler, one format, no extra dependency.
"""

from __future__ import annotations

import logging
import logging.config

# Modules log under their own name (pkcrm_app.*) or under a topic shared by several modules (pkcrm.sso, pkcrm.auth).
APP_LOGGERS = ("pkcrm_app", "pkcrm")


def configure_logging(level: str) -> None:
    """Send the app's records at `level` and above to stderr (idempotent: the app module may load twice)."""
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {root: {"level": level, "handlers": ["stderr"], "propagate": False} for root in APP_LOGGERS},
    })
