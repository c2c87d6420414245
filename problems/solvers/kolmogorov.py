r"""2-D Kolmogorov flow: pseudo-spectral vorticity equation with an integrating-factor RK4 scheme.

On the periodic square [0, 2π]² the incompressible Navier–Stokes equations with the Kolmogorov
forcing f = sin(n y) e_x and a linear (Rayleigh) drag −α u read, for the vorticity ω = v_x − u_y,

    ω_t + u ω_x + v ω_y = ν ∇²ω − α ω + f_ω,   f_ω = ∂_x f_y − ∂_y f_x = −n cos(n y),
    u = ψ_y, v = −ψ_x, ∇²ψ = −ω        (so ∇·u = 0 exactly in the discretisation).

Space: Fourier pseudo-spectral on an M × M grid, nonlinear term u·∇ω evaluated in physical space
and truncated with Orszag's 2/3 rule (this makes the semi-discrete scheme a Galerkin method, which
conserves the nonlinear term's energy and enstrophy exactly). Time: Lawson's integrating-factor
RK4 — the linear part L = −νk² − α is integrated exactly with exp(L h), the rest by classical RK4 —
with a fixed step chosen from the CFL number. Energy E = ½⟨|u|²⟩ (domain mean) obeys
dE/dt = ⟨u·f⟩ − ν⟨ω²⟩ − 2αE, which the tests check.
"""
from __future__ import annotations

import numpy as np
from scipy import fft as sfft

TWO_PI = 2.0 * np.pi


class Kolmogorov:
    """Solver state for one resolution M (even) and parameters ν, α, forcing wavenumber n."""

    def __init__(self, M: int, nu: float, alpha: float = 0.1, n: int = 4):
        self.M, self.nu, self.alpha, self.n = int(M), float(nu), float(alpha), int(n)
        k = np.fft.fftfreq(M, 1.0 / M)
        kr = np.fft.rfftfreq(M, 1.0 / M)
        self.kx, self.ky = np.meshgrid(k, kr, indexing="ij")  # ω̂[kx, ky], rfft along y
        self.k2 = self.kx**2 + self.ky**2
        self.inv_k2 = np.where(self.k2 > 0, 1.0 / np.where(self.k2 > 0, self.k2, 1.0), 0.0)
        kmax = M // 3  # 2/3 rule: keep |k_i| <= M/3
        self.dealias = (np.abs(self.kx) <= kmax) & (np.abs(self.ky) <= kmax)
        self.L = -self.nu * self.k2 - self.alpha
        x = np.arange(M) * TWO_PI / M
        self.x = x
        X, Y = np.meshgrid(x, x, indexing="ij")
        self.fw_hat = self.fft(-self.n * np.cos(self.n * Y))
        self.fx = np.sin(self.n * Y)

    # transforms on [i_x, i_y] arrays
    def fft(self, f):
        return sfft.rfft2(f)

    def ifft(self, fh):
        return sfft.irfft2(fh, s=(self.M, self.M))

    def velocity_hat(self, wh):
        ph = wh * self.inv_k2
        return 1j * self.ky * ph, -1j * self.kx * ph

    def rhs_nonlinear(self, wh):
        uh, vh = self.velocity_hat(wh)
        u, v = self.ifft(uh), self.ifft(vh)
        wx, wy = self.ifft(1j * self.kx * wh), self.ifft(1j * self.ky * wh)
        return -self.fft(u * wx + v * wy) * self.dealias + self.fw_hat

    def step(self, wh, h):
        """One Lawson integrating-factor RK4 step of size h."""
        E = np.exp(self.L * h / 2)
        E2 = E * E
        a = self.rhs_nonlinear(wh)
        b = self.rhs_nonlinear(E * (wh + h / 2 * a))
        c = self.rhs_nonlinear(E * wh + h / 2 * b)
        d = self.rhs_nonlinear(E2 * wh + h * E * c)
        return E2 * wh + h / 6 * (E2 * a + 2 * E * (b + c) + d)

    def stable_dt(self, wh, cfl: float = 0.5):
        uh, vh = self.velocity_hat(wh)
        umax = max(np.abs(self.ifft(uh)).max() + np.abs(self.ifft(vh)).max(), 1e-3)
        return cfl * (TWO_PI / self.M) / umax

    def fields(self, wh):
        """(u, v, ω) on the grid."""
        uh, vh = self.velocity_hat(wh)
        return self.ifft(uh), self.ifft(vh), self.ifft(wh)

    def energy(self, wh):
        u, v, _ = self.fields(wh)
        return 0.5 * np.mean(u**2 + v**2)

    def budget(self, wh):
        """(forcing power ⟨u·f⟩, viscous dissipation ν⟨ω²⟩, drag loss 2αE)."""
        u, v, w = self.fields(wh)
        return np.mean(u * self.fx), self.nu * np.mean(w**2), self.alpha * np.mean(u**2 + v**2)

    def divergence_max(self, wh):
        uh, vh = self.velocity_hat(wh)
        return np.abs(self.ifft(1j * self.kx * uh + 1j * self.ky * vh)).max()

    def spectrum(self, wh):
        """Shell-summed energy spectrum E(k), k = 0 … M/2 (rfft half-plane weights included)."""
        uh, vh = self.velocity_hat(wh)
        e = 0.5 * (np.abs(uh) ** 2 + np.abs(vh) ** 2) / self.M**4
        w = np.where((self.ky == 0) | (self.ky == self.M // 2), 1.0, 2.0)
        shell = np.rint(np.sqrt(self.k2)).astype(int)
        return np.bincount(shell.ravel(), (w * e).ravel(), minlength=self.M // 2 + 1)[: self.M // 2 + 1]

    def integrate(self, wh, t_end, dt, save_times=(), callback=None):
        """March from t = 0 to ``t_end`` with steps ≤ dt landing exactly on ``save_times``."""
        marks = sorted(set([float(t) for t in save_times] + [float(t_end)]))
        saved, t = {}, 0.0
        if marks and marks[0] == 0.0:
            saved[0.0] = wh.copy()
        for m in marks:
            span = m - t
            if span <= 0:
                continue
            nsteps = max(1, int(np.ceil(span / dt - 1e-9)))
            h = span / nsteps
            for _ in range(nsteps):
                wh = self.step(wh, h)
                t += h
                if callback is not None:
                    callback(t, wh)
            t = m
            saved[m] = wh.copy()
        return wh, saved

    def resample(self, wh, M_new: int):
        """Spectral zero-padding/truncation of ω̂ to another grid (values preserved exactly)."""
        Mo = self.M
        out = np.zeros((M_new, M_new // 2 + 1), complex)
        kc = min(Mo, M_new) // 2
        scale = (M_new / Mo) ** 2
        out[:kc, :kc] = wh[:kc, :kc] * scale
        out[-kc + 1:, :kc] = wh[-kc + 1:, :kc] * scale
        return out


def random_initial_vorticity(M: int, seed: int, k_peak: float = 4.0, energy: float = 0.5):
    """A seeded random ω̂ on M² with spectrum ∝ k⁴ exp(−2(k/k_peak)²), scaled to energy E."""
    rng = np.random.default_rng(seed)
    s = Kolmogorov(M, 1.0, 0.0)
    w = s.ifft(s.fft(rng.standard_normal((M, M))) * np.sqrt(s.k2**2 * np.exp(-2 * s.k2 / k_peak**2)) * s.dealias)
    wh = s.fft(w)
    return wh * np.sqrt(energy / max(s.energy(wh), 1e-300))


def lowpass(s: Kolmogorov, wh, k_cut: float):
    """Keep the modes with |k| ≤ k_cut (a sharp isotropic filter)."""
    return wh * (s.k2 <= k_cut**2)


def fourier_modes(s: Kolmogorov, wh, tol: float = 1e-14):
    """Real Fourier-series coefficients of (u, v, ω): f(x, y) = Σ a cos(k·x) + b sin(k·x).

    Returns (kx, ky, coef) with coef of shape (modes, 3, 2) [cos, sin]; only nonzero modes of the
    rfft half plane, with the conjugate-symmetric weights folded in.
    """
    uh, vh = s.velocity_hat(wh)
    M = s.M
    w = np.where((s.ky == 0) | (s.ky == M // 2), 1.0, 2.0) / M**2
    keep = (np.abs(wh) > tol * np.abs(wh).max()) | (s.kx == 0) & (s.ky == 0)
    keep &= ~((s.ky == 0) & (s.kx < 0))  # ky = 0 column: kx and −kx are conjugates
    w = np.where((s.ky == 0) & (s.kx > 0), 2.0 / M**2, w)
    coef = []
    for fh in (uh, vh, wh):
        c = (w * fh)[keep]
        coef.append(np.stack([c.real, -c.imag], -1))
    return s.kx[keep], s.ky[keep], np.stack(coef, 1)
