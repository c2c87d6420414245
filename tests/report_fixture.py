"""Synthetic results for the report tests: summaries and curves DataFrames, no training.

``make_results()`` builds a suite with two studies (``optimizers``: optimizers × remedy none;
``remedies``: adam × remedies, ``auto`` measuring a regime), five problems of four kinds, three
held-out seeds, tuning-trial rows (study ``tuning``) for every cell, stationary-point fields,
alignment curves, and one resolved ``config`` JSON per row. The numbers are built so the
report's findings have something to find: SOAP aligns better and ends lower than Adam, exact
Newton ends at saddles, L-BFGS beats the first-order methods on the inverse problem, and the
remedy that the regime predicts is the best one on most problems.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.results import write_parquet_atomic

PROBLEMS = {  # name: (kind, K, error scale of adam)
    "heat": ("forward", 3, 1e-2),
    "burgers": ("forward", 3, 5e-2),
    "inv-param": ("inverse", 3, 2e-2),
    "mp-five": ("multiphysics", 5, 1e-1),
    "poisson-hd": ("highdim", 2, 3e-3),
}
# optimizers study: method → (final error factor vs adam, seconds per step factor, grad evals per step)
OPTIMIZERS = {
    "adam": (1.0, 1.0, 1), "soap": (0.3, 1.4, 1), "muon": (1.4, 1.0, 1), "lbfgs": (0.08, 2.0, 3),
    "newton": (3.0, 4.0, 2), "saddle-free-newton": (0.5, 4.0, 2), "shampoo": (0.7, 1.6, 1),
}
REMEDIES = {"none": 1.0, "grad-norm": 0.6, "pcgrad": 0.9, "adapters+grad-norm": 0.7, "auto": 0.65}
REGIMES = {"heat": "persistent-conflict", "burgers": "low-conflict", "inv-param": "magnitude-imbalance",
           "mp-five": "magnitude-imbalance", "poisson-hd": "low-conflict"}
SEEDS = (0, 1, 2)
TUNING_SEEDS = (1000,)
TRIALS = 4
STEPS = 200
EVAL_EVERY = 20


def config(problem: str, opt: str, rem: str, seed: int, study: str, suite: str = "synthetic", **over) -> str:
    d = {"problem": problem, "optimizer": opt, "remedy": rem, "seed": seed, "study": study, "suite": suite,
         "steps": STEPS, "eval_every": EVAL_EVERY, "precision": "float64", "time_budget": 15.0,
         "time_budget_clock": "cpu", "validation_fraction": 0.2, "reference_tier": "standard", "resample_every": 0,
         "points_scale": 1.0, "checkpoint_every": 10, "lr": None, "opt": {}, "remedy_hp": {},
         "model": {"arch": "mlp", "width": 20, "depth": 3, "activation": "tanh"},
         "batch": {"residual": 2048, "boundary": 256}}
    for k, v in over.items():
        if "." in k:
            a, b = k.split(".", 1)
            d[a] = {**d[a], b: v}
        else:
            d[k] = v
    return json.dumps(d, sort_keys=True)


def _cell_factor(problem: str, opt: str, rem: str, f: float) -> float:
    if problem == "heat" and rem in ("pcgrad", "adapters+grad-norm"):
        f *= 0.4  # persistent conflict: surgery / adapters help most
    if REGIMES[problem] == "low-conflict" and rem != "none":
        f *= 2.0  # nothing to fix: a remedy only hurts
    if problem == "inv-param" and opt == "lbfgs":
        f *= 0.5
    return f


def make_results(optimizers=None, remedies=None, problems=None, seeds=SEEDS, tuning=True, suite="synthetic",
                 extra_methods: dict | None = None, config_over: dict | None = None,
                 seed_rng: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summaries, curves). ``extra_methods`` adds optimizers ``{name: (factor, speed, grad evals)}``
    to the optimizers study (e.g. a new method for the comparison tests)."""
    rng = np.random.default_rng(seed_rng)
    opts = dict(OPTIMIZERS) if optimizers is None else {k: OPTIMIZERS.get(k, (1.0, 1.0, 1)) for k in optimizers}
    opts.update(extra_methods or {})
    rems = list(REMEDIES) if remedies is None else list(remedies)
    probs = list(PROBLEMS) if problems is None else list(problems)
    cells = [("optimizers", o, "none") for o in opts] + [("remedies", "adam", r) for r in rems]
    rows, curves = [], []
    for prob in probs:
        kind, K, scale = PROBLEMS[prob]
        for study, opt, rem in cells:
            fac, speed, ge = opts.get(opt, OPTIMIZERS.get(opt, (1.0, 1.0, 1)))
            fac = _cell_factor(prob, opt, rem, fac * REMEDIES.get(rem, 1.0))
            plan = [("tuning", s, t) for t in range(TRIALS) for s in TUNING_SEEDS] if tuning else []
            plan += [(study, s, 1 if tuning else None) for s in seeds]
            for st, seed, trial in plan:
                noise = float(np.exp(rng.normal(0, 0.15)))
                tfac = 1.0 if trial is None else (1.0 + 0.8 * abs(trial - 1))
                final = scale * fac * noise * (tfac if st == "tuning" else 1.0)
                status, err = "ok", ""
                if opt == "newton" and prob == "mp-five" and seed == 0 and st != "tuning":
                    status, err = "diverged", "loss is nan at step 60"
                rid = f"{st}-{study}-{prob}-{opt}-{rem}-{seed}-{trial}"
                steps = np.arange(0, STEPS + 1, EVAL_EVERY)
                e = final * np.exp(4.0 * (1 - steps / STEPS)) * np.exp(rng.normal(0, 0.03, len(steps)))
                if status != "ok":
                    steps, e = steps[:4], e[:4].copy()
                    e[-1] = np.nan
                secs = steps * 0.01 * speed * (1 + 0.05 * seed)
                over = dict(config_over or {})
                cfg = config(prob, opt, rem, seed, st, suite, **over)
                label = "saddle" if opt == "newton" and seed != 2 else "minimum"
                row = dict(run_id=rid, problem=prob, family=prob.split("-")[0], kind=kind, n_losses=K, optimizer=opt,
                           remedy=rem, seed=seed, suite=suite, study=st, steps=STEPS, steps_done=int(steps[-1]),
                           grad_evals=int(steps[-1]) * ge, fun_evals=int(steps[-1]) * ge,
                           train_seconds=float(secs[-1]), rel_l2=float(e[-1]), rel_l2_best=float(np.nanmin(e)),
                           val_rel_l2=float(e[-1]) * 1.1, status=status, error=err,
                           n_params=1300 if "adapters" in rem else 1000, device="cpu:EPYC", precision="float64",
                           jax_version="0.10.2", pinnarena_version="0.1.0", git_commit="0123456789abcdef",
                           config=cfg, budget_seconds=15.0, budget_steps=STEPS, budget_clock="cpu",
                           stationary_label=label if status == "ok" else None,
                           hess_min_eig=(-0.3 if label == "saddle" else 1e-3) if status == "ok" else np.nan,
                           hess_neg_count=(4 if label == "saddle" else 0) if status == "ok" else -1,
                           trial=trial, tuning_of=study if st == "tuning" else None,
                           hparams=json.dumps({"opt.learning_rate": 10 ** (-3 + 0.5 * (trial or 0))}))
                if rem == "auto" and st != "tuning":
                    row["regime"] = REGIMES[prob]
                    row["auto_choice"] = {"persistent-conflict": "adapters+grad-norm",
                                          "magnitude-imbalance": "grad-norm", "low-conflict": "none"}[REGIMES[prob]]
                rows.append(row)
                a0 = {"soap": 0.5, "shampoo": 0.3, "lbfgs": 0.2}.get(opt, -0.1)
                curves.append(pd.DataFrame({
                    "run_id": rid, "step": steps, "train_seconds": secs, "grad_evals": steps * ge,
                    "loss_total": e ** 2, "rel_l2": e,
                    "align_intra": np.clip(a0 + rng.normal(0, 0.1, len(steps)), -1, 1),
                    "align_inter": rng.uniform(-1, 1, len(steps)), "grad_norm_ratio": rng.uniform(1, 20, len(steps))}))
    s = pd.DataFrame(rows)
    for c in ("regime", "auto_choice"):
        if c not in s:
            s[c] = None
    return s, pd.concat(curves, ignore_index=True)


def write_snapshot(root: Path, summaries: pd.DataFrame, curves: pd.DataFrame) -> Path:
    """A published-snapshot folder: ``summaries.parquet`` and ``curves.parquet``."""
    root = Path(root)
    write_parquet_atomic(summaries, root / "summaries.parquet")
    write_parquet_atomic(curves, root / "curves.parquet")
    return root
