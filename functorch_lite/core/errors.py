"""The exception types users see. Messages are built lazily, only when an error is shown.

Each message names what went wrong, the value's type (``f32[3]``), where it came from (the traced
function and the user's line) and the fix.

Example:
    >>> @fl.jit
    ... def f(x):
    ...     if x > 0: ...        # raises TracerBoolConversionError, suggesting lax.cond / fnp.where
"""

from __future__ import annotations

from collections.abc import Callable


class _LazyMessageError(Exception):
    """An exception whose text is produced by a callable the first time it is needed."""

    def __init__(self, message: str | Callable[[], str]):
        super().__init__()
        self._message = message

    def __str__(self) -> str:
        if callable(self._message):
            self._message = self._message()
        return self._message


class JAXTypeError(_LazyMessageError, TypeError):
    """Base of the tracer conversion errors; a TypeError, as in JAX."""


class ConcretizationTypeError(JAXTypeError):
    """A concrete (known) value was needed, but the value is abstract: it depends on a traced argument.

    Fix: mark the argument static (``jit(f, static_argnums=...)``), use ``lax.cond``/``fnp.where`` instead
    of Python control flow, or move the computation out of the traced function.
    """


class TracerBoolConversionError(ConcretizationTypeError):
    """``bool()`` (a Python ``if``/``while``/``and``) of a traced value. Use ``lax.cond`` or ``fnp.where``."""


class TracerIntegerConversionError(JAXTypeError):
    """``int()``/``__index__`` of a traced value (e.g. using it as a Python index or a range bound)."""


class TracerArrayConversionError(JAXTypeError):
    """``np.asarray`` (or another raw-numpy call) on a traced value. Use ``functorch_lite.numpy`` instead."""


class UnexpectedTracerError(_LazyMessageError):
    """A traced value escaped the transformation that created it (stored in a global, a list, ...)."""


class NonConcreteBooleanIndexError(JAXTypeError):
    """Boolean-mask indexing of a traced value: its result shape would depend on the data."""


class MissingRuleError(_LazyMessageError, NotImplementedError):
    """A primitive has no rule for a transformation (e.g. no batching rule)."""


class ShapeDtypeError(_LazyMessageError, TypeError):
    """A primitive got operands of incompatible shapes or dtypes."""


class ShapeError(_LazyMessageError, ValueError):
    """A primitive got an invalid shape or axis argument."""


class CompilerWarning(UserWarning):
    """jit's kernel compiler met a problem it works around: no C compiler or a failed build (the same plan
    runs on numpy), or a kernel cache it must not trust (a private one is used instead).

    Not a ``RuntimeWarning``, which functorch_lite hides for numpy's floating-point warnings. Silence it with
    ``warnings.filterwarnings("ignore", category=fl.errors.CompilerWarning)``.
    """
