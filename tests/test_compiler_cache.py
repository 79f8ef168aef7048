"""The CPU build and its caches: disk entries reused across processes, corrupt entries rebuilt, unsafe
permissions refused, concurrent builders, no compiler (numpy with one warning), fork safety."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import textwrap
import uuid
import warnings

import numpy as np
import pytest
from kernel_corpus import needs_cc

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.compiler import cpu, render

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


pytestmark = needs_cc

TINY = 'typedef long long i64;\n__attribute__((visibility("default"))) int fl_probe(void) {{ return {value}; }} /* {token} */\n'


def _source(value: int = 7) -> str:
    return TINY.format(value=value, token=uuid.uuid4().hex)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh private cache directory for this test."""
    path = tmp_path / "kernels"
    monkeypatch.setattr(cpu.settings, "cache_dir", str(path))
    monkeypatch.setattr(cpu.settings, "disk_cache", True)
    cpu._dir_checked.pop(str(path), None)
    cpu.runtime()  # loaded once per process (from the default cache), so it does not count below
    yield path
    cpu._dir_checked.pop(str(path), None)


def _probe(lib: cpu.Library) -> int:
    return lib.cdll.fl_probe()


def _built_elsewhere(cache, source: str):
    """Compile ``source`` into the cache without loading it, as another process would."""
    cc, flags = cpu.find_compiler(), cpu.flags()
    directory = cpu.cache_dir()
    so = os.path.join(directory, cpu.cache_key(source, cc, flags) + ".so")
    cpu._finish(cpu._spawn(source, so, so + ".digest", directory, cc, flags))
    return so


def test_disk_entry_is_reused(cache):
    src = _source(7)
    so = _built_elsewhere(cache, src)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    before = dict(cpu.stats)
    assert _probe(cpu.load_source(src)) == 7
    assert cpu.stats["compiles"] == before["compiles"] and cpu.stats["disk_hits"] == before["disk_hits"] + 1
    assert _probe(cpu.load_source(src)) == 7  # now from memory
    assert cpu.stats["memory_hits"] == before["memory_hits"] + 1
    assert os.path.exists(so) and not [p for p in cache.iterdir() if p.name.startswith("tmp-")]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_entry_is_rebuilt(cache, damage):
    src = _source(9)
    so = _built_elsewhere(cache, src)
    data = bytearray(open(so, "rb").read())
    if damage == "truncate":
        data = data[:100]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = bytearray(b"not an ELF file")
    with open(so, "wb") as f:
        f.write(data)
    before = dict(cpu.stats)
    assert _probe(cpu.load_source(src)) == 9
    assert cpu.stats["rebuilt"] == before["rebuilt"] + 1 and cpu.stats["compiles"] == before["compiles"] + 1


def test_unsafe_directory_is_refused(cache):
    cache.mkdir(mode=0o700)
    os.chmod(cache, 0o777)
    with pytest.warns(fl.errors.CompilerWarning, match="not a directory owned by this user with mode 0700"):
        used = cpu.cache_dir()
    assert used != str(cache)
    assert stat.S_IMODE(os.stat(used).st_mode) == 0o700
    src = _source(3)
    assert _probe(cpu.load_source(src)) == 3
    assert not any(p.suffix == ".so" for p in cache.iterdir())  # nothing written to or loaded from it


def test_group_writable_entry_is_not_loaded(cache):
    src = _source(5)
    so = _built_elsewhere(cache, src)
    os.chmod(so, 0o777)
    before = dict(cpu.stats)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _probe(cpu.load_source(src)) == 5
    assert any("refusing to load" in str(w.message) for w in caught)
    assert cpu.stats["compiles"] == before["compiles"] + 1  # rebuilt instead
    assert not stat.S_IMODE(os.stat(so).st_mode) & 0o022


def _run_python(code: str, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT, **env},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CHILD = """
    import json, numpy as np, functorch_lite as fl, functorch_lite.numpy as fnp
    from functorch_lite.compiler import cpu
    x = fnp.asarray(np.linspace(-2, 2, 5000, dtype=np.float32))
    y = fl.jit(lambda x: fnp.tanh(x * 3.0) + x * x)(x)
    ok = bool(np.allclose(np.asarray(y), np.tanh(np.asarray(x) * 3) + np.asarray(x) ** 2, atol=1e-6))
    print(json.dumps({**cpu.stats, "ok": ok}))
"""


NO_PREBUILT = {"FUNCTORCH_LITE_PREBUILT_RUNTIME": "0"}  # the runtime too is built into the cache


def test_second_process_reuses_the_shared_object(tmp_path):
    env = {"FUNCTORCH_LITE_CACHE_DIR": str(tmp_path / "c"), **NO_PREBUILT}
    first = _run_python(CHILD, env)
    assert first["ok"] and first["compiles"] >= 1
    second = _run_python(CHILD, env)
    assert second["ok"] and second["compiles"] == 0 and second["disk_hits"] >= 2  # runtime + kernels


FAILING_KERNELS = """
    import fcntl, glob, json, os, warnings, numpy as np, functorch_lite as fl, functorch_lite.numpy as fnp
    from functorch_lite.compiler import cpu, render
    render.render_c = lambda kernels, strided=False: "this is not C"  # the kernels' compile fails
    x = fnp.asarray(np.linspace(-2, 2, 5000, dtype=np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = fl.jit(lambda x: fnp.tanh(x * 3.0) + x * x)(x)  # runs on numpy
    ok = bool(np.allclose(np.asarray(y), np.tanh(np.asarray(x) * 3) + np.asarray(x) ** 2, atol=1e-6))
    directory = os.environ["FUNCTORCH_LITE_CACHE_DIR"]
    for lock in glob.glob(os.path.join(directory, "*.lock")):  # none still held: other processes can build
        fd = os.open(lock, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    print(json.dumps({"ok": ok, "warned": any("failed" in str(w.message) for w in caught),
                      "libraries": len(glob.glob(os.path.join(directory, "*.so")))}))
"""


def test_failed_kernel_build_settles_the_runtime_build(tmp_path):
    # the runtime's compiler starts beside the kernels'; when theirs fails it is still waited for and its lock
    # released, so another process never waits on a lock this one holds
    out = _run_python(FAILING_KERNELS, {"FUNCTORCH_LITE_CACHE_DIR": str(tmp_path / "c"), **NO_PREBUILT})
    assert out == {"ok": True, "warned": True, "libraries": 1}  # the runtime, built


def test_concurrent_builders(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "FUNCTORCH_LITE_CACHE_DIR": str(tmp_path / "c"), **NO_PREBUILT}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CHILD)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results)
    names = os.listdir(tmp_path / "c")
    assert not [n for n in names if n.startswith("tmp-")]
    assert len([n for n in names if n.endswith(".so")]) == 2  # the runtime and the one kernel library


RUNTIME_CHILD = CHILD.replace(
    "print(json.dumps({**cpu.stats, ",
    "print(json.dumps({**cpu.stats, 'runtime': cpu.runtime().path, 'prebuilt': cpu.prebuilt_runtime_path(), ",
)


@pytest.mark.skipif(
    cpu.prebuilt_runtime_path() is None, reason="pip built no runtime at install (no C compiler then)"
)
def test_prebuilt_runtime_is_loaded_and_nothing_else_built_for_it(tmp_path):
    out = _run_python(RUNTIME_CHILD, {"FUNCTORCH_LITE_CACHE_DIR": str(tmp_path / "c")})
    assert out["ok"] and out["runtime"] == out["prebuilt"] and out["compiles"] == 1  # the kernels only
    assert [n.endswith(".so") for n in os.listdir(tmp_path / "c")].count(True) == 1


def test_runtime_is_built_into_the_cache_without_a_prebuilt_one(tmp_path):
    out = _run_python(RUNTIME_CHILD, {"FUNCTORCH_LITE_CACHE_DIR": str(tmp_path / "c"), **NO_PREBUILT})
    assert out["ok"] and out["prebuilt"] is None and out["compiles"] == 2  # the kernels and the runtime
    assert out["runtime"].startswith(str(tmp_path / "c"))


def test_prebuilt_runtime_of_another_source_is_not_loaded(monkeypatch):
    # the library's name carries the digest of the runtime.c it was built from: after an edit, pip's build is
    # stale and jit builds the runtime into the cache instead
    monkeypatch.setattr(render, "RUNTIME_SOURCE", render.RUNTIME_SOURCE + "/* edited */\n")
    assert cpu.prebuilt_runtime_path() is None


def test_toolchain_record_names_the_compiler(cache, monkeypatch):
    monkeypatch.setattr(cpu, "_toolchain_cache", {})  # probe again, for this cache directory
    info = cpu.toolchain(cpu.find_compiler())
    assert " version " in f" {info['version']} " and info["machine"] != "unknown" and info["march"]
    with open(cache / "toolchain.txt", encoding="utf-8") as f:  # remembered: a new process spawns nothing
        assert info["version"] in f.read()
    assert cpu._probe(os.path.join(str(cache), "no-such-cc")) == {
        "version": "unknown",
        "machine": "unknown",
        "march": "native",
    }
    assert not [name for name in os.listdir(cache) if name.startswith("tmp-")]  # probes leave nothing behind


def test_no_compiler_runs_on_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(cpu.settings, "cc", "/nonexistent/path/to/cc")
    monkeypatch.setattr(cpu.settings, "min_elements", 0)
    monkeypatch.setattr(cpu, "_warned", set())
    x = fnp.asarray(np.arange(10, dtype=np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y1 = fl.jit(lambda x: x * 2.0 + 1.0)(x)
        y2 = fl.jit(lambda x: fnp.exp(x) - x)(x)
    messages = [str(w.message) for w in caught if "no C compiler" in str(w.message)]
    assert len(messages) == 1 and "numpy" in messages[0]
    assert all(w.category is fl.errors.CompilerWarning for w in caught if "no C compiler" in str(w.message))
    np.testing.assert_array_equal(np.asarray(y1), np.arange(10, dtype=np.float32) * 2 + 1)
    np.testing.assert_allclose(np.asarray(y2), np.exp(np.arange(10, dtype=np.float32)) - np.arange(10))
    text = fl.jit(lambda x: x * 3.0 - 1.0).lower(x).as_text()
    assert "fused kernels" not in text


def test_kernels_disabled_by_setting(monkeypatch):
    monkeypatch.setattr(cpu.settings, "enabled", False)
    text = fl.jit(lambda x: x * 3.0 - 1.0).lower(fnp.ones(100_000)).as_text()
    assert "fused kernels" not in text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_kernels_without_hanging(monkeypatch):
    monkeypatch.setattr(cpu.settings, "min_elements", 0)
    cpu.runtime()
    previous = cpu.settings.num_threads
    cpu.set_threads(2)
    try:
        f = fl.jit(lambda x: fnp.tanh(x) * 2.0 + x)
        x = fnp.ones(1 << 20)
        f(x)  # runs an OpenMP region in the parent (above the parallel threshold)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: the same kernel must run (serially) and return
            try:
                y = np.asarray(f(x))
                os.write(w, b"ok" if np.allclose(y, np.tanh(1.0) * 2 + 1) else b"bad")
            finally:
                os._exit(0)
        os.close(w)

        ready, _, _ = select.select([r], [], [], 60)
        if not ready:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung running a kernel")
        assert os.read(r, 10) == b"ok"
        os.waitpid(pid, 0)
    finally:
        cpu.set_threads(previous)


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_compiler_process_waits_and_times_out(tmp_path, monkeypatch, pidfd):
    """A compiler process is waited for (sleeping on a pidfd, or polling where there is none) and killed
    once its time is up."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("os.pidfd_open needs Linux 5.3+ and Python 3.9+")
    assert cpu._Process(["/bin/sh", "-c", "exit 3"], str(tmp_path / "a.err")).wait(60) == 3
    slow = cpu._Process(["/bin/sh", "-c", "sleep 30"], str(tmp_path / "b.err"))
    assert slow.wait(0.2) == -9


def test_failed_build_warns_under_default_filters(tmp_path):
    """A failed build is reported with Python's default warning filters (functorch_lite hides numpy's
    floating-point RuntimeWarnings, so its own warning must not be one)."""
    code = "import functorch_lite as fl, functorch_lite.numpy as fnp; print(fl.jit(lambda x: x * 2.0 + 1.0)(fnp.ones(100_000))[0])"
    env = dict(os.environ, FUNCTORCH_LITE_CFLAGS="-fno-such-flag", FUNCTORCH_LITE_CACHE_DIR=str(tmp_path))
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "3.0", proc.stderr
    assert "CompilerWarning: functorch_lite: building fused kernels failed, using numpy" in proc.stderr


def test_kernels_link_without_libc_and_the_runtime_with_its_openmp_library():
    # kernel libraries resolve their few libc/libm symbols from the process; the runtime links the usual way,
    # since a compiler driver may drop its OpenMP library under -nostdlib (clang does)
    assert "-nostdlib" in cpu.flags() and "-nostdlib" not in cpu.runtime_flags()
    assert "-fopenmp" in cpu.runtime_flags() and "-fopenmp" not in cpu.flags()
