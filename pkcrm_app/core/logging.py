"""The app's own log lines (failed sign-ins, refused codes, cut-off tabs) reach stderr with time and level.

Reflex and uvicorn configure only their own loggers, so without this every `pkcrm_app.*` INFO line vanished.
The standard library's dictConfig is enough here: one handler, one format, no extra dependency.
"""

from __future__ import annotations

import logging
import logging.config


def configure_logging(level: str) -> None:
    """Send `pkcrm_app.*` records at `level` and above to stderr (idempotent: the app module may load twice)."""
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {"pkcrm_app": {"level": level, "handlers": ["stderr"], "propagate": False}},
    })
