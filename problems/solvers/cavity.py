r"""Steady lid-driven cavity flow: streamfunction–vorticity form, Newton's method, sparse LU.

The steady incompressible Navier–Stokes equations on the unit square, written for the
streamfunction ψ (u = ψ_y, v = −ψ_x) and the vorticity ω = v_x − u_y,

    ∇²ψ = −ω,        ψ_y ω_x − ψ_x ω_y = (1/Re) ∇²ω,

are discretised with second-order central differences on a uniform (N+1) × (N+1) grid (the
approach of, e.g., Erturk, Corke & Gökçöl, Int. J. Numer. Meth. Fluids 48, 2005, who used it up
to Re = 21,000). Walls: ψ = 0, and the wall vorticity follows from the one-sided second-order
(Jensen/"Thom second-order") formula

    ω_w = −(8ψ_1 − ψ_2 − 6 h ∂_n ψ) / (2h²),   ∂_n ψ the inward normal derivative,

with ∂_n ψ = −U_lid(x) on the lid and 0 on the other walls. The whole nonlinear system (ψ and ω
at every node, boundary rows included) is solved by Newton's method with the exact Jacobian and a
sparse direct solve per iteration, with continuation in Re (100 → … → target) and a backtracking
damping factor when a full step increases the residual.

Pressure: the momentum equation gives ∇p = F := −(u·∇)u + (1/Re)(−ω_y, ω_x). p is the
least-squares solution of G p ≈ F with G the compact face-difference gradient (differences of p
between neighbouring nodes against F averaged to the face), i.e. the discrete Neumann Poisson
problem ∇²p = ∇·F, ∂_n p = F·n; the constant is fixed by the caller (``gauge``).
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.interpolate import RectBivariateSpline


def smoothed_lid(x):
    """u on the lid, 1 − cosh(50(x − 0.5))/cosh 25: zero at the corners, ≈ 1 elsewhere."""
    x = np.asarray(x, float)
    return 1.0 - np.cosh(50.0 * (x - 0.5)) / np.cosh(25.0)


def classic_lid(x):
    """u = 1 on the open lid (Ghia et al. 1982); the corner nodes keep u = 0."""
    x = np.asarray(x, float)
    return np.where((x > 0.0) & (x < 1.0), 1.0, 0.0)


def _d1(n, h):
    """Central first derivative on n nodes; endpoint rows are zero (replaced by boundary rows)."""
    e = np.ones(n)
    D = sp.diags([-e[:-1], e[:-1]], [-1, 1], shape=(n, n), format="lil") / (2.0 * h)
    D[0, :] = 0.0
    D[-1, :] = 0.0
    return D.tocsr()


def _d2(n, h):
    e = np.ones(n)
    D = sp.diags([e[:-1], -2.0 * e, e[:-1]], [-1, 0, 1], shape=(n, n), format="lil") / h**2
    D[0, :] = 0.0
    D[-1, :] = 0.0
    return D.tocsr()


class _Operators:
    """Sparse operators on the (N+1)² node grid, node (i, j) ↔ x_i, y_j, index i·(N+1) + j."""

    def __init__(self, N: int):
        n = N + 1
        self.N, self.n, self.h = N, n, 1.0 / N
        h = self.h
        I = sp.identity(n, format="csr")
        P = sp.diags(np.r_[0.0, np.ones(n - 2), 0.0])  # interior projector in 1-D
        # x is the slow index (i), y the fast one (j)
        self.Dx = sp.kron(_d1(n, h), P, format="csr")
        self.Dy = sp.kron(P, _d1(n, h), format="csr")
        self.L = (sp.kron(_d2(n, h), P) + sp.kron(P, _d2(n, h))).tocsr()
        self.interior = sp.kron(P, P, format="csr")
        idx = np.arange(n * n).reshape(n, n)
        self.idx = idx
        wall = np.zeros((n, n), bool)
        wall[0, :] = wall[-1, :] = wall[:, 0] = wall[:, -1] = True
        self.wall = wall.ravel()
        # Boundary rows of the ω equation: ω_w + (8ψ_1 − ψ_2)/(2h²) = 3 ∂_nψ / h, per wall node
        rows, cols, vals = [], [], []
        self.lid_nodes = idx[1:-1, -1]
        for (sl_w, sl_1, sl_2) in (
            ((slice(1, -1), 0), (slice(1, -1), 1), (slice(1, -1), 2)),       # bottom
            ((slice(1, -1), -1), (slice(1, -1), -2), (slice(1, -1), -3)),    # lid
            ((0, slice(1, -1)), (1, slice(1, -1)), (2, slice(1, -1))),       # left
            ((-1, slice(1, -1)), (-2, slice(1, -1)), (-3, slice(1, -1))),    # right
        ):
            w, p1, p2 = idx[sl_w], idx[sl_1], idx[sl_2]
            rows += [w, w, w]
            cols += [w + n * n, p1, p2]
            vals += [np.ones(w.size), np.full(w.size, 8.0 / (2 * h * h)), np.full(w.size, -1.0 / (2 * h * h))]
        corners = idx[[0, 0, -1, -1], [0, -1, 0, -1]]
        rows.append(corners)
        cols.append(corners + n * n)
        vals.append(np.ones(4))
        rows, cols, vals = (np.concatenate(a) for a in (rows, cols, vals))
        # ψ = 0 on every wall node
        wn = np.flatnonzero(self.wall)
        rows = np.r_[wn, rows + n * n]
        cols = np.r_[wn, cols]
        vals = np.r_[np.ones(wn.size), vals]
        self.B = sp.csr_matrix((vals, (rows, cols)), shape=(2 * n * n, 2 * n * n))


def _residual(ops: _Operators, z, Re, bc_rhs):
    m = ops.n * ops.n
    psi, om = z[:m], z[m:]
    Dxp, Dyp, Dxo, Dyo = ops.Dx @ psi, ops.Dy @ psi, ops.Dx @ om, ops.Dy @ om
    F1 = ops.L @ psi + ops.interior @ om
    F2 = ops.L @ om / Re - (Dyp * Dxo - Dxp * Dyo)
    return np.r_[F1, F2] + ops.B @ z - bc_rhs


def _jacobian(ops: _Operators, z, Re):
    m = ops.n * ops.n
    psi, om = z[:m], z[m:]
    Dxp, Dyp, Dxo, Dyo = ops.Dx @ psi, ops.Dy @ psi, ops.Dx @ om, ops.Dy @ om
    J21 = -(sp.diags(Dxo) @ ops.Dy - sp.diags(Dyo) @ ops.Dx)
    J22 = ops.L / Re - (sp.diags(Dyp) @ ops.Dx - sp.diags(Dxp) @ ops.Dy)
    J = sp.bmat([[ops.L, ops.interior], [J21, J22]], format="csc")
    return (J + ops.B).tocsc()


def _newton(ops, z, Re, bc_rhs, tol=1e-10, max_iter=40):
    r = _residual(ops, z, Re, bc_rhs)
    rn = np.abs(r).max()
    for it in range(max_iter):
        if rn < tol:
            return z, it, rn
        dz = spla.splu(_jacobian(ops, z, Re), permc_spec="COLAMD").solve(-r)
        lam = 1.0
        while True:
            zt = z + lam * dz
            rt = _residual(ops, zt, Re, bc_rhs)
            rtn = np.abs(rt).max()
            if np.isfinite(rtn) and (rtn < rn or lam < 1e-3):
                break
            lam *= 0.5
        z, r, rn = zt, rt, rtn
        # a converged Newton step: the correction itself is negligible
        if lam == 1.0 and np.abs(dz).max() < 1e-12 * max(1.0, np.abs(z).max()):
            return z, it + 1, rn
    raise RuntimeError(f"cavity Newton iteration did not converge at Re={Re}: residual {rn:.3e}")


def continuation_path(Re: float) -> list[float]:
    """Reynolds numbers visited on the way to ``Re`` (each a Newton solve from the previous)."""
    ladder = [100.0, 400.0, 1000.0, 2000.0, 3200.0, 5000.0, 7500.0, 10000.0]
    path = [r for r in ladder if r < Re]
    return path + [float(Re)]


def solve_cavity(Re: float, N: int = 128, lid: str = "smoothed", tol: float = 1e-9):
    """Steady cavity flow at ``Re`` on an (N+1)² grid. Returns a dict of node fields.

    Keys: ``x``, ``y`` (1-D node coordinates), ``u``, ``v``, ``p``, ``psi``, ``omega`` (arrays
    indexed [i, j] ↔ (x_i, y_j)), ``newton_iterations``, ``residual``, ``seconds``.
    p is fixed by p(0, 0) = 0.
    """
    return solve_cavity_path(continuation_path(Re), N, lid, tol)[-1]


def solve_cavity_path(res, N: int = 128, lid: str = "smoothed", tol: float = 1e-9, initial: dict | None = None,
                      max_iter: int = 40):
    """Solutions at each Re in ``res`` (increasing), each Newton solve started from the previous.

    ``initial``: a solution of this module (on this or another grid, e.g. N/2; or with the other
    lid) whose ψ and ω, interpolated to this grid, start the first Newton solve (grid sequencing).
    Newton then needs a few iterations at the target Re instead of the whole continuation path on
    the fine grid; the converged discrete solution is the same (the root of the same system).
    ``max_iter``: Newton iterations per Re before giving up (RuntimeError).
    """
    t0 = time.perf_counter()
    out = []
    ops = _Operators(int(N))
    n, h = ops.n, ops.h
    x = np.linspace(0.0, 1.0, n)
    ulid = {"smoothed": smoothed_lid, "classic": classic_lid}[lid](x)
    bc_rhs = np.zeros(2 * n * n)
    # lid rows: ω_w + (8ψ_1 − ψ_2)/(2h²) = 3 ∂_nψ/h with ∂_nψ = −U_lid
    bc_rhs[n * n + ops.lid_nodes] = -3.0 * ulid[1:-1] / h
    z = np.zeros(2 * n * n)
    if initial is not None:
        z = np.r_[_regrid(initial, "psi", x).ravel(), _regrid(initial, "omega", x).ravel()]
    iters = []
    for Re in res:
        z, it, resid = _newton(ops, z, Re, bc_rhs, tol=tol * max(1.0, 1.0 / h**2 * 1e-4), max_iter=max_iter)
        iters.append(it)
        out.append(_fields(ops, z, Re, x, ulid, lid, iters, resid, time.perf_counter() - t0, N))
    return out


def _regrid(sol, field, x):
    """A node field of ``sol`` interpolated (bicubic) to the nodes x × x of another grid."""
    if len(sol["x"]) == len(x):
        return np.asarray(sol[field], float)
    return RectBivariateSpline(sol["x"], sol["y"], sol[field], kx=3, ky=3)(x, x)


def _fields(ops, z, Re, x, ulid, lid, iters, resid, seconds, N):
    n = ops.n
    m = n * n
    psi, om = z[:m], z[m:]
    u = (ops.Dy @ psi).reshape(n, n)
    v = -(ops.Dx @ psi).reshape(n, n)
    # walls: no-slip and the lid velocity (the interior rows of Dx, Dy leave walls at 0)
    u[:, -1] = ulid
    psi2, om2 = psi.reshape(n, n), om.reshape(n, n)
    p = pressure(x, u, v, om2, Re)
    return {
        "x": x, "y": x.copy(), "u": u, "v": v, "p": p, "psi": psi2, "omega": om2,
        "newton_iterations": list(iters), "residual": float(resid), "seconds": seconds,
        "N": int(N), "Re": float(Re), "lid": lid,
    }


def _grad(f, h):
    """Second-order derivatives along both axes (one-sided at the walls)."""
    return np.gradient(f, h, axis=0, edge_order=2), np.gradient(f, h, axis=1, edge_order=2)


def pressure(x, u, v, omega, Re):
    """p from ∇p = −(u·∇)u + (1/Re)(−ω_y, ω_x) by least squares on face differences; p(0,0) = 0."""
    n = x.size
    h = x[1] - x[0]
    ux, uy = _grad(u, h)
    vx, vy = _grad(v, h)
    ox, oy = _grad(omega, h)
    Fx = -(u * ux + v * uy) - oy / Re
    Fy = -(u * vx + v * vy) + ox / Re
    # faces between (i, j) and (i+1, j): (p[i+1]-p[i])/h ≈ (Fx[i]+Fx[i+1])/2, similarly in y
    e = np.ones(n)
    Dd = sp.diags([-e[:-1], e[:-1]], [0, 1], shape=(n - 1, n)) / h
    I = sp.identity(n)
    Gx = sp.kron(Dd, I)
    Gy = sp.kron(I, Dd)
    bx = 0.5 * (Fx[1:, :] + Fx[:-1, :]).ravel()
    by = 0.5 * (Fy[:, 1:] + Fy[:, :-1]).ravel()
    A = (Gx.T @ Gx + Gy.T @ Gy).tocsr()
    b = Gx.T @ bx + Gy.T @ by
    # fix the gauge p[0, 0] = 0 by dropping that unknown
    A = A[1:, 1:].tocsc()
    p = np.r_[0.0, spla.spsolve(A, b[1:])]
    return p.reshape(n, n)


def interpolate(sol, field: str, pts):
    """Bicubic interpolation of a node field at points (k, 2) in (x, y) order."""
    spl = RectBivariateSpline(sol["x"], sol["y"], sol[field], kx=3, ky=3)
    pts = np.asarray(pts, float)
    return spl.ev(pts[:, 0], pts[:, 1])
