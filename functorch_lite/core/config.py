"""Global configuration flags, read with ``config.<name>`` and set with ``config.update``.

Example:
    >>> import functorch_lite as fl
    >>> fl.config.update("enable_x64", True)
    >>> fl.config.enable_x64
    True
"""

from __future__ import annotations

import os
from typing import Any

_DEFAULTS: dict[str, Any] = {
    # 64-bit types off: float32/int32 by default, as in JAX.
    "enable_x64": os.environ.get("FUNCTORCH_LITE_ENABLE_X64", "0") not in ("0", "", "false", "False"),
    "disable_jit": os.environ.get("FUNCTORCH_LITE_DISABLE_JIT", "0") not in ("0", "", "false", "False"),
    "log_compiles": False,
    "explain_cache_misses": False,
    "debug_nans": False,
}


class Config:
    """Holds the flags; attribute reads are plain attribute lookups (cheap on hot paths)."""

    def __init__(self) -> None:
        for name, value in _DEFAULTS.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_listeners", [])

    def add_listener(self, listener: Any) -> None:
        """Call ``listener(name, value)`` whenever a flag changes (e.g. jit drops caches on x64 flips)."""
        self._listeners.append(listener)

    def update(self, name: str, value: Any) -> None:
        """Set flag ``name`` to ``value``.

        Example: ``config.update("enable_x64", True)``.
        """
        if name not in _DEFAULTS:
            known = ", ".join(sorted(_DEFAULTS))
            raise AttributeError(f"Unrecognized config option: {name!r}. Known options: {known}.")
        changed = getattr(self, name) != value
        object.__setattr__(self, name, value)
        if changed:
            for listener in self._listeners:
                listener(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        self.update(name, value)

    def values(self) -> dict[str, Any]:
        """A snapshot of every flag, e.g. for cache keys."""
        return {name: getattr(self, name) for name in _DEFAULTS}


config = Config()


def silence_floating_point_warnings() -> None:
    """Hide NumPy's floating-point RuntimeWarnings raised inside functorch_lite (log(0), inf - inf, ...).

    JAX never warns for these; a warnings filter costs nothing until a warning is emitted, unlike
    wrapping every operation in ``np.errstate``. Warnings from the user's own NumPy code are unaffected.
    """
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"functorch_lite(\.|$)")


silence_floating_point_warnings()
