"""Property tests of the gradient-conflict remedies over sampled K × n matrices.

TorchJD-style: each remedy states the properties it claims (module docstrings), and the tables
below check them on sampled matrices — Gaussian (full row rank when K ≤ n), rows of very different
norms, rank-deficient (K × r times r × n, r < K) and wide (K > n) ones.

Claims checked here:

* permutation invariance (rows of G and losses permuted together, g unchanged):
  none, relobralo, softadapt, gradnorm, mgda, upgrad, config, aligned-mtl (any G);
  imtl-g (full row rank). Not claimed: pcgrad (random orders tied to indices), m-config
  (cyclic momentum updates tied to indices), static (weights tied to indices).
* positive homogeneity g(cG) = c·g(G) (c > 0, same losses): every remedy in ``HOMOGENEOUS``.
* non-conflicting, g·g_i ≥ 0 for all i: config (full row rank), mgda and upgrad (any G);
  config and imtl-g: equal projections g·g_i/‖g_i‖; mgda: g·g_i ≥ ‖g‖²;
  aligned-mtl: the aligned system has all singular values equal to σ_min.
* pcgrad for K = 2 equals its closed form; without conflicts pcgrad is Σ g_i and upgrad the mean.
* alignment_score equals the cosine for K = 2 and 1 for identical directions.
* every registered remedy: jit-compiles, returns a finite n-vector (also for K > n, a zero row and
  G = 0), vmaps, and honours the weights contract of ``pinnarena.remedies``.
"""
from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnarena import diagnostics, remedies
from pinnarena.remedies.aligned_mtl import aligned_mtl_weights

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)

# A few fixed shapes, so that each remedy compiles a bounded number of times.
SHAPES = [(2, 5), (3, 5), (4, 5)]
WIDE_SHAPES = [(5, 3)]

MINE = ["static", "relobralo", "softadapt", "gradnorm", "pcgrad", "mgda", "imtl-g", "aligned-mtl", "config",
        "m-config", "upgrad"]
PERMUTATION_INVARIANT = ["none", "relobralo", "softadapt", "gradnorm", "mgda", "upgrad", "config", "aligned-mtl"]
HOMOGENEOUS = ["none", "static", "relobralo", "softadapt", "gradnorm", "pcgrad", "mgda", "upgrad", "config",
               "aligned-mtl", "imtl-g", "m-config"]
WEIGHTING = ["static", "relobralo", "softadapt", "gradnorm"]
SURGERY = ["pcgrad", "mgda", "imtl-g", "aligned-mtl", "config", "m-config", "upgrad"]


# ----------------------------------------------------------------------------------- helpers
def init_state(remedy, K, n):
    params = inspect.signature(remedy.init).parameters
    state = remedy.init(K, num_params=n) if "num_params" in params else remedy.init(K)
    return jax.tree_util.tree_map(jnp.asarray, state)


def plain_update(remedy):
    """update(G, losses, state), supplying the documented engine hooks a remedy declares
    (``needs_ntk``: per-loss NTK traces, here a fixed positive vector)."""
    if getattr(remedy, "needs_ntk", False):
        return lambda G, L, s: remedy.update(G, L, s, ntk_traces=jnp.linspace(1.0, 2.0, G.shape[0], dtype=G.dtype))
    return remedy.update


_JIT = {}


def compiled(name):
    if name not in _JIT:
        remedy = remedies.make(name)
        _JIT[name] = (remedy, jax.jit(plain_update(remedy)))
    return _JIT[name]


def run(name, Gs, Ls=None):
    """Apply ``name`` to the sequence of (G, losses) from a fresh state; return the last g and state."""
    remedy, update = compiled(name)
    Gs = [np.asarray(G, np.float32) for G in Gs]
    K, n = Gs[0].shape
    Ls = Ls or [np.linspace(1.0, 2.0, K).astype(np.float32) * (0.7**t) for t in range(len(Gs))]
    state = init_state(remedy, K, n)
    for G, L in zip(Gs, Ls):
        g, state = update(jnp.asarray(G), jnp.asarray(L, np.float32), state)
    return np.asarray(g, np.float64), state


def sample(seed, K, n, kind):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        G = rng.normal(size=(K, n))
    elif kind == "scaled":
        G = rng.normal(size=(K, n)) * 10.0 ** rng.uniform(-2, 2, size=(K, 1))
    elif kind == "rank_deficient":
        r = max(1, K - 1 - int(rng.integers(0, max(1, K - 1))))
        G = rng.normal(size=(K, r)) @ rng.normal(size=(r, n))
    else:
        raise ValueError(kind)
    return G.astype(np.float32)


def well_conditioned(G, limit=1e3):
    s = np.linalg.svd(G.astype(np.float64), compute_uv=False)
    return G.shape[0] <= G.shape[1] and s[-1] > 0 and s[0] / s[-1] < limit


def assert_close(a, b, rtol=2e-3, atol=0.0):
    """‖a − b‖ ≤ rtol · max(‖a‖, ‖b‖) + atol."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    err = np.linalg.norm(a - b)
    assert err <= rtol * scale + atol, f"‖a − b‖ = {err:.3e}, scale {scale:.3e}\n{a}\n{b}"


def assert_non_conflicting(G, g, tol=1e-4, atol=1e-5):
    G64, g64 = G.astype(np.float64), np.asarray(g, np.float64)
    dots = G64 @ g64
    norms = np.linalg.norm(G64, axis=1)
    # relative to ‖g‖, plus float32 round-off when g itself is ≈ 0 (e.g. exactly opposite rows)
    bound = norms * (tol * np.linalg.norm(g64) + atol * norms.max())
    assert np.all(dots >= -bound), f"g_i · g = {dots} (bound {bound})"


matrices = st.tuples(st.integers(0, 2**31 - 1), st.sampled_from(SHAPES), st.sampled_from(["gauss", "scaled", "rank_deficient"]))


# ------------------------------------------------------------------------- contract, every remedy
ALL = remedies.names()


def test_my_remedies_are_registered_with_families():
    for name in MINE:
        assert name in ALL
    for name in WEIGHTING:
        assert remedies.REGISTRY.meta(name)["family"] == "weighting"
    for name in SURGERY:
        assert remedies.REGISTRY.meta(name)["family"] == "surgery"


@pytest.mark.parametrize("name", ALL)
def test_every_remedy_jits_returns_finite_vector_and_survives_zero_rows(name):
    rng = np.random.default_rng(1)
    for K, n in [(3, 5), (5, 3)]:
        G = rng.normal(size=(K, n)).astype(np.float32)
        Z = G.copy()
        Z[1] = 0.0
        for M in (G, Z, np.zeros_like(G)):
            g, state = run(name, [M, M])
            assert g.shape == (n,)
            assert np.all(np.isfinite(g)), (name, M, g)
            for leaf in jax.tree_util.tree_leaves(state):
                assert np.all(np.isfinite(np.asarray(leaf, np.float64))), (name, state)
        g0, _ = run(name, [np.zeros_like(G)])
        assert np.allclose(g0, 0.0)


@pytest.mark.parametrize("name", ALL)
def test_every_remedy_vmaps_over_a_batch_of_runs(name):
    remedy, update = compiled(name)
    K, n, B = 3, 5, 2
    Gs = jnp.asarray(np.random.default_rng(2).normal(size=(B, K, n)), jnp.float32)
    Ls = jnp.ones((B, K), jnp.float32)
    state = init_state(remedy, K, n)
    states = jax.tree_util.tree_map(lambda a: jnp.stack([a] * B), state)
    gs, new = jax.jit(jax.vmap(plain_update(remedy)))(Gs, Ls, states)
    assert gs.shape == (B, n) and np.all(np.isfinite(np.asarray(gs)))
    for b in range(B):
        g1, _ = update(Gs[b], Ls[b], state)
        assert_close(gs[b], g1, rtol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_weights_contract(name):
    """Weightings: g = weights(new state) · G (what the loop uses between refreshes and for line
    searches). Non-weightings: weights None and refresh_every == 1. Evolving weights need refresh ≥ 1."""
    remedy, _ = compiled(name)
    G = np.random.default_rng(3).normal(size=(3, 5)).astype(np.float32)
    g, state = run(name, [G, 0.5 * G], [np.array([1.0, 2.0, 3.0], np.float32), np.array([0.9, 1.0, 2.5], np.float32)])
    w = remedy.weights(state)
    if w is None:
        assert remedy.refresh_every == 1
    else:
        assert np.asarray(w).shape == (3,)
        assert_close(g, np.asarray(w, np.float64) @ (0.5 * G.astype(np.float64)), rtol=1e-5)
        if name in ("relobralo", "softadapt", "gradnorm"):
            assert remedy.refresh_every >= 1


# ------------------------------------------------------------------------------ invariances
@SETTINGS
@given(matrices, st.randoms(use_true_random=False))
def test_permutation_invariance(mat, rnd):
    seed, (K, n), kind = mat
    G1, G2 = sample(seed, K, n, kind), sample(seed + 1, K, n, kind)
    L1 = np.linspace(1.0, 3.0, K).astype(np.float32)
    L2 = (L1 * np.linspace(0.9, 0.4, K)).astype(np.float32)
    perm = list(range(K))
    rnd.shuffle(perm)
    atol = 1e-4 * np.abs(G2).max()  # the answer can be ≈ 0 (e.g. the MGDA point of opposite rows)
    for name in PERMUTATION_INVARIANT:
        g, _ = run(name, [G1, G2], [L1, L2])
        gp, _ = run(name, [G1[perm], G2[perm]], [L1[perm], L2[perm]])
        assert_close(g, gp, rtol=5e-3, atol=atol)
    if well_conditioned(G2, 1e2) and well_conditioned(G1, 1e2):
        assert_close(run("imtl-g", [G2])[0], run("imtl-g", [G2[perm]])[0], rtol=5e-3)


@SETTINGS
@given(matrices, st.floats(1e-2, 1e2))
def test_positive_homogeneity(mat, c):
    seed, (K, n), kind = mat
    G = sample(seed, K, n, kind)
    if kind == "rank_deficient":
        G = G + 1e-2 * np.abs(G).max() * sample(seed + 7, K, n, "gauss")  # keep pseudo-inverse cut-offs away
    for name in HOMOGENEOUS:
        g, _ = run(name, [G, G])
        gc, _ = run(name, [c * G, c * G])
        assert_close(gc, c * g, rtol=1e-2, atol=1e-4 * c * np.abs(G).max())


# --------------------------------------------------------------------------- non-conflict
@SETTINGS
@given(matrices)
def test_config_upgrad_mgda_do_not_conflict_for_full_row_rank(mat):
    seed, (K, n), kind = mat
    G = sample(seed, K, n, "gauss" if kind == "rank_deficient" else kind)
    if not well_conditioned(G):
        G = sample(seed, K, n, "gauss")
    for name in ("config", "upgrad", "mgda"):
        g, _ = run(name, [G])
        assert_non_conflicting(G, g)
    # ConFIG: equal cosines with every g_i, and the length Σ g_iᵀ g_u.
    g, _ = run("config", [G])
    U = G / np.linalg.norm(G, axis=1, keepdims=True)
    cos = U @ g / np.linalg.norm(g)
    assert np.ptp(cos) <= 1e-3 * np.max(np.abs(cos)) + 1e-6 and cos.min() > 0
    assert np.isclose(np.linalg.norm(g), np.sum(G @ g) / np.linalg.norm(g), rtol=1e-3)


@SETTINGS
@given(st.tuples(st.integers(0, 2**31 - 1), st.sampled_from(SHAPES + WIDE_SHAPES)))
def test_mgda_and_upgrad_do_not_conflict_for_any_matrix(mat):
    seed, (K, n) = mat
    G = sample(seed, K, n, "rank_deficient" if seed % 2 else "gauss")
    # Rank-deficient G can put 0 in the relative interior of the cone of the rows (then the exact
    # answer is 0 and the fixed-iteration QP leaves ~1e-5 of it): an absolute slack of 1e-4 ‖G‖.
    g, _ = run("upgrad", [G])
    assert_non_conflicting(G, g, tol=1e-3, atol=1e-4)
    d, _ = run("mgda", [G])
    dots = G.astype(np.float64) @ d
    norms = np.linalg.norm(G.astype(np.float64), axis=1)
    assert np.all(dots >= np.dot(d, d) - norms * (1e-3 * np.linalg.norm(d) + 1e-4 * norms.max()))
    # the min-norm point is no longer than any point of the hull (the rows and their mean)
    assert np.linalg.norm(d) <= min(np.linalg.norm(G, axis=1).min(), np.linalg.norm(G.mean(0))) * (1 + 1e-4) + 1e-7


@SETTINGS
@given(matrices)
def test_imtl_g_equal_projections_and_aligned_mtl_condition_number_one(mat):
    seed, (K, n), kind = mat
    G = sample(seed, K, n, kind if kind != "rank_deficient" else "gauss")
    if not well_conditioned(G, 1e2):
        return
    g, _ = run("imtl-g", [G])
    U = G / np.linalg.norm(G, axis=1, keepdims=True)
    proj = U @ g
    assert np.ptp(proj) <= 2e-3 * np.max(np.abs(proj))
    # Aligned-MTL: columns of Gᵀ B are orthogonal with norm σ_min(G): B M B = λ_min I.
    B = np.stack([np.asarray(aligned_mtl_weights(jnp.asarray(G), preferences=np.eye(K)[j])) for j in range(K)], 1)
    M = G.astype(np.float64) @ G.T
    lam_min = np.linalg.eigvalsh(M)[0]
    assert_close(B.T @ M @ B, lam_min * np.eye(K), rtol=5e-3)


def test_upgrad_and_pcgrad_without_conflicts():
    rng = np.random.default_rng(4)
    for K, n in SHAPES:
        G = np.abs(rng.normal(size=(K, n))).astype(np.float32)  # all pairwise products positive
        assert_close(run("pcgrad", [G])[0], G.sum(0), rtol=1e-4)
        assert_close(run("upgrad", [G])[0], G.mean(0), rtol=1e-4)  # the paper averages the projections


# -------------------------------------------------------------------------------- pcgrad
@SETTINGS
@given(st.integers(0, 2**31 - 1))
def test_pcgrad_two_losses_closed_form(seed):
    G = sample(seed, 2, 5, "scaled" if seed % 2 else "gauss").astype(np.float64)
    g1, g2 = G
    d = g1 @ g2
    expected = g1 + g2 - (d * (g1 / (g1 @ g1) + g2 / (g2 @ g2)) if d < 0 else 0.0)
    assert_close(run("pcgrad", [G])[0], expected, rtol=1e-4)


def test_pcgrad_orders_change_between_updates_and_depend_on_seed():
    rem = remedies.make("pcgrad", seed=0)
    orders = [np.asarray(rem.orders(c, 6)) for c in range(4)]
    for o in orders:
        assert all(sorted(row) == list(range(6)) for row in o)
    assert any(not np.array_equal(orders[0], o) for o in orders[1:])
    assert not np.array_equal(np.asarray(remedies.make("pcgrad", seed=1).orders(0, 6)), orders[0])


# --------------------------------------------------------------------------- weightings
def test_static_weights_and_length_check():
    rem = remedies.make("static", weights=[1.0, 100.0])
    G = np.random.default_rng(5).normal(size=(2, 4)).astype(np.float32)
    g, _ = rem.update(jnp.asarray(G), jnp.ones(2), rem.init(2))
    assert_close(g, G[0] + 100.0 * G[1], rtol=1e-6)
    assert rem.refresh_every == 0
    with pytest.raises(ValueError, match="2 entries.*3 loss terms"):
        rem.init(3)
    with pytest.raises(ValueError, match="non-negative"):
        remedies.make("static", weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="list of numbers"):
        remedies.make("static", weights="1,2")


def test_loss_only_weightings_refuse_refresh_zero():
    for name in ("relobralo", "softadapt", "gradnorm"):
        with pytest.raises(ValueError, match="refresh_every"):
            remedies.make(name, refresh_every=0)


@SETTINGS
@given(st.lists(st.floats(1e-3, 1e3), min_size=3, max_size=3), st.lists(st.floats(0.1, 2.0), min_size=3, max_size=3))
def test_weighting_normalisations(L1, factors):
    L1 = np.asarray(L1, np.float32)
    L2 = (L1 * np.asarray(factors)).astype(np.float32)
    G = np.random.default_rng(6).normal(size=(3, 5)).astype(np.float32)
    for name, total in (("relobralo", 3.0), ("softadapt", 1.0), ("gradnorm", 3.0)):
        remedy, _ = compiled(name)
        _, state = run(name, [G, G, G], [L1, L2, L2])
        w = np.asarray(remedy.weights(state), np.float64)
        assert np.all(w > 0) and np.isclose(w.sum(), total, rtol=1e-4), (name, w)
    # SoftAdapt puts more weight on the loss that decreased least.
    remedy, _ = compiled("softadapt")
    _, state = run("softadapt", [G, G], [np.ones(3, np.float32), np.array([0.2, 0.6, 1.0], np.float32)])
    w = np.asarray(remedy.weights(state))
    assert w[0] < w[1] < w[2]


def test_relobralo_starts_at_one_and_is_reproducible():
    G = np.random.default_rng(7).normal(size=(3, 5)).astype(np.float32)
    L = [np.array([1.0, 2.0, 3.0], np.float32) * f for f in (1.0, 0.5, 0.4, 0.1)]
    remedy, _ = compiled("relobralo")
    _, s1 = run("relobralo", [G], L[:1])
    assert np.allclose(np.asarray(remedy.weights(s1)), 1.0)
    g_a, _ = run("relobralo", [G] * 4, L)
    g_b, _ = run("relobralo", [G] * 4, L)
    assert np.array_equal(g_a, g_b)


def test_m_config_momenta():
    G = np.random.default_rng(8).normal(size=(3, 5)).astype(np.float32)
    # cyclic (the paper): the first step sees only loss 0's momentum, so g = g_0.
    assert_close(run("m-config", [G])[0], G[0], rtol=1e-5)
    # updating every momentum, the first step is plain ConFIG (bias-corrected momentum = G).
    rem = remedies.make("m-config", cycle=False)
    g, _ = jax.jit(rem.update)(jnp.asarray(G), jnp.ones(3), init_state(rem, 3, 5))
    assert_close(g, run("config", [G])[0], rtol=1e-4)
    with pytest.raises(ValueError, match="num_params"):
        rem.init(3)


# ------------------------------------------------------------------------ alignment score
_score = jax.jit(diagnostics.alignment_score)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3))
def test_alignment_score(seed, c):
    rng = np.random.default_rng(seed)
    g1, g2, g3 = rng.normal(size=(3, 9)).astype(np.float32)
    cos = g1 @ g2 / (np.linalg.norm(g1) * np.linalg.norm(g2))
    assert np.isclose(float(_score(np.stack([g1, c * g2]))), cos, atol=1e-5)
    assert np.isclose(float(_score(np.stack([g1, -g1]))), -1.0, atol=1e-5)
    assert np.isclose(float(_score(np.stack([g1, c * g1, 3.0 * g1]))), 1.0, atol=1e-5)
    # a zero row carries no direction and is left out of the mean
    pair = 2 * np.sum(((g1 / np.linalg.norm(g1) + g3 / np.linalg.norm(g3)) / 2) ** 2) - 1
    assert np.isclose(float(_score(np.stack([g1, 0 * g1, g3]))), pair, atol=1e-5)
