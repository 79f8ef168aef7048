"""Tests of ``functorch_lite.test_util``: check_grads passes on correct derivatives and, just as important,
fails on wrong ones. The wrong ones are throwaway primitives with deliberately broken JVP or transpose rules.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.trace import Primitive
from functorch_lite.primitives.elementwise import unary_aval
from functorch_lite.test_util import (
    arrays,
    check_grads,
    check_jvp,
    check_vjp,
    default_tolerance,
    numerical_jvp,
    shapes,
)
from functorch_lite.transforms.ad import Zero, deflinear, tangent_aval

# ---------------------------------------------------------------------------------------------------
# Throwaway primitives
# ---------------------------------------------------------------------------------------------------


def _unary_prim(name: str, impl, derivative) -> Primitive:
    """A unary primitive whose JVP is ``t * derivative(x)`` (wrong on purpose when ``derivative`` is)."""
    prim = Primitive(name, impl, unary_aval(name, "f"))

    def jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        y = prim.bind(x)
        if type(t) is Zero:
            return y, Zero(tangent_aval(y.aval if hasattr(y, "aval") else x.aval))
        return y, t * derivative(x)

    prim.jvp = jvp
    return prim


# d/dx sin is cos, but this rule says sin.
bad_sin_p = _unary_prim("bad_sin", np.sin, lambda x: fnp.sin(x))
# A cos whose own derivative is wrong (+sin instead of -sin); good_sin's first derivative uses it, so
# good_sin is right to first order and wrong to second order.
bad_cos_p = _unary_prim("bad_cos", np.cos, lambda x: fnp.sin(x))
good_sin_p = _unary_prim("good_sin", np.sin, lambda x: bad_cos_p.bind(x))

# A linear primitive (x -> 2x) with a correct JVP and a wrong transpose (3 ct instead of 2 ct).
double_p = Primitive("double", lambda x: 2 * x, unary_aval("double", "f"))
deflinear(double_p, lambda ct, x: [ct * 3.0])


def bad_sin(x):
    return bad_sin_p.bind(fnp.asarray(x))


def good_sin(x):
    return good_sin_p.bind(fnp.asarray(x))


def double(x):
    return double_p.bind(fnp.asarray(x))


X = fnp.asarray([0.3, -1.1, 2.0])


# ---------------------------------------------------------------------------------------------------
# Correct functions pass
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, args",
    [
        (fnp.sin, (X,)),
        (lambda x, y: fnp.tanh(x) * y + fnp.exp(0.1 * x), (X, 2.0)),
        (lambda x: x**3, (X,)),
        (lambda x: fnp.log1p(x * x), (X,)),
        (lambda x, y: (x * y, x - y), (X, fnp.asarray([1.0, 2.0, 3.0]))),
    ],
)
def test_passes_on_correct_functions_float32(f, args):
    check_grads(f, args, order=2)


def test_passes_on_correct_functions_float64_to_third_order():
    with x64():
        x = fnp.asarray(np.array([0.3, -1.1, 2.0]))
        assert x.dtype == np.float64
        check_grads(lambda x: fnp.sin(x) * fnp.cos(2.0 * x), (x,), order=3)
        check_grads(lambda x, y: x / y, (x, fnp.asarray(np.array([1.5, 2.0, -3.0]))), order=2)


def test_pytree_arguments_and_outputs_and_integer_leaves():
    params = {"w": X, "b": [fnp.asarray(0.5), fnp.asarray(2)]}

    def f(p):
        return {"y": fnp.sin(p["w"]) * p["b"][0] * p["b"][1], "n": p["b"][1] * 2}

    check_grads(f, (params,), order=2)


def test_python_scalars_and_numpy_arguments_are_accepted():
    check_grads(lambda x, y: x * fnp.sin(y), (2.0, np.float32(0.7)), order=2)


def test_the_user_sin_primitive_with_a_correct_rule_passes_first_order():
    check_grads(good_sin, (X,), order=1)


# ---------------------------------------------------------------------------------------------------
# Wrong rules fail, naming the mode, the order and the error
# ---------------------------------------------------------------------------------------------------


def test_wrong_jvp_fails_in_forward_mode():
    with pytest.raises(AssertionError, match=r"mode 'fwd', order 1.*max abs error"):
        check_grads(bad_sin, (X,), order=1, modes=["fwd"])


def test_wrong_jvp_fails_in_reverse_mode():
    # Reverse mode is linearize + transpose of the same (wrong) JVP: it disagrees with finite differences.
    with pytest.raises(AssertionError, match=r"mode 'rev', order 1.*finite-difference"):
        check_grads(bad_sin, (X,), order=1, modes=["rev"])


def test_wrong_jvp_fails_with_default_modes_and_float64():
    with x64(), pytest.raises(AssertionError, match="max abs error"):
        check_grads(bad_sin, (fnp.asarray(np.array([0.3, 0.4])),), order=1)


def test_wrong_second_derivative_is_caught_only_at_order_two():
    check_grads(good_sin, (X,), order=1)
    with pytest.raises(AssertionError, match="mode 'fwd', order 2, JVP of JVP"):
        check_grads(good_sin, (X,), order=2, modes=["fwd"])
    with pytest.raises(AssertionError, match="mode 'rev', order 2, VJP of VJP"):
        check_grads(good_sin, (X,), order=2, modes=["rev"])


def test_wrong_transpose_fails_the_dot_product_test_but_not_forward_mode():
    check_grads(double, (X,), order=2, modes=["fwd"])
    with pytest.raises(AssertionError, match=r"mode 'rev', order 1"):
        check_grads(double, (X,), order=1, modes=["rev"])
    # With forward mode checked too, the AD dot-product test <vjp(ct), t> == <ct, jvp(t)> also fails.
    with pytest.raises(AssertionError, match=r"dot-product test|finite-difference"):
        check_grads(double, (X,), order=1)


def test_wrong_jvp_passes_only_with_absurd_tolerances():
    check_grads(bad_sin, (X,), order=1, atol=10.0, rtol=10.0)


def test_error_message_reports_the_largest_error():
    with pytest.raises(AssertionError) as info:
        check_grads(bad_sin, (X,), order=1, modes=["fwd"])
    message = str(info.value)
    reported = float(message.split("max abs error ")[1].split()[0])
    t = np.random.RandomState(0).standard_normal(3).astype(np.float32)
    x = np.asarray(X, np.float64)
    expected = np.max(np.abs(t * np.sin(x) - t * np.cos(x)))
    assert reported == pytest.approx(expected, rel=1e-2)


# ---------------------------------------------------------------------------------------------------
# The pieces
# ---------------------------------------------------------------------------------------------------


def test_check_jvp_and_check_vjp_directly():
    check_jvp(fnp.sin, partial(fl.jvp, fnp.sin), (X,))
    check_vjp(fnp.sin, partial(fl.vjp, fnp.sin), (X,), f_jvp=partial(fl.jvp, fnp.sin))
    with pytest.raises(AssertionError, match="tangent vs central finite differences"):
        check_jvp(bad_sin, partial(fl.jvp, bad_sin), (X,), err_msg="mine")
    with pytest.raises(AssertionError, match="mine"):
        check_vjp(double, partial(fl.vjp, double), (X,), err_msg="mine")


def test_wrong_primal_output_is_reported():
    def lying_jvp(primals, tangents):
        out, t = fl.jvp(fnp.sin, primals, tangents)
        return out + 1.0, t

    with pytest.raises(AssertionError, match="primal output"):
        check_jvp(fnp.sin, lying_jvp, (X,))


def test_numerical_jvp_is_a_central_difference():
    with x64():
        x = fnp.asarray(np.array([0.1, 0.5]))
        t = fnp.asarray(np.array([1.0, -2.0]))
        got = numerical_jvp(fnp.exp, (x,), (t,), 1e-4)
        np.testing.assert_allclose(got, np.exp([0.1, 0.5]) * [1.0, -2.0], rtol=1e-8)


def test_default_tolerances_by_dtype():
    assert default_tolerance("float32") == 2e-3
    assert default_tolerance(np.float64) == 1e-5
    assert default_tolerance("float16") > default_tolerance("float32")


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown mode"):
        check_grads(fnp.sin, (X,), order=1, modes=["forward"])


# ---------------------------------------------------------------------------------------------------
# Hypothesis strategies
# ---------------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(arrays("float32", shapes(max_rank=2), min_value=0.1, max_value=2.0))
def test_arrays_strategy_feeds_check_grads(x):
    assert isinstance(x, fl.Array) and x.dtype == np.float32
    assert np.all((np.asarray(x) >= 0.1) & (np.asarray(x) <= 2.0))
    check_grads(fnp.log, (x,), order=1)


@settings(max_examples=15, deadline=None)
@given(arrays("int32", (3,), min_value=-5, max_value=5))
def test_arrays_strategy_integers(n):
    assert n.dtype == np.int32 and n.shape == (3,)
    assert np.all(np.abs(np.asarray(n)) <= 5)
