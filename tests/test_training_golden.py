"""Training results are unchanged bit for bit against a stored summary (tests/data/training_golden.json).

The cases are smoke-sized runs that, together, go through every branch of the training loop: the
single pass (no remedy), per-loss gradients every step and on a refresh period (lax.cond), loss-only
weightings (one VJP), NTK traces, causal chunks, per-loss adapters, an inverse problem's unknowns,
resampled collocation points, line searches (function-evaluation counts), residual vectors
(Gauss–Newton, self-scaled Broyden) and residual Jacobians (ENGD), vmapped seeds, float64, and the
diagnostic-first `auto` (profile, classify, continue). A refactoring of the loop must leave every
number here identical: the stored values are float.hex strings compared exactly.

The cases run at XLA's lowest backend optimisation level (``XLA_FLAGS``, as the rest of the test
session and the smoke suite: at this size compiling, not running, is the cost; 114 against 169
CPU-s for the 15 cases at the default level, Ice Lake, 2026-12-07). The file holds one summary
per environment (``fingerprint``: versions, the CPU model, pinnarena.cpu_model, and the XLA
flags). On a stored environment the comparison is exact. Elsewhere it is relative,
to ``CROSS_RTOL``: between two EPYC generations (2026-12-04) 12 of the 15 cases were still
identical to the bit; the three whose steps call LAPACK (SOAP's eigendecompositions, the
Gauss–Newton and ENGD solves; jaxlib takes LAPACK from scipy's OpenBLAS, which picks kernels by
core type) differed by up to 2e-2 in float32 SOAP's errors and weights (0.11 → 0.14 for one weight near
zero, hence an absolute tolerance on weights) and 5e-4 in float64. The failure message says
which environment the stored numbers come from.

Add this machine's environment (from a commit whose arithmetic is known good; only when a change
is meant to alter the arithmetic rewrite the others, and say so in the commit):
``python tests/test_training_golden.py --write``.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "data" / "training_golden.json"
CROSS_RTOL = 5e-2  # against a summary stored on another environment (see the module docstring)
XLA_FLAGS = "--xla_backend_optimization_level=0"  # the cases' flags, in the subprocess and for --write

SMOKE = {"model.width": 8, "model.depth": 2, "points_scale": 0.0625, "reference_tier": "smoke",
         "stationary": False, "eval_every": 5}

# name: (problem, optimizer, remedy, seeds, steps, extra settings)
CASES = {
    "adam-none-poisson": ("poisson-2d-k1", "adam", "none", [0], 12, {}),
    "adam-none-vmapped-seeds": ("burgers", "adam", "none", [0, 1, 2], 10, {}),
    "adam-resample-float64": ("heat-2d-k1", "adam", "none", [0], 10, {"resample_every": 3, "precision": "float64"}),
    "soap-grad-norm-refresh": ("burgers", "soap", "grad-norm", [0], 10, {"remedy.refresh_every": 4}),
    "adam-relobralo-loss-only": ("burgers", "adam", "relobralo", [0], 10, {}),
    "adam-pcgrad": ("poisson-2d-k1", "adam", "pcgrad", [0], 10, {}),
    "adam-ntk": ("poisson-2d-k1", "adam", "ntk", [0], 10, {"remedy.refresh_every": 4, "remedy.ntk_points": 16}),
    "adam-causal": ("burgers", "adam", "causal", [0], 10, {}),
    "adam-adapters-grad-norm": ("burgers", "adam", "adapters+grad-norm", [0], 10, {"remedy.refresh_every": 4}),
    "adam-inverse": ("poisson-inv", "adam", "none", [0], 10, {}),
    "lbfgs-linesearch": ("poisson-2d-k1", "lbfgs", "none", [0], 8, {"resample_every": 0, "precision": "float64"}),
    "ssbroyden": ("burgers", "ssbroyden", "none", [0], 8, {"resample_every": 0, "precision": "float64"}),
    "gauss-newton": ("poisson-2d-k1", "gauss-newton", "none", [0], 4, {"resample_every": 0, "precision": "float64"}),
    "engd": ("poisson-2d-k1", "engd", "none", [0], 4, {"resample_every": 0, "precision": "float64"}),
    "adam-auto": ("burgers", "adam", "auto", [0, 1], 12, {"remedy.profile_steps": 6, "remedy.profile_every": 3}),
}

CURVE_FIELDS = ("step", "grad_evals", "loss_total", "rel_l2", "val_rel_l2", "align_intra", "grad_norm_ratio")
SUMMARY_FIELDS = ("status", "steps_done", "grad_evals", "fun_evals")


def fingerprint() -> dict:
    import jax
    import jaxlib
    import numpy
    import scipy

    from pinnarena.cpu_model import cpu_model

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "cpu": cpu_model(), "xla_flags": XLA_FLAGS}  # the cases' flags, always


def _hex(v) -> str | int:
    if isinstance(v, (int, str)) and not isinstance(v, bool):
        return v
    return float(v).hex()


def run_case(name: str) -> list[dict]:
    """Each seed's outcome as {summary fields, final and curve values as float.hex}."""
    from jax.flatten_util import ravel_pytree

    from pinnarena.config import resolve
    from pinnarena.training import train_seeds

    problem, opt, rem, seeds, steps, extra = CASES[name]
    cfgs = [resolve(problem, opt, rem, s, steps=steps, sets={**SMOKE, **extra}) for s in seeds]
    outs = train_seeds(cfgs)
    res = []
    for o in outs:
        r = {f: _hex(getattr(o, f)) for f in SUMMARY_FIELDS}
        r["curves"] = {f: [_hex(row[f]) for row in o.curves] for f in CURVE_FIELDS}
        r["params"] = [_hex(float(v)) for v in ravel_pytree(o.carry.params)[0][:: max(1, o.n_params // 16)]]
        res.append(r)
    return res


def _close(a, b, rtol: float, atol: float = 1e-300) -> bool:
    if isinstance(a, str) and isinstance(b, str) and (a.startswith(("0x", "-0x")) or a in ("inf", "-inf", "nan")):
        x, y = float.fromhex(a), float.fromhex(b)
        if math.isnan(x) and math.isnan(y):
            return True
        return x == y if rtol == 0 else math.isclose(x, y, rel_tol=rtol, abs_tol=atol)
    return a == b


def _diff(stored, new, rtol: float, path="") -> list[str]:
    if isinstance(stored, dict):
        keys = sorted(set(stored) | set(new))
        return [d for k in keys for d in _diff(stored.get(k), new.get(k), rtol, f"{path}.{k}")]
    if isinstance(stored, list):
        if not isinstance(new, list) or len(stored) != len(new):
            return [f"{path}: {len(stored)} stored entries, {len(new) if isinstance(new, list) else new} now"]
        return [d for i, (a, b) in enumerate(zip(stored, new)) for d in _diff(a, b, rtol, f"{path}[{i}]")]
    # across environments a network weight near zero is compared on the weights' O(1) scale
    if not _close(stored, new, rtol, atol=rtol if ".params[" in path else 1e-300):
        show = lambda v: float.fromhex(v) if isinstance(v, str) and "0x" in v else v
        return [f"{path}: stored {show(stored)!r}, now {show(new)!r}"]
    return []


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """Every case, run in one subprocess at the cases' XLA flags (``XLA_FLAGS``, whatever the
    session's own), with its own compilation cache (the cases share programs)."""
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS,
           "GOLDEN_JAX_CACHE": str(tmp_path_factory.mktemp("golden-jax-cache"))}
    res = subprocess.run([sys.executable, __file__, "--print"], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, env=env, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def golden():
    """The stored environment matching this one (compared exactly), else the first (to CROSS_RTOL)."""
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing: write it with `python {Path(__file__).name} --write` on a known-good commit")
    envs = json.loads(GOLDEN.read_text())["environments"]
    same = [e for e in envs if e["fingerprint"] == fingerprint()]
    return (same[0], 0.0) if same else (envs[0], CROSS_RTOL)


@pytest.mark.parametrize("name", list(CASES))
def test_training_matches_the_stored_summary(golden, computed, name):
    env, rtol = golden
    assert name in env["cases"], f"case {name!r} is not in {GOLDEN.name}; regenerate it"
    assert computed["fingerprint"] == fingerprint()
    diffs = _diff(env["cases"][name], computed["cases"][name], rtol)
    where = "bit for bit" if rtol == 0 else (f"to rtol {rtol} (stored on {env['fingerprint']}, "
                                             f"running on {fingerprint()})")
    assert not diffs, f"{name}: training changed ({where}):\n  " + "\n  ".join(diffs[:20])


def test_the_cases_cover_every_step_path():
    """The table above is the coverage claim: keep it true when a path is added to the loop."""
    from pinnarena import remedies

    kinds = set()
    for problem, opt, rem, seeds, steps, extra in CASES.values():
        r = remedies.make(rem, **{k.split(".", 1)[1]: v for k, v in extra.items() if k.startswith("remedy.")})
        if r.auto is not None:
            kinds.add("auto")
        elif r.refresh_every == 0:
            kinds.add("single-pass")
        elif r.loss_only:
            kinds.add("loss-only")
        elif r.refresh_every > 1:
            kinds.add("refresh-cond")
        else:
            kinds.add("per-loss")
        kinds |= {"ntk"} if r.needs_ntk else set()
        kinds |= {"causal"} if r.causal else set()
        kinds |= {"adapters"} if r.adapters else set()
        kinds |= {"vmap"} if len(seeds) > 1 else set()
        kinds |= {"resample"} if extra.get("resample_every", 0) > 0 else set()
    assert {"auto", "single-pass", "loss-only", "refresh-cond", "per-loss", "ntk", "causal", "adapters",
            "vmap", "resample"} <= kinds, kinds


if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = XLA_FLAGS  # before jax starts its backend (jax is imported below)
    if sys.argv[1:] == ["--print"]:  # the test's subprocess: this environment's numbers, one JSON line
        import jax

        jax.config.update("jax_compilation_cache_dir", os.environ["GOLDEN_JAX_CACHE"])  # the cases share programs
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        print(json.dumps({"fingerprint": fingerprint(), "cases": {n: run_case(n) for n in CASES}}))
        sys.exit(0)
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: python {sys.argv[0]} --write   (rewrites {GOLDEN}) | --print")
    GOLDEN.parent.mkdir(exist_ok=True)
    envs = json.loads(GOLDEN.read_text())["environments"] if GOLDEN.exists() else []
    envs = [e for e in envs if e["fingerprint"] != fingerprint() and e["fingerprint"].get("xla_flags") == XLA_FLAGS]
    envs.append({"fingerprint": fingerprint(), "cases": {n: run_case(n) for n in CASES}})
    GOLDEN.write_text(json.dumps({"environments": envs}, indent=1) + "\n")
    print(f"wrote {GOLDEN}: {len(CASES)} cases for {fingerprint()} ({len(envs)} environments)")
