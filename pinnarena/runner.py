"""``pinnarena run``: train one job and always write its summary and curves.

Whatever happens after the configuration has been validated (divergence, a time-out, an
exception inside JAX), the job writes ``summary.parquet`` with a status and ``curves.parquet``
with the evaluations it reached; nothing is dropped.
"""
from __future__ import annotations

import math
import traceback
from pathlib import Path

import jax
import numpy as np
import pandas as pd

import pinnarena
from pinnarena.affinity import cpu_threads
from pinnarena.counting import rejected_steps
from pinnarena.cpu_model import cpu_model
from pinnarena.config import RunConfig
from pinnarena.results import git_commit, summary_table, write_parquet_atomic


def _device() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


def _base_row(cfg: RunConfig) -> dict:
    from pinnarena import problems

    p = problems.get(cfg.problem)
    return {
        "run_id": cfg.run_id,
        "problem": cfg.problem,
        "family": p.family,
        "kind": p.kind,
        "n_losses": p.n_losses,
        "optimizer": cfg.optimizer,
        "remedy": cfg.remedy,
        "seed": cfg.seed,
        "suite": cfg.suite,
        "study": cfg.study,
        "steps": cfg.steps,
        "device": _device(),
        "cpu_threads": cpu_threads(),
        "cpu_model": cpu_model(),
        "precision": cfg.precision,
        "jax_version": jax.__version__,
        "pinnarena_version": pinnarena.__version__,
        "git_commit": git_commit(),
        "config": cfg.to_json(),
        "steps_done": 0,
        "grad_evals": 0,
        "fun_evals": 0,
        "budget_steps": cfg.steps,
        "budget_seconds": cfg.time_budget,
        "budget_clock": cfg.time_budget_clock if cfg.time_budget is not None else None,
    }


def _finished_row(cfg: RunConfig, res) -> dict:
    row = _base_row(cfg)
    m = res.final["_metrics"] if "_metrics" in res.final else None
    rel = [r["rel_l2"] for r in res.curves]
    val = np.asarray([r.get("val_rel_l2", math.nan) for r in res.curves], float)
    truth = res.problem.true_unknowns
    pde = res.carry.params["pde"]
    unknowns = {k: float(np.asarray(v)) for k, v in pde.items() if np.ndim(v) == 0}
    from pinnarena.training import _to_host

    metrics = _to_host(res.setup.evaluate(res.carry, res.setup.ref_data)) if m is None else m
    row.update(
        status=res.status,
        error=res.error,
        steps_done=res.steps_done,
        grad_evals=res.grad_evals,
        fun_evals=res.fun_evals,
        train_seconds=res.train_seconds,
        eval_seconds=res.eval_seconds,
        compile_seconds=res.compile_seconds,
        seeds_batched=res.seeds_batched,
        setup_seconds=res.setup_seconds,
        preemptions=res.preemptions,
        rel_l2=res.final["rel_l2"],
        rel_l2_best=float(np.nanmin(rel)),
        val_rel_l2=res.final.get("val_rel_l2", math.nan),
        val_rel_l2_best=float(np.nanmin(val)) if np.isfinite(val).any() else math.nan,
        train_cpu_seconds=res.train_cpu_seconds,
        stop_reason=res.stop_reason,
        rel_l2_by_output=dict(zip(res.problem.output_names, map(float, metrics["rel_l2_by_output"]))),
        loss_final=res.final["loss_total"],
        grad_norm_final=float(metrics["grad_norm"]),
        unknowns=unknowns,
        unknowns_error={k: abs(v - truth[k]) / max(abs(truth[k]), 1e-300) for k, v in unknowns.items() if k in truth},
        n_params=res.n_params,
        n_net_params=res.n_net_params,
        linesearch_rejections=rejected_steps(res.carry.opt_state),
    )
    row["rel_l2_sets"] = _eval_sets(cfg, res)
    row.update(res.extra)
    if cfg.stationary:
        row.update(_stationary(cfg, res))
    if res.problem.unknowns_metrics:
        row["unknowns_metrics"] = {k: float(v) for k, v in res.problem.unknowns_metrics(_to_host(pde)).items()}
    return row


def _eval_sets(cfg: RunConfig, res) -> dict[str, float] | None:
    """Relative L2 error of the final network on each of the problem's extra evaluation sets.

    ``Problem.eval_sets(reference)`` gives named sets (points, compared output index per point,
    values); the error of a set is ‖pred[i, output[i]] − values[i]‖ / ‖values‖, with pred from the
    run's own ``predict`` (adapters and precision as for ``rel_l2``) on ``res.carry``, this seed's
    state. None when the problem declares no sets.
    """
    import jax.numpy as jnp

    prob = res.problem
    sets = prob.eval_sets(prob.reference(cfg.reference_tier)) if prob.eval_sets is not None else None
    if not sets:
        return None
    dtype = res.setup.ref_data[0].dtype
    predict = jax.jit(res.setup.predict)
    out = {}
    with jax.default_matmul_precision(None if cfg.matmul_precision == "default" else cfg.matmul_precision):
        for name, (pts, idx, vals) in sets.items():
            idx, vals = np.asarray(idx, int).ravel(), np.asarray(vals, float).ravel()
            pred = np.asarray(predict(res.carry, jnp.asarray(pts, dtype)), float)
            out[name] = float(np.linalg.norm(pred[np.arange(len(idx)), idx] - vals) / np.linalg.norm(vals))
    return out


def _stationary(cfg: RunConfig, res) -> dict:
    """Classify the final state under the plain PINN objective Σ_k L_k (pinnarena.stationary).

    The objective is the unweighted sum of the loss terms on the final collocation batch (for
    weighting remedies the optimizer saw Σ w_k L_k; the label refers to the PINN loss itself).
    """
    import jax.numpy as jnp

    from pinnarena.stationary import classify

    c = res.carry
    f = lambda p: jnp.sum(res.setup.loss_vector(p, c.buffers, c.batch))
    st = classify(f, c.params, dense_max_params=cfg.stationary_dense_max, seed=cfg.seed)
    return {"stationary_label": st["label"], "stationary_method": st["method"],
            "stationary_grad_norm": st["grad_norm"], "hess_min_eig": st["hess_min_eig"],
            "hess_max_eig": st["hess_max_eig"], "hess_neg_count": st["hess_neg_count"]}


def run_seeds(cfgs: list[RunConfig], outs: list[str | Path], log=None, checkpoint_dir=None,
              meta: list[dict] | None = None) -> list[dict]:
    """Train seeds of one configuration together (vmapped) and write each seed's files.

    Any exception during training becomes a ``status=error`` row for every seed of the batch.
    With ``checkpoint_dir`` the batch resumes from (and periodically writes) a checkpoint there;
    it is removed once the results are written. ``meta`` (one dict per config) adds fields to
    the rows that are not part of the configuration (the tuning protocol's ``trial``,
    ``tuning_of``, ``hparams``). Every row names the runs trained in the same program
    (``batch_run_ids``), which ``pinnarena reproduce`` trains again together.
    """
    from pinnarena import checkpoint
    from pinnarena.training import train_seeds

    rows, curves = [], []
    try:
        results = train_seeds(cfgs, log=log, checkpoint_dir=checkpoint_dir)
        for cfg, res in zip(cfgs, results):
            rows.append(_finished_row(cfg, res))
            c = pd.DataFrame(res.curves)
            c.insert(0, "run_id", cfg.run_id)
            curves.append(c)
    except Exception as e:  # noqa: BLE001 - every failure becomes a row
        if log:
            log(traceback.format_exc())
        rows = [{**_base_row(cfg), "status": "error", "error": f"{type(e).__name__}: {e}",
                 "rel_l2": math.nan, "rel_l2_best": math.nan, "seeds_batched": len(cfgs)} for cfg in cfgs]
        curves = [pd.DataFrame({"run_id": pd.Series(dtype=str), "step": pd.Series(dtype="int64")}) for _ in cfgs]
    batch = [c.run_id for c in cfgs]
    for i, row in enumerate(rows):
        row["batch_run_ids"] = batch
        row.update(meta[i] if meta else {})
    for row, c, out in zip(rows, curves, outs):
        out = Path(out)
        write_parquet_atomic(c, out / "curves.parquet")
        write_parquet_atomic(summary_table(row), out / "summary.parquet")
    if checkpoint_dir:
        checkpoint.remove(checkpoint_dir)
    return rows


def run(cfg: RunConfig, out: str | Path, log=None, checkpoint_dir=None) -> dict:
    """Train ``cfg`` and write ``out/summary.parquet`` and ``out/curves.parquet``; return the row."""
    return run_seeds([cfg], [out], log=log, checkpoint_dir=checkpoint_dir)[0]
