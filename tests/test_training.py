"""The training loop: it learns, it is deterministic, and every outcome becomes a row."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pinnarena import cli, problems
from pinnarena.config import resolve
from pinnarena.runner import run

SMALL = {"model.width": 16, "model.depth": 2, "eval_every": 100, "points_scale": 0.125,
         "stationary": False}  # the end-point classification is tests/test_stationary.py's


@pytest.fixture(scope="module")
def slice_runs(tmp_path_factory):
    """One short run per first-slice problem with a setting that is known to learn."""
    cases = {"poisson-2d-k1": ("adam", {"lr": 1e-2}, 0.5), "burgers": ("adam", {"lr": 1e-2}, 0.6),
             "wave": ("lbfgs", {}, 0.85)}
    out = {}
    for prob, (opt, extra, factor) in cases.items():
        cfg = resolve(prob, opt, "none", 0, steps=300, sets={**SMALL, **extra})
        d = tmp_path_factory.mktemp(prob)
        row = run(cfg, d)
        out[prob] = (row, pd.read_parquet(d / "curves.parquet"), factor, d)
    return out


@pytest.mark.parametrize("prob", ["poisson-2d-k1", "burgers", "wave"])
def test_training_reduces_the_error(slice_runs, prob):
    row, curves, factor, _ = slice_runs[prob]
    assert row["status"] == "ok", row["error"]
    assert curves["step"].iloc[0] == 0 and curves["step"].iloc[-1] == 300
    assert row["rel_l2"] < factor * curves["rel_l2"].iloc[0]
    assert curves["loss_total"].iloc[-1] < 0.5 * curves["loss_total"].iloc[0]


def test_summary_has_the_schema_columns_and_counts(slice_runs):
    row, curves, _, d = slice_runs["burgers"]
    summary = pq.read_table(d / "summary.parquet").to_pandas()
    expected = {"run_id", "problem", "family", "kind", "n_losses", "optimizer", "remedy", "seed", "suite",
                "steps_done", "grad_evals", "fun_evals", "train_seconds", "eval_seconds", "compile_seconds",
                "rel_l2", "rel_l2_best", "rel_l2_by_output", "status", "error", "n_params", "device",
                "jax_version", "pinnarena_version", "git_commit", "config"}
    assert expected <= set(summary.columns)
    s = summary.iloc[0]
    assert s["steps_done"] == 300 and s["grad_evals"] == 300 and s["fun_evals"] == 300  # Adam: one each
    assert s["n_params"] == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert dict(s["rel_l2_by_output"])["u"] == pytest.approx(s["rel_l2"])
    assert s["rel_l2_best"] <= s["rel_l2"]
    assert json.loads(s["config"])["model"]["width"] == 16
    assert {"loss_residual", "loss_boundary", "loss_initial", "weight_residual", "align_intra",
            "align_inter", "grad_norm_ratio", "train_seconds"} <= set(curves.columns)
    assert (curves["train_seconds"].diff().dropna() >= 0).all()


def test_line_search_evaluations_are_counted(slice_runs):
    row = slice_runs["wave"][0]
    assert row["grad_evals"] > row["steps_done"]  # every L-BFGS step evaluates ≥ 1 trial point
    assert row["fun_evals"] == row["grad_evals"]


def test_same_config_twice_is_bit_identical(slice_runs, tmp_path):
    row, curves, _, _ = slice_runs["burgers"]
    cfg = resolve("burgers", "adam", "none", 0, steps=300, sets={**SMALL, "lr": 1e-2})
    again = run(cfg, tmp_path)
    assert again["run_id"] == row["run_id"]
    assert again["rel_l2"] == row["rel_l2"]  # bit-identical on CPU
    pd.testing.assert_series_equal(pd.read_parquet(tmp_path / "curves.parquet")["loss_total"], curves["loss_total"])


def test_the_seed_changes_initialisation_and_points(tmp_path):
    a = resolve("poisson-2d-k1", seed=0, steps=1, sets=SMALL)
    b = resolve("poisson-2d-k1", seed=1, steps=1, sets=SMALL)
    from pinnarena.training import build

    sa, sb = build(a), build(b)
    assert a.run_id != b.run_id
    assert not np.allclose(sa.init_carry.batch["residual"]["x"], sb.init_carry.batch["residual"]["x"])
    assert not np.allclose(sa.init_carry.params["net"][0]["w"], sb.init_carry.params["net"][0]["w"])


def test_resampling_draws_new_points_from_the_seed():
    from pinnarena.training import build
    import jax.numpy as jnp

    cfg = resolve("poisson-2d-k1", steps=5, sets={**SMALL, "resample_every": 2})
    s = build(cfg)
    c = s.step(s.init_carry, jnp.asarray(3, jnp.int32))
    assert not np.allclose(c.batch["residual"]["x"], s.init_carry.batch["residual"]["x"])
    c2 = build(cfg).step(build(cfg).init_carry, jnp.asarray(3, jnp.int32))
    assert np.array_equal(c.batch["residual"]["x"], c2.batch["residual"]["x"])


def test_a_huge_learning_rate_diverges_into_a_row(tmp_path):
    cfg = resolve("burgers", "adam", "none", 0, steps=200, sets={**SMALL, "lr": 1e30, "eval_every": 50})
    row = run(cfg, tmp_path)
    assert row["status"] == "diverged"
    assert "non-finite" in row["error"]
    assert math.isfinite(row["rel_l2"])  # last finite metrics
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert summary["status"].iloc[0] == "diverged" and summary["steps_done"].iloc[0] < 200
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    assert np.isfinite(curves["loss_total"]).all()


def test_time_budget_gives_timeout_row(tmp_path):
    cfg = resolve("poisson-2d-k1", steps=400, sets={**SMALL, "max_seconds": 1e-9})
    row = run(cfg, tmp_path)
    assert row["status"] == "timeout" and row["steps_done"] == 100


def test_an_exception_becomes_an_error_row(tmp_path, monkeypatch):
    import pinnarena.training as training

    def boom(cfg):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(training, "build", boom)
    row = run(resolve("poisson-2d-k1", steps=10, sets=SMALL), tmp_path)
    assert row["status"] == "error" and "solver exploded" in row["error"]
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert summary["status"].iloc[0] == "error" and math.isnan(summary["rel_l2"].iloc[0])
    assert (tmp_path / "curves.parquet").exists()


@pytest.mark.parametrize("opt,remedy,rtol", [("adam", "pcgrad", 1e-12), ("soap", "none", 1e-4)])
def test_vmapped_seeds_equal_separate_runs(opt, remedy, rtol):
    """train_seeds (one setup, seeds stacked and vmapped) gives each seed the run it would have alone.

    In float64, so that "up to floating-point reduction order" is a tight tolerance. SOAP gets a
    looser one: its statistics L = Σ G Gᵀ start low-rank, and qr(L Q) fixes the basis of their
    null space from rounding noise, which (batched or not) differs; Adam in that basis then moves
    the weights by ~1e-5 differently. pcgrad's projections add nothing beyond reduction order."""
    import jax

    from pinnarena.training import train, train_seeds

    cfgs = [resolve("burgers", opt, remedy, s, steps=20, sets={**SMALL, "eval_every": 10, "precision": "float64"})
            for s in (0, 5)]
    together = train_seeds(cfgs)
    assert [o.seeds_batched for o in together] == [2, 2]
    for cfg, o in list(zip(cfgs, together))[1:]:  # the second seed: its slice of the batch, not the first
        alone = train(cfg)
        assert o.status == alone.status == "ok"
        assert [r["step"] for r in o.curves] == [r["step"] for r in alone.curves] == [0, 10, 20]
        np.testing.assert_allclose([r["loss_total"] for r in o.curves], [r["loss_total"] for r in alone.curves],
                                   rtol=rtol)
        for a, b in zip(jax.tree_util.tree_leaves(o.carry.params), jax.tree_util.tree_leaves(alone.carry.params)):
            np.testing.assert_allclose(a, b, rtol=100 * rtol, atol=100 * rtol)
    assert together[0].curves[-1]["loss_total"] != together[1].curves[-1]["loss_total"]


def test_a_failing_step_is_undone_per_seed_and_the_run_keeps_its_last_finite_state():
    """GELU + Adam at lr 40 on burgers: seeds 0 and 1 fail at different steps, mid-chunk. The
    driver rolls each back to the state before its failing step, which must be the state of an
    uninterrupted run of that many steps; batched seeds each keep their own."""
    import jax

    from pinnarena.training import train, train_seeds

    sets = {**SMALL, "lr": 40.0, "eval_every": 50, "model.activation": "gelu"}
    cfgs = [resolve("burgers", "adam", "none", s, steps=200, sets=sets) for s in (0, 1)]
    alone = [train(c) for c in cfgs]
    at = [o.steps_done for o in alone]
    assert [o.status for o in alone] == ["diverged", "diverged"] and at[0] != at[1] and all(0 < k < 50 for k in at)
    for c, o, k in zip(cfgs, alone, at):
        assert int(o.carry.diverged_at) == int(o.carry.step) == k and f"step {k}" in o.error
        short = train(resolve("burgers", "adam", "none", c.seed, steps=k, sets=sets))
        assert short.status == "ok" and short.steps_done == k
        for a, b in zip(jax.tree_util.tree_leaves(o.carry), jax.tree_util.tree_leaves(short.carry._replace(diverged_at=o.carry.diverged_at))):
            np.testing.assert_array_equal(a, b)
        assert math.isfinite(o.final["rel_l2"]) and o.curves[-1]["step"] == k
    together = train_seeds(cfgs)
    for o, t in zip(alone, together):
        assert (t.status, t.steps_done, int(t.carry.diverged_at)) == (o.status, o.steps_done, int(o.carry.diverged_at))
        for a, b in zip(jax.tree_util.tree_leaves(o.carry.params), jax.tree_util.tree_leaves(t.carry.params)):
            np.testing.assert_allclose(a, b, rtol=1e-3)  # batched reduction order, amplified by lr 40


@pytest.mark.parametrize("activation", ["tanh", "sin", "gelu", "swish", "softplus"])
def test_every_activation_trains_through_taylor_mode_derivatives(activation):
    """burgers takes u_xx by Taylor mode (jet); every accepted activation must go through it and
    give the same second derivative as nested reverse mode."""
    import jax
    import jax.numpy as jnp
    from jax.experimental import jet

    from pinnarena.models import ACTIVATIONS
    from pinnarena.training import train

    f = ACTIVATIONS[activation]
    x = jnp.linspace(-40.0, 40.0, 81)
    _, (d1, d2) = jet.jet(f, (x,), ((jnp.ones_like(x), jnp.zeros_like(x)),))
    np.testing.assert_allclose(d1, jax.vmap(jax.grad(f))(x), atol=1e-5)
    np.testing.assert_allclose(d2, jax.vmap(jax.grad(jax.grad(f)))(x), atol=1e-5)
    out = train(resolve("burgers", "adam", "none", 0, steps=5, sets={**SMALL, "model.activation": activation, "eval_every": 5}))
    assert out.status == "ok" and out.steps_done == 5
