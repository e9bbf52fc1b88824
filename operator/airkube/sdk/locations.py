"""Where in the user's files something was defined: the file and line of a DAG, a task, a
dependency or an error, found on the call stack (or in a traceback), skipping airkube's own
frames and those of installed libraries and the standard library."""

import os
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import FrameType, TracebackType

_AIRKUBE_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_LIBRARY_DIRS = tuple(
    dict.fromkeys(
        str(Path(p).resolve()) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    )
)


@dataclass(frozen=True, order=True)
class Location:
    """A line of a file (``line`` None: the file as a whole)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        where = display_path(self.file)
        return f"{where}:{self.line}" if self.line else where


def display_path(file: str) -> str:
    """``file`` relative to the working directory when it is under it, else as it is."""
    return _display_path(file, os.getcwd())


@lru_cache(maxsize=256)  # a 10,000-problem file names its path 10,000 times
def _display_path(file: str, cwd: str) -> str:
    try:
        relative = os.path.relpath(file, cwd)
    except ValueError:  # pragma: no cover - another drive on Windows
        return file
    return file if relative.startswith("..") else relative


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>, <stdin>
        return False
    path = os.path.abspath(filename)
    return not path.startswith(_AIRKUBE_DIR) and not path.startswith(_LIBRARY_DIRS)


def caller_location() -> Location | None:
    """The innermost frame of the current stack in a user's file: where the SDK was called."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if _is_user_file(frame.f_code.co_filename):
            return Location(os.path.abspath(frame.f_code.co_filename), frame.f_lineno)
        frame = frame.f_back
    return None


def traceback_location(tb: TracebackType | None) -> Location | None:
    """The innermost frame of a traceback in a user's file: the user's line that failed."""
    found: Location | None = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _is_user_file(filename):
            found = Location(os.path.abspath(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
