"""Runs the real app (`reflex run --env prod`) in a subprocess for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class AppServer:
    """One app process: full (frontend + backend on one port) or backend-only."""

    def __init__(self, env: dict[str, str], log_path: Path, *, port: int = 3000, backend_only: bool = False) -> None:
        self.env, self.log_path, self.port, self.backend_only = env, log_path, port, backend_only
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300) -> AppServer:
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: stop the app running there before the tests")
        args = [str(BIN / "reflex"), "run", "--env", "prod", "--loglevel", "info"]
        if self.backend_only:
            args += ["--backend-only", "--backend-port", str(self.port)]
        elif self.port != 3000:  # prod serves frontend and backend on one port: name it for both
            args += ["--frontend-port", str(self.port), "--backend-port", str(self.port)]
        # The app accepts only its public URL's origin (CORS, the /_event websocket): by default, the URL served here.
        env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "REFLEX_TELEMETRY_ENABLED": "false",
               "PKCRM_PUBLIC_URL": self.url, **self.env}
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        probe = "/healthz" if self.backend_only else "/login"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited early; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + probe, timeout=2, follow_redirects=True).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app not ready after {timeout}s; log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        deadline = time.monotonic() + 10
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)
