"""Download progress: one line on a terminal, nothing in a pipe or with -q."""

from __future__ import annotations

import io
from pathlib import Path

from forge_pip.cli.pip_install import CliReporter
from forge_pip.models import DistFile


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(reporter: CliReporter) -> None:
    a = DistFile(url="file:///a-1.0-py3-none-any.whl", filename="a-1.0-py3-none-any.whl")
    b = DistFile(url="file:///b-1.0-py3-none-any.whl", filename="b-1.0-py3-none-any.whl")
    reporter.on_download_start(a, 2_000_000)
    reporter.on_download_start(b, None)
    reporter.on_download_progress(a, 1_000_000)
    reporter.on_download_done(a, Path("/x/a"))
    reporter.on_download_done(b, Path("/x/b"))


def test_progress_line_on_a_terminal() -> None:
    tty = _Tty()
    _feed(CliReporter(0, stream=tty))
    text = tty.getvalue()
    assert "Downloading 2 file(s)" in text and "2.0 MB" in text
    assert text.endswith("\r"), "the line is cleared when the last download is done"


def test_no_progress_in_a_pipe_or_quiet() -> None:
    pipe = io.StringIO()
    _feed(CliReporter(0, stream=pipe))
    assert pipe.getvalue() == ""
    tty = _Tty()
    _feed(CliReporter(1, stream=tty))
    assert tty.getvalue() == ""
