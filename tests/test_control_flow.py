"""Structured control flow (``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``, ``map``,
``associative_scan``): each construct against a plain Python loop, under ``jit``, ``grad`` (finite
differences in float64), ``vmap`` (batched predicate, index and carry) and their compositions; golden
jaxprs; the error messages; and a 1000-step scan differentiated without re-tracing its body per step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.primitives import control_flow as _cf
from functorch_lite.test_util import check_grads

_NAMES = ("cond", "switch", "while_loop", "fori_loop", "scan", "map", "associative_scan")
# The public home is functorch_lite.lax; fall back to the defining module until it re-exports them.
lax = fl.lax if all(hasattr(fl.lax, n) for n in _NAMES) else _cf


def f64(*values):
    """A float64 array of ``values`` (0-d for one value)."""
    return fnp.asarray(np.asarray(values[0] if len(values) == 1 else values, dtype=np.float64))


def rng(seed=0):
    return np.random.default_rng(seed)


def assert_close(got, want, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def assert_tree_close(got, want, rtol=1e-6, atol=1e-6):
    got_leaves, got_tree = fl.tree_util.tree_flatten(got)
    want_leaves, want_tree = fl.tree_util.tree_flatten(want)
    assert got_tree == want_tree
    for g, w in zip(got_leaves, want_leaves):
        assert_close(g, w, rtol, atol)


def python_scan(f, init, xs, length=None, reverse=False):
    """The reference: a Python loop with lax.scan's semantics (pytrees, xs None with length)."""
    leaves, tree = fl.tree_util.tree_flatten(xs)
    n = length if not leaves else leaves[0].shape[0]
    carry, ys = init, []
    for i in reversed(range(n)) if reverse else range(n):
        x = fl.tree_util.tree_unflatten(tree, [leaf[i] for leaf in leaves])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    return carry, fl.tree_util.tree_map(lambda *a: fnp.stack(a), *ys)


# ---------------------------------------------------------------------------------------------------
# cond / switch
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pred", [True, False, 1, 0, np.int32(3)])
def test_cond_matches_python(pred):
    x = fnp.asarray([0.5, -1.0, 2.0])
    want = fnp.sin(x) * 2.0 if pred else fnp.cos(x) - 1.0
    assert_close(lax.cond(pred, lambda x: fnp.sin(x) * 2.0, lambda x: fnp.cos(x) - 1.0, x), want)
    jitted = fl.jit(lambda p, x: lax.cond(p, lambda x: fnp.sin(x) * 2.0, lambda x: fnp.cos(x) - 1.0, x))
    assert_close(jitted(fnp.asarray(pred), x), want)


def test_cond_pytrees_closures_and_no_operands():
    w = fnp.asarray([1.0, 2.0])
    out = lax.cond(
        True, lambda t: {"a": t[0] * w, "b": t[1] + 1}, lambda t: {"a": t[0] - w, "b": t[1]}, (w, 3)
    )
    assert_tree_close(out, {"a": w * w, "b": 4})
    assert float(lax.cond(False, lambda: 1.0, lambda: 2.0)) == 2.0
    assert int(fl.jit(lambda p: lax.cond(p, lambda: 7, lambda: 9))(fnp.asarray(False))) == 9


@pytest.mark.parametrize("index, want", [(-3, 0), (0, 0), (1, 1), (2, 2), (5, 2)])
def test_switch_clamps_the_index(index, want):
    branches = [lambda x: x + 0.0, lambda x: x + 10.0, lambda x: x + 20.0]
    assert float(lax.switch(index, branches, 1.0)) == 1.0 + 10.0 * want
    assert float(fl.jit(lambda i: lax.switch(i, branches, 1.0))(fnp.asarray(index))) == 1.0 + 10.0 * want


def test_switch_with_one_branch_just_calls_it():
    assert float(lax.switch(4, [lambda x: x * 3.0], 2.0)) == 6.0


def test_cond_grad_matches_finite_differences(x64):
    def f(x):
        return lax.cond(x.sum() > 0, lambda x: fnp.sin(x).sum() * x[0], lambda x: (x**2).sum(), x)

    for x in (f64(0.3, -0.2, 0.5), f64(-0.3, 0.2, -0.5)):
        check_grads(f, (x,), order=2)
        assert_close(fl.jit(fl.grad(f))(x), fl.grad(f)(x))


def test_switch_grad_through_each_branch(x64):
    branches = [lambda x, y: fnp.sin(x) * y, lambda x, y: x * x * y, lambda x, y: fnp.exp(x) + y]
    for i in range(3):
        check_grads(lambda x, y, i=i: lax.switch(i, branches, x, y), (f64(0.4), f64(1.5)), order=2)


def test_cond_grad_with_closed_over_and_integer_outputs(x64):
    def f(w, x):
        out, n = lax.cond(x > 0, lambda x: (w * x, 1), lambda x: (w - x, 2), x)
        return out * n

    check_grads(f, (f64(1.5), f64(0.7)), order=1)
    check_grads(f, (f64(1.5), f64(-0.7)), order=1)


def test_vmap_cond_batched_predicate_selects():
    xs = fnp.asarray([1.0, -2.0, 3.0, -4.0])
    out = fl.vmap(lambda x: lax.cond(x > 0, fnp.sqrt, lambda x: -x, x))(xs)
    assert_close(out, [1.0, 2.0, np.sqrt(3.0), 4.0])
    jaxpr = str(fl.make_jaxpr(fl.vmap(lambda x: lax.cond(x > 0, fnp.sqrt, lambda x: -x, x)))(xs))
    assert "select_n" in jaxpr and "cond[" not in jaxpr


def test_vmap_cond_batched_predicate_gradient_has_no_nan():
    # sqrt's derivative is inf at 0 in the untaken lanes: the operand masking keeps it out of the grad.
    xs = fnp.asarray([4.0, 0.0, -1.0])

    def loss(xs):
        return fl.vmap(lambda x: lax.cond(x > 0, fnp.sqrt, lambda x: x * 0.5, x))(xs).sum()

    assert_close(fl.grad(loss)(xs), [0.25, 0.5, 0.5])


def test_vmap_switch_batched_index_and_operands():
    idx = fnp.asarray([0, 1, 2, 7, -1])
    xs = fnp.asarray([1.0, 2.0, 3.0, 4.0, 5.0])
    branches = [lambda x: x * 10.0, lambda x: x - 1.0, lambda x: -x]
    out = fl.vmap(lambda i, x: lax.switch(i, branches, x))(idx, xs)
    assert_close(out, [10.0, 1.0, -3.0, -4.0, 50.0])
    out = fl.vmap(lambda i: lax.switch(i, branches, 2.0))(idx)
    assert_close(out, [20.0, 1.0, -2.0, -2.0, 20.0])


def test_vmap_cond_unbatched_predicate_keeps_cond():
    xs = fnp.asarray([[1.0, 2.0], [3.0, 4.0]])
    f = fl.vmap(lambda x, p: lax.cond(p, lambda x: x.sum(), lambda x: x.max(), x), in_axes=(0, None))
    assert_close(f(xs, True), [3.0, 7.0])
    assert_close(f(xs, False), [2.0, 4.0])
    assert "cond[" in str(fl.make_jaxpr(f)(xs, True))


def test_grad_of_vmap_and_vmap_of_grad_of_cond(x64):
    def f(x):
        return lax.cond(x > 0.0, lambda x: x**3, lambda x: fnp.sin(x), x)

    xs = f64(0.5, -0.5, 2.0)
    want = [3 * 0.25, np.cos(-0.5), 12.0]
    assert_close(fl.vmap(fl.grad(f))(xs), want)
    assert_close(fl.grad(lambda xs: fl.vmap(f)(xs).sum())(xs), want)
    assert_close(fl.jit(fl.vmap(fl.grad(f)))(xs), want)


# ---------------------------------------------------------------------------------------------------
# while_loop
# ---------------------------------------------------------------------------------------------------


def collatz_steps(n):
    return lax.while_loop(
        lambda c: c[0] != 1, lambda c: (fnp.where(c[0] % 2 == 0, c[0] // 2, 3 * c[0] + 1), c[1] + 1), (n, 0)
    )[1]


def test_while_loop_matches_python():
    def python(n):
        steps = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps

    for n in (1, 6, 27):
        assert int(collatz_steps(n)) == python(n)
        assert int(fl.jit(collatz_steps)(fnp.asarray(n))) == python(n)


def test_while_loop_pytree_carry_and_closure():
    scale = fnp.asarray(1.5)
    out = lax.while_loop(
        lambda c: c["i"] < 4, lambda c: {"i": c["i"] + 1, "x": c["x"] * scale}, {"i": 0, "x": 2.0}
    )
    assert int(out["i"]) == 4
    assert_close(out["x"], 2.0 * 1.5**4)


def test_while_loop_weak_carry_takes_the_body_type():
    out = lax.while_loop(lambda c: c < 3, lambda c: c + 1.0, 0)  # JAX gives 3.0 too
    assert float(out) == 3.0 and out.dtype == np.float32


def test_while_loop_forward_mode_matches_finite_differences(x64):
    def f(x):
        return lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.sin(c[1]) * 1.5 + c[1]), (0, x))[1]

    check_grads(f, (f64(0.3, -0.7),), order=2, modes=("fwd",))
    check_grads(lambda x: fl.jacfwd(f)(x), (f64(0.3, -0.7),), order=1, modes=("fwd",))


def test_while_loop_reverse_mode_raises_with_the_fix():
    f = lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)
    with pytest.raises(TypeError, match="Reverse-mode differentiation does not work for lax.while_loop"):
        fl.grad(f)(1.0)
    with pytest.raises(TypeError, match="use lax.scan or fori_loop with static bounds"):
        fl.jit(fl.grad(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2.0, x)))(1.0, 3)
    # Concrete bounds (here an Array outside jit) make fori_loop a scan, which is reverse-differentiable.
    assert (
        float(fl.grad(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2.0, x))(1.0, fnp.asarray(3))) == 8.0
    )
    # Linearizing (the first half of reverse mode) works, as in JAX; only the transpose raises.
    y, f_jvp = fl.linearize(f, 1.5)
    assert float(y) == 12.0 and float(f_jvp(1.0)) == 8.0
    _, f_vjp = fl.vjp(f, 1.5)
    with pytest.raises(TypeError, match="Reverse-mode"):
        f_vjp(1.0)


def test_vmap_while_batched_predicate_runs_until_all_done():
    def f(n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1.0))

    ns = fnp.asarray([0, 3, 1, 5])
    count, value = fl.vmap(f)(ns)
    assert_close(count, [0, 3, 1, 5])
    assert_close(value, [1.0, 8.0, 2.0, 32.0])
    count, value = fl.jit(fl.vmap(f))(ns)
    assert_close(value, [1.0, 8.0, 2.0, 32.0])
    assert "reduce_or" in str(fl.make_jaxpr(fl.vmap(f))(ns))


def test_vmap_while_batched_carry_unbatched_predicate():
    def f(x):
        return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * c[1]), (0, x))[1]

    xs = fnp.asarray([1.0, 2.0, 0.5])
    assert_close(fl.vmap(f)(xs), xs**8)


def test_vmap_of_jvp_of_while(x64):
    def f(x):
        return lax.while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] * 1.1, c[1] + 1.0), (x, 0.0))[0]

    xs = f64(1.0, 2.0)
    _, tangents = fl.vmap(lambda x: fl.jvp(f, (x,), (fnp.ones_like(x),)))(xs)
    assert_close(tangents, [1.1**10, 1.1**10])


# ---------------------------------------------------------------------------------------------------
# fori_loop
# ---------------------------------------------------------------------------------------------------


def test_fori_loop_static_and_dynamic_bounds():
    body = lambda i, x: x * 0.5 + i
    want = 0.0
    for i in range(2, 7):
        want = want * 0.5 + i
    assert_close(lax.fori_loop(2, 7, body, 0.0), want)
    assert_close(fl.jit(lambda lo, hi: lax.fori_loop(lo, hi, body, 0.0))(2, 7), want)
    assert_close(lax.fori_loop(5, 2, body, 3.0), 3.0)  # an empty range leaves the value unchanged
    assert "scan[" in str(fl.make_jaxpr(lambda x: lax.fori_loop(0, 3, body, x))(1.0))
    assert "while[" in str(fl.make_jaxpr(lambda x, n: lax.fori_loop(0, n, body, x))(1.0, 3))


def test_fori_loop_static_bounds_are_reverse_differentiable(x64):
    def f(x):
        return lax.fori_loop(0, 5, lambda i, c: fnp.sin(c) * i + c, x).sum()

    check_grads(f, (f64(0.3, -0.2, 0.5),), order=2)
    assert_close(fl.jit(fl.grad(f))(f64(0.3, -0.2, 0.5)), fl.grad(f)(f64(0.3, -0.2, 0.5)))


def test_vmap_fori_loop_over_the_carry():
    out = fl.vmap(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x + i, 1.0))(fnp.asarray([1.0, 2.0]))
    assert_close(out, [1.0 + 0 + 1 + 2, ((1.0 * 2 + 0) * 2 + 1) * 2 + 2])


# ---------------------------------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------------------------------


def rnn_step(params):
    wx, wh = params

    def step(h, x):
        h = fnp.tanh(x @ wx + h @ wh)
        return h, (h.sum(), h * 2.0)

    return step


def rnn_inputs(dtype=np.float32, steps=5):
    r = rng(1)
    params = (
        fnp.asarray(r.normal(size=(3, 4)).astype(dtype)),
        fnp.asarray(0.5 * r.normal(size=(4, 4)).astype(dtype)),
    )
    return (
        params,
        fnp.asarray(r.normal(size=(2, 4)).astype(dtype)),
        fnp.asarray(r.normal(size=(steps, 2, 3)).astype(dtype)),
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_python_loop(reverse):
    params, h0, xs = rnn_inputs()
    want = python_scan(rnn_step(params), h0, xs, reverse=reverse)
    assert_tree_close(lax.scan(rnn_step(params), h0, xs, reverse=reverse), want, rtol=1e-5)
    jitted = fl.jit(lambda p, h, x: lax.scan(rnn_step(p), h, x, reverse=reverse))
    assert_tree_close(jitted(params, h0, xs), want, rtol=1e-5)


def test_scan_without_xs_and_with_pytree_xs():
    carry, ys = lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=4)
    assert float(carry) == 16.0
    assert_close(ys, [1.0, 2.0, 4.0, 8.0])
    xs = {"a": fnp.arange(3.0), "b": (fnp.ones((3, 2)), fnp.arange(3))}
    carry, ys = lax.scan(lambda c, x: (c + x["a"] + x["b"][0].sum() + x["b"][1], None), 0.0, xs)
    assert float(carry) == 3.0 + 6.0 + 3.0 and ys is None


def test_scan_of_length_zero():
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), fnp.ones(2), fnp.zeros((0, 2)))
    assert_close(carry, [1.0, 1.0])
    assert ys.shape == (0, 2)
    grads = fl.grad(lambda c: lax.scan(lambda c, x: (c * x, c), c, fnp.zeros((0, 2)))[0].sum())(fnp.ones(2))
    assert_close(grads, [1.0, 1.0])


def test_scan_grad_matches_finite_differences(x64):
    params, h0, xs = rnn_inputs(np.float64)

    def loss(params, h0, xs):
        h, (sums, hs) = lax.scan(rnn_step(params), h0, xs)
        return (h**2).sum() + sums.sum() + (hs[1:] * hs[:-1]).sum()

    check_grads(loss, (params, h0, xs), order=1)
    check_grads(lambda p: loss(p, h0, xs), (params,), order=2, modes=("rev",))
    ref = fl.grad(lambda p: loss(p, h0, xs))(params)  # differentiated with the loop unrolled in Python
    unrolled = fl.grad(
        lambda p: (lambda h, ys: (h**2).sum() + ys[0].sum() + (ys[1][1:] * ys[1][:-1]).sum())(
            *python_scan(rnn_step(p), h0, xs)
        )
    )(params)
    assert_tree_close(ref, unrolled, rtol=1e-10, atol=1e-12)
    assert_tree_close(fl.jit(fl.grad(lambda p: loss(p, h0, xs)))(params), ref, rtol=1e-10, atol=1e-12)


def test_reverse_scan_grad(x64):
    def f(x):
        c, ys = lax.scan(lambda c, a: (c * a + 1.0, c * c), 0.5, x, reverse=True)
        return c + ys.sum()

    check_grads(f, (f64(0.1, 0.7, -0.3, 0.2),), order=2)


def test_scan_carry_that_becomes_differentiable_needs_the_fixpoint(x64):
    # The second carry starts as a constant and only picks up a tangent from the first one after a step.
    def f(x):
        (a, b), _ = lax.scan(
            lambda c, _: ((c[0] * 1.5, c[1] + fnp.sin(c[0])), None), (x, 0.0), None, length=4
        )
        return b

    check_grads(f, (f64(0.4),), order=2)


def test_scan_with_integer_carry_and_int_outputs(x64):
    def f(x):
        (n, y), ks = lax.scan(
            lambda c, a: ((c[0] + 1, c[1] * a + c[0]), c[0] * 2), (0, x), f64(1.0, 2.0, 3.0)
        )
        return y * n + ks.sum()

    check_grads(f, (f64(0.5),), order=1)


def test_vmap_scan_over_xs_carry_and_consts():
    params, h0, xs = rnn_inputs()
    batch = fnp.stack([xs, xs * 0.5, -xs])
    f = lambda x: lax.scan(rnn_step(params), h0, x)
    out = fl.vmap(f)(batch)
    for k in range(3):
        assert_tree_close(fl.tree_util.tree_map(lambda o, k=k: o[k], out), f(batch[k]), rtol=1e-5, atol=1e-6)
    # Batched along another axis of xs, and only the carry batched.
    out = fl.vmap(f, in_axes=1)(fnp.moveaxis(batch, 0, 1))
    assert_close(out[0][2], f(-xs)[0], rtol=1e-5)
    h0s = fnp.stack([h0, h0 * 2.0])
    out = fl.vmap(lambda h: lax.scan(rnn_step(params), h, xs))(h0s)
    assert_close(out[1][1][1], lax.scan(rnn_step(params), h0 * 2.0, xs)[1][1], rtol=1e-5)
    # Only a closed-over constant batched: the carry becomes batched through the fixpoint.
    ws = fnp.asarray([0.5, 1.0, 2.0])
    out = fl.vmap(lambda w: lax.scan(lambda c, x: (c * w + x, c), 0.0, fnp.arange(3.0)))(ws)
    assert_close(out[0], [(0 * w + 0) * w * w + 1 * w + 2 for w in (0.5, 1.0, 2.0)])


def test_grad_of_vmap_vmap_of_grad_jit_of_grad_of_scan(x64):
    params, h0, xs = rnn_inputs(np.float64, steps=3)

    def loss(params, x):
        h, _ = lax.scan(rnn_step(params), h0, x)
        return (h**2).sum()

    batch = fnp.stack([xs, xs * 0.5])
    per_example = fl.vmap(fl.grad(loss), in_axes=(None, 0))(params, batch)
    for k in range(2):
        assert_tree_close(
            fl.tree_util.tree_map(lambda g, k=k: g[k], per_example), fl.grad(loss)(params, batch[k])
        )
    total = fl.grad(lambda p: fl.vmap(loss, in_axes=(None, 0))(p, batch).sum())(params)
    want = fl.tree_util.tree_map(
        lambda a, b: a + b, fl.grad(loss)(params, batch[0]), fl.grad(loss)(params, batch[1])
    )
    assert_tree_close(total, want)
    assert_tree_close(fl.jit(fl.grad(loss))(params, xs), fl.grad(loss)(params, xs))


def test_nested_control_flow_under_grad_and_jit(x64):
    def f(x):
        def outer(c, a):
            inner, _ = lax.scan(lambda d, b: (fnp.sin(d * b), None), c, fnp.ones(3) * a)
            return inner, lax.cond(a > 0.5, fnp.sin, fnp.cos, c)

        c, ys = lax.scan(outer, x, fnp.arange(4.0) / 4)
        return c + ys.sum() + lax.fori_loop(0, 2, lambda i, c: c * x, 1.0)

    check_grads(f, (f64(0.3),), order=2)
    assert_close(fl.jit(fl.grad(f))(f64(0.3)), fl.grad(f)(f64(0.3)))
    assert_close(fl.vmap(fl.grad(f))(f64(0.3, 0.6)), [fl.grad(f)(f64(0.3)), fl.grad(f)(f64(0.6))])


def test_scan_grad_of_1000_steps_traces_the_body_once():
    traces = []

    def loss(w, x0):
        def step(c, _):
            traces.append(1)  # runs once per trace of the body, never per step
            return fnp.sin(c * w) + 0.1 * c, c.sum()

        c, ys = lax.scan(step, x0, None, length=1000)
        return c.sum() + ys.sum()

    w, x0 = fnp.linspace(0.1, 0.9, 4), fnp.ones(4)
    g = fl.grad(loss)(w, x0)
    assert len(traces) == 1
    jitted = fl.jit(fl.grad(loss))
    assert_close(jitted(w, x0), g, rtol=1e-5)
    assert_close(jitted(w, x0), g, rtol=1e-5)
    assert len(traces) == 2  # one more trace, for jit; none per step and none for the second call


@given(
    length=st.integers(0, 6),
    shape=st.sampled_from([(), (1,), (3,), (2, 2)]),
    reverse=st.booleans(),
    seed=st.integers(0, 1000),
)
@SETTINGS
def test_scan_property_values_and_grads(length, shape, reverse, seed):
    r = rng(seed)
    xs = fnp.asarray(r.uniform(-1, 1, size=(length, *shape)).astype(np.float32))
    w = fnp.asarray(r.uniform(-1, 1, size=shape).astype(np.float32))
    c0 = fnp.asarray(r.uniform(-1, 1, size=shape).astype(np.float32))

    def step(w):
        return lambda c, x: (fnp.tanh(c * w + x), c * x)

    carry, ys = lax.scan(step(w), c0, xs, reverse=reverse)
    want_carry, want_ys = python_scan(step(w), c0, xs, reverse=reverse)
    assert_close(carry, want_carry, 1e-5, 1e-6)
    assert ys.shape == (length, *shape)
    if length:
        assert_close(ys, want_ys, 1e-5, 1e-6)

    def loss(w, c0, xs, run):
        c, ys = run(step(w), c0, xs, reverse=reverse)
        return c.sum() + (ys.sum() if ys is not None else 0.0)

    got = fl.grad(loss, argnums=(0, 1, 2))(w, c0, xs, lax.scan)
    want = fl.grad(loss, argnums=(0, 1, 2))(w, c0, xs, python_scan)
    assert_tree_close(got, want, 1e-4, 1e-5)
    batched = fl.vmap(lambda c: lax.scan(step(w), c, xs, reverse=reverse)[0])(fnp.stack([c0, -c0]))
    assert_close(batched[1], python_scan(step(w), -c0, xs, reverse=reverse)[0], 1e-5, 1e-6)


@given(n=st.integers(0, 5), shape=st.sampled_from([(), (2,), (2, 3)]), seed=st.integers(0, 1000))
@SETTINGS
def test_while_and_cond_property(n, shape, seed):
    r = rng(seed)
    x = fnp.asarray(r.uniform(-1, 1, size=shape).astype(np.float32))
    out = lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, fnp.cos(c[1])), (0, x))[1]
    want = x
    for _ in range(n):
        want = fnp.cos(want)
    assert_close(out, want, 1e-6, 1e-6)
    preds = fnp.asarray(r.uniform(-1, 1, size=(3,)) > 0)
    outs = fl.vmap(lambda p: lax.cond(p, lambda y: y + n, lambda y: y * 2.0, x))(preds)
    for k in range(3):
        assert_close(outs[k], x + n if bool(preds[k]) else x * 2.0)


# ---------------------------------------------------------------------------------------------------
# map, associative_scan
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 10])
def test_map_matches_python(batch_size):
    xs = fnp.arange(12.0).reshape(6, 2)
    out = lax.map(lambda x: {"s": x.sum(), "p": x * 2.0}, xs, batch_size=batch_size)
    assert_close(out["s"], xs.sum(axis=1))
    assert_close(out["p"], xs * 2.0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_associative_scan_matches_cumulative_ops(n, reverse):
    x = fnp.arange(1.0, n + 1)
    want = np.cumsum(np.arange(1.0, n + 1)[::-1])[::-1] if reverse else np.cumsum(np.arange(1.0, n + 1))
    assert_close(lax.associative_scan(fnp.add, x, reverse=reverse), want)
    m = fnp.arange(1.0, 2 * n + 1).reshape(2, n)
    assert_close(lax.associative_scan(fnp.multiply, m, axis=1), np.cumprod(np.asarray(m), axis=1))


def test_associative_scan_on_a_pytree_linear_recurrence():
    # h_t = a_t * h_{t-1} + b_t, with the associative operator on (a, b) pairs.
    a = fnp.asarray([0.5, 2.0, -1.0, 0.25, 3.0])
    b = fnp.asarray([1.0, -1.0, 2.0, 0.5, 1.0])
    _, h = lax.associative_scan(lambda x, y: (x[0] * y[0], y[0] * x[1] + y[1]), (a, b))
    want, acc = [], 0.0
    for ai, bi in zip(np.asarray(a), np.asarray(b)):
        acc = ai * acc + bi
        want.append(acc)
    assert_close(h, want)
    assert_close(
        fl.jit(lambda a, b: lax.associative_scan(lambda x, y: (x[0] * y[0], y[0] * x[1] + y[1]), (a, b))[1])(
            a, b
        ),
        want,
    )


# ---------------------------------------------------------------------------------------------------
# Golden jaxprs (compared with what JAX 0.10.2 prints)
# ---------------------------------------------------------------------------------------------------

# Same as JAX.
COND_GOLDEN = """\
{ lambda ; a:bool[] b:f32[]. let
    c:i32[] = convert_element_type[new_dtype=int32 weak_type=False] a
    d:f32[] = cond[
      branches=(
        { lambda ; e:f32[]. let f:f32[] = cos e in (f,) }
        { lambda ; g:f32[]. let h:f32[] = sin g in (h,) }
      )
    ] c b
  in (d,) }"""

# Same as JAX.
SWITCH_GOLDEN = """\
{ lambda ; a:i32[] b:f32[]. let
    c:i32[] = convert_element_type[new_dtype=int32 weak_type=False] a
    d:i32[] = clamp 0:i32[] c 2:i32[]
    e:f32[] = cond[
      branches=(
        { lambda ; f:f32[]. let g:f32[] = sin f in (g,) }
        { lambda ; h:f32[]. let i:f32[] = cos h in (i,) }
        { lambda ; j:f32[]. let k:f32[] = mul j 2.0:f32[] in (k,) }
      )
    ] d b
  in (e,) }"""

# Same as JAX.
WHILE_GOLDEN = """\
{ lambda ; a:f32[]. let
    b:i32[] c:f32[] = while[
      body_jaxpr={ lambda ; d:i32[] e:f32[]. let
          f:i32[] = add d 1:i32[]
          g:f32[] = mul e 2.0:f32[]
        in (f, g) }
      body_nconsts=0
      cond_jaxpr={ lambda ; h:i32[] i:f32[]. let
          j:bool[] = lt h 10:i32[]
        in (j,) }
      cond_nconsts=0
    ] 0:i32[] a
  in (b, c) }"""

# Same as JAX (with a strongly typed initial carry; `linear` is hidden, as JAX hides it).
SCAN_GOLDEN = """\
{ lambda ; a:f32[] b:f32[5]. let
    c:f32[] d:f32[5] = scan[
      jaxpr={ lambda ; e:f32[] f:f32[]. let
          g:f32[] = add e f
          h:f32[] = mul e f
        in (g, h) }
      length=5
      num_carry=1
      num_consts=0
      reverse=False
      unroll=1
    ] a b
  in (c, d) }"""

# JAX prints the unused loop index as `_:i32[]` where we print `b:i32[]`; otherwise the same.
FORI_GOLDEN = """\
{ lambda ; a:f32[]. let
    b:i32[] c:f32[] = scan[
      jaxpr={ lambda ; d:i32[] e:f32[]. let
          f:i32[] = add d 1:i32[]
          g:f32[] = mul e 2.0:f32[]
        in (f, g) }
      length=5
      num_carry=2
      num_consts=0
      reverse=False
      unroll=1
    ] 0:i32[] a
  in (c,) }"""


def test_golden_jaxprs():
    cases = [
        (COND_GOLDEN, lambda p, x: lax.cond(p, fnp.sin, fnp.cos, x), (True, 1.0)),
        (SWITCH_GOLDEN, lambda i, x: lax.switch(i, [fnp.sin, fnp.cos, lambda x: x * 2.0], x), (1, 1.0)),
        (
            WHILE_GOLDEN,
            lambda x: lax.while_loop(lambda c: c[0] < 10, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
            (1.0,),
        ),
        (
            SCAN_GOLDEN,
            lambda c, xs: lax.scan(lambda c, a: (c + a, c * a), c, xs),
            (np.float32(1), fnp.ones(5)),
        ),
        (FORI_GOLDEN, lambda x: lax.fori_loop(0, 5, lambda i, c: c * 2.0, x), (1.0,)),
    ]
    for golden, fun, args in cases:
        assert str(fl.make_jaxpr(fun)(*args)) == golden


def test_closed_over_values_become_operands():
    w = fnp.ones(3)
    jaxpr = str(
        fl.make_jaxpr(lambda p, x: lax.cond(p, lambda x: x * w, lambda x: x + w, x))(True, fnp.ones(3))
    )
    assert "cond[" in jaxpr and "{ lambda a:f32[3]; b:bool[] c:f32[3]. let" in jaxpr


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


def test_cond_branch_mismatch_errors_name_both_types():
    x = fnp.ones(3)
    with pytest.raises(
        TypeError,
        match=r"float32\[3\] but the corresponding output of true_fun has type int32\[3\], so the dtypes",
    ):
        lax.cond(True, lambda x: x.astype(fnp.int32), lambda x: x, x)
    with pytest.raises(TypeError, match=r"float32\[3\].*float32\[2\], so the shapes do not match"):
        lax.cond(True, lambda x: x[:2], lambda x: x, x)
    with pytest.raises(TypeError, match="cond branch outputs must have the same pytree structure"):
        lax.cond(True, lambda x: (x, x), lambda x: x, x)
    with pytest.raises(TypeError, match=r"branches\[0\] .*branches\[1\] has type float32\[\]"):
        lax.switch(0, [lambda x: x.sum().astype(fnp.int32), lambda x: x.sum()], x)


def test_predicate_and_index_errors():
    x = fnp.ones(3)
    with pytest.raises(TypeError, match=r"Pred must be a scalar, got \[ True  True  True\] of shape \(3,\)"):
        lax.cond(x > 0, lambda x: x, lambda x: x, x)
    with pytest.raises(TypeError, match="Pred type must be either boolean or integer, got float32"):
        lax.cond(1.5, lambda x: x, lambda x: x, x)
    with pytest.raises(TypeError, match="Index type must be an integer, got 1.0 as float32"):
        lax.switch(1.0, [lambda x: x, lambda x: x], x)
    with pytest.raises(TypeError, match=r"Branch index must be scalar, got \[1 1\] of shape \(2,\)"):
        lax.switch(fnp.ones(2, fnp.int32), [lambda x: x, lambda x: x], x)
    with pytest.raises(TypeError, match=r"Pred must be a scalar, got f32\[3\]"):
        fl.jit(lambda x: lax.cond(x, lambda: 1.0, lambda: 2.0))(x)
    with pytest.raises(ValueError, match="Empty branch sequence"):
        lax.switch(0, [], x)


def test_loop_carry_errors():
    with pytest.raises(
        TypeError,
        match=r"carry c has type float32\[\] but the corresponding output carry component has type int32",
    ):
        lax.scan(lambda c, x: (c.astype(fnp.int32), x), fnp.ones(()), fnp.ones(3))
    with pytest.raises(
        TypeError, match="scan body function carry input and carry output must have the same pytree structure"
    ):
        lax.scan(lambda c, x: ((c, c), x), fnp.ones(()), fnp.ones(3))
    with pytest.raises(
        TypeError,
        match=r"(?s)while_loop body function .* type float32\[\] .* float32\[2\], so the shapes do not",
    ):
        lax.while_loop(lambda c: c < 3, lambda c: fnp.ones(2) * c, fnp.ones(()))
    with pytest.raises(
        TypeError, match=r"cond_fun must return a boolean scalar, but got output type\(s\) \[bool\[3\]\]"
    ):
        lax.while_loop(lambda c: c > 0, lambda c: c, fnp.ones(3))
    with pytest.raises(TypeError, match="scan body output must be a pair"):
        lax.scan(lambda c, x: c, 0.0, fnp.ones(3))


def test_scan_length_errors():
    with pytest.raises(ValueError, match="scan got no values to scan over and `length` not provided"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(
        ValueError, match=r"`length` argument of 4 which disagrees with leading axis sizes \[3\]"
    ):
        lax.scan(lambda c, x: (c, x), 0.0, fnp.ones(3), length=4)
    with pytest.raises(ValueError, match="different leading axis sizes: 3, 4"):
        lax.scan(lambda c, x: (c, x), 0.0, (fnp.ones(3), fnp.ones(4)))
