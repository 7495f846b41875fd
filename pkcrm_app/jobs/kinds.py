"""What a job kind is: its queue, and the worker that does one item of it (one worker per runner thread)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pkcrm_app.core.db import Database
from pkcrm_app.jobs.lease import LeaseQueue


def worker_name() -> str:
    """host:pid:random, unique per worker (at most 64 characters, the width of `lease_owner`)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker(Protocol):
    """Does the work of claimed rows; `run` records the outcome on the row (failed, retry at, done) itself."""

    owner: str
    lease: timedelta

    def recover(self) -> int:
        """Put right what dead workers left (rows whose lease ran out); returns how many rows moved."""
        ...

    def run(self, key: Any) -> None: ...

    def pending(self) -> int:
        """Rows of this kind not finished yet (`worker --once` stops at 0)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class JobKind:
    """A kind of job, named in flows/registry.py: `start` makes a worker for one runner thread."""

    name: str
    queue: LeaseQueue
    start: Callable[[Database], Worker]
    batch: int = 1  # rows claimed at once by one thread
    threads: int = 1  # threads of this kind in one runner (an import must not wait for another)
    idle: float = 0.5  # seconds between looks when nothing was due (a nudge wakes it sooner)
