"""The public autodiff API (``fl.jvp, vjp, grad, value_and_grad, linearize, jacfwd, jacrev, hessian``) with
JAX's signatures: argnums, has_aux, allow_int, pytrees, higher orders, and the errors a user can trigger.
Expected values are analytic; behaviour that is a convention is checked against what JAX 0.10.2 does.
"""

from __future__ import annotations

import numpy as np
import pytest
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.test_util import check_grads
from functorch_lite.transforms.ad import float0


def close(got, want, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(
        np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol
    )


X3 = np.array([0.5, -1.0, 2.0], np.float32)


# ---------------------------------------------------------------------------------------------------
# grad and value_and_grad
# ---------------------------------------------------------------------------------------------------


def f3(x, y, z):
    return x * y**2 + fnp.sin(z)


def test_grad_argnums_int_tuple_and_negative():
    assert float(fl.grad(f3)(2.0, 3.0, 0.0)) == 9.0
    assert float(fl.grad(f3, argnums=1)(2.0, 3.0, 0.0)) == 12.0
    gx, gz = fl.grad(f3, argnums=(0, 2))(2.0, 3.0, 0.0)
    assert (float(gx), float(gz)) == (9.0, 1.0)
    assert float(fl.grad(f3, argnums=-1)(2.0, 3.0, 0.0)) == 1.0
    single = fl.grad(f3, argnums=(1,))(2.0, 3.0, 0.0)
    assert isinstance(single, tuple) and len(single) == 1 and float(single[0]) == 12.0


def test_grad_argnums_out_of_range_is_an_error():
    with pytest.raises(TypeError, match="argnums"):
        fl.grad(f3, argnums=3)(2.0, 3.0, 0.0)


def test_grad_keeps_the_input_dtype_and_shape():
    x = fnp.asarray(X3)
    g = fl.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(x)
    assert g.dtype == np.float32 and g.shape == (3,)
    t = np.tanh(X3.astype(np.float64))
    close(g, 2 * t * (1 - t**2))
    with x64():
        g64 = fl.grad(lambda x: fnp.sum(x**2))(fnp.asarray(X3.astype(np.float64)))
        assert g64.dtype == np.float64


def test_grad_passes_keyword_arguments_through():
    g = fl.grad(lambda x, scale=1.0: scale * x**2)(3.0, scale=2.0)
    assert float(g) == 12.0


def test_grad_has_aux_returns_concrete_aux():
    def loss(w):
        pred = w * 2.0
        return pred**2, {"pred": pred, "note": "hi"}

    g, aux = fl.grad(loss, has_aux=True)(3.0)
    assert float(g) == 24.0
    assert float(aux["pred"]) == 6.0 and aux["note"] == "hi"
    assert isinstance(aux["pred"], fl.Array) and not isinstance(aux["pred"], fl.core.trace.Tracer)


def test_value_and_grad_with_and_without_aux():
    value, g = fl.value_and_grad(lambda x: x**3)(2.0)
    assert (float(value), float(g)) == (8.0, 12.0)
    (value, aux), g = fl.value_and_grad(lambda x: (x**3, x + 1.0), has_aux=True)(2.0)
    assert (float(value), float(aux), float(g)) == (8.0, 3.0, 12.0)
    value, (ga, gb) = fl.value_and_grad(lambda a, b: a * b, argnums=(0, 1))(2.0, 5.0)
    assert (float(value), float(ga), float(gb)) == (10.0, 5.0, 2.0)


def test_pytree_arguments_give_pytree_gradients():
    params = {"w": fnp.asarray(X3), "b": [fnp.asarray(0.5), (fnp.asarray(2.0),)]}

    def loss(p, x):
        return fnp.sum(p["w"] * x) * p["b"][0] + p["b"][1][0] ** 2

    x = fnp.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    value, grads = fl.value_and_grad(loss)(params, x)
    assert fl.tree_util.tree_structure(grads) == fl.tree_util.tree_structure(params)
    close(value, np.sum(X3 * [1, 2, 3]) * 0.5 + 4.0)
    close(grads["w"], 0.5 * np.array([1.0, 2.0, 3.0]))
    close(grads["b"][0], np.sum(X3 * [1, 2, 3]))
    close(grads["b"][1][0], 4.0)
    # JAX: value_and_grad(lambda p: p["a"] * p["b"][0] + p["b"][1])({"a": 2., "b": [3., 4.]})
    #      -> (10., {'a': 3., 'b': [2., 1.]})
    value, grads = fl.value_and_grad(lambda p: p["a"] * p["b"][0] + p["b"][1])({"a": 2.0, "b": [3.0, 4.0]})
    assert float(value) == 10.0
    assert [float(grads["a"]), float(grads["b"][0]), float(grads["b"][1])] == [3.0, 2.0, 1.0]


def test_allow_int_gives_float0_gradients():
    ga, gn = fl.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(ga) == 3.0
    assert isinstance(gn, np.ndarray) and gn.dtype == float0 and gn.shape == ()
    _, (gx, gi) = fl.value_and_grad(lambda x, i: fnp.sum(x * i), argnums=(0, 1), allow_int=True)(
        fnp.asarray(X3), fnp.asarray([1, 2, 3])
    )
    close(gx, [1.0, 2.0, 3.0])
    assert gi.dtype == float0 and gi.shape == (3,)


def test_integer_arguments_that_are_not_differentiated_are_fine():
    g = fl.grad(lambda x, n: x**n)(2.0, 3)
    assert float(g) == 12.0


# ---------------------------------------------------------------------------------------------------
# Higher order, nesting, Python control flow
# ---------------------------------------------------------------------------------------------------


def test_grad_of_grad_of_grad():
    d3 = fl.grad(fl.grad(fl.grad(lambda x: x**4)))
    assert float(d3(2.0)) == 48.0  # 24 x
    assert float(d3(-0.5)) == -12.0
    assert float(fl.grad(fl.grad(fnp.sin))(0.0)) == 0.0
    close(fl.grad(fl.grad(fl.grad(fnp.sin)))(0.3), -np.cos(0.3))


def test_no_perturbation_confusion():
    # d/dx [d/dy (x * y)] = d/dx x = 1 (a tape that confuses the two perturbations would give 2).
    assert float(fl.grad(lambda x: fl.grad(lambda y: x * y)(2.0))(3.0)) == 1.0
    # The same through jvp: d/dx (x * d/dy (x + y)) = 1.
    inner = lambda x: fl.jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
    assert float(fl.jvp(lambda x: x * inner(x), (1.0,), (1.0,))[1]) == 1.0


def test_forward_over_reverse_and_reverse_over_forward():
    f = lambda x: fnp.sin(x) * x  # noqa: E731
    second = -np.sin(0.7) * 0.7 + 2 * np.cos(0.7)
    close(fl.jvp(fl.grad(f), (0.7,), (1.0,))[1], second)
    close(fl.grad(lambda x: fl.jvp(f, (x,), (1.0,))[1])(0.7), second)


def test_python_control_flow_on_concrete_values_under_grad():
    def f(x):
        if x > 0:
            return x * 2.0
        return -(x**3)

    assert float(fl.grad(f)(1.5)) == 2.0
    assert float(fl.grad(f)(-1.0)) == -3.0

    def newton_sqrt(a):
        x = a
        steps = 0
        while abs(float(x * x - a)) > 1e-6 and steps < 50:  # float() of a concrete tracer
            x = 0.5 * (x + a / x)
            steps += 1
        return x

    close(fl.grad(newton_sqrt)(4.0), 0.25, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------
# jvp, vjp, linearize
# ---------------------------------------------------------------------------------------------------


def test_jvp_pytrees_and_has_aux():
    primals = ({"a": fnp.asarray(X3)}, 2.0)
    tangents = ({"a": fnp.ones(3)}, 1.0)
    out, t_out = fl.jvp(lambda d, s: {"y": fnp.sin(d["a"]) * s}, primals, tangents)
    close(out["y"], np.sin(X3) * 2)
    close(t_out["y"], np.cos(X3) * 2 + np.sin(X3))
    out, t_out, aux = fl.jvp(lambda x: (x**2, x + 1.0), (3.0,), (1.0,), has_aux=True)
    assert (float(out), float(t_out), float(aux)) == (9.0, 6.0, 4.0)


def test_jvp_of_constant_output_is_zero():
    out, t = fl.jvp(lambda x: fnp.ones(3), (2.0,), (1.0,))
    close(t, np.zeros(3))
    assert t.shape == (3,)


def test_jvp_tree_shape_and_dtype_mismatches_are_errors():
    x = fnp.asarray(X3)
    with pytest.raises((TypeError, ValueError), match="tree"):
        fl.jvp(fnp.sin, (x,), (x, x))
    with pytest.raises(ValueError, match=r"f32\[3\].*f32\[2\]"):
        fl.jvp(fnp.sin, (x,), (fnp.ones(2),))
    with pytest.raises((TypeError, ValueError), match="dtype"):
        fl.jvp(fnp.sin, (x,), (fnp.ones(3, dtype=fnp.int32),))
    with pytest.raises(TypeError, match="tuples or lists"):
        fl.jvp(fnp.sin, x, x)


def test_jvp_mismatch_error_types_match_jax():
    x = fnp.asarray(X3)
    with pytest.raises(TypeError):
        fl.jvp(fnp.sin, (x,), (x, x))
    with pytest.raises(TypeError):
        fl.jvp(fnp.sin, (x,), (fnp.ones(3, dtype=fnp.int32),))
    with pytest.raises(TypeError):
        fl.linearize(fnp.sin, x)[1](x, x)


def test_vjp_pytrees_and_has_aux():
    x = fnp.asarray(X3)
    out, pullback = fl.vjp(lambda a, b: (a * b, {"s": fnp.sin(a)}), x, 2.0)
    ct = (fnp.ones(3), {"s": fnp.ones(3)})
    ga, gb = pullback(ct)
    close(ga, 2.0 + np.cos(X3))
    close(gb, np.sum(X3))
    assert gb.shape == ()
    out, pullback, aux = fl.vjp(lambda a: (a**2, {"mean": fnp.mean(a)}), x, has_aux=True)
    close(aux["mean"], X3.mean())
    (g,) = pullback(fnp.ones(3))
    close(g, 2 * X3)


def test_vjp_cotangent_errors():
    x = fnp.asarray(X3)
    _, pullback = fl.vjp(fnp.sin, x)
    with pytest.raises(ValueError, match=r"cotangent.*f32\[2\].*f32\[3\]"):
        pullback(fnp.ones(2))
    with pytest.raises(ValueError, match="tree structure"):
        pullback((fnp.ones(3),))


def test_vjp_with_integer_input_gives_float0():
    _, pullback = fl.vjp(lambda x, n: x * n, fnp.asarray(X3), fnp.asarray([1, 2, 3]))
    gx, gn = pullback(fnp.ones(3))
    close(gx, [1.0, 2.0, 3.0])
    assert gn.dtype == float0


def test_linearize_matches_jvp_and_is_linear():
    x = fnp.asarray(X3)
    f = lambda x: fnp.sin(x) * fnp.exp(x)  # noqa: E731
    y, f_jvp = fl.linearize(f, x)
    close(y, f(x))
    t1 = fnp.asarray(np.array([1.0, 0.5, -2.0], np.float32))
    t2 = fnp.asarray(np.array([0.0, 3.0, 1.0], np.float32))
    close(f_jvp(t1), fl.jvp(f, (x,), (t1,))[1])
    close(f_jvp(t1 * 2.0 + t2), 2.0 * np.asarray(f_jvp(t1)) + np.asarray(f_jvp(t2)), rtol=1e-5)
    y, f_jvp = fl.linearize(lambda a, b: {"p": a * b}, 2.0, 3.0)
    assert float(f_jvp(1.0, 0.0)["p"]) == 3.0 and float(f_jvp(0.0, 1.0)["p"]) == 2.0
    with pytest.raises((TypeError, ValueError), match="tree"):
        f_jvp(1.0)


def test_linearize_has_aux():
    y, f_jvp, aux = fl.linearize(lambda x: (x**2, x * 10.0), 3.0, has_aux=True)
    assert (float(y), float(f_jvp(1.0)), float(aux)) == (9.0, 6.0, 30.0)


# ---------------------------------------------------------------------------------------------------
# Jacobians and Hessians
# ---------------------------------------------------------------------------------------------------


def nonsquare(x):  # R^3 -> R^2
    return fnp.stack([x[0] * x[1], fnp.sin(x[2])])


def test_jacobians_of_a_non_square_function():
    x = fnp.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    want = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, np.cos(3.0)]])
    for jac in (fl.jacfwd, fl.jacrev):
        j = jac(nonsquare)(x)
        assert j.shape == (2, 3)
        close(j, want)


def test_jacobian_shapes_follow_out_shape_plus_in_shape():
    x = fnp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    for jac in (fl.jacfwd, fl.jacrev):
        j = jac(lambda m: fnp.sum(m**2, axis=0))(x)
        assert j.shape == (3, 2, 3)
        want = np.zeros((3, 2, 3))
        for i in range(2):
            for k in range(3):
                want[k, i, k] = 2 * float(np.asarray(x)[i, k])
        close(j, want)
        assert jac(lambda s: s * fnp.ones(2))(2.0).shape == (2,)
        assert jac(lambda v: fnp.sum(v))(fnp.asarray(X3)).shape == (3,)


def test_jacobians_with_pytree_inputs_outputs_and_argnums():
    p = {"a": fnp.asarray(2.0), "b": fnp.asarray(np.array([1.0, 2.0, 3.0], np.float32))}
    for jac in (fl.jacfwd, fl.jacrev):
        j = jac(lambda p: {"o": p["a"] * p["b"]})(p)
        close(j["o"]["a"], [1.0, 2.0, 3.0])
        close(j["o"]["b"], 2.0 * np.eye(3))
        ja, jb = jac(lambda a, b: a * b, argnums=(0, 1))(fnp.asarray(X3), fnp.asarray(2.0))
        close(ja, 2.0 * np.eye(3))
        close(jb, X3)
        j, aux = jac(lambda x: (x**2, x + 1.0), has_aux=True)(fnp.asarray(X3))
        close(j, np.diag(2 * X3))
        close(aux, X3 + 1)


def test_jacfwd_equals_jacrev_on_a_smooth_map():
    with x64():
        x = fnp.asarray(np.array([0.3, -0.8, 1.1, 0.4]))

        def f(x):
            return fnp.tanh(x[:3] * x[1:]) + fnp.exp(0.1 * x[:3])

        close(fl.jacfwd(f)(x), fl.jacrev(f)(x), rtol=1e-12, atol=1e-12)
        check_grads(f, (x,), order=2)


def test_hessian_analytic():
    x = fnp.asarray(X3)
    close(fl.hessian(lambda x: fnp.sum(x**3))(x), np.diag(6 * X3), rtol=1e-5)
    h = fl.hessian(lambda x, y: x * x * y, argnums=(0, 1))(2.0, 3.0)
    assert [[float(v) for v in row] for row in h] == [[6.0, 4.0], [4.0, 0.0]]
    with x64():
        v = fnp.asarray(np.array([0.7, -0.2]))
        # f = sin(v0) * v1**2: H = [[-sin(v0) v1^2, 2 cos(v0) v1], [2 cos(v0) v1, 2 sin(v0)]]
        h = fl.hessian(lambda v: fnp.sin(v[0]) * v[1] ** 2)(v)
        s, c = np.sin(0.7), np.cos(0.7)
        close(h, [[-s * 0.04, 2 * c * -0.2], [2 * c * -0.2, 2 * s]], rtol=1e-12, atol=1e-14)


def test_hessian_of_pytree_input_nests_like_jax():
    # JAX: hessian(lambda p: p["a"]**2 * p["b"][0] + p["b"][1]**3)({"a": 2., "b": [3., 4.]})
    h = fl.hessian(lambda p: p["a"] ** 2 * p["b"][0] + p["b"][1] ** 3)({"a": 2.0, "b": [3.0, 4.0]})
    flat = lambda t: [float(v) for v in fl.tree_util.tree_leaves(t)]  # noqa: E731
    assert flat(h["a"]) == [6.0, 4.0, 0.0]
    assert flat(h["b"][0]) == [4.0, 0.0, 0.0]
    assert flat(h["b"][1]) == [0.0, 0.0, 24.0]
    assert fl.tree_util.tree_structure(h["b"][1]) == fl.tree_util.tree_structure({"a": 0, "b": [0, 0]})


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


def test_grad_of_non_scalar_output_names_the_shape_and_the_fix():
    with pytest.raises(TypeError, match=r"scalar-output") as info:
        fl.grad(fnp.sin)(fnp.asarray(X3))
    message = str(info.value)
    assert "(3,)" in message and "jacrev" in message and "sum" in message


def test_grad_of_integer_input_without_allow_int():
    with pytest.raises(TypeError, match="allow_int") as info:
        fl.grad(lambda x: x * 2.0)(3)
    assert "int32" in str(info.value)
    with pytest.raises(TypeError, match="allow_int"):
        fl.grad(lambda p: p["n"] * 2.0)({"n": fnp.asarray([1, 2])})


def test_grad_of_integer_output():
    with pytest.raises(TypeError, match=r"real-valued outputs.*int32"):
        fl.grad(lambda x: fnp.asarray(1))(1.0)
    with pytest.raises(TypeError, match="real-valued outputs"):
        fl.grad(lambda x: (x > 0).astype(fnp.int32))(1.0)


def test_has_aux_requires_a_pair():
    with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
        fl.grad(lambda x: x, has_aux=True)(1.0)
    with pytest.raises(TypeError, match=r"has_aux=True.*pair.*length 3"):
        fl.grad(lambda x: (x, 1, 2), has_aux=True)(1.0)
    with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
        fl.vjp(lambda x: x, 1.0, has_aux=True)


def test_grad_of_a_tuple_output_suggests_has_aux():
    with pytest.raises(TypeError, match="has_aux"):
        fl.grad(lambda x: (x, x))(1.0)


# ---------------------------------------------------------------------------------------------------
# The jaxpr of a gradient
# ---------------------------------------------------------------------------------------------------


def neuron(w, x, b):
    return fnp.tanh(w * x + b)


def test_make_jaxpr_of_grad_is_readable_and_has_no_zeros():
    closed = fl.make_jaxpr(fl.grad(neuron))(0.5, 2.0, 0.1)
    text = str(closed)
    assert "tanh" in text
    assert "broadcast_in_dim" not in text
    names = [eqn.primitive.name for eqn in closed.jaxpr.eqns]
    assert "tanh" in names and "broadcast_in_dim" not in names
    # No equation produces a zero (no materialised zero tangents or cotangents).
    assert not any(lit in text for lit in ("0.0:f32", " 0:f32", "0.0:f64"))
    # Forward: mul, add, tanh; backward: 1 - tanh^2 and the product with x. JAX's has 8 equations.
    assert len(names) <= 8
    out = fl.eval_jaxpr(closed.jaxpr, closed.consts, *[fnp.asarray(v) for v in (0.5, 2.0, 0.1)])
    close(out[0], 2.0 * (1 - np.tanh(0.5 * 2.0 + 0.1) ** 2))
