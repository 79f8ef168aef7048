"""jaxtyping + typeguard annotations on functorch_lite Arrays, eagerly and on tracers (DESIGN.md 3).

``isinstance(tracer, fl.Array)`` is True and tracers carry ``.shape``/``.dtype``, so shape annotations such as
``Float[fl.Array, "batch dim"]`` check inside ``fl.make_jaxpr`` too.

Two typeguard-4 facts shape this file (neither is a functorch_lite bug):

* typeguard 4 instruments a function by re-parsing its module's source, and then reads string constants
  inside annotations as forward references: ``"batch dim"`` written in a signature is a SyntaxError at
  decoration time. The annotations are therefore module-level aliases (``BatchDim``).
* ``@jaxtyped(typechecker=typeguard.typechecked)`` hands typeguard a function that jaxtyping generated at
  run time, which typeguard 4 cannot find in any source file: it warns ``InstrumentationWarning:
  instrumentor did not find the target function -- not typechecking`` and checks nothing
  (jaxtyping issue #344). So the new-style decorator gets ``typeguard_checker``: the same typeguard
  checks (``typeguard.check_type``) applied by a wrapper. The old double-decorator form
  ``@jaxtyped @typechecked``, which typeguard 4 does instrument, is tested as well.
"""

import functools
import inspect
import warnings

import numpy as np
import pytest
from jaxtyping import Float, Int, jaxtyped
from typeguard import TypeCheckError, check_type, typechecked

import functorch_lite as fl
import functorch_lite.numpy as fnp

BatchDim = Float[fl.Array, "batch dim"]
Batch = Float[fl.Array, "batch"]
Vector = Float[fl.Array, "n"]
Scalar = Float[fl.Array, ""]
IntVector = Int[fl.Array, "n"]
IntScalar = Int[fl.Array, ""]


def typeguard_checker(fn):
    """A typechecker for ``jaxtyped``: typeguard's ``check_type`` on every argument and the return value."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            annotation = signature.parameters[name].annotation
            if annotation is not inspect.Parameter.empty:
                check_type(value, annotation)
        out = fn(*args, **kwargs)
        if signature.return_annotation is not inspect.Signature.empty:
            check_type(out, signature.return_annotation)
        return out

    return checked


@jaxtyped(typechecker=typeguard_checker)
def row_sums(x: BatchDim) -> Batch:
    return x.sum(axis=1)


@jaxtyped(typechecker=typeguard_checker)
def dot(x: Vector, y: Vector) -> Scalar:
    return (x * y).sum()


@jaxtyped(typechecker=typeguard_checker)
def bad_return(x: BatchDim) -> Batch:
    return x.sum(axis=0)  # shape (dim,), not (batch,)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # jaxtyping deprecates the double-decorator form

    @jaxtyped
    @typechecked
    def row_sums_typeguard(x: BatchDim) -> Batch:
        return x.sum(axis=1)


CHECKED = [row_sums, row_sums_typeguard]


def _is_type_error(error):
    return isinstance(error, (TypeCheckError, TypeError))


@pytest.mark.parametrize("fun", CHECKED, ids=["jaxtyped_typechecker", "jaxtyped_typechecked"])
def test_accepts_float32_array_of_rank_2(fun):
    out = fun(fnp.ones((2, 3)))
    assert type(out) is fl.Array and out.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("fun", CHECKED, ids=["jaxtyped_typechecker", "jaxtyped_typechecked"])
@pytest.mark.parametrize(
    "bad",
    [
        fnp.ones((2, 3), dtype=fnp.int32),
        fnp.ones(3),
        fnp.ones((2, 3, 1)),
        np.ones((2, 3), np.float32),  # a NumPy array is not an fl.Array
    ],
    ids=["int32", "rank_1", "rank_3", "numpy"],
)
def test_rejects_wrong_dtype_rank_or_type(fun, bad):
    with pytest.raises(Exception) as info:
        fun(bad)
    assert _is_type_error(info.value)


def test_shared_dimension_is_checked():
    assert float(dot(fnp.ones(3), fnp.ones(3))) == 3.0
    with pytest.raises(Exception) as info:
        dot(fnp.ones(3), fnp.ones(4))
    assert _is_type_error(info.value)


def test_return_annotation_is_checked():
    with pytest.raises(Exception) as info:
        bad_return(fnp.ones((2, 3)))
    assert _is_type_error(info.value)


@pytest.mark.parametrize("fun", CHECKED, ids=["jaxtyped_typechecker", "jaxtyped_typechecked"])
def test_checks_pass_on_tracers_inside_make_jaxpr(fun):
    closed = fl.make_jaxpr(fun)(fnp.ones((2, 3)))
    assert str(closed) == "{ lambda ; a:f32[2,3]. let b:f32[2] = reduce_sum[axes=(1,)] a in (b,) }"


def test_tracers_are_arrays_with_shape_and_dtype():
    seen = []

    def f(x):
        seen.append((isinstance(x, fl.Array), x.shape, x.dtype))
        assert isinstance(x, BatchDim)
        assert not isinstance(x, Float[fl.Array, "batch"])
        assert not isinstance(x, Int[fl.Array, "batch dim"])
        return x

    fl.make_jaxpr(f)(fnp.ones((2, 3)))
    assert seen == [(True, (2, 3), np.dtype(np.float32))]


@pytest.mark.parametrize("fun", CHECKED, ids=["jaxtyped_typechecker", "jaxtyped_typechecked"])
def test_checks_reject_bad_tracers_inside_make_jaxpr(fun):
    for bad in (fnp.ones((2, 3), dtype=fnp.int32), fnp.ones(3)):
        with pytest.raises(Exception) as info:
            fl.make_jaxpr(fun)(bad)
        assert _is_type_error(info.value)


def test_shared_dimension_is_checked_on_tracers():
    assert "reduce_sum" in str(fl.make_jaxpr(dot)(fnp.ones(3), fnp.ones(3)))
    with pytest.raises(Exception) as info:
        fl.make_jaxpr(dot)(fnp.ones(3), fnp.ones(4))
    assert _is_type_error(info.value)


def test_int_annotation():
    @jaxtyped(typechecker=typeguard_checker)
    def total(x: IntVector) -> IntScalar:
        return x.sum()

    assert int(total(fnp.asarray([1, 2, 3]))) == 6
    assert "i32[3]" in str(fl.make_jaxpr(total)(fnp.asarray([1, 2, 3])))
    with pytest.raises(Exception) as info:
        total(fnp.ones(3))
    assert _is_type_error(info.value)
