"""Line-search methods never raise the objective (optimizers/_monotone.py), and dense quasi-Newton
methods take a first trial step of length at most 1 (optimizers/quasi_newton.py).

The objective is badly scaled on purpose: f(p) = 1e4 Σ_i i (p_i − 1)² + 1e3 Σ_i cos(10 p_i), with
gradients of order 1e4 at p = 0 and many local minima, and the line searches get only 3 trial
points. Before the safeguard, optax's zoom line search took an "unsafe step" when it failed, and
dense BFGS went uphill on this function (the CPU suite saw loss 2.5e4 → 1e21 on poisson-2d-k4).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pinnarena import optimizers
from pinnarena.counting import linesearch_evals
from pinnarena.optimizers import make
from pinnarena.optimizers._monotone import reject_increasing_steps

jax.config.update("jax_enable_x64", True)


def steep(p):
    return 1e4 * jnp.sum((p - 1.0) ** 2 * jnp.arange(1.0, 1.0 + p.shape[0])) + 1e3 * jnp.sum(jnp.cos(10.0 * p))


def trajectory(tx, f=steep, n=5, steps=30):
    """Values f(p_k), k = 0..steps, the final state, and the line-search evaluations per step."""
    p = jnp.zeros(n)
    state = tx.init(p)

    @jax.jit
    def step(p, state):
        v, g = jax.value_and_grad(f)(p)
        u, state = tx.update(g, state, p, value=v, grad=g, value_fn=f)
        return optax.apply_updates(p, u), state

    values, evals = [float(f(p))], []
    for _ in range(steps):
        p, state = step(p, state)
        values.append(float(f(p)))
        evals.append(int(linesearch_evals(state)))
    return np.array(values), state, evals


ZOOM_METHODS = ["bfgs", "ssbfgs", "ssbroyden", "lbfgs"]


@pytest.mark.parametrize("name", ZOOM_METHODS)
def test_a_failed_line_search_never_raises_the_objective(name):
    values, state, evals = trajectory(make(name, max_linesearch_steps=3))
    assert np.all(np.diff(values) <= 0), f"{name} went uphill: {values}"
    assert values[-1] < 0.05 * values[0]  # and still makes progress
    assert all(e >= 1 for e in evals)  # a rejected step's trial points are still counted


@pytest.mark.parametrize("name", ["bfgs", "ssbfgs", "ssbroyden"])
def test_dense_quasi_newton_rejects_and_restarts_where_the_line_search_fails(name):
    _, state, _ = trajectory(make(name, max_linesearch_steps=3))
    assert int(state.num_rejected) > 0


def test_without_the_safeguard_the_same_method_goes_uphill():
    """The test above can fail: the unwrapped chain (optax's unsafe step) raises the objective."""
    from pinnarena.optimizers.quasi_newton import scale_by_self_scaled_broyden

    bare = optax.chain(scale_by_self_scaled_broyden("bfgs"), optax.scale_by_zoom_linesearch(3, initial_guess_strategy="one"))
    values, _, _ = trajectory(bare)
    assert np.any(np.diff(values) > 0)
    values, _, _ = trajectory(reject_increasing_steps(bare))
    assert np.all(np.diff(values) <= 0)


@pytest.mark.parametrize("name", ["bfgs", "ssbfgs", "ssbroyden"])
def test_the_first_direction_of_dense_quasi_newton_has_length_at_most_one(name):
    from pinnarena.optimizers.quasi_newton import scale_by_self_scaled_broyden

    tx = scale_by_self_scaled_broyden(name)
    p = jnp.zeros(5)
    g = jax.grad(steep)(p)
    d, _ = tx.update(g, tx.init(p), p)
    assert float(jnp.linalg.norm(d)) == pytest.approx(1.0)
    assert float(jnp.dot(d, g)) < 0
    small = 1e-3 * g / jnp.linalg.norm(g)  # a gradient shorter than 1 is not scaled up
    d, _ = tx.update(small, tx.init(p), p)
    np.testing.assert_allclose(d, -small)


def test_every_zoom_line_search_optimizer_is_wrapped():
    """Every registered optimizer whose state holds optax's zoom line search is monotone."""
    from optax._src.linesearch import ScaleByZoomLinesearchState

    from pinnarena.optimizers._monotone import RejectIncreasingStepsState

    def has(state, kind):
        return any(isinstance(x, kind) for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, kind)))

    checked = []
    for name in optimizers.names():
        hp = {"total_steps": 10} if "total_steps" in optimizers.hyperparameters(name) else {}
        state = make(name, **hp).init({"w": jnp.zeros((3, 2))})
        if has(state, ScaleByZoomLinesearchState):
            assert has(state, RejectIncreasingStepsState), f"{name} uses the zoom line search unguarded"
            checked.append(name)
    assert {"bfgs", "ssbfgs", "ssbroyden", "lbfgs", "adam-lbfgs", "adam-ssbroyden", "soap-ssbroyden"} <= set(checked)


# -- damped second-order methods: a failed search is not repeated from the same point -----------

def stiff_residuals(p):
    """r = (p0 − 1, 1e-3 p1 + 1 + p1²): J's second singular value is 1e-3, so a barely damped
    Gauss–Newton / ENGD direction moves p1 by ~1000 and no trial step of 1, 1/2, 1/4 lowers f."""
    return jnp.stack([p[0] - 1.0, 1e-3 * p[1] + 1.0 + p[1] ** 2])


def stiff(p):
    return jnp.sum(stiff_residuals(p) ** 2)


@pytest.mark.parametrize("name, hp", [("gauss-newton", {"damping": 1e-12, "max_linesearch_steps": 3}),
                                      ("engd", {"damping": 1e-12, "n_grid": 3})])
def test_a_failed_damped_step_raises_the_damping_and_the_run_moves_on(name, hp):
    """Levenberg–Marquardt's rule on the damped methods with a line search (optimizers/newton.py,
    optimizers/engd.py): with a fixed damping the first search fails and every later one repeats
    it from the same point (f stays 2 for the whole run)."""
    tx = make(name, **hp)
    p = jnp.zeros(2)
    state = tx.init(p)

    @jax.jit
    def step(p, state):
        v, g = jax.value_and_grad(stiff)(p)
        u, state = tx.update(g, state, p, value=v, grad=g, value_fn=stiff, residual_fn=stiff_residuals)
        return optax.apply_updates(p, u), state

    p1, s1 = step(p, state)
    assert float(stiff(p1)) == 2.0  # the first search fails: no step...
    raised = s1.damping if name == "gauss-newton" else s1.boost
    assert float(raised) == pytest.approx(10 * (1e-12 if name == "gauss-newton" else 1.0))  # ...more damping
    values = [2.0]
    p, state = p1, s1
    for _ in range(30):
        p, state = step(p, state)
        values.append(float(stiff(p)))
    assert np.all(np.diff(values) <= 0) and values[-1] < 0.55 * values[0]


@pytest.mark.parametrize("name", ["gauss-newton", "engd"])
def test_the_damping_returns_to_its_set_value_after_successes(name):
    """A successful step leaves the damping at its set value (a run without failed searches is
    the same as before the rule; tests/test_training_golden.py checks that bit for bit). Here one
    step solves the linear least-squares problem; later steps can only fail, at the minimum."""
    A = jnp.array([[2.0, 0.3], [0.1, 1.0], [0.5, 0.5]])
    res = lambda p: A @ p - jnp.array([1.0, 2.0, 0.5])  # noqa: E731
    f = lambda p: jnp.sum(res(p) ** 2)  # noqa: E731
    tx = make(name, damping=1e-6)
    p, state = jnp.zeros(2), tx.init(jnp.zeros(2))
    knob = (lambda s: s.damping) if name == "gauss-newton" else (lambda s: s.boost)  # noqa: E731
    set_value = knob(state)  # in the dtype the state stores it (float32 unless x64 is on)
    assert float(set_value) == pytest.approx(1e-6 if name == "gauss-newton" else 1.0, rel=1e-6)
    v, g = jax.value_and_grad(f)(p)
    u, state = tx.update(g, state, p, value=v, grad=g, value_fn=f, residual_fn=res)
    best = jnp.linalg.lstsq(A, jnp.array([1.0, 2.0, 0.5]))[0]
    assert float(f(optax.apply_updates(p, u))) == pytest.approx(float(f(best)), rel=1e-4)
    assert float(knob(state)) == float(set_value)
