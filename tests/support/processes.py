"""Real processes for tests: free loopback ports, the production environment a server runs
with, ``gunicorn app:server`` until it answers, ``flask --app app ...`` commands in the
background with their output in a log file, waiting with a deadline, and every log printed
when a test fails (pytest shows it under "Captured stdout")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

from config import ROOT
from tests.support.web import TEST_SECRET

T = TypeVar("T")
LOG_TAIL = 6000  # characters of each log printed when a test fails


def free_port() -> int:
    """A loopback port nothing listens on now (connections are refused until someone does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without Polaris settings, as production: ``POLARIS_ENV``,
    a ``SECRET_KEY``, a 2 s connect timeout; then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLARIS_", "DATABASE_URL"))}
    env.update(
        POLARIS_ENV="production",
        SECRET_KEY=TEST_SECRET,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",  # the log shows each line as it is written
        POLARIS_CONNECT_TIMEOUT_S="2",
    )
    env.update(extra)
    return env


def http_get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return (
                response.status,
                dict(response.headers),
                response.read().decode("utf-8", "replace"),
            )
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def wait_for(
    what: str, check: Callable[[], T | None], within_s: float, *, every_s: float = 0.1
) -> T:
    """Poll ``check()`` until it returns something other than None (or False); fails naming
    ``what`` once ``within_s`` seconds have passed."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s:g} s")
        time.sleep(every_s)


class Background:
    """A command running in the background (from the repository's root) with stdout and stderr
    in ``log``; ``stop()`` ends it (SIGTERM, then SIGKILL), ``kill()`` kills it at once."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                list(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def assert_alive(self) -> None:
        assert self.alive(), f"{self.name} exited ({self.process.returncode}):\n{self.output()}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 10) -> None:
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


def flask_command(*args: str) -> list[str]:
    """``flask --app app ARGS`` with this interpreter (its process id is the command's)."""
    return [sys.executable, "-m", "flask", "--app", "app", *args]


@contextmanager
def logs_on_failure(processes: Sequence[Background]) -> Iterator[None]:
    """Print the end of every process's log when the block fails (they keep running)."""
    try:
        yield
    except BaseException:
        for p in processes:
            state = "running" if p.alive() else f"exited {p.process.returncode}"
            print(f"\n===== {p.name} ({state}), {p.log} =====\n{p.output()[-LOG_TAIL:]}")
        raise


class Gunicorn(NamedTuple):
    url: str
    log: Path
    process: Background


@contextmanager
def gunicorn(
    folder: Path,
    database_url: str,
    *,
    workers: int = 1,
    threads: int = 1,
    within_s: float = 20,
    **env: str,
) -> Iterator[Gunicorn]:
    """``gunicorn app:server`` in production mode on ``database_url`` (``env`` added), once it
    answers /healthz, healthy or not (at most ``within_s``); stopped at the end. More than one
    thread makes its workers threaded (gthread)."""
    port = free_port()
    log = folder / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads)]
    command += ["--no-control-socket", "app:server"]
    process = Background(
        "gunicorn",
        command,
        server_env(DATABASE_URL=database_url, POLARIS_INSTANCE=str(folder), **env),
        log,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        process.assert_alive()
        try:
            # 503: serving, without its database (the health check says so; some tests want it)
            return http_get(f"{base}/healthz")[0] in (200, 503)
        except OSError:
            return False

    try:
        try:
            wait_for("gunicorn answering /healthz", answers, within_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{process.output()}") from None
        yield Gunicorn(base, log, process)
    finally:
        process.stop(15)
