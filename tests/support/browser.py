"""Playwright with Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import shutil

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium_missing() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (make test installs it: apt-get install -y chromium)"
    return None
