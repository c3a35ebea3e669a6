"""Start and stop gunicorn for the app and for the bare Flask app, on 127.0.0.1 only.

Each server runs in its own process group (master and workers) so that
`Server.stop` ends exactly the processes this script started. Use
`ServerPool` in a `with` block, or call `stop()` in a `finally`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lib.common import HOST, RATELIMIT_PREFIX, REDIS_URL, ROOT, VENV_BIN, free_port, pg_url

APP_SPEC = "backend:create_app()"
BARE_SPEC = "benchmarks.bare_app:app"


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn's own process group: master and workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def gunicorn_command(app_spec: str, port: int, workers: int, threads: int) -> list[str]:
    return [str(VENV_BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads),
            "-b", f"{HOST}:{port}", "--chdir", str(ROOT), "--log-level", "warning", app_spec]


def start_gunicorn(name: str, app_spec: str, env_extra: dict, workers: int, threads: int, workdir: Path,
                   probe: str, port: int | None = None) -> Server:
    """Start gunicorn and wait until `probe` answers 200 (60 s at most)."""
    port = port or free_port()
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(env_extra)
    log_path = workdir / f"gunicorn-{name}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(gunicorn_command(app_spec, port, workers, threads), cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, port, proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {name} exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url(probe), timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"gunicorn {name} did not answer on {probe} within 60 s")


def app_env(dbname: str, with_redis: bool = True) -> dict[str, str]:
    """The app's production-shaped environment for a benchmark database."""
    env = {"DATABASE_URL": pg_url(dbname), "BRIDGELINE_ENV": "production",
           "SECRET_KEY": secrets.token_urlsafe(36), "LOG_LEVEL": "WARNING",
           "RATELIMIT_KEY_PREFIX": RATELIMIT_PREFIX}
    if with_redis:
        env["REDIS_URL"] = REDIS_URL
    return env


@dataclass
class ServerPool:
    """The servers of one benchmark run; `stop_all` (or leaving the `with` block) stops every one."""

    workers: int
    threads: int
    workdir: Path
    servers: list[Server] = field(default_factory=list)

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start_app(self, name: str, dbname: str, with_redis: bool = True, env: dict | None = None) -> Server:
        server = start_gunicorn(name, APP_SPEC, {**app_env(dbname, with_redis), **(env or {})}, self.workers,
                                self.threads, self.workdir, "/healthz")
        self.servers.append(server)
        return server

    def start_bare(self) -> Server:
        server = start_gunicorn("bare", BARE_SPEC, {"LOG_LEVEL": "WARNING"}, self.workers, self.threads,
                                self.workdir, "/bare")
        self.servers.append(server)
        return server

    def stop(self, server: Server) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def describe(self, app_spec: str = APP_SPEC) -> str:
        kind = "sync" if self.threads == 1 else "gthread"
        return (f"`gunicorn -w {self.workers} --threads {self.threads} -b 127.0.0.1:PORT '{app_spec}'` "
                f"({kind} workers)")
