"""The CPU a run ran on: ``cpu_model()``, recorded in every result row (``cpu_model``).

Two things depend on it, and neither is captured by the CPU's marketing name alone (cloud
machines of several generations all report "AMD EPYC"):

* **the bits.** XLA compiles for the host's instruction set (AVX-512 or not, FMA) and scipy's
  OpenBLAS, whose LAPACK kernels jaxlib's CPU linear algebra calls, picks its kernels by core
  type. The same run on another CPU model therefore gives other bits and, along a chaotic
  trajectory, other errors: a published 10-s poisson-inv trial reproduced on a family-26 EPYC
  (Zen 5) differed from its row, written on another EPYC, by 6.3e-4 relative in rel. L2, while
  on one machine reruns agree to the last bit (tests/test_published.py, 2026-12-04).
* **what a time budget buys.** Rerunning four 10-s CPU-suite trials of the same configuration on
  that Zen 5 core did 1.10× (Adam), 1.29× (SOAP), 1.46× (L-BFGS) and 1.62× (SSBroyden) the steps
  they did on the machine that published them (the other core busy in both cases; benchmarks/bench_rerun_speed.py). The speed-up
  depends on the method, so a time-budgeted comparison is fair only when every method of a
  problem ran on one CPU model; ``pinnarena.aggregate`` counts the models behind each problem.

The signature is ``"<model name> | <arch> family F model M | <ISA features>"``, the features
being the instruction-set extensions that change compiled code (SSE4.2 … AVX-512, AMX).
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path

# instruction-set extensions that change what XLA/LLVM and OpenBLAS generate (as /proc/cpuinfo names them)
FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16",
            "avx512_fp16", "avx512_vnni", "amx_tile", "amx_bf16", "asimd", "sve", "sve2")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if out:
                break
            continue
        key, _, value = line.partition(":")
        out.setdefault(key.strip(), value.strip())
    return out


def signature(info: dict[str, str], machine: str) -> str:
    """The signature of a processor described by /proc/cpuinfo fields ``info`` (see the module docstring)."""
    name = info.get("model name") or info.get("Hardware") or info.get("CPU part") or platform.processor() or "unknown"
    family = info.get("cpu family") or info.get("CPU architecture")
    model = info.get("model") or info.get("CPU variant")
    flags = set((info.get("flags") or info.get("Features") or "").split())
    where = f"{machine} family {family} model {model}" if family is not None else machine
    return f"{name} | {where} | {' '.join(f for f in FEATURES if f in flags) or 'baseline ISA'}"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """This machine's CPU signature."""
    return signature(_cpuinfo(), platform.machine())
