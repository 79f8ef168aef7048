"""``debug_callback``: call a Python function on (concrete) values from inside transformed code. It is
effectful, so DCE and CSE keep it, and it runs inside jit-compiled plans with the actual values.

Example:
    >>> @fl.jit
    ... def f(x):
    ...     fl.debug.print("x is {}", x)
    ...     return x * 2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.jaxpr import effectful_primitives
from ..core.trace import Primitive
from ..transforms.ad import Zero  # noqa: F401  (rules below return no tangents)

debug_callback_p = Primitive(
    "debug_callback",
    impl=None,
    abstract_eval=lambda *avals, callback: [],
    multiple_results=True,
)
effectful_primitives.add("debug_callback")


def _eager(*args: Any, callback: Callable) -> list:
    callback(*args)
    return []


def _jvp(primals: list, tangents: list, *, callback: Callable) -> tuple[list, list]:
    debug_callback_p.bind(*primals, callback=callback)  # print the primal values; no outputs to differentiate
    return [], []


def _batch(axis_size: int, vals: list, dims: list, *, callback: Callable) -> tuple[list, list]:
    from ..transforms.batching import bdim_at_front

    debug_callback_p.bind(*[bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)], callback=callback)
    return [], []


debug_callback_p.eager = _eager
debug_callback_p.jvp = _jvp
debug_callback_p.batch = _batch
