"""Engine-side remedies: composition, per-loss adapters, causal weights, NTK traces, auto."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from pinnarena import remedies
from pinnarena.config import resolve
from pinnarena.remedies.auto import REGIMES, choice, classify_regime
from pinnarena.training import build

SMALL = {"model.width": 8, "model.depth": 2, "points_scale": 0.05, "eval_every": 10, "stationary": False}


def test_composition_routes_hyperparameters_and_rejects_bad_names():
    r = remedies.make("adapters+grad-norm", rank=3, refresh_every=7)
    assert r.adapters["rank"] == 3 and r.refresh_every == 7 and r.causal is None
    r = remedies.make("causal+pcgrad", eps=0.5)
    assert r.causal == {"eps": 0.5, "chunks": 16} and r.refresh_every == 1
    with pytest.raises(ValueError, match="at most one"):
        remedies.make("pcgrad+mgda")
    with pytest.raises(KeyError, match="Did you mean: pcgrad"):
        remedies.make("adapters+pcgrd")
    with pytest.raises(ValueError, match="cannot be composed"):
        remedies.make("auto+adapters")
    with pytest.raises(ValueError, match="does not accept"):
        remedies.make("adapters+grad-norm", colour=1)


def test_adapters_start_at_the_trunk_function_and_route_gradients():
    plain = build(resolve("burgers", "adam", "none", 0, steps=5, sets=SMALL))
    ad = build(resolve("burgers", "adam", "adapters+grad-norm", 0, steps=5, sets={**SMALL, "remedy.rank": 2}))
    c, p = ad.init_carry, plain.init_carry
    # same trunk as the plain run, and B = 0 so every loss starts from the trunk's function
    for a, b in zip(jax.tree_util.tree_leaves(c.params["net"]["trunk"]), jax.tree_util.tree_leaves(p.params["net"])):
        assert np.array_equal(a, b)
    L_ad = jax.jit(ad.loss_vector)(c.params, c.buffers, c.batch)  # jitted: eager residuals compile op by op
    L_plain = jax.jit(plain.loss_vector)(c.params | {"net": c.params["net"]["trunk"]}, c.buffers, c.batch)
    np.testing.assert_allclose(L_ad, L_plain, rtol=1e-6)
    K, rank, width = 3, 2, 8
    d_in = 2  # (t, x); adapters on both hidden layers: A (fan_in × r), B (r × width)
    assert ad.n_params == plain.n_params + K * ((d_in * rank + rank * width) + (width * rank + rank * width))
    assert ad.n_net_params == plain.n_params
    # loss k's gradient reaches adapter k (its A is multiplied by B = 0, so only B moves) and no other
    grads = jax.jit(jax.jacrev(lambda q: ad.loss_vector(q, c.buffers, c.batch)))(c.params)  # row k: ∇ loss k
    for k in range(K):
        g = jax.tree_util.tree_map(lambda a: a[k], grads)
        for j in range(K):
            norm_b = sum(float(jnp.linalg.norm(layer["b"])) for layer in g["net"]["adapters"][j])
            assert (norm_b > 0) == (j == k)


def test_causal_weights_follow_the_formula():
    s = build(resolve("burgers", "adam", "causal", 0, steps=5, sets={**SMALL, "remedy.chunks": 4, "remedy.eps": 2.0}))
    c = s.init_carry
    res = build(resolve("burgers", "adam", "none", 0, steps=5, sets=SMALL))
    # recompute by hand from the plain residuals on the same points
    x = c.batch["residual"]["x"]
    field = lambda pt: s.model.apply(c.params["net"], c.buffers, pt)
    term = s.problem.terms[0]
    r = np.asarray(jax.vmap(lambda row: term.residual(field, row, {}))(c.batch["residual"])).reshape(len(x), -1)
    sq = (r**2).sum(1)
    idx = np.clip((np.asarray(x[:, 0]) * 4).astype(int), 0, 3)
    Lc = np.array([sq[idx == i].mean() for i in range(4)])
    w = np.exp(-2.0 * (np.cumsum(Lc) - Lc))
    expected = np.mean(w * Lc)
    got = s.loss_vector(c.params, c.buffers, c.batch)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got < res.loss_vector(c.params, c.buffers, c.batch)[0]  # weights ≤ 1 shrink the loss
    with pytest.raises(ValueError, match="time-dependent"):
        build(resolve("poisson-2d-k1", "adam", "causal", 0, steps=5, sets=SMALL))


def test_ntk_weights_use_the_mean_ntk_diagonal():
    r = remedies.make("ntk", refresh_every=1)
    G = jnp.eye(3, 5)
    state = r.init(3)
    traces = jnp.array([1.0, 2.0, 4.0])
    g, state = r.update(G, jnp.ones(3), state, ntk_traces=traces)
    np.testing.assert_allclose(state["weights"], [7.0, 3.5, 1.75])
    np.testing.assert_allclose(g, [7.0, 3.5, 1.75, 0.0, 0.0])


_ORTH3 = np.eye(3)  # three orthogonal unit gradients: the old rule's false conflict (A = −1/3)
_ANTI2 = np.array([[1.0, -1.0], [-1.0, 1.0]])
_ALIGNED3 = np.ones((3, 3))


@pytest.mark.parametrize("cos, ratio, regime", [
    ([_ANTI2] * 3 + [np.eye(2)], [2, 3, 2, 2], "persistent-conflict"),
    ([_ORTH3] * 4, [50, 40, 60, 30], "magnitude-imbalance"),
    ([_ORTH3] * 4, [2, 3, 2, 2], "low-conflict"),  # orthogonal K = 3 is no conflict
    ([_ANTI2] * 2 + [np.eye(2)] * 3, [2, 3, 2, 2, 2], "low-conflict"),  # transient: 2 of 5 points
    ([_ALIGNED3, _ORTH3, _ALIGNED3], [1, 1, 1], "low-conflict"),
])
def test_auto_regime_thresholds(cos, ratio, regime):
    got, stats = classify_regime(cos, ratio)
    assert got == regime
    assert stats["profile_points"] == len(cos)
    assert set(stats) == {"align_median", "align_share_negative", "norm_ratio_median", "profile_points",
                          "cancellation_median", "conflict_pair_share_median"}
    assert choice(got, "grad-norm") == {"persistent-conflict": "adapters+grad-norm",
                                        "magnitude-imbalance": "grad-norm", "low-conflict": "none"}[regime]


def test_auto_rejects_bad_settings():
    with pytest.raises(ValueError, match="loss weighting"):
        remedies.make("auto", reweighting="pcgrad")
    with pytest.raises(ValueError, match="conflict_eps"):
        remedies.make("auto", conflict_eps=-0.1)
    with pytest.raises(ValueError, match="unknown regime"):
        choice("conflict", "grad-norm")


def test_auto_reports_its_regime_and_continues(tmp_path):
    from pinnarena.runner import run

    cfg = resolve("poisson-2d-k1", "adam", "auto", 0, steps=40,
                  sets={**SMALL, "remedy.profile_steps": 20, "remedy.profile_every": 10})
    row = run(cfg, tmp_path)
    assert row["status"] == "ok" and row["steps_done"] == 40 and row["grad_evals"] == 40
    assert row["regime"] in ("persistent-conflict", "magnitude-imbalance", "low-conflict")
    assert row["auto_choice"] == choice(row["regime"], "grad-norm")
    assert row["regime_profile_points"] == 2
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    K = row["n_losses"]
    cos = curves[[c for c in curves if c.startswith("cos_")]].to_numpy()
    assert cos.shape[1] == K * (K - 1) // 2
    np.testing.assert_allclose(curves["align_pairwise_mean"], cos.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(curves["conflict_pair_share"], (cos < -0.1).mean(axis=1))
    # the old score is kept, and the new column is its exact K-normalisation
    np.testing.assert_allclose(curves["align_pairwise_mean"],
                               (K * (1 + curves["align_intra"]) - 2) / (2 * (K - 1)), rtol=1e-3, atol=1e-4)


def test_auto_batches_seeds_and_splits_them_by_choice(monkeypatch, tmp_path):
    """Seeds profile together; each continues with its own choice, as a separate run would."""
    import pinnarena.remedies.auto as auto_mod
    from pinnarena.training import train_seeds

    real = auto_mod.classify_regime
    forced = {}  # profile index -> regime to report (the statistics stay real)

    def cfg(seed):
        return resolve("poisson-2d-k1", "adam", "auto", seed, steps=30,
                       sets={**SMALL, "remedy.profile_steps": 10, "remedy.profile_every": 5})

    monkeypatch.setattr(auto_mod, "classify_regime", lambda *a, **k: (forced.pop(min(forced)), real(*a, **k)[1]))
    forced.update({0: "persistent-conflict", 1: "low-conflict"})
    both = train_seeds([cfg(0), cfg(1)], checkpoint_dir=tmp_path / "ckpt")
    assert [o.extra["auto_choice"] for o in both] == ["adapters+grad-norm", "none"]
    assert [o.steps_done for o in both] == [30, 30] and all(o.status == "ok" for o in both)
    assert both[0].n_params > both[1].n_params  # adapters were added to seed 0 only
    for seed, regime, o in ((0, "persistent-conflict", both[0]), (1, "low-conflict", both[1])):
        forced.update({0: regime})
        [alone] = train_seeds([cfg(seed)])
        assert alone.extra["auto_choice"] == o.extra["auto_choice"]
        np.testing.assert_allclose([r["rel_l2"] for r in o.curves], [r["rel_l2"] for r in alone.curves], rtol=2e-3)


@pytest.mark.parametrize("name", ["softadapt", "causal+relobralo"])
def test_loss_only_weightings_take_one_vjp_and_match_the_gradient_matrix_path(monkeypatch, name):
    """relobralo/softadapt weigh by losses alone: the loop forms g = (∂L/∂θ)ᵀ w (one VJP); forcing
    the per-loss-gradient path (G, then w @ G) must give the same trajectory."""
    cfg = resolve("burgers", "adam", name, 0, steps=12, sets=SMALL)
    fast = build(cfg)
    assert fast.remedy.loss_only
    c_fast = jax.jit(fast.step, static_argnums=1)(fast.init_carry, 12)
    monkeypatch.setattr(type(fast.remedy), "loss_only", False)
    slow = build(cfg)
    c_slow = jax.jit(slow.step, static_argnums=1)(slow.init_carry, 12)
    assert int(c_fast.step) == int(c_slow.step) == 12
    for a, b in zip(jax.tree_util.tree_leaves(c_fast.params), jax.tree_util.tree_leaves(c_slow.params)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(c_fast.rem_state["weights"], c_slow.rem_state["weights"], rtol=1e-5)
    assert not np.allclose(c_fast.rem_state["weights"], c_fast.rem_state["weights"][0])  # the weights moved


def test_loss_weights_is_only_for_loss_only_remedies():
    with pytest.raises(NotImplementedError, match="loss_only"):
        remedies.make("pcgrad").loss_weights(jnp.ones(2), {})


def test_auto_takes_its_profile_from_the_identical_none_run_of_the_job(monkeypatch):
    """When the profile is exactly the cell `none` just trained (same budget and cadence), the job
    trains it once; auto still classifies every seed; another cadence is trained anew."""
    from pinnarena import training

    calls = []
    real = training._train_uncached
    monkeypatch.setattr(training, "_train_uncached", lambda cfgs, *a: calls.append(cfgs[0].remedy) or real(cfgs, *a))
    monkeypatch.setattr(training, "_RECENT", {})
    sets = {**SMALL, "eval_every": 10}
    auto_sets = lambda every: {**sets, "remedy.profile_steps": 20, "remedy.profile_every": every}
    none = training.train_seeds([resolve("burgers", "adam", "none", s, steps=20, sets=sets) for s in (0, 1)])
    auto = training.train_seeds([resolve("burgers", "adam", "auto", s, steps=20, sets=auto_sets(10)) for s in (0, 1)])
    assert calls == ["none"]
    for n, a in zip(none, auto):
        assert [r["loss_total"] for r in a.curves] == [r["loss_total"] for r in n.curves]
        assert a.extra["regime"] in REGIMES
        assert "regime" not in n.extra  # the none outcome was not touched by auto
    training.train_seeds([resolve("burgers", "adam", "auto", s, steps=20, sets=auto_sets(5)) for s in (0, 1)])
    assert calls == ["none", "none"]
