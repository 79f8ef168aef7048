"""Errors from Python conversions of traced values, leaked tracers and bad static_argnums (DESIGN.md 9).

Each message must name what went wrong, the traced function, the user's own line, the argument the
value depends on and the fix; messages are built lazily, only when shown.
"""

import os

import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.staging import StagingTrace

THIS_FILE = os.path.basename(__file__)


def uses_python_if(x):
    if x > 0:  # the line the error must name
        return x
    return -x


IF_LINE = uses_python_if.__code__.co_firstlineno + 1


def test_python_if_on_a_tracer():
    with pytest.raises(fl.errors.TracerBoolConversionError) as info:
        fl.make_jaxpr(uses_python_if)(np.float32(1.0))
    message = str(info.value)
    assert "uses_python_if" in message
    assert f"{THIS_FILE}:{IF_LINE}" in message
    assert "x" in message.split("depends on the traced argument(s)")[1].split("\n")[0]
    assert "lax.cond" in message or "fnp.where" in message
    assert "bool[]" in message  # the type of the offending value


def test_error_types_are_type_errors_as_in_jax():
    errors = fl.errors
    assert issubclass(errors.TracerBoolConversionError, errors.ConcretizationTypeError)
    for cls in (
        errors.ConcretizationTypeError,
        errors.TracerBoolConversionError,
        errors.TracerIntegerConversionError,
        errors.TracerArrayConversionError,
    ):
        assert issubclass(cls, TypeError)


def test_argument_names_reach_the_message():
    def f(params, scale):
        if params["w"].sum() > scale:
            return scale
        return 0.0

    with pytest.raises(fl.errors.TracerBoolConversionError) as info:
        fl.make_jaxpr(f)({"w": np.ones(3, np.float32)}, 2.0)
    message = str(info.value)
    assert "params['w']" in message and "scale" in message


def test_python_and_or_not_on_tracers():
    for fun in (lambda x: x > 0 and x < 1, lambda x: not x, lambda x: bool(x)):
        with pytest.raises(fl.errors.TracerBoolConversionError):
            fl.make_jaxpr(fun)(np.float32(1.0))


def test_index_message_names_index():
    with pytest.raises(fl.errors.TracerIntegerConversionError, match="__index__"):
        fl.make_jaxpr(lambda x: range(x))(np.int32(1))


def test_int_of_a_tracer():
    def to_int(x):
        return int(x)

    with pytest.raises(fl.errors.TracerIntegerConversionError) as info:
        fl.make_jaxpr(to_int)(np.float32(1.0))
    message = str(info.value)
    assert "to_int" in message and f"{THIS_FILE}:{to_int.__code__.co_firstlineno + 1}" in message
    assert "int()" in message and "f32[]" in message


@pytest.mark.parametrize(
    "fun, error",
    [
        (lambda x: range(x), fl.errors.TracerIntegerConversionError),
        (lambda x: [0, 1][x], fl.errors.TracerIntegerConversionError),
        (lambda x: "abc"[x:], fl.errors.TracerIntegerConversionError),
        # A traced shape: JAX raises a TypeError ("Shapes must be 1D sequences of concrete values...").
        (lambda x: fnp.zeros((x, 2)), fl.errors.ConcretizationTypeError),
    ],
    ids=["range", "list_index", "slice_bound", "shape"],
)
def test_index_of_a_tracer(fun, error):
    with pytest.raises(error) as info:
        fl.make_jaxpr(fun)(np.int32(1))
    message = str(info.value)
    assert "i32[]" in message and "static" in message  # the value's type and the fix


@pytest.mark.parametrize("fun", [np.asarray, np.array], ids=["asarray", "array"])
def test_numpy_conversion_of_a_tracer(fun):
    with pytest.raises(fl.errors.TracerArrayConversionError) as info:
        fl.make_jaxpr(lambda x: fun(x))(np.ones(3, np.float32))
    message = str(info.value)
    assert "f32[3]" in message and "fnp" in message


def test_numpy_ufunc_on_a_tracer():
    # As in JAX: a raw NumPy function on a tracer asks for an ndarray, and that conversion raises.
    with pytest.raises(fl.errors.TracerArrayConversionError):
        fl.make_jaxpr(lambda x: np.sin(x))(np.ones(3, np.float32))


def test_float_of_a_tracer():
    def to_float(x):
        return float(x)

    with pytest.raises(fl.errors.ConcretizationTypeError) as info:
        fl.make_jaxpr(to_float)(np.float32(1.0))
    assert not isinstance(info.value, fl.errors.TracerBoolConversionError)
    message = str(info.value)
    assert "float()" in message and "to_float" in message and "x" in message


def test_item_of_a_tracer():
    with pytest.raises(fl.errors.ConcretizationTypeError):
        fl.make_jaxpr(lambda x: x.item())(np.float32(1.0))


def test_trace_state_is_restored_after_an_error():
    with pytest.raises(fl.errors.TracerBoolConversionError):
        fl.make_jaxpr(uses_python_if)(np.float32(1.0))
    out = fnp.asarray([1.0, 2.0]) * 2  # eager again
    assert type(out) is fl.Array and out.tolist() == [2.0, 4.0]
    assert (
        str(fl.make_jaxpr(lambda x: -x)(np.float32(1))) == "{ lambda ; a:f32[]. let b:f32[] = neg a in (b,) }"
    )


def test_python_control_flow_works_under_grad_without_jit():
    # Under grad the primal is concrete, so a Python `if` on it works (define-by-run).
    assert float(fl.grad(lambda x: x * x if x > 0 else -x)(3.0)) == 6.0
    assert float(fl.grad(lambda x: x * x if x > 0 else -x)(-2.0)) == -1.0


# ---------------------------------------------------------------------------------------------------
# Leaked tracers
# ---------------------------------------------------------------------------------------------------

_leaked = []


def leaks(x):
    y = x * 2.0  # the line that creates the leaked value
    _leaked.append(y)
    return x


LEAK_LINE = leaks.__code__.co_firstlineno + 1


def test_leaked_tracer_used_eagerly():
    _leaked.clear()
    fl.make_jaxpr(leaks)(np.float32(1.0))
    leaked = _leaked.pop()
    with pytest.raises(fl.errors.UnexpectedTracerError) as info:
        leaked + 1
    message = str(info.value)
    assert f"{THIS_FILE}:{LEAK_LINE}" in message
    assert "leaks" in message and "f32[]" in message


def test_leaked_tracer_used_in_another_trace():
    _leaked.clear()
    fl.make_jaxpr(leaks)(np.float32(1.0))
    leaked = _leaked.pop()
    with pytest.raises(fl.errors.UnexpectedTracerError) as info:
        fl.make_jaxpr(lambda z: z + leaked)(np.float32(1.0))
    assert f"{THIS_FILE}:{LEAK_LINE}" in str(info.value)


def test_leaked_tracer_in_a_numpy_function():
    _leaked.clear()
    fl.make_jaxpr(leaks)(np.float32(1.0))
    leaked = _leaked.pop()
    with pytest.raises(fl.errors.UnexpectedTracerError):
        fnp.sin(leaked)


# ---------------------------------------------------------------------------------------------------
# Lazy messages
# ---------------------------------------------------------------------------------------------------


def test_messages_are_built_lazily():
    calls = []

    def build():
        calls.append(1)
        return "the message"

    for cls in (
        fl.errors.ConcretizationTypeError,
        fl.errors.TracerBoolConversionError,
        fl.errors.TracerIntegerConversionError,
        fl.errors.TracerArrayConversionError,
        fl.errors.UnexpectedTracerError,
    ):
        calls.clear()
        error = cls(build)
        assert calls == []  # constructing is cheap
        assert str(error) == "the message"
        assert str(error) == "the message"
        assert calls == [1]  # built once
        assert str(cls("plain text")) == "plain text"


def test_raised_errors_do_not_build_their_message_until_shown(monkeypatch):
    calls = []
    original = StagingTrace.describe_origin

    def counting(self, tracer):
        calls.append(1)
        return original(self, tracer)

    monkeypatch.setattr(StagingTrace, "describe_origin", counting)
    for _ in range(3):
        with pytest.raises(fl.errors.TracerBoolConversionError) as info:
            fl.make_jaxpr(uses_python_if)(np.float32(1.0))
    assert calls == []
    assert "depends on the traced argument(s) x" in str(info.value)
    assert calls == [1]


# ---------------------------------------------------------------------------------------------------
# static_argnums
# ---------------------------------------------------------------------------------------------------


def test_static_argnums_out_of_range():
    with pytest.raises(ValueError, match="static_argnums") as info:
        fl.make_jaxpr(lambda x: x, static_argnums=5)(np.float32(1.0))
    assert "5" in str(info.value) and "1 positional argument" in str(info.value)


def test_static_argnums_negative_out_of_range():
    with pytest.raises(ValueError, match="static_argnums"):
        fl.make_jaxpr(lambda x: x, static_argnums=-2)(np.float32(1.0))
