r"""2-D Boussinesq convection between horizontal walls, periodic in x: Fourier × finite differences.

Equations (free-fall units, see problems/convection.py), on x ∈ [0, Lx) periodic, y ∈ [0, 1]:

    u_t + (u·∇)u + ∇p − α1 ∇²u = α2 θ e_y,   ∇·u = 0,   θ_t + u·∇θ = α4 ∇²θ,

no-slip walls u = 0 at y = 0, 1, and either fixed wall temperatures (``thermal="dirichlet"``,
θ = θ_base on the walls with θ_base(y) linear) or insulated walls (``thermal="neumann"``, θ_y = 0).

Formulation: streamfunction–vorticity for the x-dependent part, u = ψ_y, v = −ψ_x, ω = v_x − u_y
= −∇²ψ, so that ∇·u = 0 holds exactly in the discretisation (the x-derivative is spectral and
the y-difference operator acting on ψ commutes with it). Per Fourier mode k ≠ 0 the vorticity
equation

    ω_t = α1 ∇²ω + N_ω,   N_ω = −(u·∇)ω + α2 θ_x,

is written for the interior values of ψ (ψ = 0 on the walls): ω = −(D2 − k²)ψ with the
three-point D2 on the interior nodes and, on the walls, Jensen's second-order wall vorticity
ω_w = −(8ψ_1 − ψ_2)/(2h²), which is −ψ_yy with a ghost value from the one-sided third-order
condition ψ_y = 0 (see Napolitano, Pascazio & Quartapelle, Comput. Fluids 28 (1999) 139, for
this family of vorticity boundary conditions). Both no-slip conditions thus enter the implicit
operator, which is pentadiagonal in ψ. The mean flow ū(y) (mode k = 0) is evolved from the
x-averaged momentum equation ū_t = α1 ū_yy − ∂_y⟨uv⟩ with ū = 0 on the walls and no mean
pressure gradient (so p is periodic in x). θ is evolved per mode with three-point differences
(a ghost node θ_{−1} = θ_1 for insulated walls; the deviation from θ_base for fixed ones).

Time stepping: Crank–Nicolson for diffusion and second-order Adams–Bashforth for advection and
buoyancy (CNAB2; the first step is CN / forward Euler), fixed step. The implicit operators
(pentadiagonal for ψ, tridiagonal for θ and ū) depend only on k and the step, so their inverses
are formed once per mode by banded LU solves (scipy.linalg.solve_banded) and applied as one
batched matrix product per step; memory grows as Nx·Ny², fine up to ≈ 512². Products are
evaluated on the grid with Orszag's 2/3 rule in x.

Pressure (recovered for output): per mode k ≠ 0 the Neumann problem ∇²p = ∇·F,
F = −(u·∇)u + α2 θ e_y, ∂_y p = α2 θ + α1 v_yy = α2 θ + α1 ω_x on the walls (u = 0 there); the
x-mean from the y-momentum balance, p̄(y) = α2 ∫₀^y θ̄ dy' − ⟨v²⟩(y) (+ const). The gauge
p(0, 0) = 0 is applied by the caller.

Diagnostics: the Nusselt number at either wall, Nu = −⟨θ_y⟩ / ΔT (ΔT = 1, H = 1), the kinetic
energy, the discrete divergence and the largest CFL number met.
"""
from __future__ import annotations

import time

import numpy as np
from scipy import fft as sfft
from scipy.linalg import solve_banded


class Boussinesq:
    """Solver for one grid (Nx modes in x on [0, Lx), Ny intervals in y on [0, 1]) and step dt."""

    def __init__(self, Nx: int, Ny: int, Lx: float, alpha1: float, alpha2: float, alpha4: float,
                 dt: float, thermal: str = "dirichlet", theta_walls: tuple[float, float] = (0.5, -0.5)):
        if thermal not in ("dirichlet", "neumann"):
            raise ValueError(f"thermal must be 'dirichlet' or 'neumann', got {thermal!r}")
        self.Nx, self.Ny, self.Lx = int(Nx), int(Ny), float(Lx)
        self.a1, self.a2, self.a4, self.dt = float(alpha1), float(alpha2), float(alpha4), float(dt)
        self.thermal = thermal
        self.h = 1.0 / self.Ny
        self.x = np.arange(self.Nx) * self.Lx / self.Nx
        self.y = np.linspace(0.0, 1.0, self.Ny + 1)
        self.k = 2 * np.pi / self.Lx * np.arange(self.Nx // 2 + 1)
        self.keep = np.arange(self.Nx // 2 + 1) <= self.Nx // 3  # 2/3 rule
        tb, tt = theta_walls
        self.theta_base = tb + (tt - tb) * self.y if thermal == "dirichlet" else np.zeros(self.Ny + 1)
        self._build_operators()

    # ------------------------------------------------------------------ operators
    def _build_operators(self):
        n, h, dt = self.Ny, self.h, self.dt
        ni = n - 1  # interior nodes 1..n-1
        D2i = (np.diag(np.full(ni - 1, 1.0), -1) - 2 * np.eye(ni) + np.diag(np.full(ni - 1, 1.0), 1)) / h**2
        # W: interior ψ -> ω on all nodes (k-dependent part added below)
        W0 = np.zeros((n + 1, ni))
        W0[1:-1] = -D2i
        W0[0, 0], W0[0, 1] = -8.0 / (2 * h**2), 1.0 / (2 * h**2)
        W0[-1, -1], W0[-1, -2] = -8.0 / (2 * h**2), 1.0 / (2 * h**2)
        # Lap: all-node ω -> interior Laplacian rows (k-dependent part added below)
        L0 = np.zeros((ni, n + 1))
        idx = np.arange(ni)
        L0[idx, idx] += 1.0 / h**2
        L0[idx, idx + 1] += -2.0 / h**2
        L0[idx, idx + 2] += 1.0 / h**2
        Rint = np.zeros((ni, n + 1))
        Rint[idx, idx + 1] = 1.0
        c1 = 0.5 * dt * self.a1
        self.c1 = c1
        nk = int(self.keep.sum())  # modes beyond the 2/3 cut stay zero and are never stepped
        self.nkeep = nk
        self.psi_A = np.zeros((nk, ni, ni))  # ψ^{n+1} = psi_A (B ψ^n + dt N), B applied by stencil
        # (L0 − k² Rint)(W0 + k² Rintᵀ) expanded in powers of k², the products formed once
        eye_i = np.eye(ni)
        RW0, LW0, LRt = Rint @ W0, L0 @ W0, L0 @ Rint.T
        for m, k in enumerate(self.k[:nk]):
            if m == 0:
                continue
            k2 = k**2
            A = RW0 + k2 * eye_i - c1 * (LW0 + k2 * LRt - k2 * RW0 - k2**2 * eye_i)
            self.psi_A[m] = _banded_inverse(A, 2)
        # mean flow ū on interior nodes, Dirichlet
        self.ubar_A = _banded_inverse(eye_i - c1 * D2i, 1)
        self.ubar_M = self.ubar_A @ (eye_i + c1 * D2i)
        # temperature: unknown nodes
        c4 = 0.5 * dt * self.a4
        self.c4 = c4
        if self.thermal == "dirichlet":
            self.t_sl = slice(1, n)
            D2t = D2i
        else:
            self.t_sl = slice(0, n + 1)
            D2t = (np.diag(np.full(n, 1.0), -1) - 2 * np.eye(n + 1) + np.diag(np.full(n, 1.0), 1)) / h**2
            D2t[0, 1] = 2.0 / h**2
            D2t[-1, -2] = 2.0 / h**2
        nt = D2t.shape[0]
        eye_t = np.eye(nt)
        self.th_A = np.zeros((nk, nt, nt))
        for m, k in enumerate(self.k[:nk]):
            self.th_A[m] = _banded_inverse(eye_t - c4 * (D2t - k**2 * eye_t), 1)

    # ------------------------------------------------------------------ stencils
    def omega_nodes(self, psi):
        """ω = −(D2 − k²)ψ on all nodes from interior ψ (nk', Ny−1); Jensen's formula on walls."""
        h2 = self.h**2
        k2 = (self.k[: len(psi)] ** 2)[:, None]
        P = np.pad(psi, ((0, 0), (1, 1)))
        w = np.empty_like(P)
        w[:, 1:-1] = -(P[:, 2:] - 2 * P[:, 1:-1] + P[:, :-2]) / h2 + k2 * P[:, 1:-1]
        w[:, 0] = -(8 * P[:, 1] - P[:, 2]) / (2 * h2)
        w[:, -1] = -(8 * P[:, -2] - P[:, -3]) / (2 * h2)
        return w

    def _lap_interior(self, f):
        """(D2 − k²) f on the interior nodes from values on all nodes (nk', Ny+1)."""
        k2 = (self.k[: len(f)] ** 2)[:, None]
        return (f[:, 2:] - 2 * f[:, 1:-1] + f[:, :-2]) / self.h**2 - k2 * f[:, 1:-1]

    def _theta_lap(self, th):
        """(D2 − k²) θ on the temperature unknowns (Dirichlet: zero walls; Neumann: ghost nodes)."""
        if self.thermal == "dirichlet":
            return self._lap_interior(np.pad(th, ((0, 0), (1, 1))))
        return self._lap_interior(np.concatenate([th[:, 1:2], th, th[:, -2:-1]], axis=1))

    # ------------------------------------------------------------------ transforms
    def fft(self, f):
        return sfft.rfft(f, axis=0)

    def ifft(self, fh):
        return sfft.irfft(fh, n=self.Nx, axis=0)

    def dy(self, f):
        """Central y-difference on interior nodes, second-order one-sided on the walls."""
        return np.gradient(f, self.h, axis=-1, edge_order=2)

    @staticmethod
    def _apply(M, v):
        """Batched real matrices (nk, a, b) applied to complex vectors (nk, b)."""
        out = M @ np.stack([v.real, v.imag], axis=-1)
        return out[..., 0] + 1j * out[..., 1]

    # ------------------------------------------------------------------ state
    def initial_state(self, u, v, theta):
        """State from grid fields (u, v, θ) of shape (Nx, Ny+1); (u, v) must be divergence-free.

        ψ is recovered per mode k ≠ 0 from v̂ = −ik ψ̂, the mean flow is ū = ⟨u⟩.
        """
        vh = self.fft(v)
        kk = np.where(self.k > 0, self.k, 1.0)
        psih = np.where(self.k[:, None] > 0, vh / (-1j * kk[:, None]), 0.0)[:, 1:-1]
        ubar = u.mean(axis=0)[1:-1]
        th = self.fft(theta - self.theta_base[None, :])[:, self.t_sl]
        return self._filter({"psi": psih, "ubar": ubar.copy(), "theta": th})

    def _filter(self, s):
        s["psi"] = s["psi"] * self.keep[:, None]
        s["psi"][0] = 0.0
        s["theta"] = s["theta"] * self.keep[:, None]
        return s

    def spectral_fields(self, s):
        """(û, v̂, ω̂, θ̂) on all nodes, mode k = 0 included (ū, 0, −ū_y, θ̄)."""
        n = self.Ny
        psi = np.zeros((len(self.k), n + 1), complex)
        psi[:, 1:-1] = s["psi"]
        uh = self.dy(psi)
        uh[:, 0] = uh[:, -1] = 0.0
        ub = np.r_[0.0, s["ubar"], 0.0]
        uh[0] = ub * self.Nx
        vh = -1j * self.k[:, None] * psi
        wh = np.zeros((len(self.k), self.Ny + 1), complex)
        wh[: self.nkeep] = self.omega_nodes(s["psi"][: self.nkeep])
        wh[0] = -self.dy(ub) * self.Nx
        th = np.zeros((len(self.k), n + 1), complex)
        th[:, self.t_sl] = s["theta"]
        th[0] += self.theta_base * self.Nx
        return uh, vh, wh, th

    def fields(self, s):
        """Grid fields u, v, ω, θ of shape (Nx, Ny+1)."""
        return tuple(self.ifft(f) for f in self.spectral_fields(s))

    def nonlinear(self, s):
        uh, vh, wh, th = self.spectral_fields(s)
        ik = 1j * self.k[:, None]
        u, v = self.ifft(uh), self.ifft(vh)
        w_x, w_y = self.ifft(ik * wh), self.dy(self.ifft(wh))
        t_x, t_y = self.ifft(ik * th), self.dy(self.ifft(th))
        Nw = self.fft(-(u * w_x + v * w_y)) * self.keep[:, None] + self.a2 * ik * th
        Nt = self.fft(-(u * t_x + v * t_y)) * self.keep[:, None]
        Nu = -self.dy((u * v).mean(axis=0))
        self._umax = (np.abs(u).max() / (self.Lx / self.Nx) + np.abs(v).max() / self.h)
        return {"psi": Nw[:, 1:-1], "ubar": Nu[1:-1], "theta": Nt[:, self.t_sl]}

    def step(self, s, N, N_old=None):
        """One CNAB2 step (CN / forward Euler when ``N_old`` is None)."""
        dt = self.dt
        F = N if N_old is None else {key: 1.5 * N[key] - 0.5 * N_old[key] for key in N}
        nk = self.nkeep
        psi, th = s["psi"][:nk], s["theta"][:nk]
        w = self.omega_nodes(psi)
        rhs_psi = w[:, 1:-1] + self.c1 * self._lap_interior(w) + dt * F["psi"][:nk]
        rhs_th = th + self.c4 * self._theta_lap(th) + dt * F["theta"][:nk]
        out = {
            "psi": np.zeros_like(s["psi"]),
            "ubar": self.ubar_M @ s["ubar"] + dt * (self.ubar_A @ F["ubar"]),
            "theta": np.zeros_like(s["theta"]),
        }
        out["psi"][:nk] = self._apply(self.psi_A, rhs_psi)
        out["theta"][:nk] = self._apply(self.th_A, rhs_th)
        out["psi"][0] = 0.0
        return self._filter(out)

    def integrate(self, s, t_end: float, save_times=(), callback=None):
        """March to ``t_end`` with the fixed step (``save_times`` must be multiples of dt)."""
        nsteps = int(round(t_end / self.dt))
        if abs(nsteps * self.dt - t_end) > 1e-9 * max(1.0, t_end):
            raise ValueError(f"t_end = {t_end} is not a multiple of dt = {self.dt}")
        marks = {int(round(t / self.dt)): float(t) for t in save_times}
        for i, t in marks.items():
            if abs(i * self.dt - t) > 1e-9 * max(1.0, t):
                raise ValueError(f"save time {t} is not a multiple of dt = {self.dt}")
        saved = {}
        if 0 in marks:
            saved[marks[0]] = _copy(s)
        N_old = None
        self.max_cfl = 0.0
        t0 = time.perf_counter()
        for i in range(1, nsteps + 1):
            N = self.nonlinear(s)
            self.max_cfl = max(self.max_cfl, self._umax * self.dt)
            s = self.step(s, N, N_old)
            N_old = N
            if not np.isfinite(s["psi"]).all():
                raise FloatingPointError(f"Boussinesq solver blew up at step {i} (max CFL {self.max_cfl:.2f})")
            if callback is not None:
                callback(i * self.dt, s)
            if i in marks:
                saved[marks[i]] = _copy(s)
        self.seconds = time.perf_counter() - t0
        return s, saved

    # ------------------------------------------------------------------ diagnostics
    def pressure(self, s):
        """p on the grid (Nx, Ny+1), up to a constant (see module docstring)."""
        uh, vh, wh, th = self.spectral_fields(s)
        ik = 1j * self.k[:, None]
        u, v, theta = self.ifft(uh), self.ifft(vh), self.ifft(th)
        ux, vx = self.ifft(ik * uh), self.ifft(ik * vh)
        uy, vy = self.dy(u), self.dy(v)
        src = self.fft(-(ux**2 + 2 * uy * vx + vy**2)) + self.a2 * self.dy(th)
        gwall = self.a2 * th + self.a1 * ik * wh  # ∂_y p on the walls, per mode
        n, h = self.Ny, self.h
        A = (np.diag(np.full(n, 1.0), -1) - 2 * np.eye(n + 1) + np.diag(np.full(n, 1.0), 1)) / h**2
        A[0, 1] = A[-1, -2] = 2.0 / h**2  # ghost nodes from the Neumann data
        ph = np.zeros_like(th)
        for m in range(1, len(self.k)):
            if not self.keep[m]:
                continue
            rhs = src[m].copy()
            rhs[0] += 2.0 * gwall[m, 0] / h
            rhs[-1] -= 2.0 * gwall[m, -1] / h
            ph[m] = _banded_solve(A - self.k[m] ** 2 * np.eye(n + 1), 1, rhs)
        p = self.ifft(ph)
        tbar = theta.mean(axis=0)
        hyd = np.r_[0.0, np.cumsum(0.5 * (tbar[1:] + tbar[:-1]) * h)]
        return p + (self.a2 * hyd - (v**2).mean(axis=0))[None, :]

    def nusselt(self, s):
        """(Nu at the bottom wall, Nu at the top wall): −⟨θ_y⟩ with second-order one-sided θ_y."""
        _, _, _, th = self.spectral_fields(s)
        tb = th[0].real / self.Nx
        h = self.h
        bot = -(-3 * tb[0] + 4 * tb[1] - tb[2]) / (2 * h)
        top = -(3 * tb[-1] - 4 * tb[-2] + tb[-3]) / (2 * h)
        return float(bot), float(top)

    def kinetic_energy(self, s):
        u, v, _, _ = self.fields(s)
        w = np.full(self.Ny + 1, self.h)
        w[0] = w[-1] = self.h / 2
        return float(0.5 * ((u**2 + v**2).mean(axis=0) @ w))

    def divergence_max(self, s):
        """max |u_x + v_y| with the scheme's own operators (spectral x, central y differences)."""
        uh, vh, _, _ = self.spectral_fields(s)
        div = 1j * self.k[:, None] * uh + self.dy(vh)
        return float(np.abs(self.ifft(div))[:, 1:-1].max())


def _banded_inverse(A, bw: int):
    """Inverse of a matrix with bw sub- and super-diagonals by a banded LU solve (O(n²) work)."""
    return _banded_solve(A, bw, np.eye(A.shape[0]))


def _banded_solve(A, bw: int, rhs):
    """Solve A x = rhs for a (dense-stored) matrix with bw sub- and super-diagonals."""
    n = A.shape[0]
    ab = np.zeros((2 * bw + 1, n))
    for off in range(-bw, bw + 1):
        diag = np.diagonal(A, off)
        if off >= 0:
            ab[bw - off, off:] = diag
        else:
            ab[bw - off, : n + off] = diag
    return solve_banded((bw, bw), ab, rhs)


def _copy(s):
    return {k: v.copy() for k, v in s.items()}
