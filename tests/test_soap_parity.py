"""``make("soap")`` against an independent NumPy transcription of the 2024 SOAP algorithm.

The reference below is written from the SOAP section of REFERENCES.md (Vyas et al., arXiv
2409.11321, first public implementation): matrices are rotated as ``Q_Lᵀ G Q_R`` with explicit
identity bases for unrotated axes, 1-D parameters as ``Q g``. Both run in float64 on the same
parameter-dependent gradients for 32 calls, and the parameter trajectories must agree to 1e-8
relative at every call.

Shapes are chosen so that every eigenbasis is unique up to column signs (SOAP is invariant to
those): an m × n gradient with |m − n| = 1 leaves a one-dimensional null space in the larger
factor at the first call; a wider gap would leave a degenerate null space whose basis ``eigh``
picks arbitrarily, and the two implementations could legitimately pick different ones.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinnarena.optimizers import make

SHAPES = {
    "w": (4, 3),    # m > n
    "v": (5, 6),    # m < n
    "big": (7, 3),  # axis 0 above max_precond_dim = 6: unrotated
    "b": (2,),      # a bias
    "c": (8,),      # a bias longer than max_precond_dim
}
MAX_PRECOND_DIM = 6
N_CALLS = 32


class ReferenceSoap:
    """SOAP 2024 for one parameter, NumPy, from REFERENCES.md."""

    def __init__(self, shape, lr, b1, b2, shampoo_beta, eps, wd, freq, max_dim, precondition_1d):
        self.lr, self.b1, self.b2, self.eps, self.wd, self.freq = lr, b1, b2, eps, wd, freq
        self.bs = shampoo_beta if shampoo_beta >= 0 else b2
        if len(shape) == 1:
            self.rot = [precondition_1d and shape[0] <= max_dim]
        else:
            self.rot = [s <= max_dim for s in shape]
        self.shape = shape
        self.t = 0
        self.M = np.zeros(shape)
        self.V = np.zeros(shape)
        self.P = [np.zeros((s, s)) if r else None for s, r in zip(shape, self.rot)]
        self.Q = None

    # rotation with explicit bases: unrotated axes use the identity
    def _bases(self):
        return [q if q is not None else np.eye(s) for q, s in zip(self.Q, self.shape)]

    def project(self, x):
        q = self._bases()
        return q[0].T @ x @ q[1] if x.ndim == 2 else q[0].T @ x

    def project_back(self, x):
        q = self._bases()
        return q[0] @ x @ q[1].T if x.ndim == 2 else q[0] @ x

    def outer(self, g, axis):
        if g.ndim == 1:
            return np.outer(g, g)
        return g @ g.T if axis == 0 else g.T @ g

    def step(self, w, g):
        if self.Q is None:  # first call: factors and eigenbases, no parameter update
            self.P = [None if p is None else (1 - self.bs) * self.outer(g, i) for i, p in enumerate(self.P)]
            self.Q = []
            for p in self.P:
                if p is None:
                    self.Q.append(None)
                else:
                    _, vecs = np.linalg.eigh(p + 1e-30 * np.eye(p.shape[0]))
                    self.Q.append(vecs[:, ::-1])
            return w
        self.t += 1
        t = self.t
        gp = self.project(g)
        self.M = self.b1 * self.M + (1 - self.b1) * gp
        self.V = self.b2 * self.V + (1 - self.b2) * gp ** 2
        N = self.project_back(self.M / (np.sqrt(self.V) + self.eps))
        step = self.lr * np.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        w = w - step * N
        w = w - self.lr * self.wd * w
        # preconditioner update
        self.M = self.project_back(self.M)
        self.P = [None if p is None else self.bs * p + (1 - self.bs) * self.outer(g, i) for i, p in enumerate(self.P)]
        if t % self.freq == 0:
            for i, (p, q) in enumerate(zip(self.P, self.Q)):
                if p is None:
                    continue
                e = np.diag(q.T @ p @ q)
                idx = np.argsort(-e)
                q = q[:, idx]
                self.V = np.take(self.V, idx, axis=i)
                self.Q[i] = np.linalg.qr(p @ q)[0]
        self.M = self.project(self.M)
        return w


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    w0 = {k: rng.normal(size=s) for k, s in SHAPES.items()}
    target = {k: rng.normal(size=s) for k, s in SHAPES.items()}
    phase = {k: rng.uniform(0, 2 * np.pi, size=s) for k, s in SHAPES.items()}
    scale = {k: np.exp(rng.normal(size=s)) for k, s in SHAPES.items()}  # anisotropic gradients
    return w0, target, phase, scale


def _noise(n_calls, seed=1):
    """A per-call perturbation (as from resampled collocation points), the same for both."""
    rng = np.random.default_rng(seed)
    return [{k: 0.3 * rng.normal(size=s) for k, s in SHAPES.items()} for _ in range(n_calls)]


def _grad_np(w, target, phase, scale, noise):
    return {k: scale[k] * (w[k] - target[k]) + 0.5 * np.sin(3 * w[k] + phase[k]) + noise[k] for k in w}


def _grad_jnp(w, target, phase, scale, noise):
    return {k: scale[k] * (w[k] - target[k]) + 0.5 * jnp.sin(3 * w[k] + phase[k]) + noise[k] for k in w}


@pytest.mark.parametrize(
    "freq, wd, precondition_1d, b1, b2, shampoo_beta",
    [
        (1, 0.0, False, 0.95, 0.95, -1.0),   # refresh every call, no weight decay
        (2, 0.05, False, 0.9, 0.99, 0.9),    # the PINN paper's frequency, weight decay, explicit shampoo_beta
        (10, 0.0, False, 0.9, 0.999, -1.0),  # reference default frequency
        (10, 0.01, True, 0.95, 0.95, -1.0),  # reference defaults with a rotated 1-D parameter
    ],
)
def test_soap_matches_numpy_reference(freq, wd, precondition_1d, b1, b2, shampoo_beta):
    lr, eps = 3e-2, 1e-8
    with jax.enable_x64(True):
        w0, target, phase, scale = _problem()
        ref = {k: ReferenceSoap(s, lr, b1, b2, shampoo_beta, eps, wd, freq, MAX_PRECOND_DIM, precondition_1d)
               for k, s in SHAPES.items()}
        tx = make("soap", learning_rate=lr, b1=b1, b2=b2, shampoo_beta=shampoo_beta, eps=eps, weight_decay=wd,
                  precondition_frequency=freq, max_precond_dim=MAX_PRECOND_DIM, precondition_1d=precondition_1d)
        consts = [{k: jnp.asarray(v) for k, v in d.items()} for d in (target, phase, scale)]

        noise = _noise(N_CALLS)

        @jax.jit
        def step(p, state, noise):
            g = _grad_jnp(p, *consts, noise)
            u, state = tx.update(g, state, p)
            return jax.tree.map(lambda a, b: a + b, p, u), state

        p = {k: jnp.asarray(v) for k, v in w0.items()}
        state = tx.init(p)
        w = {k: v.copy() for k, v in w0.items()}
        moved = 0.0
        for call in range(N_CALLS):
            g = _grad_np(w, target, phase, scale, noise[call])
            w = {k: ref[k].step(w[k], g[k]) for k in w}
            p, state = step(p, state, {k: jnp.asarray(v) for k, v in noise[call].items()})
            for k in w:
                got = np.asarray(p[k])
                assert got.dtype == np.float64
                err = np.linalg.norm(got - w[k]) / np.linalg.norm(w[k])
                assert err <= 1e-8, f"call {call}, leaf {k}: relative error {err:.2e}"
            if call == 0:  # the first call initialises only
                for k in w:
                    np.testing.assert_array_equal(np.asarray(p[k]), w0[k])
            moved = max(moved, max(np.linalg.norm(w[k] - w0[k]) / np.linalg.norm(w0[k]) for k in w))
        assert moved > 0.05  # the comparison is not between two parameter sets that stood still
        # the rotated leaves were rotated by a non-trivial basis
        q = state[0].bases["w"][0]
        assert np.abs(np.abs(np.asarray(q)) - np.eye(4)).max() > 1e-2
        assert state[0].bases["big"][0] is None and state[0].bases["c"][0] is None
        assert (state[0].bases["b"][0] is not None) == precondition_1d
