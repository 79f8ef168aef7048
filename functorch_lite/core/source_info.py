"""Finding the user's own line: the innermost stack frame outside this package.

Example:
    >>> user_line()          # called from user code
    'my_script.py:12'
"""

from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_library_file(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen ")


def user_frame(skip: int = 1):
    """The innermost frame whose file is not part of functorch_lite (or None)."""
    frame = sys._getframe(skip)
    while frame is not None and _is_library_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_line(skip: int = 1) -> str | None:
    """``'file.py:LINE'`` of the user's innermost frame, or None when called from the library only."""
    frame = user_frame(skip + 1)
    if frame is None:
        return None
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def describe_function(fun) -> str:
    """``'name at file.py:LINE'`` for a Python function, as error messages show it."""
    code = getattr(fun, "__code__", None)
    name = getattr(fun, "__qualname__", getattr(fun, "__name__", repr(fun)))
    if code is None:
        return name
    return f"{name} at {os.path.basename(code.co_filename)}:{code.co_firstlineno}"
