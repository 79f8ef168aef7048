"""Helpers shared by the workload scripts: command line, result records, correctness checks."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
LIBS = ("functorch_lite", "numpy", "jax", "torch")
CASES_FAILED_EXIT = 3  # exit status of a workload whose failing cases were all reported as error records


def parse_args(doc: str | None) -> argparse.Namespace:
    """The workload command line: ``--lib LIB [--quick]``."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--lib", required=True, choices=LIBS, help="library to benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    return parser.parse_args()


def emit(
    workload: str,
    case: str,
    lib: str,
    stats: dict[str, Any] | None = None,
    note: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Print one result as a JSON line on stdout (flushed) and return it."""
    rec: dict[str, Any] = {
        "workload": workload,
        "case": case,
        "lib": lib,
        "median_s": None,
        "best_s": None,
        "note": note,
    }
    if stats:
        rec.update(stats)
    rec.update(extra)
    print(json.dumps(rec), flush=True)
    return rec


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` squeezed onto one line."""
    msg = " ".join(f"{type(exc).__name__}: {exc}".split())
    return msg[:limit]


class CaseRunner:
    """Runs cases one by one; a failing case is reported as an error record and the others still run."""

    def __init__(self, workload: str, lib: str) -> None:
        self.workload = workload
        self.lib = lib
        self.failed = 0

    def run(self, case: str, body: Callable[[], tuple[dict[str, Any], str]]) -> None:
        """Call ``body() -> (stats, note)`` and emit its record, or an error record if it raises."""
        try:
            stats, note = body()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible error record
            traceback.print_exc(file=sys.stderr)
            self.fail(case, exc)
            return
        emit(self.workload, case, self.lib, stats, note=note)

    def fail(self, case: str, exc: BaseException) -> None:
        """Emit an error record for ``case``."""
        self.failed += 1
        emit(self.workload, case, self.lib, None, note=f"error: {one_line(exc)}")

    def exit_code(self) -> int:
        """``CASES_FAILED_EXIT`` if any case failed, else 0."""
        return CASES_FAILED_EXIT if self.failed else 0


def check_close(got: Any, want: np.ndarray, *, what: str, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    """Fail loudly unless ``np.asarray(got)`` has ``want``'s shape, dtype and (close) values."""
    arr = np.asarray(got)
    if arr.shape != want.shape or arr.dtype != want.dtype:
        raise AssertionError(
            f"{what}: got shape {arr.shape} dtype {arr.dtype}, expected shape {want.shape} dtype {want.dtype}"
        )
    try:
        np.testing.assert_allclose(arr, want, rtol=rtol, atol=atol, err_msg=what)
    except AssertionError as exc:
        err = float(np.max(np.abs(arr.astype(np.float64) - want.astype(np.float64))))
        msg = f"{what}: wrong values, max abs error {err:.3g} (rtol={rtol}, atol={atol})"
        raise AssertionError(msg) from exc
