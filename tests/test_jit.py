"""jit: results equal eager, the cache (trace counts as in JAX), composition with grad/vmap/jvp, the plan
(buffer reuse, donation), inspection (lower/as_text), debugging flags, errors and thread safety."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

SETTINGS = settings(max_examples=20, deadline=None)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------------
# jit equals eager
# ---------------------------------------------------------------------------------------------------

FUNCTIONS = {
    "neuron": lambda x: fnp.tanh(x * 0.5 + 1.0),
    "softmax": lambda x: fnp.exp(x - fnp.max(x)) / fnp.sum(fnp.exp(x - fnp.max(x))),
    "poly": lambda x: x**3 - 2 * x**2 + x / 3.0,
    "where": lambda x: fnp.where(x > 0, fnp.sqrt(fnp.abs(x)), x * x),
    "reduce_mix": lambda x: fnp.sum(fnp.sin(x)) * fnp.mean(fnp.cos(x)) + fnp.prod(x[:2]),
    "indexing": lambda x: x[::-1][1:] * x[:-1],
    "matmul": lambda x: fnp.outer(x, x) @ x,
    "cumsum_clip": lambda x: fnp.clip(fnp.cumsum(x), -1.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@SETTINGS
@given(values=st.lists(st.floats(-3, 3, width=32), min_size=3, max_size=6))
def test_jit_equals_eager(name, values):
    f = FUNCTIONS[name]
    x = fnp.asarray(np.array(values, np.float32))
    expected = f(x)
    got = fl.jit(f)(x)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    _close(got, expected)


def test_jit_of_every_lax_elementwise_unary_matches_eager():
    x = fnp.asarray(np.linspace(0.1, 0.9, 7, dtype=np.float32))
    for name in [
        "exp",
        "log",
        "sin",
        "cos",
        "tanh",
        "sqrt",
        "rsqrt",
        "logistic",
        "erf",
        "lgamma",
        "asin",
        "atanh",
    ]:
        f = getattr(lax, name)
        _close(fl.jit(f)(x), f(x))


# ---------------------------------------------------------------------------------------------------
# The cache: trace counts as in JAX
# ---------------------------------------------------------------------------------------------------


def _counting(fn):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    return wrapped, calls


def test_trace_counts_match_jax():
    g, calls = _counting(lambda x: x * 2)
    f = fl.jit(g)
    f(fnp.ones(3))
    f(fnp.ones(3))
    assert len(calls) == 1  # same shape and dtype: cache hit
    f(fnp.ones(4))
    assert len(calls) == 2  # new shape
    f(fnp.ones(4, dtype=fnp.int32))
    assert len(calls) == 3  # new dtype
    f(1.0)
    f(2.0)
    assert len(calls) == 4  # weakly typed Python floats share one trace
    f(fnp.asarray(np.float32(1.0)))
    assert len(calls) == 5  # a strongly typed f32[] differs from a weak one, as in JAX
    f(3)
    assert len(calls) == 6  # Python int: weak i32


def test_static_argnums_retrace_only_on_new_values():
    g, calls = _counting(lambda x, n: x**n)
    f = fl.jit(g, static_argnums=1)
    _close(f(fnp.ones(2) * 2, 3), [8.0, 8.0])
    f(fnp.ones(2) * 2, 3)
    assert len(calls) == 1
    f(fnp.ones(2), 4)
    assert len(calls) == 2


def test_static_argnames():
    f = fl.jit(lambda x, *, scale: x * scale, static_argnames="scale")
    _close(f(fnp.ones(2), scale=3.0), [3.0, 3.0])


def test_pytree_arguments_and_outputs():
    @fl.jit
    def f(params, x):
        return {"y": params["w"] * x + params["b"], "n": (x.sum(),)}

    out = f({"w": fnp.ones(3) * 2, "b": fnp.ones(3)}, fnp.arange(3.0))
    _close(out["y"], [1.0, 3.0, 5.0])
    _close(out["n"][0], 3.0)


def test_cache_is_bounded():
    f = fl.jit(lambda x: x + 1)
    f.cache_size = 8
    for n in range(1, 40):
        f(fnp.ones(n))
    assert len(f._cache) <= 8


# ---------------------------------------------------------------------------------------------------
# Composition with the other transformations (no re-tracing of the user function)
# ---------------------------------------------------------------------------------------------------


def _f(x):
    return fnp.sum(fnp.tanh(x) * fnp.sin(x) + x**2)


def test_composition_matrix_pairs_and_triples():
    x = fnp.asarray(np.array([0.3, -0.7, 1.1], np.float32))
    g = fl.grad(_f)(x)
    _close(fl.jit(fl.grad(_f))(x), g)
    _close(fl.grad(fl.jit(_f))(x), g)
    _close(fl.jit(fl.grad(fl.jit(_f)))(x), g)
    xs = fnp.stack([x, x * 2])
    per_row = fnp.stack([fl.grad(_f)(x), fl.grad(_f)(x * 2)])
    _close(fl.vmap(fl.grad(_f))(xs), per_row)
    _close(fl.vmap(fl.jit(fl.grad(_f)))(xs), per_row)
    _close(fl.jit(fl.vmap(fl.grad(_f)))(xs), per_row)
    _close(fl.vmap(fl.grad(fl.jit(_f)))(xs), per_row)
    t = fnp.ones(3)
    primal, tangent = fl.jvp(_f, (x,), (t,))
    p2, t2 = fl.jvp(fl.jit(_f), (x,), (t,))
    _close(p2, primal)
    _close(t2, tangent)
    # d2/dx2 [x sin x] = 2 cos x - x sin x
    _close(fl.grad(fl.grad(fl.jit(lambda u: fnp.sin(u) * u)))(0.5), 2 * np.cos(0.5) - 0.5 * np.sin(0.5))


def test_transforms_of_jit_do_not_retrace_the_python_function():
    g, calls = _counting(lambda x: fnp.sin(x) * x)
    f = fl.jit(g)
    x = fnp.ones(3)
    f(x)
    fl.grad(lambda v: fnp.sum(f(v)))(x)
    fl.vmap(f)(fnp.ones((2, 3)))
    fl.jvp(f, (x,), (x,))
    assert len(calls) == 1  # one f32[3] trace serves eager calls, grad, vmap (per-example f32[3]) and jvp
    fl.grad(lambda v: fnp.sum(f(v)))(x)
    assert len(calls) == 1


def test_grad_of_jit_with_closure_over_a_traced_value():
    def outer(w):
        return fl.jit(lambda x: fnp.sum(x * w))(fnp.ones(3))

    _close(fl.grad(outer)(2.0), 3.0)


# ---------------------------------------------------------------------------------------------------
# The plan: inspection, buffer reuse, donation
# ---------------------------------------------------------------------------------------------------


def test_lower_exposes_jaxpr_and_generated_code():
    f = fl.jit(lambda x: fnp.sin(x) * 2.0 + 1.0)
    lowered = f.lower(fnp.ones(8))
    assert "sin" in str(lowered.jaxpr)
    text = lowered.as_text()
    assert text.startswith("def run(")
    assert "out=" in text  # the multiply and add write into the dead sin buffer
    _close(lowered.compile()(fnp.ones(8)), np.sin(1.0) * 2 + 1)
    shapes = f.lower(fl.ShapeDtypeStruct((5,), np.float32)).out_info
    assert shapes.shape == (5,)


def test_buffer_reuse_never_clobbers_live_values():
    @fl.jit
    def f(x):
        a = fnp.exp(x)
        b = a.reshape(2, 2)  # a view of a's buffer
        c = a * 2.0  # must not be written into a: b still reads it
        return b, c

    x = fnp.asarray(np.arange(4.0, dtype=np.float32))
    b, c = f(x)
    _close(b, np.exp(np.arange(4.0)).reshape(2, 2))
    _close(c, 2 * np.exp(np.arange(4.0)))


def test_inputs_are_never_modified_without_donation():
    x = fnp.asarray(np.arange(4.0, dtype=np.float32))
    fl.jit(lambda v: fnp.sin(v) + v)(x)
    _close(x, np.arange(4.0))


def test_donated_input_is_reused_and_deleted():
    f = fl.jit(lambda v: v * 2.0 + 1.0, donate_argnums=0)
    x = fnp.asarray(np.arange(4.0, dtype=np.float32))
    out = f(x)
    _close(out, 2 * np.arange(4.0) + 1)
    with pytest.raises(RuntimeError, match="deleted"):
        x + 1


# ---------------------------------------------------------------------------------------------------
# Debugging: disable_jit, log_compiles, explain_cache_misses, debug_nans, debug.print
# ---------------------------------------------------------------------------------------------------


def test_disable_jit_runs_python():
    seen = []

    @fl.jit
    def f(x):
        seen.append(type(x).__name__)
        return x + 1

    with fl.disable_jit():
        f(fnp.ones(2))
    assert seen == ["Array"]


def test_log_compiles_and_explain_cache_misses(caplog):
    f = fl.jit(lambda x: x + 1)
    fl.config.update("log_compiles", True)
    fl.config.update("explain_cache_misses", True)
    try:
        with caplog.at_level(logging.WARNING, logger="functorch_lite"):
            f(fnp.ones(3))
            f(fnp.ones(4))
    finally:
        fl.config.update("log_compiles", False)
        fl.config.update("explain_cache_misses", False)
    text = caplog.text
    assert "Finished tracing" in text
    assert "changed from f32[3] to f32[4]" in text


def test_debug_nans_reports_the_primitive():
    f = fl.jit(lambda x: fnp.log(x) * 2.0)
    fl.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="log"):
            f(fnp.asarray([-1.0]))
        f(fnp.asarray([1.0]))  # no NaN: no error
    finally:
        fl.config.update("debug_nans", False)


def test_debug_print_inside_jit(capsys):
    @fl.jit
    def f(x):
        fl.debug.print("x={}", x)
        return x * 2

    f(fnp.asarray([1.0, 2.0]))
    assert "x=[1. 2.]" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


def test_python_if_on_traced_value_names_argument_and_fixes():
    @fl.jit
    def f(x, y):
        if x > 0:
            return y
        return -y

    with pytest.raises(fl.errors.TracerBoolConversionError) as info:
        f(fnp.ones(()), fnp.ones(()))
    message = str(info.value)
    assert (
        "x" in message and "static_argnums" in message and ("lax.cond" in message or "fnp.where" in message)
    )
    assert "test_jit.py" in message


def test_int_of_traced_value():
    with pytest.raises(fl.errors.TracerIntegerConversionError):
        fl.jit(lambda x: fnp.zeros(int(x)))(3)


def test_unhashable_static_argument_is_named():
    f = fl.jit(lambda x, opts: x, static_argnums=1)
    with pytest.raises(TypeError, match="Non-hashable static"):
        f(1.0, [1, 2])


def test_static_argnums_out_of_range():
    f = fl.jit(lambda x: x, static_argnums=3)
    with pytest.raises(ValueError, match="static_argnums"):
        f(1.0)


def test_leaked_tracer_is_reported_with_its_line():
    leaked = []

    @fl.jit
    def f(x):
        y = x * 2
        leaked.append(y)
        return y

    f(fnp.ones(2))
    with pytest.raises(fl.errors.UnexpectedTracerError, match="test_jit.py"):
        leaked[0] + 1


# ---------------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------------


def test_two_threads_calling_jitted_functions_get_correct_results():
    f = fl.jit(lambda x: fnp.sin(x) * x)
    errors = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for n in range(1, 30):
            v = rng.standard_normal(n).astype(np.float32)
            try:
                np.testing.assert_allclose(np.asarray(f(fnp.asarray(v))), np.sin(v) * v, rtol=1e-6)
                np.testing.assert_allclose(
                    np.asarray(fl.grad(lambda u: fnp.sum(f(u)))(fnp.asarray(v))),
                    np.cos(v) * v + np.sin(v),
                    rtol=1e-5,
                    atol=1e-6,
                )
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
