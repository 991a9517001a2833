"""Forge's processes end through ``isolation.leave``: the interpreter's teardown is skipped, what a
normal exit does that anyone can observe is not. Each case runs side by side with Python's own
exit (``FORGE_FULL_EXIT=1``) and must give the same exit status, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import atexit, logging, os, sys, threading, time
    from forge_store.isolation import leave

    log = logging.getLogger("t")
    log.addHandler(logging.FileHandler(sys.argv[2]))
    log.warning("logged")  # flushed by logging's atexit shutdown
    atexit.register(lambda: print("atexit ran", flush=False))
    worker = threading.Thread(target=lambda: (time.sleep(0.2), print("thread done", flush=False)))
    worker.start()  # not a daemon: joined before the atexit callbacks
    sys.stdout.write("x" * 100000)
    sys.stderr.write("to stderr")
    code = sys.argv[1]
    if code == "closed-stdout":
        os.close(1)
        leave(0)
    leave(None if code == "none" else int(code) if code.lstrip("-").isdigit() else code)
    """
)


def _run(code: str, full: bool, log_file: str) -> tuple[int, bytes, bytes, str]:
    env = {**os.environ, "FORGE_FULL_EXIT": "1" if full else "0"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, code, log_file], capture_output=True, env=env, timeout=60, check=False
    )
    with open(log_file, encoding="utf-8") as fh:
        logged = fh.read()
    os.unlink(log_file)
    return proc.returncode, proc.stdout, proc.stderr, logged


@pytest.mark.parametrize("code", ["0", "3", "none", "a message", "256", "-1", "closed-stdout"])
def test_leave_exits_as_python_does(code: str, tmp_path: os.PathLike[str]) -> None:
    log_file = os.path.join(tmp_path, "log")
    fast = _run(code, full=False, log_file=log_file)
    full = _run(code, full=True, log_file=log_file)
    assert fast[0] == full[0]
    assert fast[1] == full[1]
    assert fast[3] == full[3] == "logged\n"
    if code != "closed-stdout":  # there, only the status is compared (Python reports the flush)
        assert fast[2] == full[2]
        assert fast[1].endswith(b"thread done\natexit ran\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "from forge_store.isolation import forge_main; forge_main()", "--version"],
        ["-c", "from forge_store.isolation import forge_main; forge_main()", "no-such-command"],
        ["-c", "from forge_store.isolation import forge_main; forge_main()", "create", "--help"],
        ["-m", "forge_pip", "--version"],
        ["-m", "forge_pip", "install", "--no-such-option"],
    ],
    ids=["forge-version", "forge-usage-error", "forge-help", "pip-version", "pip-usage-error"],
)
def test_entry_points_exit_as_before(argv: list[str], tmp_path: os.PathLike[str]) -> None:
    """The real entry points: the same status and output with either exit."""
    out = []
    for full in ("0", "1"):
        env = {**os.environ, "FORGE_FULL_EXIT": full, "FORGE_HOME": os.path.join(tmp_path, "home")}
        env.pop("PYTHONPATH", None)
        proc = subprocess.run([sys.executable, *argv], capture_output=True, env=env, timeout=120, check=False)
        out.append((proc.returncode, proc.stdout, proc.stderr))
    assert out[0] == out[1]
