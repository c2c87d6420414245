"""Quasi-Newton, exact-curvature and natural-gradient optimizers (issue 3).

Every optimizer is called exactly as ``pinnarena.training`` calls it:
``update(g, state, params, value=, grad=, value_fn=, residual_fn=)`` through the registry's
``make``, inside ``jax.jit``, and its line-search trials are counted with
``pinnarena.counting.linesearch_evals``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree
from optax import tree_utils as otu

from pinnarena import optimizers
from pinnarena.counting import linesearch_evals

DENSE = ["bfgs", "ssbfgs", "ssbroyden", "newton", "saddle-free-newton", "gauss-newton", "engd"]


@pytest.fixture
def x64():
    jax.config.update("jax_enable_x64", True)  # conftest restores the flag afterwards


def rosen_residuals(p):
    """Rosenbrock as least squares: ‖r‖² = Σ 100(x_{i+1} − x_i²)² + (1 − x_i)² (pytree params)."""
    x = jnp.concatenate([p["a"], p["b"]])
    return jnp.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])


def rosen(p):
    r = rosen_residuals(p)
    return jnp.sum(r * r)


def start(dtype=jnp.float64):
    return {"a": jnp.array([-1.2, 1.0], dtype), "b": jnp.array([-0.5], dtype)}


def run(name, params, steps, loss=rosen, residuals=rosen_residuals, **hp):
    """`steps` training-loop steps under jit; returns params, state and counted line-search trials."""
    opt = optimizers.make(name, **hp)

    @jax.jit
    def go(p):
        def body(i, c):
            p, s, n = c
            v, g = jax.value_and_grad(loss)(p)
            u, s = opt.update(g, s, p, value=v, grad=g, value_fn=loss, residual_fn=residuals)
            return optax.apply_updates(p, u), s, n + linesearch_evals(s)

        return jax.lax.fori_loop(0, steps, body, (p, opt.init(p), jnp.zeros([], jnp.int32)))

    return go(params)


@pytest.mark.parametrize("name", DENSE)
def test_converges_on_rosenbrock_least_squares(name, x64):
    p, state, trials = run(name, start(), 60)
    assert float(rosen(p)) < 1e-12, name
    np.testing.assert_allclose(np.concatenate([p["a"], p["b"]]), 1.0, atol=1e-6)
    assert int(trials) >= 60  # every step evaluated at least one trial point


def test_float32_pytree_dtype_preserved():
    p, _, _ = run("ssbroyden", start(jnp.float32), 40)
    assert p["a"].dtype == jnp.float32 and p["b"].dtype == jnp.float32
    assert float(rosen(p)) < 1e-5


def test_hybrids_switch_to_ssbroyden(x64):
    for name in ("adam-ssbroyden", "soap-ssbroyden"):
        p, state, trials = run(name, start(), 80, total_steps=80, switch_fraction=0.25)
        assert float(rosen(p)) < 1e-10, name
        # 20 first-order steps count no trials; every SSBroyden step counts at least one.
        assert int(trials) >= 60, name


@pytest.mark.parametrize("name", DENSE + ["adam-ssbroyden", "soap-ssbroyden"])
def test_max_params_refusal(name):
    opt = optimizers.make(name, max_params=10)
    opt.init({"w": jnp.zeros((2, 5))})  # exactly 10: accepted
    with pytest.raises(ValueError, match=r"11 x 11 matrix .*max_params=10"):
        opt.init({"w": jnp.zeros((11,))})


def test_linesearch_trials_are_counted(x64):
    """The reported count equals the objective evaluations the line search actually made."""
    calls = []

    def counted(p):
        jax.debug.callback(lambda: calls.append(1))
        return rosen(p)

    for name, hp in [("ssbroyden", {}), ("engd", {"n_grid": 7})]:
        calls.clear()
        opt = optimizers.make(name, **hp)
        step = jax.jit(lambda p, s: opt.update(jax.grad(rosen)(p), s, p, value=rosen(p), grad=jax.grad(rosen)(p),
                                               value_fn=counted, residual_fn=rosen_residuals))
        p, s, reported = start(), opt.init(start()), []
        for _ in range(6):
            u, s = step(p, s)
            jax.effects_barrier()
            p = optax.apply_updates(p, u)
            reported.append(int(linesearch_evals(s)))
        assert sum(reported) == len(calls), name
        if name == "engd":
            assert reported == [7] * 6
        else:  # the unit first step from (-1.2, 1, -0.5) is far too long: several trials
            assert max(reported) > 1 and sum(reported) > 6


def test_more_linesearch_trials_more_evaluations(x64):
    """Newton without line search counts one trial per step; with backtracking, more."""
    _, _, adaptive = run("newton", start(), 10)
    _, _, searched = run("newton", start(), 10, linesearch=True)
    assert int(adaptive) == 10
    assert int(searched) > 10


# -- the self-scaling rules against a direct NumPy transcription of the paper's update --------

def paper_update(H, s, y, g_prev, alpha, n, method, first):
    """Urbán, Stefanou & Pons (2025): inverse self-scaled Broyden update, written out in NumPy."""
    sy = s @ y
    Hy = H @ y
    yHy = y @ Hy
    h = yHy / sy
    b = -alpha * (s @ g_prev) / sy
    a = b * h - 1.0
    if method == "ssbfgs":
        theta, phi, tau = 0.0, 1.0, min(1.0, 1.0 / b)
    else:
        c = np.sqrt(a / (1.0 + a))
        rho_m = min(1.0, h * (1.0 - c))
        theta_m, theta_p = (rho_m - 1.0) / a, 1.0 / rho_m
        theta = max(theta_m, min(theta_p, (1.0 - b) / b))
        sigma = 1.0 + theta * a
        sigma_n = abs(sigma) ** (1.0 / (1.0 - n))
        rho_p = min(1.0, 1.0 / b)
        tau = min(rho_p * sigma_n, sigma) if theta <= 0 else rho_p * min(sigma_n, 1.0 / theta)
        phi = (1.0 - theta) / (1.0 + a * theta)
    if first:
        tau = h / (1.0 + a * theta)
    v = s / sy - Hy / yHy
    return (H - np.outer(Hy, Hy) / yHy + phi * yHy * np.outer(v, v)) / tau + np.outer(s, s) / sy, tau, phi


@pytest.mark.parametrize("method", ["ssbfgs", "ssbroyden"])
def test_update_matches_numpy_transcription(method, x64):
    A = np.diag([1.0, 4.0, 30.0, 0.5]) + 0.3

    def f(p):  # a non-quadratic objective so that the scalars move
        x = p["x"]
        return 0.5 * x @ (jnp.asarray(A) @ x) + 0.25 * jnp.sum(x**4) - jnp.sum(x)

    opt = optimizers.make(method)
    p = {"x": jnp.array([1.0, -2.0, 0.5, 3.0])}
    s = opt.init(p)
    step = jax.jit(lambda p, s: opt.update(jax.grad(f)(p), s, p, value=f(p), grad=jax.grad(f)(p), value_fn=f))
    xs, gs, alphas, Hs, taus, phis = [], [], [], [], [], []
    for _ in range(6):
        xs.append(np.asarray(p["x"]))
        gs.append(np.asarray(jax.grad(f)(p)["x"]))
        u, s = step(p, s)
        p = optax.apply_updates(p, u)
        Hs.append(np.asarray(otu.tree_get(s, "inv_hessian")))
        alphas.append(float(otu.tree_get(s, "learning_rate")))
        taus.append(float(otu.tree_get(s, "tau")))
        phis.append(float(otu.tree_get(s, "phi")))
    # the first direction (H_0 = I) is scaled to length min(1, ‖g_0‖) before the line search; the
    # paper's α_0 is the step along -H_0 g_0 itself
    alphas[0] *= min(1.0, 1.0 / np.linalg.norm(gs[0]))
    H = np.eye(4)
    for k in range(1, 6):
        H, tau, phi = paper_update(H, xs[k] - xs[k - 1], gs[k] - gs[k - 1], gs[k - 1], alphas[k - 1], 4, method,
                                   first=(k == 1))
        np.testing.assert_allclose(Hs[k], H, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose([taus[k], phis[k]], [tau, phi], rtol=1e-7)
    assert any(abs(t - 1.0) > 1e-3 for t in taus[2:])  # self-scaling active beyond the first update
    if method == "ssbroyden":
        assert any(abs(ph - 1.0) > 1e-3 for ph in phis[1:])  # not plain BFGS
    else:
        assert all(ph == 1.0 for ph in phis)


# -- bounded-memory curvature (issue 16 §1) ------------------------------------------------------

def rosen_jacobian(p):
    """(r, J) as the training loop's residual_jacobian_fn returns it (J over ravel_pytree(p))."""
    x, unravel = ravel_pytree(p)
    return rosen_residuals(p), jax.jacfwd(lambda z: rosen_residuals(unravel(z)))(x)


@pytest.mark.parametrize("name", ["engd", "gauss-newton"])
def test_residual_jacobian_fn_gives_the_fallback_update(name, x64):
    """With the training loop's (r, J) or with the blocked Jacobian of residual_fn alone, and with
    any block size, the update is the same (round-off)."""
    p = {"a": jnp.array([-1.0, 0.8]), "b": jnp.array([0.3])}
    g = jax.grad(rosen)(p)
    outs = []
    for hp, extra in [({}, {"residual_jacobian_fn": rosen_jacobian}), ({}, {}), ({"jacobian_batch_size": 1}, {}),
                      ({"jacobian_batch_size": 2}, {})]:
        opt = optimizers.make(name, **hp)
        u, s = jax.jit(lambda p: opt.update(g, opt.init(p), p, value=rosen(p), grad=g, value_fn=rosen,
                                            residual_fn=rosen_residuals, **extra))(p)
        outs.append(np.concatenate([u["a"], u["b"]]))
    assert np.linalg.norm(outs[0]) > 1e-3  # a real step
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["engd", "gauss-newton"])
def test_jacobian_only_is_enough(name, x64):
    """residual_jacobian_fn alone (no residual_fn, no value_fn) drives the method to the minimum."""
    opt = optimizers.make(name)
    p, s = start(), opt.init(start())
    step = jax.jit(lambda p, s: opt.update(jax.grad(rosen)(p), s, p, residual_jacobian_fn=rosen_jacobian))
    for _ in range(60):
        u, s = step(p, s)
        p = optax.apply_updates(p, u)
    assert float(rosen(p)) < 1e-12


@pytest.mark.parametrize("name", ["engd", "gauss-newton"])
def test_missing_residuals_are_refused(name):
    opt = optimizers.make(name)
    p = start(jnp.float32)
    with pytest.raises(ValueError, match="residual_fn .*residual_jacobian_fn"):
        opt.update(jax.grad(rosen)(p), opt.init(p), p, value_fn=rosen)


@pytest.mark.parametrize("name", ["newton", "saddle-free-newton"])
def test_hvp_block_size_does_not_change_the_step(name, x64):
    p = {"a": jnp.array([-1.0, 0.8]), "b": jnp.array([0.3])}
    g = jax.grad(rosen)(p)
    ref = jax.hessian(lambda z: rosen({"a": z[:2], "b": z[2:]}))(jnp.array([-1.0, 0.8, 0.3]))
    outs = []
    for B in (None, 1, 2, 3):
        opt = optimizers.make(name, hvp_batch_size=B, adaptive_damping=False)
        u, _ = jax.jit(lambda p: opt.update(g, opt.init(p), p, value=rosen(p), grad=g, value_fn=rosen))(p)
        outs.append(np.concatenate([u["a"], u["b"]]))
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-12, atol=1e-14)
    if name == "newton":  # the undamped-ish Newton step solves (H + λI) d = −g with the exact Hessian
        gv = np.concatenate([g["a"], g["b"]])
        np.testing.assert_allclose((np.asarray(ref) + 1e-3 * np.eye(3)) @ outs[0], -gv, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name,key", [("newton", "hvp_batch_size"), ("saddle-free-newton", "hvp_batch_size"),
                                      ("gauss-newton", "jacobian_batch_size"), ("engd", "jacobian_batch_size")])
def test_bad_block_size_is_refused(name, key):
    with pytest.raises(ValueError, match=f"{key} must be a positive integer"):
        optimizers.make(name, **{key: 0})


@pytest.mark.parametrize("name", ["engd", "newton", "saddle-free-newton", "gauss-newton"])
def test_search_spaces_are_declared(name):
    from pinnarena import search_space as ss

    space = optimizers.REGISTRY.meta(name)["search_space"]
    assert 1 <= len(space) <= 3
    ss.check(space, optimizers.hyperparameters(name), name)
    for trial in ss.trials(space, 8, seed=0):  # every drawn setting builds an optimizer
        optimizers.make(name, **trial).init(start(jnp.float32))
