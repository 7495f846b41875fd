"""Readable device details from a User-Agent string (browser and version, operating system)."""

from __future__ import annotations

import re

_BROWSERS = (  # order matters: Edge and Opera also say Chrome, Chrome also says Safari
    ("Edge", r"Edg(?:e|A|iOS)?/([\d.]+)"),
    ("Opera", r"OPR/([\d.]+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/([\d.]+)"),
    ("Chrome", r"(?:Chrome|CriOS)/([\d.]+)"),
    ("Safari", r"Version/([\d.]+).*Safari/"),
)
_SYSTEMS = (
    ("Android", r"Android ([\d.]+)"),
    ("iOS", r"(?:iPhone|iPad).*? OS ([\d_]+)"),
    ("Windows", r"Windows NT ([\d.]+)"),
    ("macOS", r"Mac OS X ([\d_.]+)"),
    ("ChromeOS", r"CrOS \S+ ([\d.]+)"),
    ("Linux", r"Linux()"),
)


def _first(patterns: tuple[tuple[str, str], ...], user_agent: str) -> str:
    for name, pattern in patterns:
        match = re.search(pattern, user_agent)
        if match:
            version = match.group(1).replace("_", ".")
            major = ".".join(version.split(".")[:2]) if name in ("macOS", "iOS", "Android") else version.split(".")[0]
            return f"{name} {major}".strip()
    return "Unknown"


def describe_user_agent(user_agent: str) -> tuple[str, str]:
    """('Chrome 156', 'Linux'), ('Safari 17', 'iOS 17.4'), or 'Unknown' parts."""
    return _first(_BROWSERS, user_agent), _first(_SYSTEMS, user_agent)
