"""Benchmark driver: every (workload, library) pair in its own fresh process; markdown tables of medians.

Usage: ``python benchmarks/run.py [--only W5[,IMPORT]] [--libs numpy,functorch_lite] [--quick]``

A workload is a script ``benchmarks/workloads/<name>.py`` run as ``<python> <script> --lib <lib> [--quick]``;
it prints one JSON line per result. Raw results go to ``benchmarks/results/latest.jsonl``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORKLOAD_DIR = BENCH_DIR / "workloads"
RESULTS = BENCH_DIR / "results" / "latest.jsonl"
LIBS = ("functorch_lite", "numpy", "jax", "torch")
OURS = "functorch_lite"
NOT_INSTALLED = "not installed"
CASES_FAILED_EXIT = 3  # a workload's exit status when its failing cases were reported as error records


@dataclass
class Workload:
    """A workload script and what the driver knows of it without importing it."""

    path: Path
    id: str
    title: str

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class Job:
    """The outcome of one (workload, library) subprocess."""

    workload: Workload
    lib: str
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # one line, for the table
    stderr_tail: str = ""  # several lines, printed under the table
    seconds: float = 0.0


def discover() -> list[Workload]:
    """Workload scripts in ``benchmarks/workloads/`` (not ``_*.py``); the id is the docstring's first word."""
    found = []
    for path in sorted(WORKLOAD_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem
        title = doc.strip().splitlines()[0]
        match = re.match(r"([A-Za-z0-9_]+)\s+-\s+", title)
        wid = match.group(1) if match else path.stem
        found.append(Workload(path, wid, title))

    def order(w: Workload) -> tuple[int, int, str]:
        # W1, W2, ..., W10 in numeric order, then the others alphabetically.
        return (0, int(w.id[1:]), "") if re.fullmatch(r"W\d+", w.id) else (1, 0, w.id)

    return sorted(found, key=order)


def select(workloads: list[Workload], only: str | None) -> list[Workload]:
    """Workloads named in ``--only`` (by id, file stem, or the stem's first ``_`` part; any case)."""
    if not only:
        return workloads
    wanted = {t.strip().lower() for t in only.split(",") if t.strip()}
    chosen = [
        w for w in workloads if wanted & {w.id.lower(), w.stem.lower(), w.stem.split("_", 1)[0].lower()}
    ]
    if not chosen:
        names = ", ".join(f"{w.id} ({w.stem})" for w in workloads)
        raise SystemExit(f"--only {only!r} matches no workload; known: {names}")
    return chosen


def child_env() -> dict[str, str]:
    """Environment for the subprocesses: the repository root first on PYTHONPATH."""
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + old if old else "")
    return env


def installed(lib: str, env: dict[str, str]) -> bool:
    """Whether ``importlib.util.find_spec(lib)`` finds it in a fresh interpreter (without importing it)."""
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({lib!r}) is None)"
    cmd = [sys.executable, "-c", code]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, check=False)
    return proc.returncode == 0


def run_job(workload: Workload, lib: str, *, quick: bool, timeout: float, env: dict[str, str]) -> Job:
    """Run one workload for one library in a fresh subprocess and collect its JSON lines."""
    job = Job(workload, lib)
    cmd = [sys.executable, str(workload.path), "--lib", lib] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    # A session of its own, so that a timeout also ends the processes the workload started.
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=PIPE, stderr=PIPE, text=True, start_new_session=True
    )
    rc: int | None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        rc = None
    job.seconds = time.perf_counter() - t0
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "case" in rec:
            rec.setdefault("workload", workload.id)
            rec["lib"] = lib
            job.records.append(rec)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    job.stderr_tail = "\n".join(lines[-15:])
    if rc is None:
        job.error = f"timed out after {timeout:.0f} s"
    elif rc not in (0, CASES_FAILED_EXIT):
        last = lines[-1].strip() if lines else "(no stderr)"
        job.error = f"exit {rc}: {last}"
    return job


def stub_record(workload: str | None, lib: str, note: str) -> dict[str, Any]:
    """A result-shaped record without a timing (a library not installed, a crashed subprocess)."""
    return {"workload": workload, "case": None, "lib": lib, "median_s": None, "best_s": None, "note": note}


def is_error(rec: dict[str, Any]) -> bool:
    """Whether a result record reports a failed case."""
    return str(rec.get("note", "")).startswith("error")


def fmt_time(seconds: float | None) -> str:
    """Seconds with a unit that keeps three significant digits."""
    if seconds is None:
        return "–"
    mag = abs(seconds)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if mag >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def cell_text(text: str, limit: int = 90) -> str:
    """Make ``text`` safe and short for a markdown table cell."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ratio(ours: float | None, other: float | None) -> str:
    """``ours / other`` as ``1.23x`` or ``–`` where either is missing or not positive."""
    if ours is None or other is None or ours <= 0 or other <= 0:
        return "–"
    return f"{ours / other:.3g}x"


def table(workload: Workload, jobs: list[Job], libs: list[str]) -> str:
    """The markdown table of one workload: a row per case, median per library, ratios of ours to the rest."""
    cases: list[str] = []
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for job in jobs:
        for rec in job.records:
            if rec["case"] not in cases:
                cases.append(rec["case"])
            by_key[(rec["case"], job.lib)] = rec
    failed = {job.lib: job.error for job in jobs if job.error}
    if not cases:
        cases = ["(all cases)"]
    others = [lib for lib in libs if lib != OURS] if OURS in libs else []
    head = ["case", *libs, *(f"{OURS}/{lib}" for lib in others)]
    out = [f"### {workload.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in cases:
        row = [cell_text(case)]
        medians: dict[str, float | None] = {}
        for lib in libs:
            rec = by_key.get((case, lib))
            medians[lib] = rec.get("median_s") if rec else None
            if rec and is_error(rec):
                row.append(cell_text(rec["note"]))
            elif rec and rec.get("median_s") is not None:
                row.append(fmt_time(rec["median_s"]))
            elif lib in failed:
                row.append(cell_text(f"error: {failed[lib]}"))
            else:
                row.append("–")
        row += [ratio(medians.get(OURS), medians.get(lib)) for lib in others]
        out.append("| " + " | ".join(row) + " |")
    notes = sorted({f"{job.lib}: {rec['note']}" for job in jobs for rec in job.records if rec.get("note")})
    notes = [n for n in notes if ": error" not in n]
    if notes:
        out += ["", "Notes: " + "; ".join(notes)]
    for job in jobs:
        if job.error or any(is_error(r) for r in job.records):
            tail = job.stderr_tail or job.error or ""
            out += ["", f"`{job.lib}` stderr tail:", "```", tail, "```"]
    return "\n".join(out)


def main() -> int:
    """Parse arguments, run every job, save raw results, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated workloads, e.g. W5 or W5,IMPORT")
    parser.add_argument("--libs", default=",".join(LIBS), help=f"comma-separated subset of {','.join(LIBS)}")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions (smoke test)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per subprocess (default 600)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"raw results (default {RESULTS})")
    args = parser.parse_args()

    libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    unknown = [lib for lib in libs if lib not in LIBS]
    if unknown:
        parser.error(f"unknown libs {unknown}; choose from {LIBS}")
    workloads = select(discover(), args.only)
    env = child_env()
    present = [lib for lib in LIBS if lib in libs and installed(lib, env)]
    missing = [lib for lib in libs if lib not in present]

    print(f"python {sys.version.split()[0]} ({sys.executable}); quick={args.quick}", file=sys.stderr)
    for lib in missing:
        print(f"{lib}: {NOT_INSTALLED} (skipped)", file=sys.stderr)

    all_jobs: list[Job] = []
    for workload in workloads:
        for lib in present:
            print(f"running {workload.id} / {lib} ...", end=" ", file=sys.stderr, flush=True)
            job = run_job(workload, lib, quick=args.quick, timeout=args.timeout, env=env)
            status = f"error ({job.error})" if job.error else f"{len(job.records)} results"
            print(f"{status} in {job.seconds:.1f} s", file=sys.stderr, flush=True)
            all_jobs.append(job)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for lib in missing:
            fh.write(json.dumps(stub_record(None, lib, NOT_INSTALLED)) + "\n")
        for job in all_jobs:
            for rec in job.records:
                fh.write(json.dumps(rec) + "\n")
            if job.error:
                fh.write(json.dumps(stub_record(job.workload.id, job.lib, f"error: {job.error}")) + "\n")

    print()
    if missing:
        print(f"Not installed: {', '.join(missing)} (columns skipped).\n")
    for workload in workloads:
        print(table(workload, [j for j in all_jobs if j.workload is workload], present))
        print()
    print(f"Raw results: {args.out}")
    failed = any(j.error or any(is_error(r) for r in j.records) for j in all_jobs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
