"""One conformance table for every registered optimizer (optax ``contrib/_common_test.py`` style).

Every name in ``pinnarena.optimizers.names()`` is driven through the same tests, called exactly as
the training loop calls it: ``tx = make(name, **hp)`` and ``tx.update(g, state, params,
value=v, grad=g, value_fn=f, residual_fn=r)``. Both objectives are least squares,
``f(p) = ‖r(p)‖²``:

* quadratic: ``r = A p − b`` on a nested pytree ``{"layer": {"w": (3, 2), "b": (2,)}}``
  (``p`` its flattening, ``A`` 8 × 8 with condition number 4, minimum value 0);
* Rosenbrock: ``r = [10 (y − x²), 1 − x]`` from (−1.2, 1), minimum 0 at (1, 1).

``CASES`` holds per-optimizer hyper-parameter overrides, step budgets and tolerances; a name not
in it gets ``DEFAULT`` (its own default hyper-parameters; hybrids get ``total_steps`` =
``HYBRID_TOTAL_STEPS`` so that they switch within the budget). Tolerances are on ``f / f(p0)``.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from pinnarena import optimizers
from pinnarena.optimizers import make


@dataclasses.dataclass(frozen=True)
class Case:
    hp: dict = dataclasses.field(default_factory=dict)
    lr_decay: tuple | None = None  # (lr0, final factor): learning_rate decays lr0 → lr0·final over the budget
    quad_steps: int = 100
    quad_tol64: float = 1e-12  # f / f0 after quad_steps, float64
    quad_tol32: float = 1e-6   # f / f0 after quad_steps, float32
    rosen_steps: int = 200
    rosen_tol: float = 1e-10   # f / f0 after rosen_steps, float64


HYBRID_TOTAL_STEPS = 10  # hybrids switch at step 5 (switch_fraction 0.5): inside every budget below
ROUNDTRIP_SPLIT = (7, 5)  # steps before and after the save/restore

# First-order methods run with an exponentially decaying step size, to reach tight tolerances.
_FIRST_ORDER = dict(lr_decay=(0.1, 1e-2), quad_steps=1500, quad_tol64=1e-10, quad_tol32=1e-6, rosen_steps=5000,
                    rosen_tol=1e-8)
CASES: dict[str, Case] = {
    "adam": Case(**_FIRST_ORDER),
    "adamw": Case(hp=dict(weight_decay=0.0), **_FIRST_ORDER),
    "muon": Case(**{**_FIRST_ORDER, "quad_tol64": 1e-6}),  # Newton–Schulz orthogonalises approximately
    "shampoo": Case(hp=dict(start_preconditioning_step=5, precondition_frequency=5), **_FIRST_ORDER),
    "soap": Case(hp=dict(weight_decay=0.0, b1=0.9, b2=0.99, precondition_frequency=2),
                 **{**_FIRST_ORDER, "lr_decay": (0.03, 1e-3)}),
    "lbfgs": Case(quad_steps=30, rosen_steps=200),
    "adam-lbfgs": Case(quad_steps=40, rosen_steps=200),
}
DEFAULT = Case()


def case(name: str) -> Case:
    return CASES.get(name, DEFAULT)


def hparams(name: str, steps: int) -> dict[str, Any]:
    c = case(name)
    hp = dict(c.hp)
    if c.lr_decay is not None:
        lr0, final = c.lr_decay
        hp["learning_rate"] = optax.exponential_decay(lr0, transition_steps=steps, decay_rate=final)
    if "total_steps" in optimizers.hyperparameters(name):
        hp.setdefault("total_steps", HYBRID_TOTAL_STEPS)
    return hp


NAMES = optimizers.names()

# ---------------------------------------------------------------------------------------------
# Objectives (least squares) and a runner compiled once per (optimizer, objective, dtype).

_rng = np.random.default_rng(0)
_Q, _ = np.linalg.qr(_rng.normal(size=(8, 8)))
_A = _Q @ np.diag(np.linspace(1.0, 2.0, 8)) @ np.linalg.qr(_rng.normal(size=(8, 8)))[0]
_B = _rng.normal(size=8)


def quadratic_init(dtype):
    return {"layer": {"w": jnp.asarray([[0.5, -1.0], [1.5, 0.0], [-0.5, 2.0]], dtype),
                      "b": jnp.asarray([1.0, -2.0], dtype)}}


def rosenbrock_init(dtype):
    return {"xy": jnp.asarray([-1.2, 1.0], dtype)}


def quadratic_residual(p):
    flat, _ = ravel_pytree(p)
    return jnp.asarray(_A, flat.dtype) @ flat - jnp.asarray(_B, flat.dtype)


def rosenbrock_residual(p):
    x, y = p["xy"][0], p["xy"][1]
    return jnp.stack([10.0 * (y - x * x), 1.0 - x])


PROBLEMS = {"quadratic": (quadratic_init, quadratic_residual), "rosenbrock": (rosenbrock_init, rosenbrock_residual)}


def objective(residual_fn):
    return lambda p: jnp.sum(residual_fn(p) ** 2)


@functools.lru_cache(maxsize=None)
def runner(name: str, problem: str):
    """(tx, run): ``run(p, s, n)`` makes n updates in one jitted loop, returns (p, s, last update)."""
    c = case(name)
    tx = make(name, **hparams(name, c.quad_steps if problem == "quadratic" else c.rosen_steps))
    residual_fn = PROBLEMS[problem][1]
    f = objective(residual_fn)

    def step(p, s):
        v, g = jax.value_and_grad(f)(p)
        u, s = tx.update(g, s, p, value=v, grad=g, value_fn=f, residual_fn=residual_fn)
        return optax.apply_updates(p, u), s, u

    @jax.jit
    def run(p, s, n):
        return jax.lax.fori_loop(0, n, lambda i, c: step(*c[:2]), (p, s, jax.tree.map(jnp.zeros_like, p)))

    return tx, run


def _leaves_finite(tree):
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact))


# ---------------------------------------------------------------------------------------------


def test_registry_is_not_empty_and_has_the_zoo():
    for name in ("adam", "lbfgs", "soap", "shampoo", "muon"):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_jit_init_update_on_a_pytree(name):
    """jit(init) and jitted updates on a nested dict with a 2-D and a 1-D leaf (float32): updates
    mirror the params (structure, shapes, dtypes) and are finite, the state keeps its structure,
    and both leaves move."""
    tx, run = runner(name, "quadratic")
    p0 = quadratic_init(jnp.float32)
    s0 = jax.jit(tx.init)(p0)
    assert jax.tree.structure(s0) == jax.tree.structure(tx.init(p0))
    for n in (1, 2):  # SOAP's first call only initialises
        p, s, u = run(p0, s0, n)
        assert jax.tree.structure(u) == jax.tree.structure(p0)
        for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(p0)):
            assert a.shape == b.shape and a.dtype == b.dtype
        assert jax.tree.structure(s) == jax.tree.structure(s0)
        assert _leaves_finite((p, u))
    p6, _, _ = run(p0, s0, 6)
    for key in ("w", "b"):
        assert not np.array_equal(np.asarray(p6["layer"][key]), np.asarray(p0["layer"][key])), key


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_quadratic_converges(name, dtype):
    c = case(name)
    with jax.enable_x64(dtype == "float64"):
        dt = jnp.dtype(dtype)
        tx, run = runner(name, "quadratic")
        f = objective(quadratic_residual)
        p0 = quadratic_init(dt)
        p, s, _ = run(p0, tx.init(p0), c.quad_steps)
        for leaf in jax.tree.leaves(p):
            assert leaf.dtype == dt
        for leaf in jax.tree.leaves(s):
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                assert leaf.dtype == dt, f"state leaf of dtype {leaf.dtype} in a {dtype} run"
        ratio = float(f(p) / f(p0))
        tol = c.quad_tol64 if dtype == "float64" else c.quad_tol32
        assert ratio <= tol, f"{name} {dtype}: f/f0 = {ratio:.3e} after {c.quad_steps} steps (tol {tol:.0e})"


@pytest.mark.parametrize("name", NAMES)
def test_rosenbrock_converges(name):
    c = case(name)
    with jax.enable_x64(True):
        tx, run = runner(name, "rosenbrock")
        f = objective(rosenbrock_residual)
        p0 = rosenbrock_init(jnp.float64)
        p, _, _ = run(p0, tx.init(p0), c.rosen_steps)
        ratio = float(f(p) / f(p0))
        assert ratio <= c.rosen_tol, f"{name}: f/f0 = {ratio:.3e} after {c.rosen_steps} steps (tol {c.rosen_tol:.0e})"
        np.testing.assert_allclose(np.asarray(p["xy"]), [1.0, 1.0], atol=1e-2)


@pytest.mark.parametrize("name", NAMES)
def test_state_save_restore_round_trip(name, tmp_path):
    """Save (params, state) leaves with np.savez, load, unflatten, continue: same trajectory."""
    k1, k2 = ROUNDTRIP_SPLIT
    with jax.enable_x64(True):
        tx, run = runner(name, "quadratic")
        p0 = quadratic_init(jnp.float64)
        s0 = tx.init(p0)
        p_full, s_full, _ = run(p0, s0, k1 + k2)

        p_mid, s_mid, _ = run(p0, s0, k1)
        leaves, treedef = jax.tree.flatten((p_mid, s_mid))
        path = tmp_path / "state.npz"
        np.savez(path, *[np.asarray(x) for x in leaves])
        del p_mid, s_mid
        with np.load(path) as data:
            loaded = [data[f"arr_{i}"] for i in range(len(leaves))]
        for a, b in zip(loaded, leaves):
            assert a.dtype == b.dtype and a.shape == b.shape
        p_mid, s_mid = jax.tree.unflatten(treedef, [jnp.asarray(x) for x in loaded])
        p_rest, s_rest, _ = run(p_mid, s_mid, k2)

        assert _leaves_finite(p_full)
        for a, b in zip(jax.tree.leaves((p_rest, s_rest)), jax.tree.leaves((p_full, s_full))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(ravel_pytree(p_mid)[0], ravel_pytree(p0)[0])  # it did move
