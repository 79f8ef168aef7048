"""Build fused C kernels with the system C compiler, cache them on disk, load them with ctypes.

All kernels of one jit go into one translation unit and one compiler call (``-O3 -march=native``, never
``-ffast-math``, ``-ffp-contract=off``). What every kernel library shares (reading ndarray objects,
collapsing dimensions, the OpenMP launcher) is a runtime library (``runtime.c``), loaded ``RTLD_GLOBAL`` so
kernel libraries link to it at load time: the one pip built at install time (``setup.py``) if it matches
``runtime.c``, else built and cached like kernels, once per machine. The shared objects are cached
under a per-user directory (``$FUNCTORCH_LITE_CACHE_DIR``, else ``$XDG_CACHE_HOME/functorch_lite/kernels``,
else ``~/.cache/functorch_lite/kernels``) created with mode 0700; before any ``.so`` is loaded the
directory must belong to us and be closed to group and others (loading a shared object runs its code),
else a private temporary directory is used instead, with a warning; each file must belong to us and be
closed to writes by others too. Entries are content-addressed by ``blake2b(format version, code generator
version, the kernels' IR, flags, compiler path and version, target triple, the CPU -march=native resolves
to)``, so a cache hit renders no C at all; the compiler writes
to a temporary file that is renamed into place atomically (readers never see a partial file, and several
processes building the same kernel at once are harmless); a sidecar digest detects corrupt or truncated
entries, which are rebuilt. Loaded libraries are also kept in memory for the life of the process.

Kernels take the ndarray objects themselves (``ctypes.py_object``) and read data pointers, shapes and
strides from numpy's ``PyArrayObject`` fields, so a call marshals nothing but object pointers; the layout
is verified once per process (``layout_ok``). Kernels never run OpenMP regions in a process forked after
one ran (libgomp is not fork-safe): a fork handler sets their thread count to 1 in the child. Several
threads are used only above ``settings.parallel_min_work``, with chunks handed out dynamically (a thread
that waits for a busy core then takes less work instead of holding up the rest).

Environment: ``FUNCTORCH_LITE_CC`` (compiler, default ``$CC`` or ``cc``), ``FUNCTORCH_LITE_CFLAGS`` (extra
flags, part of the key), ``FUNCTORCH_LITE_CACHE_DIR``, ``FUNCTORCH_LITE_DISABLE_DISK_CACHE=1``,
``FUNCTORCH_LITE_SAVE_SOURCE=1`` (keep ``<key>.c`` beside each entry), ``FUNCTORCH_LITE_NUM_THREADS``,
``FUNCTORCH_LITE_KERNELS=0`` (never compile: every jit runs on numpy),
``FUNCTORCH_LITE_KERNEL_MIN_ELEMENTS`` (smaller groups stay numpy calls; default 256),
``FUNCTORCH_LITE_PARALLEL_MIN_WORK`` (the work below which a kernel runs on one thread; default 2**22),
``FUNCTORCH_LITE_PREBUILT_RUNTIME=0`` (ignore the runtime built at install time).

Example:
    >>> lib = build([kernel])          # compiles once, later calls hit the caches
    >>> lib.function("k0")(dims, x, out)
    0
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
import threading
import time
import warnings
from typing import Any

import numpy as np

from ..core.errors import CompilerWarning

try:  # CPython's own BLAKE2: importing hashlib loads OpenSSL, 2.7 ms of every new process's first jit
    from _blake2 import blake2b
except ImportError:  # another Python implementation
    from hashlib import blake2b
from . import render
from .kernel_ir import Kernel

CACHE_FORMAT = "1"
BASE_FLAGS = (
    "-O3",
    "-march=native",
    "-ffp-contract=off",  # no FMA contraction: results equal numpy's bit for bit
    "-fno-math-errno",  # lets sqrt and rounding vectorise; no IEEE change (never -ffast-math)
    "-fno-trapping-math",  # lets selects be computed branch-free (we never enable FP traps)
    # register allocation weighs pressure inside loops: the vector maths' constants stay in registers
    # instead of being broadcast from memory on every iteration (softmax -13%, layernorm -5%)
    "-fira-loop-pressure",
    "-fwrapv",
    "-fno-strict-aliasing",
    "-fvisibility=hidden",
    "-fPIC",
    "-shared",
    "-pipe",  # the assembler reads the compiler's output as it comes (no temporary file): 3-4 ms per build
    # no C library or start files at link time: the few libc/libm symbols a kernel may use (memcpy for a
    # copy loop, fmaf without hardware FMA) resolve at load time from the Python process, which has libc
    # and libm loaded. Linking against libc took 5-10 ms of every build.
    "-nostdlib",
)
LINK_LIBS = ("-lm",)  # libm named all the same, for a process that would not have it loaded
OPENMP_FLAGS = ("-fopenmp",)


class CompilerUnavailable(RuntimeError):
    """No usable C compiler: jit runs the same plan on numpy."""


class BuildError(RuntimeError):
    """The compiler rejected a generated translation unit (a bug in the code generator)."""


def _env_flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default) not in ("0", "", "false", "False", "no")


def _default_threads() -> int:
    value = os.environ.get("FUNCTORCH_LITE_NUM_THREADS")
    if value:
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _split_flags(text: str) -> tuple[str, ...]:
    if not text.strip():
        return ()
    import shlex  # only when flags are given: every process's first jit reads the settings

    return tuple(shlex.split(text))


class Settings:
    """Process-wide knobs (tests change them; the environment sets the defaults)."""

    def __init__(self) -> None:
        env = os.environ.get
        self.cc: str = env("FUNCTORCH_LITE_CC") or env("CC") or "cc"
        self.extra_flags: tuple = _split_flags(env("FUNCTORCH_LITE_CFLAGS", ""))
        self.cache_dir: str | None = env("FUNCTORCH_LITE_CACHE_DIR")
        self.disk_cache: bool = not _env_flag("FUNCTORCH_LITE_DISABLE_DISK_CACHE")
        self.save_source: bool = _env_flag("FUNCTORCH_LITE_SAVE_SOURCE")
        self.enabled: bool = _env_flag("FUNCTORCH_LITE_KERNELS", "1")
        self.num_threads: int = _default_threads()
        self.min_elements: int = int(env("FUNCTORCH_LITE_KERNEL_MIN_ELEMENTS", "256"))
        # elements x cost weight (1 per element, +8 per transcendental) before a kernel uses several threads:
        # about 0.4 ms of work (gelu on 1e6 floats: 0.68 -> 0.35 ms on 2 cores), so that waking the threads
        # (or waiting for a core) costs little in comparison
        self.parallel_min_work: int = int(env("FUNCTORCH_LITE_PARALLEL_MIN_WORK", str(1 << 22)))
        # the runtime library pip built at install time, when there is one (0: build it into the cache)
        self.prebuilt_runtime: bool = _env_flag("FUNCTORCH_LITE_PREBUILT_RUNTIME", "1")


settings = Settings()

_lock = threading.RLock()
_loaded: dict[str, Library] = {}  # in-memory cache: key -> library
# What the caches did in this process (for tests and for ``config.log_compiles``-style diagnostics).
stats = {"compiles": 0, "disk_hits": 0, "memory_hits": 0, "rebuilt": 0, "fallbacks": 0}
_warned: set[str] = set()
_toolchain_cache: dict[tuple, dict] = {}
_dir_checked: dict[str, str] = {}


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, CompilerWarning, stacklevel=3)


def digest(data: bytes) -> str:
    """The hex BLAKE2b-256 digest of ``data``: cache keys, entry checksums, the prebuilt runtime's name.

    >>> digest(b"")[:8]
    '0e5751c0'
    """
    return blake2b(data, digest_size=32).hexdigest()


# ---------------------------------------------------------------------------------------------------
# numpy's object layout
# ---------------------------------------------------------------------------------------------------

_layout: bool | None = None


def layout_ok() -> bool:
    """Whether ndarray objects have the ``PyArrayObject_fields`` layout the kernels read (checked once)."""
    global _layout
    if _layout is None:
        try:
            a = np.arange(6.0).reshape(2, 3)[:, ::2]
            base = id(a)
            p = ctypes.c_void_p.from_address
            i64 = ctypes.c_int64.from_address
            ok = p(base + 8).value == id(np.ndarray) and p(base + 16).value == a.ctypes.data
            ok = ok and ctypes.c_int.from_address(base + 24).value == a.ndim
            dims, strides = p(base + 32).value, p(base + 40).value
            ok = ok and [i64(dims + 8 * k).value for k in range(2)] == list(a.shape)
            ok = ok and [i64(strides + 8 * k).value for k in range(2)] == list(a.strides)
            ro = np.ones(3)
            ro.flags.writeable = False
            ok = ok and bool(ctypes.c_int.from_address(base + 64).value & 0x400)
            ok = ok and not ctypes.c_int.from_address(id(ro) + 64).value & 0x400
            _layout = bool(ok)
        except Exception:  # noqa: BLE001 - any surprise means: do not read objects from C
            _layout = False
    return _layout


# ---------------------------------------------------------------------------------------------------
# The cache directory
# ---------------------------------------------------------------------------------------------------


def default_cache_dir() -> str:
    if settings.cache_dir:
        return settings.cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "functorch_lite", "kernels")


def _private_dir(path: str) -> bool:
    """Whether ``path`` is a real directory owned by us with no group/other access."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def cache_dir() -> str:
    """The checked cache directory (created 0700); a private temporary one if it is not safe."""
    path = default_cache_dir()
    checked = _dir_checked.get(path)
    if checked is not None:
        return checked
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        pass
    if _private_dir(path):
        result = path
    else:
        import tempfile

        result = tempfile.mkdtemp(prefix="functorch_lite-kernels-")
        warn_once(
            "dir:" + path,
            f"functorch_lite: the kernel cache directory {path} is not a directory owned by this user with "
            f"mode 0700 (loading a shared object runs its code), so it is not used; kernels are cached in "
            f"{result} for this process. Fix its owner/permissions or set FUNCTORCH_LITE_CACHE_DIR.",
        )
    _dir_checked[path] = result
    return result


def _safe_file(path: str, root_too: bool = False) -> bool:
    """A regular file owned by this user (or by root, with ``root_too``) and closed to writes by others."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    owner_ok = st.st_uid == os.getuid() or (root_too and st.st_uid == 0)
    return stat.S_ISREG(st.st_mode) and owner_ok and not st.st_mode & 0o022


# ---------------------------------------------------------------------------------------------------
# The compiler
# ---------------------------------------------------------------------------------------------------


def which(program: str) -> str | None:
    """The executable ``program`` names, searched on ``$PATH`` as ``shutil.which`` does (whose import, with
    its compression modules, costs a few milliseconds on every process's first jit)."""
    if os.path.dirname(program):
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or os.curdir, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def find_compiler() -> str:
    path = which(settings.cc)
    if path is None:
        raise CompilerUnavailable(
            f"no C compiler found (looked for {settings.cc!r}; set FUNCTORCH_LITE_CC or CC)"
        )
    return os.path.realpath(path)


def _cpu_signature() -> str:
    """The first processor's vendor, model and flags (what ``-march=native`` sees). Only the first block of
    /proc/cpuinfo is read: every process's first jit pays for it, and on a large server the file is
    hundreds of kilobytes."""
    try:
        lines = []
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for ln in f:
                if not ln.strip() and lines:
                    break
                if ln.startswith(("model name", "flags", "vendor_id")):
                    lines.append(ln.rstrip("\n"))
        return digest("\n".join(sorted(lines)).encode())[:16]
    except OSError:
        import platform

        return platform.machine() + "-" + platform.processor()


def toolchain(cc: str) -> dict:
    """The compiler's version, target triple and the CPU ``-march=native`` resolves to, remembered in the
    cache directory keyed by the compiler binary's identity (so a warm process spawns nothing)."""
    st = os.stat(cc)
    ident = (cc, st.st_size, st.st_mtime_ns, _cpu_signature())
    info = _toolchain_cache.get(ident)
    if info is not None:
        return info
    record = "|".join(map(str, ("probe2", *ident)))  # probe2: the version line of `cc -###`
    path = os.path.join(cache_dir(), "toolchain.txt") if settings.disk_cache else None
    # One line per compiler: record, version, machine, march, tab-separated (read on every process's first
    # jit: plain text, no json import).
    table: dict[str, dict] = {}
    if path and _safe_file(path):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) == 4:
                        table[fields[0]] = dict(zip(("version", "machine", "march"), fields[1:]))
        except (OSError, UnicodeDecodeError):
            table = {}
    info = table.get(record)
    if info is None:
        info = _probe(cc)
        info = {k: " ".join(v.split()) or "unknown" for k, v in info.items()}  # one line, no tabs
        table[record] = info
        if path:
            lines = [f"{r}\t{i['version']}\t{i['machine']}\t{i['march']}\n" for r, i in sorted(table.items())]
            _atomic_write(path, "".join(lines).encode())
    _toolchain_cache[ident] = info
    return info


class _Process:
    """A compiler process started with ``os.posix_spawn``: stdin and stdout on /dev/null, stderr into
    ``err_path``. (Not the subprocess module: importing it costs ~3 ms of every cold first jit.)"""

    __slots__ = ("pid", "err_path", "returncode")

    def __init__(self, cmd: list[str], err_path: str):
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ]
            self.pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
        except OSError:
            _remove(err_path)
            raise
        finally:
            os.close(fd)
        self.err_path = err_path
        self.returncode: int | None = None

    def wait(self, timeout: float) -> int:
        """Its exit code; killed (and -9) after ``timeout`` seconds. Sleeps until the process exits (Linux
        pidfd) instead of waking every half millisecond to poll: on a two-core machine those wake-ups
        compete with the compiler processes of a cold cache."""
        if self.returncode is None and not _exited_within(self.pid, timeout):
            self.kill()
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def stderr(self) -> str:
        try:
            with open(self.err_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _exited_within(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` (a child, not yet reaped) exits within ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux 5.3+: poll, backing off from 0.5 to 10 ms
        deadline, pause = time.monotonic() + timeout, 0.0005
        while not os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            pause = min(2 * pause, 0.01)
        return True
    try:
        import select

        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def _run(cmd: list[str], err_path: str, timeout: float) -> tuple[int, str]:
    """Run ``cmd`` to the end: its exit code and what it wrote to stderr (``(-1, "")`` if it cannot start)."""
    try:
        proc = _Process(cmd, err_path)
    except OSError:
        return -1, ""
    try:
        return proc.wait(timeout), proc.stderr()
    finally:
        _remove(err_path)


def _work_dir() -> str:
    """Where builds happen: the checked cache directory, or this process's private one."""
    return cache_dir() if settings.disk_cache else _session_dir()


def _probe(cc: str) -> dict:
    """Version, target triple and the CPU ``-march=native`` resolves to, from the commands the compiler
    driver would run for a preprocessor call (``-###``: gcc and clang print them, with their version and
    target, and start nothing; 1.5 ms, where three probing calls took ~20 ms of a cold jit)."""
    import re

    cmd = [cc, "-march=native", "-###", "-E", "-x", "c", os.devnull, "-o", os.devnull]
    err_path = os.path.join(_work_dir(), f"tmp-{os.getpid()}-{time.monotonic_ns()}.probe")
    text = _run(cmd, err_path, timeout=60)[1]
    version = re.search(r"^(?!Configured)\S.*\bversion \d.*$", text, re.MULTILINE)
    machine = re.search(r"^Target:\s*(\S+)", text, re.MULTILINE)
    # the compiler proper's command line, its arguments quoted: "-march=znver3" (gcc), "-target-cpu" "znver3"
    march = re.search(r'"-march=([^"]+)"', text) or re.search(r'"-target-cpu"\s+"([^"]+)"', text)
    return {
        "version": version.group(0) if version else "unknown",
        "machine": machine.group(1) if machine else "unknown",
        "march": march.group(1) if march else "native",
    }


def _atomic_write(path: str, data: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def flags() -> tuple[str, ...]:
    return BASE_FLAGS + tuple(settings.extra_flags)


def runtime_flags() -> tuple[str, ...]:
    """The runtime's flags: the kernels' at ``-Og`` (its code runs once per kernel call, not per element:
    measured, kernel calls are as fast as with ``-O1``/``-O3``, and the compile a cold cache waits for takes
    50 ms instead of 65/120), with OpenMP, and linked the usual way: with ``-nostdlib`` a compiler driver
    may leave out its OpenMP library too (clang does; gcc still adds libgomp)."""
    return tuple("-Og" if f == "-O3" else f for f in flags() if f != "-nostdlib") + OPENMP_FLAGS


_versions: dict[str, str] = {}


def code_version() -> str:
    """A hash of the code generator's own source (renderer, IR, build flags, runtime): a cached library
    is only reused by the code that made it."""
    if "code" not in _versions:
        from . import kernel_ir

        sources = []
        for module in (render, kernel_ir, sys.modules[__name__]):
            with open(module.__file__, "rb") as f:
                sources.append(f.read())
        _versions["code"] = digest(b"\0".join([*sources, render.RUNTIME_SOURCE.encode()]))
    return _versions["code"]


def cache_key(material: str, cc: str, fl: tuple[str, ...]) -> str:
    """The cache key of a library built from ``material`` (its source, or a description of its kernels)."""
    info = toolchain(cc)
    parts = [
        CACHE_FORMAT,
        render.FORMAT_VERSION,
        code_version(),
        material,
        cc,
        info["version"],
        info["machine"],
    ]
    parts.append(info["march"])
    parts += list(fl)
    return digest("\0".join(parts).encode())


# ---------------------------------------------------------------------------------------------------
# Libraries
# ---------------------------------------------------------------------------------------------------


class Library:
    """A loaded shared object of kernels; ``function(name)`` is its ctypes entry point."""

    def __init__(self, path: str, key: str, mode: int = ctypes.DEFAULT_MODE):
        self.path = path
        self.key = key
        self.cdll = ctypes.CDLL(path, mode=mode)
        self._functions: dict[str, Any] = {}

    def function(self, name: str, nargs: int | None = None) -> Any:
        fn = self._functions.get(name)
        if fn is None:
            fn = getattr(self.cdll, name)
            fn.restype = ctypes.c_int
            if nargs is not None:
                fn.argtypes = [ctypes.py_object] * nargs
            self._functions[name] = fn
        return fn


_runtime: Library | None = None
_runtime_job: _Compilation | None = None  # the runtime's compiler, started by _start_runtime
_runtime_lock = threading.Lock()


def runtime() -> Library:
    """The kernel runtime library (built and cached like kernels; loaded once, RTLD_GLOBAL)."""
    global _runtime
    with _runtime_lock:
        _settle_runtime_job()
        if _runtime is None:
            _quiet_openmp()
            lib = _load_prebuilt_runtime()
            if lib is None:
                cc = find_compiler()
                key = _runtime_key(cc)
                lib = _load_or_build(render.render_runtime, key, cc, runtime_flags(), mode=ctypes.RTLD_GLOBAL)
            ctypes.c_void_p.in_dll(lib.cdll, "functorch_lite_ndarray_type").value = id(np.ndarray)
            ctypes.c_int64.in_dll(lib.cdll, "functorch_lite_par_min").value = settings.parallel_min_work
            _runtime = lib
            set_threads(settings.num_threads)
        return _runtime


def prebuilt_runtime_path() -> str | None:
    """The runtime library pip built when the package was installed (``setup.py``), if it was built from
    this very ``runtime.c`` (the source's digest is in the file's name, so an edited source never meets a
    stale build) and is safe to load: a regular file owned by this user or root, closed to writes by others.
    ``FUNCTORCH_LITE_PREBUILT_RUNTIME=0`` ignores it."""
    if not settings.prebuilt_runtime:
        return None
    import importlib.machinery

    base = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), f"_runtime_{digest(render.RUNTIME_SOURCE.encode())[:16]}"
    )
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if _safe_file(base + suffix, root_too=True):
            return base + suffix
    return None


def _load_prebuilt_runtime() -> Library | None:
    path = prebuilt_runtime_path()
    if path is None:
        return None
    try:
        return Library(path, "prebuilt", mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:  # e.g. built against an OpenMP library that has since gone
        warn_once(
            "prebuilt", f"functorch_lite: cannot load the prebuilt kernel runtime ({exc}); building it."
        )
        return None


def _settle_runtime_job() -> None:
    """Wait for the runtime's compiler if ``_start_runtime`` started one (the caller holds ``_runtime_lock``);
    a failure is left for ``runtime()`` to meet again. Until then the job holds the entry's file lock, which
    other processes wait for, so every path that started it settles it."""
    global _runtime_job
    if _runtime_job is not None:
        job, _runtime_job = _runtime_job, None
        try:
            _finish(job)
        except Exception:  # noqa: BLE001 - runtime() builds it again, which raises the error if it persists
            pass


def set_threads(n: int) -> None:
    """How many threads large kernels may use (``FUNCTORCH_LITE_NUM_THREADS``; 1 after a fork)."""
    settings.num_threads = max(1, int(n))
    if _runtime is not None:
        ctypes.c_int.in_dll(_runtime.cdll, "functorch_lite_nthreads").value = settings.num_threads


def _after_fork_in_child() -> None:
    global _runtime_job
    if _runtime_job is not None:  # the parent's compiler: the child builds again if it needs to, and lets go
        _unlock(_runtime_job.lock_fd)  # of its copy of the file lock (the parent's own stays held)
        _runtime_job = None
    if _runtime is not None:
        try:
            ctypes.c_int.in_dll(_runtime.cdll, "functorch_lite_nthreads").value = 1
        except Exception:  # noqa: BLE001
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _quiet_openmp() -> None:
    """Idle OpenMP workers should not spin for long after a kernel (they would compete with numpy/BLAS
    threads on small machines); only applies if the user set nothing and libgomp is not loaded yet."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "20000"


def build(kernels: list[Kernel], strided: bool = False) -> tuple[Library, Any]:
    """Compile ``kernels`` into one translation unit (or find it in a cache) and load it; ``strided``: the
    elementwise kernels' versions for any strides (``render.render_c``).

    Returns the library and a function giving the C source: the caches are keyed by the kernels' IR (and
    the code generator's version), so a cache hit renders nothing. Raises ``CompilerUnavailable`` or
    ``BuildError``.
    """
    cached: list[str] = []

    def source() -> str:
        if not cached:
            cached.append(render.render_c(kernels, strided))
        return cached[0]

    head = "strided\0" if strided else "ir\0"
    material = head + "\0".join(f"{k.name}:{k.aliased}:{k.structure()}" for k in kernels)
    return _load(material, source), source


def load_source(source: str) -> Library:
    """Compile and load a C translation unit (cached like kernels)."""
    return _load(source, lambda: source)


def _load(material: str, source: Any, fl: tuple[str, ...] | None = None) -> Library:
    if not layout_ok():
        raise CompilerUnavailable("numpy's ndarray object layout is not the one the kernels read")
    cc = find_compiler()
    fl = flags() if fl is None else fl
    with _lock:
        try:
            key = cache_key(material, cc, fl)
            lib = _loaded.get(key)
            if lib is None:
                # the runtime's compiler (on a cold cache) starts right after the kernels', the longer job
                start = None if _runtime is not None else lambda: _start_runtime(cc)
                lib = _load_or_build(source, key, cc, fl, before_load=runtime, while_compiling=start)
                _loaded[key] = lib
            else:
                stats["memory_hits"] += 1
            return lib
        finally:
            with _runtime_lock:  # if the kernels failed, the runtime's compiler is still ours to settle
                _settle_runtime_job()


def _runtime_key(cc: str) -> str:
    return cache_key("runtime", cc, runtime_flags())  # its source is determined by the code version


def _start_runtime(cc: str) -> None:
    """If the runtime must be compiled, start its compiler now, while the caller's kernels compile: on a
    cold cache the two compiler processes run side by side. ``runtime()`` (called before any kernel
    library is loaded) waits for it, and builds it again if it failed, raising the error."""
    global _runtime_job
    with _runtime_lock:
        if _runtime is not None or _runtime_job is not None or prebuilt_runtime_path() is not None:
            return
        directory = _work_dir()
        so = os.path.join(directory, _runtime_key(cc) + ".so")
        if os.path.exists(so):
            return
        lock_fd = _lock_file(so[: -len(".so")] + ".lock")
        try:
            if os.path.exists(so):  # another process built it while we waited
                _unlock(lock_fd)
                return
            _quiet_openmp()
            _runtime_job = _spawn(render.render_runtime(), so, so + ".digest", directory, cc, runtime_flags())
            _runtime_job.lock_fd = lock_fd
            stats["compiles"] += 1
        except Exception:  # noqa: BLE001 - runtime() builds it again and raises
            _unlock(lock_fd)


def _load_or_build(
    source: Any,
    key: str,
    cc: str,
    fl: tuple[str, ...],
    mode: int = ctypes.DEFAULT_MODE,
    before_load: Any = None,
    while_compiling: Any = None,
) -> Library:
    """``source``: the translation unit, or a function giving it (called only if it must be compiled);
    ``before_load`` runs before the library is loaded (the runtime it links against); ``while_compiling``
    runs once the compiler has started, if it had to."""
    directory = _work_dir()
    so = os.path.join(directory, key + ".so")
    digest_path = so + ".digest"
    if os.path.exists(so):
        lib = _try_load(so, digest_path, key, mode, before_load)
        if lib is not None:
            stats["disk_hits"] += 1
            return lib
        stats["rebuilt"] += 1
    lock_fd = _lock_file(os.path.join(directory, key + ".lock"))
    try:
        if os.path.exists(so):  # another process built it while we waited
            lib = _try_load(so, digest_path, key, mode, before_load)
            if lib is not None:
                stats["disk_hits"] += 1
                return lib
        stats["compiles"] += 1
        job = _spawn(source() if callable(source) else source, so, digest_path, directory, cc, fl)
        if while_compiling is not None:
            while_compiling()
        _finish(job)
    finally:
        _unlock(lock_fd)
    lib = _try_load(so, digest_path, key, mode, before_load)
    if lib is None:
        raise BuildError(f"the kernel library {so} just built cannot be loaded")
    return lib


_session: str | None = None


def _session_dir() -> str:
    global _session
    if _session is None:
        import tempfile

        _session = tempfile.mkdtemp(prefix="functorch_lite-kernels-")
    return _session


def _try_load(
    so: str, digest_path: str, key: str, mode: int = ctypes.DEFAULT_MODE, before_load: Any = None
) -> Library | None:
    """Load a cached entry after checking its owner, permissions and digest; delete it if it is corrupt."""
    if not (_safe_file(so) and _safe_file(digest_path)):
        if os.path.exists(so) and not _safe_file(so):
            warn_once(
                "file:" + so,
                f"functorch_lite: refusing to load {so}: not a regular file owned by this user and closed to "
                "writes by others; rebuilding it.",
            )
        _remove(so, digest_path)
        return None
    try:
        with open(so, "rb") as f:
            data = f.read()
        with open(digest_path, encoding="ascii") as f:
            expected = f.read().strip()
    except OSError:
        return None
    if digest(data) != expected:
        _remove(so, digest_path)
        return None
    if before_load is not None:
        before_load()
    try:
        return Library(so, key, mode)
    except OSError:
        _remove(so, digest_path)
        return None


def _remove(*paths: str) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def _lock_file(path: str) -> int | None:
    try:
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd
    except (OSError, ImportError):
        return None


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing releases the flock


class _Compilation:
    """A compiler process building one cache entry: started by ``_spawn``, completed by ``_finish``."""

    __slots__ = ("proc", "cmd", "c_path", "tmp_so", "so", "digest_path", "lock_fd")

    def __init__(self, proc: Any, cmd: list[str], c_path: str, tmp_so: str, so: str, digest_path: str):
        self.proc, self.cmd, self.c_path, self.tmp_so = proc, cmd, c_path, tmp_so
        self.so, self.digest_path = so, digest_path
        self.lock_fd: int | None = None


def _spawn(
    source: str, so: str, digest_path: str, directory: str, cc: str, fl: tuple[str, ...]
) -> _Compilation:
    """Write ``source`` and start the compiler on it (without waiting)."""
    tag = os.path.join(directory, f"tmp-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}")
    c_path, tmp_so = tag + ".c", tag + ".so"
    with open(c_path, "w", encoding="utf-8") as f:
        f.write(source)
    cmd = [cc, *fl, "-o", tmp_so, c_path, *LINK_LIBS]
    try:
        proc = _Process(cmd, tag + ".err")
    except OSError as exc:
        _remove(c_path)
        raise CompilerUnavailable(f"cannot run the C compiler {cc}: {exc}") from exc
    return _Compilation(proc, cmd, c_path, tmp_so, so, digest_path)


def _finish(job: _Compilation) -> None:
    """Wait for ``job``'s compiler; record the digest and rename the library into place (atomically)."""
    try:
        returncode, stderr, cmd = job.proc.wait(600), job.proc.stderr(), job.cmd
        if returncode != 0 and "-fopenmp" in cmd and "openmp" in stderr.lower():
            cmd = [c for c in cmd if c != "-fopenmp"]  # a compiler without OpenMP: serial kernels
            returncode, stderr = _run(cmd, job.proc.err_path, timeout=600)
        if returncode != 0:
            import shutil
            import tempfile

            kept = os.path.join(tempfile.gettempdir(), f"functorch_lite-failed-{os.getpid()}.c")
            shutil.copyfile(job.c_path, kept)
            raise BuildError(
                f"C compiler failed ({' '.join(cmd[:3])} ...); source saved to {kept}:\n{stderr[-2000:]}"
            )
        with open(job.tmp_so, "rb") as f:
            checksum = digest(f.read())
        os.chmod(job.tmp_so, 0o700)
        _atomic_write(job.digest_path, checksum.encode())
        os.replace(job.tmp_so, job.so)
        if settings.save_source:
            os.replace(job.c_path, job.so[: -len(".so")] + ".c")
    finally:
        job.proc.kill()  # a no-op once it has exited
        _remove(job.c_path, job.tmp_so, job.proc.err_path)
        _unlock(job.lock_fd)


def clear_cache() -> None:
    """Forget loaded libraries (they stay mapped) and delete the on-disk entries."""
    with _lock:
        _loaded.clear()
        directory = default_cache_dir()
        if _private_dir(directory):
            for name in os.listdir(directory):
                if name.endswith((".so", ".digest", ".lock", ".c", ".json", ".txt")) or name.startswith(
                    "tmp-"
                ):
                    _remove(os.path.join(directory, name))


def describe() -> str:
    """A one-line description of how kernels are built, for the plan's text."""
    return f"{settings.cc} {' '.join(flags() + LINK_LIBS)}"


def kernels_enabled() -> bool:
    return settings.enabled and sys.platform != "win32"
