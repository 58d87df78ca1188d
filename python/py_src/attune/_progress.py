"""Progress reporting for long calls: the ``progress=`` argument and the tqdm progress bar.

The native code calls ``resolve(progress)`` once per call and then the callable it returns
(at most every 100 ms, and at every start, finish and status message) with an
``attune.ProgressUpdate``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeAlias

from . import _native

Callback: TypeAlias = Callable[[_native.ProgressUpdate], object]
ProgressArg: TypeAlias = bool | Callback | None

__all__ = ["Callback", "ProgressArg", "TextProgress", "TqdmProgress", "resolve"]


def _in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    ip = get_ipython() if get_ipython is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _tqdm() -> Any | None:
    """``tqdm.auto.tqdm`` when tqdm is installed, else ``None``."""
    try:
        from tqdm.auto import tqdm
    except ModuleNotFoundError:
        return None
    return tqdm


class TqdmProgress:
    """Draws one tqdm bar per stage of a long call, and prints status messages above it."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar: Any = None

    def __call__(self, update: _native.ProgressUpdate) -> None:
        if update.kind == "start":
            self._close()
            self._bar = self._tqdm(total=update.total, desc=update.stage, leave=False)
        elif update.kind == "advance" and self._bar is not None:
            self._bar.update(update.done - self._bar.n)
        elif update.kind == "finish":
            if self._bar is not None:
                self._bar.update(update.done - self._bar.n)
            self._close()
        elif update.kind == "message" and update.message:
            self._tqdm.write(update.message)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class TextProgress:
    """Prints one line per start, finish and status message to stderr (no tqdm)."""

    def __call__(self, update: _native.ProgressUpdate) -> None:
        if update.kind == "start":
            total = f" of {update.total}" if update.total else ""
            print(f"{update.stage}: started{total}", file=sys.stderr, flush=True)
        elif update.kind == "finish":
            print(f"{update.stage}: done ({update.done})", file=sys.stderr, flush=True)
        elif update.kind == "message" and update.message:
            print(update.message, file=sys.stderr, flush=True)


def resolve(progress: ProgressArg) -> Callback | None:
    """The callback for a call's ``progress`` argument.

    ``None``: a tqdm bar when the call runs in a notebook and tqdm is installed, else nothing.
    ``True``: a tqdm bar (printed lines when tqdm is not installed). ``False``: nothing.
    A callable: it, called with each ``attune.ProgressUpdate``.
    """
    if progress is None:
        tqdm = _tqdm() if _in_notebook() else None
        return TqdmProgress(tqdm) if tqdm is not None else None
    if progress is True:
        tqdm = _tqdm()
        return TqdmProgress(tqdm) if tqdm is not None else TextProgress()
    if progress is False:
        return None
    if callable(progress):
        return progress
    raise TypeError(
        f"progress: give a callable, True, False or None, not {type(progress).__name__}"
    )
