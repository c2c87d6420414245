"""pinnarena.curvature: blocked Jacobians and Hessians equal JAX's dense ones, in bounded memory,
and the training loop's residual_jacobian_fn is the Jacobian of its residual_fn."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import pinnarena.build
from pinnarena import curvature, training
from pinnarena.config import resolve


@pytest.fixture
def x64():
    jax.config.update("jax_enable_x64", True)  # conftest restores the flag afterwards


def _problem(dtype):
    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.standard_normal((7, 5)), dtype)
    fun = lambda z: jnp.concatenate([jnp.tanh(A @ z) ** 2, jnp.sin(z[0]) * z[1:]])  # m = 11 > n = 5
    x = jnp.asarray(rng.standard_normal(5), dtype)
    return fun, x


TOL = {jnp.float32: dict(rtol=1e-5, atol=1e-5), jnp.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 4, 100])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_jacobian_equals_jacfwd(mode, batch_size, dtype):
    jax.config.update("jax_enable_x64", dtype == jnp.float64)
    fun, x = _problem(dtype)
    r, J = jax.jit(lambda z: curvature.jacobian(fun, z, batch_size=batch_size, mode=mode))(x)
    assert J.shape == (11, 5) and J.dtype == dtype
    np.testing.assert_allclose(r, fun(x), **TOL[dtype])
    np.testing.assert_allclose(J, jax.jit(jax.jacfwd(fun))(x), **TOL[dtype])
    # wide case (m < n): auto picks reverse mode
    wide = lambda z: fun(z)[:3]
    np.testing.assert_allclose(curvature.jacobian(wide, x, batch_size=batch_size, mode=mode)[1],
                               jax.jit(jax.jacrev(wide))(x), **TOL[dtype])


@pytest.mark.parametrize("batch_size", [None, 1, 2, 4, 5, 9])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_hessian_equals_jax_hessian(batch_size, dtype):
    jax.config.update("jax_enable_x64", dtype == jnp.float64)
    fun, x = _problem(dtype)
    f = lambda z: jnp.sum(fun(z) ** 2) + jnp.prod(z) + z[0] * z[1] ** 3
    H = jax.jit(lambda z: curvature.hessian(f, z, batch_size=batch_size))(x)
    np.testing.assert_allclose(H, jax.jit(jax.hessian(f))(x), **TOL[dtype])


def test_pointwise_jacobian_vector_residual(x64):
    rng = np.random.default_rng(1)
    pts = {"x": jnp.asarray(rng.standard_normal((7, 2))), "w": jnp.asarray(rng.standard_normal(7))}
    x = jnp.asarray(rng.standard_normal(4))
    point = lambda z, p: jnp.stack([jnp.tanh(p["x"] @ z[:2]) * z[2], p["w"] * z[3] * p["x"][0] ** 2])
    full = lambda z: jax.vmap(lambda p: point(z, p))(pts).ravel()
    for B in (None, 1, 3, 7, 50):
        r, J = curvature.pointwise_jacobian(point, x, pts, batch_size=B)
        assert r.shape == (7, 2) and J.shape == (7, 2, 4)
        np.testing.assert_allclose(r.ravel(), full(x), rtol=1e-14)
        np.testing.assert_allclose(J.reshape(14, 4), jax.jit(jax.jacfwd(full))(x), rtol=1e-13, atol=1e-14)


def test_bad_input_is_refused(x64):
    fun, x = _problem(jnp.float64)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            curvature.jacobian(fun, x, batch_size=bad)
        with pytest.raises(ValueError, match="positive integer"):
            curvature.hessian(lambda z: jnp.sum(z**2), x, batch_size=bad)
    with pytest.raises(ValueError, match="mode"):
        curvature.jacobian(fun, x, mode="sideways")
    with pytest.raises(ValueError, match="flat parameter vector"):
        curvature.hessian(lambda z: jnp.sum(z**2), jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="same leading axis"):
        curvature.pointwise_jacobian(lambda z, p: p["a"] * z[0], x, {"a": jnp.ones(3), "b": jnp.ones(4)})
    with pytest.raises(ValueError, match="memory_bytes"):
        curvature.auto_batch_size(10, 5, memory_bytes=0)


def test_auto_batch_size_follows_the_memory_bound():
    assert curvature.auto_batch_size(1000, 50, memory_bytes=10**9) == 50  # everything fits
    assert curvature.auto_batch_size(1000, 50, memory_bytes=10_000) == int(10_000 // (curvature.SAFETY * 1000))
    assert curvature.auto_batch_size(10**9, 50, memory_bytes=10) == 1  # never below one product


def _mlp_loss(width, depth, n_pts, seed=0):
    """A tanh MLP regression loss on n_pts points, as a function of the flat parameters."""
    key = jax.random.PRNGKey(seed)
    sizes = [2] + [width] * depth + [1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        key, k = jax.random.split(key)
        params.append((jax.random.normal(k, (a, b)) / np.sqrt(a), jnp.zeros(b)))
    x, unravel = ravel_pytree(params)
    X = jax.random.uniform(jax.random.PRNGKey(seed + 1), (n_pts, 2))
    y = jnp.sin(3 * X[:, 0]) * X[:, 1]

    def loss(z):
        h = X
        ps = unravel(z)
        for W, b in ps[:-1]:
            h = jnp.tanh(h @ W + b)
        W, b = ps[-1]
        return jnp.mean(((h @ W + b)[:, 0] - y) ** 2)

    return loss, x


def test_hessian_memory_is_bounded_where_jax_hessian_is_not(x64):
    """XLA's buffer assignment: blocks of B HVPs need n² + O(B) memory, jax.hessian n HVPs at once."""
    loss, x = _mlp_loss(width=24, depth=2, n_pts=512)
    n = x.shape[0]
    temp = lambda fn: jax.jit(fn).lower(x).compile().memory_analysis().temp_size_in_bytes
    dense = temp(jax.hessian(loss))
    blocked = temp(lambda z: curvature.hessian(loss, z, batch_size=4))
    assert blocked < dense / 8, (blocked, dense)
    assert blocked < 4 * n * n * 8 + 4 * curvature.working_set_bytes(curvature.hvp_fn(loss, x), x) * curvature.SAFETY
    np.testing.assert_allclose(jax.jit(lambda z: curvature.hessian(loss, z, batch_size=4))(x),
                               jax.jit(jax.hessian(loss))(x), rtol=1e-10, atol=1e-12)


def test_hessian_of_3000_parameters_compiles_in_bounded_memory(x64):
    """stationary_dense_max = 3000: the Hessian program of a 2961-parameter net needs n² plus the
    automatic working set (compiled only: running it would take minutes on a CPU)."""
    loss, x = _mlp_loss(width=37, depth=3, n_pts=256)
    n = x.shape[0]
    assert n == 2961
    mem = jax.jit(lambda z: curvature.hessian(loss, z)).lower(x).compile().memory_analysis()
    nn = n * n * 8
    assert mem.temp_size_in_bytes + mem.output_size_in_bytes < 3 * nn + 2 * curvature.WORKING_SET_BYTES


# -- the training loop's residual_jacobian_fn ----------------------------------------------------

@pytest.mark.parametrize("problem,remedy,remedy_sets", [
    ("poisson-2d-k1", "none", {}),
    ("burgers-inv", "static", {"remedy.weights": [2.0, 0.5, 3.0]}),  # PDE unknowns, 3 terms, weights
    ("ginzburg-landau", "none", {}),  # 2 outputs: vector residuals
])
def test_training_residual_jacobian_matches_jacrev(problem, remedy, remedy_sets, x64, monkeypatch):
    captured = {}

    def probe(cfg):
        def update(u, state, params=None, *, residual_fn, residual_jacobian_fn, **extra):
            x, unravel = ravel_pytree(params)
            r, J = residual_jacobian_fn(params)
            J_ref = jax.jacrev(lambda z: residual_fn(unravel(z)))(x)
            jax.debug.callback(lambda *a: captured.update(zip(("r", "J", "r_ref", "J_ref"), map(np.asarray, a))),
                               r, J, residual_fn(params), J_ref)
            return jax.tree_util.tree_map(jnp.zeros_like, u), state

        return optax.GradientTransformationExtraArgs(lambda p: jnp.zeros([]), update)

    cfg = resolve(problem, "adam", remedy, 0, steps=1, sets={
        "model.width": 6, "model.depth": 2, "points_scale": 0.03, "precision": "float64", "eval_every": 1,
        "resample_every": 0, "stationary": False, "reference_tier": "smoke", **remedy_sets})  # (the error is not read)
    monkeypatch.setattr(pinnarena.build, "make_optimizer", probe)  # build() looks it up there
    s = training.build(cfg)
    jax.block_until_ready(jax.jit(s.step)(s.init_carry, jnp.asarray(1, jnp.int32)))
    jax.effects_barrier()
    r, J, r_ref, J_ref = (captured[k] for k in ("r", "J", "r_ref", "J_ref"))
    assert J.shape == (r.shape[0], s.n_params) and r.shape == r_ref.shape
    np.testing.assert_allclose(r, r_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, J_ref, rtol=1e-10, atol=1e-12 * np.abs(J_ref).max())
    # ‖r‖² is the weighted objective the optimizer minimises
    w = np.asarray(remedy_sets.get("remedy.weights", np.ones(s.problem.n_losses)))
    L = np.asarray(jax.jit(s.loss_vector)(s.init_carry.params, s.init_carry.buffers, s.init_carry.batch))
    np.testing.assert_allclose(np.sum(r**2), w @ L, rtol=1e-10)
