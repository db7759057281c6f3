"""Serve the dashboard: ``streamlit run dashboard/app.py`` as a child process on 127.0.0.1.

``v7 dashboard [--state-dir DIR] [--port N]`` calls :func:`serve`; Ctrl-C stops the server
cleanly and returns 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dashboard.page import APP_PATH

DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 10.0
REPO_ROOT = APP_PATH.parent.parent


def build_command(
    state_dir: str | None,
    port: int,
    host: str = DEFAULT_HOST,
    refresh: float | None = None,
    python: str = sys.executable,
) -> list[str]:
    """Return the streamlit command line: headless, no usage stats, app args after ``--``."""
    cmd = [
        python, "-m", "streamlit", "run", str(APP_PATH),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--server.runOnSave", "false",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--",
    ]  # fmt: skip
    if state_dir:
        cmd += ["--state-dir", str(Path(state_dir).resolve())]
    if refresh is not None:
        cmd += ["--refresh", f"{refresh:g}"]
    return cmd


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the repo root importable, Streamlit's telemetry off."""
    env = dict(os.environ if base is None else base)
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    # `python -m` would put the current directory first on sys.path: started from a directory
    # holding another checkout, the app would import that checkout's `dashboard` package.
    env["PYTHONSAFEPATH"] = "1"
    return env


def port_free(host: str, port: int) -> bool:
    """True when ``port`` can be bound on ``host`` now (Streamlit binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server does: a port left in TIME_WAIT by a dashboard just stopped is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def url(host: str, port: int) -> str:
    """The address to open in a browser."""
    return f"http://{host}:{port}"


def start(
    state_dir: str | None,
    port: int,
    host: str = DEFAULT_HOST,
    refresh: float | None = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start the server without waiting; stop it with :func:`stop`.

    ``new_session`` detaches it from the terminal's Ctrl-C (tests stop it themselves).
    """
    return subprocess.Popen(
        build_command(state_dir, port, host, refresh),
        env=child_env(),
        start_new_session=new_session,
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> int:
    """Stop the server: SIGINT (Streamlit's clean shutdown), then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode if proc.returncode is not None else 0


def serve(
    state_dir: str | None,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    refresh: float | None = None,
) -> int:
    """Run the dashboard until it exits or Ctrl-C; return its exit code (0 after Ctrl-C).

    A port already in use is exit 2 before anything starts: the URL would show the other server.
    """
    if not port_free(host, port):
        print(f"v7 dashboard: port {port} on {host} is already in use (another dashboard?); "
              f"pick another with --port, e.g. --port {port + 1 if port < 65535 else 8502}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"v7 dashboard: {url(host, port)}  (state dir: {state_dir or 'default'})", flush=True)
    proc = start(state_dir, port, host, refresh)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc)
        return 0
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    # SIGTERM (e.g. `make demo`'s `kill 0`) takes the same clean path as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dashboard.serve [--state-dir DIR] [--port N] [--refresh S]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dashboard.serve")
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--refresh", type=float, default=None)
    args = parser.parse_args(argv)
    return serve(args.state_dir, args.port, refresh=args.refresh)


if __name__ == "__main__":
    sys.exit(main())
