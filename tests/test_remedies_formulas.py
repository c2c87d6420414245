"""Each remedy against a direct NumPy (float64) transcription of its paper's formula.

The transcriptions below are written independently of the JAX modules, in the papers' own
notation and, where the module uses an iterative solver, by a different method (exhaustive
active-set enumeration of the small QPs). Matrices: a few fixed ones (conflicting, scaled rows,
K > n) and the worked example of the TorchJD UPGrad documentation.
"""
from __future__ import annotations

import inspect
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinnarena import diagnostics, remedies

RNG = np.random.default_rng(2024)
_A = RNG.normal(size=(3, 5))
_B = RNG.normal(size=(4, 5)) * np.array([[1.0], [4.0], [0.25], [2.0]])  # rows of different norms
_C = RNG.normal(size=(2, 5))
_W = RNG.normal(size=(5, 3))                                 # K > n
_T = np.array([[-4.0, 1.0, 1.0, 0.0, 0.0], [6.0, 1.0, 1.0, 0.0, 0.0]])  # TorchJD's UPGrad example
FULL_RANK = {"A": _A, "B": _B, "C": _C, "T": _T}
ALL = {**FULL_RANK, "W": _W}

try:  # share the compiled updates with the property tests (same shapes) when run together
    from test_remedies_properties import compiled as _shared_compiled
except ImportError:  # pragma: no cover - e.g. another pytest import mode
    _shared_compiled = None

_JIT = {}


def apply(name, Gs, Ls=None, **hp):
    """Run remedy ``name`` (float32, jitted) on a sequence of (G, losses); return g (float64) and state."""
    key = (name, repr(sorted(hp.items())))
    if key not in _JIT:
        if not hp and _shared_compiled is not None:
            _JIT[key] = _shared_compiled(name)
        else:
            remedy = remedies.make(name, **hp)
            _JIT[key] = (remedy, jax.jit(remedy.update))
    remedy, update = _JIT[key]
    K, n = np.shape(Gs[0])
    Ls = Ls if Ls is not None else [np.ones(K)] * len(Gs)
    init = remedy.init
    state = init(K, num_params=n) if "num_params" in inspect.signature(init).parameters else init(K)
    state = jax.tree_util.tree_map(jnp.asarray, state)
    for G, L in zip(Gs, Ls):
        g, state = update(jnp.asarray(G, jnp.float32), jnp.asarray(L, jnp.float32), state)
    return np.asarray(g, np.float64), state, remedy


def close(a, b, rtol=1e-4, atol=0.0):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err, scale = np.linalg.norm(a - b), max(np.linalg.norm(a), np.linalg.norm(b))
    assert err <= rtol * scale + atol, f"‖a − b‖ = {err:.3e} (scale {scale:.3e})\n{a}\n{b}"


# ------------------------------------------------------------------ transcriptions (NumPy)
def np_pcgrad(G, orders):
    """Yu et al. 2020, Algorithm 1."""
    out = np.zeros(G.shape[1])
    for i in range(len(G)):
        gi = G[i].copy()
        for j in orders[i]:
            if j != i and gi @ G[j] < 0:
                gi = gi - (gi @ G[j]) / (G[j] @ G[j]) * G[j]
        out += gi
    return out


def np_mgda(G):
    """min ‖Σ α_i g_i‖ over the simplex, by enumerating the supports of α (KKT on each face)."""
    K, M = len(G), G @ G.T
    best, best_val = None, np.inf
    for r in range(1, K + 1):
        for S in itertools.combinations(range(K), r):
            S = list(S)
            A = np.block([[2 * M[np.ix_(S, S)], np.ones((r, 1))], [np.ones((1, r)), np.zeros((1, 1))]])
            sol = np.linalg.lstsq(A, np.r_[np.zeros(r), 1.0], rcond=None)[0][:r]
            if np.all(sol >= -1e-10) and abs(sol.sum() - 1) < 1e-8:
                alpha = np.zeros(K)
                alpha[S] = sol
                if alpha @ M @ alpha < best_val - 1e-15:
                    best, best_val = alpha, alpha @ M @ alpha
    return best @ G


def np_mgda_two(G):
    """Sener & Koltun 2018, Algorithm 1: γ = (θ̄ − θ)ᵀθ̄ / ‖θ − θ̄‖², clipped, d = γθ + (1 − γ)θ̄."""
    t, tb = G
    gamma = np.clip((tb - t) @ tb / ((t - tb) @ (t - tb)), 0.0, 1.0)
    return gamma * t + (1 - gamma) * tb


def np_project_dual_cone(g, G):
    """argmin ‖x − g‖ s.t. G x ≥ 0, by enumerating the sets of active constraints."""
    best, best_dist = None, np.inf
    for r in range(0, len(G) + 1):
        for S in itertools.combinations(range(len(G)), r):
            GS = G[list(S)]
            x = g - GS.T @ np.linalg.pinv(GS @ GS.T) @ (GS @ g) if r else g.copy()
            if np.all(G @ x >= -1e-9 * np.linalg.norm(G) * max(np.linalg.norm(g), 1.0)):
                d = np.linalg.norm(x - g)
                if d < best_dist - 1e-14:
                    best, best_dist = x, d
    return best


def np_upgrad(G):
    """Quinton & Rey 2024: (1/K) Σ_i π_J(g_i), the projections onto the dual cone of the rows."""
    return np.mean([np_project_dual_cone(g, G) for g in G], axis=0)


def np_imtl_g(G):
    """Liu et al. 2021: α_{2:K} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2:K}."""
    u = G / np.linalg.norm(G, axis=1, keepdims=True)
    D = G[0] - G[1:]
    U = u[0] - u[1:]
    rest = G[0] @ U.T @ np.linalg.inv(D @ U.T)
    return np.r_[1 - rest.sum(), rest] @ G


def np_aligned_mtl(G):
    """Senushkin et al. 2023, Algorithm 1, with the paper's n × T gradient matrix (columns g_i)."""
    Gc = G.T
    M = Gc.T @ Gc
    lam, V = np.linalg.eigh(M)
    R = lam > 1e-10 * lam.max()
    B = np.sqrt(lam[R].min()) * V[:, R] @ np.diag(1 / np.sqrt(lam[R])) @ V[:, R].T
    return Gc @ (B @ np.ones(len(G)))


def np_config(G):
    """Liu, Chu & Thuerey 2025: g_u = U[[U(g_1), …]^{−T} 1], g = (Σ g_iᵀ g_u) g_u."""
    Ucols = (G / np.linalg.norm(G, axis=1, keepdims=True)).T          # n × K
    v = np.linalg.pinv(Ucols.T) @ np.ones(len(G))
    gu = v / np.linalg.norm(v)
    return np.sum(G @ gu) * gu


# ------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("key", sorted(ALL))
def test_mgda_is_the_min_norm_point(key):
    G = ALL[key]
    g, _, _ = apply("mgda", [G])
    close(g, np_mgda(G), rtol=2e-4, atol=1e-5 * np.abs(G).max())
    if len(G) == 2:
        close(g, np_mgda_two(G), rtol=1e-4)
    if key == "A":
        g_r, _, _ = apply("mgda", [G], rescale=True)
        close(g_r, len(G) * g, rtol=1e-5)


@pytest.mark.parametrize("key", sorted(ALL))
def test_upgrad_averages_dual_cone_projections(key):
    G = ALL[key]
    close(apply("upgrad", [G])[0], np_upgrad(G), rtol=5e-4, atol=1e-5 * np.abs(G).max())


def test_upgrad_worked_example():
    # By hand: π(g1) = g1 + (22/38) g2, π(g2) = g2 + (22/18) g1; TorchJD documents
    # UPGrad()([[-4, 1, 1], [6, 1, 1]]) ≈ [0.2929, 1.9004, 1.9004] (with its 1e-4 regularisation).
    g1, g2 = _T
    by_hand = 0.5 * (g1 + 22 / 38 * g2 + g2 + 22 / 18 * g1)
    g = apply("upgrad", [_T])[0]
    close(g, by_hand, rtol=1e-5)
    assert np.allclose(g[:3], [0.2929, 1.9004, 1.9004], atol=1e-3)


@pytest.mark.parametrize("key", sorted(ALL))
def test_pcgrad_algorithm_one(key):
    G = ALL[key]
    for steps in (1, 3):
        g, state, rem = apply("pcgrad", [G] * steps)
        orders = np.asarray(rem.orders(steps - 1, len(G)))
        close(g, np_pcgrad(G, orders), rtol=1e-4)


@pytest.mark.parametrize("key", sorted(FULL_RANK))
def test_imtl_g_closed_form(key):
    G = FULL_RANK[key]
    close(apply("imtl-g", [G])[0], np_imtl_g(G), rtol=1e-3)


@pytest.mark.parametrize("key", sorted(ALL))
def test_aligned_mtl_algorithm_one(key):
    G = ALL[key]
    close(apply("aligned-mtl", [G])[0], np_aligned_mtl(G), rtol=1e-3)


@pytest.mark.parametrize("key", sorted(ALL))
def test_config_formula(key):
    G = ALL[key]
    close(apply("config", [G])[0], np_config(G), rtol=1e-3)


@pytest.mark.parametrize("cycle", [True, False])
def test_m_config_momenta_then_config(cycle):
    Gs = [_A, 0.5 * _A + 0.3 * RNG.normal(size=_A.shape), _A[::-1].copy(), 2.0 * _A]
    b1 = 0.9
    K = len(_A)
    m, t = np.zeros_like(_A), np.zeros(K)
    for step, G in enumerate(Gs):
        sel = [step % K] if cycle else range(K)
        for i in sel:
            m[i] = b1 * m[i] + (1 - b1) * G[i]
            t[i] += 1
        m_hat = np.array([m[i] / (1 - b1 ** t[i]) if t[i] else np.zeros(_A.shape[1]) for i in range(K)])
        live = t > 0
        expected = np_config(m_hat[live])
    close(apply("m-config", Gs, cycle=cycle)[0], expected, rtol=1e-3)


def test_m_config_second_moment():
    Gs = [_A, 0.7 * _A]
    b1, b2, eps = 0.9, 0.999, 1e-8
    m, v = np.zeros_like(_A), np.zeros(_A.shape[1])
    for t, G in enumerate(Gs, start=1):
        m = b1 * m + (1 - b1) * G
        gc = np_config(m / (1 - b1**t))
        v = b2 * v + (1 - b2) * gc**2
        expected = gc / (np.sqrt(v / (1 - b2**t)) + eps)
    close(apply("m-config", Gs, cycle=False, second_moment=True)[0], expected, rtol=1e-3)


LOSSES = [np.array([1.0, 0.5, 2.0]), np.array([0.8, 0.45, 1.0]), np.array([0.5, 0.44, 0.9]),
          np.array([0.55, 0.2, 0.3]), np.array([0.3, 0.1, 0.29])]


@pytest.mark.parametrize("rho", [0.0, 0.5, 1.0])
def test_relobralo_recursion(rho):
    alpha, T = 0.9, 0.5
    g, state, rem = apply("relobralo", [_A] * len(LOSSES), LOSSES, alpha=alpha, temperature=T, rho=rho, seed=3)

    def bal(L, Lref):
        e = np.exp(L / (T * Lref))
        return len(L) * e / e.sum()

    lam = np.ones(3)
    for t, L in enumerate(LOSSES):
        r = float(rem.lookback(t))                       # the Bernoulli draw of step t
        if rho in (0.0, 1.0):
            assert r == rho
        L0, Lp = LOSSES[0], LOSSES[max(t - 1, 0)]
        lam = alpha * (r * lam + (1 - r) * bal(L, L0)) + (1 - alpha) * bal(L, Lp)
    close(np.asarray(rem.weights(state)), lam, rtol=1e-5)
    close(g, lam @ _A, rtol=1e-5)


@pytest.mark.parametrize("variant", [{}, {"normalize": True}, {"loss_weighted": True}])
def test_softadapt_softmax_of_slopes(variant):
    beta = 5.0
    g, state, rem = apply("softadapt", [_A] * len(LOSSES), LOSSES, beta=beta, **variant)
    s = LOSSES[-1] - LOSSES[-2]
    if variant.get("normalize"):
        s = s / np.abs(s).sum()
    e = np.exp(beta * s) * (LOSSES[-1] if variant.get("loss_weighted") else 1.0)
    alpha = e / e.sum()
    close(np.asarray(rem.weights(state)), alpha, rtol=1e-5)
    close(g, alpha @ _A, rtol=1e-5)


def test_gradnorm_weight_updates():
    a, lr = 1.5, 0.05
    Gs = [_A * f for f in (1.0, 0.9, 0.7, 0.8, 0.6)]
    g, state, rem = apply("gradnorm", Gs, LOSSES, alpha=a, lr=lr)
    K = 3
    w, m, v = np.ones(K), np.zeros(K), np.zeros(K)
    for t, (G, L) in enumerate(zip(Gs, LOSSES), start=1):
        norms = np.linalg.norm(G, axis=1)
        GW = w * norms                                   # ‖∇_W w_i L_i‖
        Lt = L / LOSSES[0]                               # L̃_i(t)
        r = Lt / Lt.mean()                               # r_i(t)
        target = GW.mean() * r**a                        # held constant
        grad = np.sign(GW - target) * norms              # ∂/∂w_i Σ_i |G_W^(i) − target_i|
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        w = np.maximum(w, 1e-3)
        w = K * w / w.sum()
    close(np.asarray(rem.weights(state)), w, rtol=1e-4)
    close(g, w @ Gs[-1], rtol=1e-4)


def test_static_is_the_weighted_sum():
    w = [0.5, 2.0, 10.0]
    close(apply("static", [_A], weights=w)[0], np.asarray(w) @ _A, rtol=1e-6)


@pytest.mark.parametrize("key", sorted(ALL))
def test_alignment_score_formula(key):
    G = ALL[key]
    U = G / np.linalg.norm(G, axis=1, keepdims=True)
    expected = 2 * np.sum(U.mean(0) ** 2) - 1
    assert np.isclose(float(diagnostics.alignment_score(jnp.asarray(G, jnp.float32))), expected, atol=1e-5)
