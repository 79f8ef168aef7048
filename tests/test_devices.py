"""fl.devices / fl.device_put: CPU always; the GPU path runs only where CuPy finds a GPU."""

import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.devices import _cupy


def test_cpu_is_always_available_and_device_put_copies_pytrees():
    assert "cpu" in fl.devices()
    tree = fl.device_put({"w": np.ones(3, np.float32), "b": 2.0}, "cpu")
    assert tree["w"].device == "cpu" and tree["w"].dtype == np.float32
    assert tree["b"].weak_type


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="Unknown device"):
        fl.device_put(fnp.ones(2), "tpu")


@pytest.mark.skipif(_cupy() is not None, reason="a GPU is present; the GPU test below runs instead")
def test_gpu_request_without_gpu_explains_the_fix():
    assert fl.devices("gpu") == []
    with pytest.raises(RuntimeError, match="CuPy and an NVIDIA GPU"):
        fl.device_put(fnp.ones(2), "gpu")


@pytest.mark.skipif(_cupy() is None, reason="needs CuPy and an NVIDIA GPU (none on this machine)")
def test_gpu_round_trip_and_eager_ops():
    x = fl.device_put(fnp.arange(4.0), "gpu")
    assert x.device == "gpu"
    y = fnp.sin(x) * 2 + 1
    np.testing.assert_allclose(np.asarray(fl.device_put(y, "cpu")), np.sin(np.arange(4.0)) * 2 + 1, rtol=1e-6)
