"""The scale-out stack on one machine, for tests and benchmarks: HAProxy (``deploy/haproxy.cfg``)
in front of N app instances (``gunicorn app:server``) and M OCPP servers (``flask --app app
ocpp-server``), all on 127.0.0.1, sharing one database, one Redis for rate limits, one secret key
and one folder for browser import uploads: what deploy/README.md asks of several machines.

    with Stack("postgresql://root@127.0.0.1:5432/mydb", workdir=tmp) as stack:
        requests.get(f"{stack.balancer_url}/login")      # the app through HAProxy
        websocket(f"{stack.ocpp_url}/CP-1")              # a charger through HAProxy
        stack.stop_app(0)                                 # SIGTERM one instance, wait for exit

The database is migrated once here, before any process starts (two instances migrating one
empty database at the same time would race). Every process runs in its own session (process
group) with its output in ``workdir/<name>.log``; leaving the block stops them all (SIGTERM,
then SIGKILL for what is left).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg"
HOST = "127.0.0.1"
START_WITHIN_S = 90.0  # an app instance builds Dash and its pages: ~5-15 s on a busy machine
STOP_WITHIN_S = 30.0
# Port layout from base_port: the balancer, its stats page, then the app and OCPP instances.
BALANCER, STATS, FIRST_APP, FIRST_OCPP = 0, 1, 10, 50


def haproxy_binary() -> str | None:
    """HAProxy's path (Debian's package puts it in /usr/sbin, often not on PATH), or None."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    return found


def render_haproxy_config(
    *, bind: str, port: int, stats_port: int, apps: list[int], ocpp: list[int]
) -> str:
    """``deploy/haproxy.cfg`` with its placeholders filled: one ``server`` line per instance."""
    app_lines = [f"    server app{i} {HOST}:{p} check" for i, p in enumerate(apps)]
    ocpp_lines = [f"    server ocpp{i} {HOST}:{p} check" for i, p in enumerate(ocpp)]
    text = TEMPLATE.read_text()
    for key, value in {
        "@@BIND@@": bind,
        "@@PORT@@": str(port),
        "@@STATS_PORT@@": str(stats_port),
        "@@APP_SERVERS@@": "\n".join(app_lines),
        "@@OCPP_SERVERS@@": "\n".join(ocpp_lines),
    }.items():
        text = text.replace(key, value)
    if re.search(r"@@[A-Z_]+@@", text):
        raise ValueError("deploy/haproxy.cfg has a placeholder local.py does not fill")
    return text


def http_status(url: str, timeout_s: float = 2.0) -> tuple[int, str]:
    """(status, body) of a GET; (0, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode("utf-8", "replace")
    except (OSError, ValueError) as error:
        return 0, str(error)


class StackError(RuntimeError):
    """A process of the stack did not start, or exited; the message ends with its log."""


class _Process:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            out.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: gunicorn's workers go with it
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, within_s: float = STOP_WITHIN_S) -> None:
        """SIGTERM (gunicorn finishes the requests in flight), then SIGKILL the whole group."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=within_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers: workers of a dead master
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            self.popen.wait(timeout=10)


class Stack:
    """HAProxy, ``apps`` app instances and ``ocpp`` OCPP servers on 127.0.0.1 over one database;
    a context manager that returns once every process is healthy and HAProxy sees them all UP.

    ``env`` is added to every process's environment (after the stack's own settings, so it can
    override them, e.g. ``POLARIS_OCPP_ALLOW_NO_PASSWORD``)."""

    def __init__(
        self,
        database_url: str,
        *,
        apps: int = 2,
        ocpp: int = 2,
        base_port: int = 18000,
        workdir: Path,
        redis_url: str = "redis://127.0.0.1:6379/15",
        env: dict[str, str] | None = None,
        app_workers: int = 1,
        app_threads: int = 4,
    ) -> None:
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.app_workers, self.app_threads = app_workers, app_threads
        self.port = base_port + BALANCER
        self.stats_port = base_port + STATS
        self.app_ports = [base_port + FIRST_APP + i for i in range(apps)]
        self.ocpp_ports = [base_port + FIRST_OCPP + i for i in range(ocpp)]
        self.balancer_url = f"http://{HOST}:{self.port}"
        self.ocpp_url = f"ws://{HOST}:{self.port}/ocpp"
        self.app_urls = [f"http://{HOST}:{p}" for p in self.app_ports]
        self.ocpp_urls = [f"ws://{HOST}:{p}/ocpp" for p in self.ocpp_ports]
        self.stats_url = f"http://{HOST}:{self.stats_port}/stats"
        self.uploads = self.workdir / "uploads"
        # What makes the instances one app: the same database, secret key (a cookie signed by
        # one is valid on all), rate-limit store and upload folder.
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("POLARIS_", "DATABASE_URL"))
        }
        self.env: dict[str, str] = {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "POLARIS_ENV": "production",
            "POLARIS_DEMO": "0",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "RATELIMIT_STORAGE_URI": redis_url,
            # Each stack its own counters, so two runs on one Redis never share a limit.
            "RATELIMIT_KEY_PREFIX": f"polaris-{secrets.token_hex(4)}",
            "POLARIS_IMPORT_UPLOAD_FOLDER": str(self.uploads),
            "POLARIS_INSTANCE": str(self.workdir / "instance"),
            "POLARIS_CONNECT_TIMEOUT_S": "2",
            "POLARIS_PROXY_COUNT": "1",  # HAProxy's X-Forwarded-For names the person
            # Simulated chargers have no OCPP password; on loopback only.
            "POLARIS_OCPP_ALLOW_NO_PASSWORD": "1",
            **(env or {}),
        }
        self._apps: list[_Process | None] = [None] * apps
        self._ocpp: list[_Process | None] = [None] * ocpp
        self._haproxy: _Process | None = None

    # --- the context manager -------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise StackError("HAProxy is not installed (Debian: apt-get install haproxy)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._migrate()
        config = self.workdir / "haproxy.cfg"
        config.write_text(
            render_haproxy_config(
                bind=HOST,
                port=self.port,
                stats_port=self.stats_port,
                apps=self.app_ports,
                ocpp=self.ocpp_ports,
            )
        )
        check = subprocess.run(
            [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise StackError(f"haproxy.cfg refused:\n{check.stdout}{check.stderr}")
        for i in range(len(self._apps)):
            self._apps[i] = self._spawn_app(i)
        for i in range(len(self._ocpp)):
            self._ocpp[i] = self._spawn_ocpp(i)
        self._haproxy = _Process(
            "haproxy", [binary, "-db", "-f", str(config)], self.env, self.workdir / "haproxy.log"
        )
        for i in range(len(self._apps)):
            self._wait_healthy(f"app{i}", self._apps[i], self.app_urls[i])
        for i in range(len(self._ocpp)):
            self._wait_healthy(f"ocpp{i}", self._ocpp[i], self._ocpp_health(i))
        for i in range(len(self._apps)):
            self.wait_for_state("app", f"app{i}", "UP")
        for i in range(len(self._ocpp)):
            self.wait_for_state("ocpp", f"ocpp{i}", "UP")

    def close(self) -> None:
        for process in [self._haproxy, *self._apps, *self._ocpp]:
            if process is not None:
                process.stop()

    # --- one instance --------------------------------------------------------------------------

    def stop_app(self, i: int) -> None:
        """SIGTERM app instance ``i`` and wait until it has exited."""
        process = self._apps[i]
        if process is not None:
            process.stop()

    def start_app(self, i: int) -> None:
        """Start app instance ``i`` again; returns once HAProxy sends it requests."""
        self.stop_app(i)
        process = self._apps[i] = self._spawn_app(i)
        self._wait_healthy(f"app{i}", process, self.app_urls[i])
        self.wait_for_state("app", f"app{i}", "UP")

    def stop_ocpp(self, i: int) -> None:
        """SIGTERM OCPP server ``i`` and wait until it has exited (its chargers' sockets close)."""
        process = self._ocpp[i]
        if process is not None:
            process.stop()

    def start_ocpp(self, i: int) -> None:
        self.stop_ocpp(i)
        process = self._ocpp[i] = self._spawn_ocpp(i)
        self._wait_healthy(f"ocpp{i}", process, self._ocpp_health(i))
        self.wait_for_state("ocpp", f"ocpp{i}", "UP")

    def alive(self, name: str) -> bool:
        """Whether process ``name`` (app0, ocpp1, haproxy) is running."""
        processes = {p.name: p for p in [self._haproxy, *self._apps, *self._ocpp] if p}
        return name in processes and processes[name].alive()

    def pids(self) -> dict[str, list[int]]:
        """The process id of every running process by name (app0, ocpp1, haproxy), for CPU
        accounting; a list because a name may one day stand for several (an app's workers are
        children of its gunicorn, not listed here)."""
        processes = [self._haproxy, *self._apps, *self._ocpp]
        return {p.name: [p.popen.pid] for p in processes if p is not None and p.alive()}

    def logs(self) -> dict[str, Path]:
        """Every process's log file by name (app0, ocpp1, haproxy)."""
        return {p.stem: p for p in sorted(self.workdir.glob("*.log"))}

    # --- HAProxy's view ------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's state of every server by backend: ``{"app": {"app0": "UP", ...}, "ocpp":
        {...}}`` (UP, DOWN, or a transition like "UP 1/2"); empty when HAProxy does not answer."""
        return {
            backend: {server: row["status"] for server, row in servers.items()}
            for backend, servers in self.server_stats().items()
        }

    def server_stats(self) -> dict[str, dict[str, dict[str, str]]]:
        """HAProxy's whole CSV row of every server by backend and name (``stot``: requests or
        connections sent to it, ``status``, ``chkfail``, ``downtime``...)."""
        status, body = http_status(f"{self.stats_url};csv")
        if status != 200:
            return {}
        found: dict[str, dict[str, dict[str, str]]] = {}
        for row in csv.DictReader(io.StringIO(body.lstrip("# "))):
            if row["svname"] not in ("FRONTEND", "BACKEND"):
                found.setdefault(row["pxname"], {})[row["svname"]] = dict(row)
        return found

    def wait_for_state(
        self, backend: str, server: str, state: str, within_s: float = START_WITHIN_S
    ) -> float:
        """Wait until HAProxy calls ``server`` ``state`` (UP, DOWN); returns the seconds it took."""
        started = time.monotonic()
        haproxy = self._haproxy

        def reached() -> bool:
            if haproxy is not None and not haproxy.alive():
                raise StackError(f"haproxy exited:\n{haproxy.tail()}")
            return self.stats().get(backend, {}).get(server) == state

        self._wait(f"HAProxy marking {backend}/{server} {state}", reached, within_s, haproxy)
        return time.monotonic() - started

    # --- internals -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        from data.core.db import make_engine, upgrade

        engine = make_engine(self.database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def _spawn_app(self, i: int) -> _Process:
        command = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{self.app_ports[i]}"]
        command += ["--workers", str(self.app_workers), "--threads", str(self.app_threads)]
        if self.app_threads > 1:
            command += ["--worker-class", "gthread"]
        command += ["--graceful-timeout", "20", "--no-control-socket", "app:server"]
        return _Process(f"app{i}", command, self.env, self.workdir / f"app{i}.log")

    def _spawn_ocpp(self, i: int) -> _Process:
        command = [sys.executable, "-m", "flask", "--app", "app", "ocpp-server"]
        command += ["--host", HOST, "--port", str(self.ocpp_ports[i])]
        return _Process(f"ocpp{i}", command, self.env, self.workdir / f"ocpp{i}.log")

    def _ocpp_health(self, i: int) -> str:
        return f"http://{HOST}:{self.ocpp_ports[i]}"

    def _wait_healthy(self, name: str, process: _Process | None, base: str) -> None:
        assert process is not None

        def healthy() -> bool:
            if not process.alive():
                raise StackError(f"{name} exited ({process.popen.returncode}):\n{process.tail()}")
            status, body = http_status(f"{base}/healthz")
            return status == 200 and json.loads(body).get("status") == "ok"

        self._wait(f"{name} healthy", healthy, START_WITHIN_S, process)

    def _wait(
        self,
        what: str,
        check: Callable[[], bool],
        within_s: float,
        process: _Process | None = None,
    ) -> None:
        deadline = time.monotonic() + within_s
        while not check():
            if time.monotonic() > deadline:
                tail = f":\n{process.tail()}" if process is not None else ""
                raise StackError(f"{what}: not within {within_s:g} s{tail}")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    """``python -m deploy.local DATABASE_URL [WORKDIR]``: run the stack until Ctrl+C."""
    args = argv if argv is not None else sys.argv[1:]
    if not args:
        print(main.__doc__, file=sys.stderr)
        return 2
    workdir = Path(args[1] if len(args) > 1 else "instance/stack")
    with Stack(args[0], workdir=workdir) as stack:
        summary: dict[str, Any] = {
            "balancer": stack.balancer_url,
            "ocpp": stack.ocpp_url,
            "apps": stack.app_urls,
            "ocpp_servers": stack.ocpp_urls,
            "stats": stack.stats_url,
            "logs": str(workdir),
        }
        print(json.dumps(summary, indent=2), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
