r"""Fourier collocation method of lines with a general-purpose adaptive ODE integrator.

An independent second solver for the periodic 1-D references that :mod:`etdrk4` produces
(Allen–Cahn, KdV), used by ``tests/test_reference_crosscheck.py``. It shares no code with
``etdrk4.py``, and it differs from it in the time integrator (adaptive Radau IIA or
Dormand–Prince instead of fixed-step exponential Runge–Kutta), in the treatment of aliasing (none:
the grid is chosen fine enough, instead of the 2/3 rule) and, as the tests use it, in the
resolution.

Space (Trefethen, *Spectral Methods in MATLAB*, SIAM 2000, ch. 3). On the periodic grid
x_j = lo + j Δ, Δ = length / n (n even), u is replaced by its band-limited trigonometric
interpolant and derivatives are those of the interpolant. With h = 2π/n and s = 2π/length the
first and second differentiation matrices are the circulant (Toeplitz) matrices with columns

    (D₁)_{j0} = s · ½ (−1)^j cot(j h / 2)                 (j ≠ 0),   (D₁)_{00} = 0,
    (D₂)_{j0} = s² · (−½ (−1)^j / sin²(j h / 2))           (j ≠ 0),   (D₂)_{00} = s² (−π²/(3h²) − 1/6)

(Trefethen's eqs. 3.10 and 3.12, programs p4.m / p8.m); D₃ = D₁ D₂. In Fourier space these are the
multipliers i κ, −κ², −i κ³ (κ = s m, m = −n/2+1 … n/2) with the Nyquist mode's odd derivatives
set to zero; :func:`fourier_derivative` applies the same multipliers by FFT (cheaper than the
dense product for the right-hand side), the matrices give the exact Jacobian.

The semi-discrete system for

    u_t = Σ_m c_m ∂ˣ^m u + r(u) + ∂ₓ f(u)

is U' = F(U) = Σ_m c_m D_m U + r(U) + D₁ f(U), with Jacobian J = Σ_m c_m D_m + diag r′(U) +
D₁ diag f′(U). Allen–Cahn: c₂ = ε, r = 5u − 5u³. KdV: c₃ = −δ², f = −u²/2 (conservative form).

Time: scipy.integrate.solve_ivp. ``Radau`` is the 3-stage Radau IIA collocation method of order 5,
L-stable, with embedded error estimate and simplified Newton iterations (Hairer & Wanner, *Solving
Ordinary Differential Equations II: Stiff and Differential-Algebraic Problems*, 2nd ed., Springer
1996, sec. IV.8); it takes the exact Jacobian above, so the stiffness of δ² κ³ (≈ 2.5e5 at
n = 512 for KdV) or ε κ² does not limit the step, only the tolerance does. ``DOP853`` is the
explicit Dormand–Prince 8(5,3) pair (Hairer, Nørsett & Wanner, *Solving ODEs I*, 2nd ed. 1993,
sec. II.10): cheap per step and suited to Allen–Cahn on very fine grids, whose diffusive
stiffness ε κ_max² stays moderate (≈ 1.7e4 at n = 8192) so that stability needs only a few
thousand steps. The integration is restarted at every output time (the step size carried over),
so the snapshots are step end points, not dense-output interpolants.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import toeplitz


def grid(lo: float, hi: float, n: int) -> np.ndarray:
    """x_j = lo + j (hi − lo)/n, j = 0 … n − 1 (the periodic point hi is left out)."""
    return lo + (hi - lo) * np.arange(n) / n


def differentiation_matrices(n: int, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Trefethen's periodic spectral differentiation matrices (D₁, D₂) for an even n on a period
    of ``length`` (Spectral Methods in MATLAB, eqs. 3.10, 3.12)."""
    if n % 2:
        raise ValueError(f"n must be even, got {n}")
    h = 2.0 * np.pi / n
    j = np.arange(1, n)
    sign = (-1.0) ** j
    c1 = np.concatenate([[0.0], 0.5 * sign / np.tan(j * h / 2.0)])
    d1 = toeplitz(c1, c1[np.r_[0, n - 1:0:-1]])  # row 0 is −column 0 reversed: antisymmetric
    c2 = np.concatenate([[-np.pi**2 / (3.0 * h**2) - 1.0 / 6.0], -0.5 * sign / np.sin(j * h / 2.0) ** 2])
    d2 = toeplitz(c2)
    s = 2.0 * np.pi / length
    return s * d1, s * s * d2


def fourier_derivative(u: np.ndarray, length: float, order: int) -> np.ndarray:
    """∂ˣ^order of the trigonometric interpolant of u (last axis) at the grid points, by FFT.

    Matches :func:`differentiation_matrices`: for odd orders the Nyquist mode is dropped.
    """
    n = u.shape[-1]
    m = np.arange(n // 2 + 1)
    ik = 1j * (2.0 * np.pi / length) * m
    mult = ik**order
    if order % 2:
        mult[-1] = 0.0
    return np.fft.irfft(mult * np.fft.rfft(u), n=n)


@dataclass
class SemilinearPeriodic:
    r"""u_t = Σ_m c_m ∂ˣ^m u + r(u) + ∂ₓ f(u) on a periodic grid of n points (see the module text).

    ``linear`` maps derivative order m (1, 2, 3, 4) to c_m; ``reaction`` = (r, r′) and ``flux`` =
    (f, f′) are optional pairs of elementwise callables.
    """

    n: int
    length: float
    linear: Mapping[int, float]
    reaction: tuple[Callable, Callable] | None = None
    flux: tuple[Callable, Callable] | None = None

    def rhs(self, t: float, u: np.ndarray) -> np.ndarray:
        out = np.zeros_like(u)
        for m, c in self.linear.items():
            out += c * fourier_derivative(u, self.length, m)
        if self.reaction is not None:
            out += self.reaction[0](u)
        if self.flux is not None:
            out += fourier_derivative(self.flux[0](u), self.length, 1)
        return out

    def jacobian_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, D₁): the constant linear part A = Σ c_m D_m and D₁ (dense n × n)."""
        d1, d2 = differentiation_matrices(self.n, self.length)
        powers = {1: d1, 2: d2, 3: d1 @ d2, 4: d2 @ d2}
        a = np.zeros((self.n, self.n))
        for m, c in self.linear.items():
            a += c * powers[m]
        return a, d1

    def jacobian(self) -> Callable[[float, np.ndarray], np.ndarray]:
        a, d1 = self.jacobian_parts()

        def jac(t, u):
            j = a.copy()
            if self.reaction is not None:
                j[np.diag_indices(self.n)] += self.reaction[1](u)
            if self.flux is not None:
                j += d1 * self.flux[1](u)[None, :]
            return j

        return jac


@dataclass
class Solution:
    """Snapshots ``u[i]`` at ``times[i]`` on the grid; integrator statistics summed over segments."""

    times: np.ndarray
    u: np.ndarray
    method: str
    rtol: float
    atol: float
    nfev: int
    njev: int
    nlu: int
    wall_seconds: float


def _blas_threads(n: int | None):
    """Limit BLAS threads while the dense LU factorizations run (a context; a no-op when
    ``threadpoolctl`` is not installed or ``n`` is None). A 512 × 512 complex LU takes ~20 ms on
    one thread and can take 10× longer with two threads on a loaded 2-core machine."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def integrate(system: SemilinearPeriodic, u0: np.ndarray, times, *, method: str = "Radau",
              rtol: float = 1e-10, atol: float = 1e-12, blas_threads: int | None = 1) -> Solution:
    """Integrate ``system`` from u0 at times[0] through every entry of ``times`` with
    ``scipy.integrate.solve_ivp`` (restarted at each output time; implicit methods get the exact
    dense Jacobian).

    Rejected trial steps of an explicit method beyond its stability limit may overflow; those
    floating-point warnings are silenced (the step is rejected and retried), and a non-finite
    accepted snapshot raises.
    """
    times = np.asarray(times, dtype=float)
    kwargs = {"jac": system.jacobian()} if method in ("Radau", "BDF", "LSODA") else {}
    u = np.asarray(u0, dtype=float).copy()
    out = [u.copy()]
    nfev = njev = nlu = 0
    h = None
    start = time.perf_counter()
    for a, b in zip(times[:-1], times[1:]):
        with _blas_threads(blas_threads), np.errstate(over="ignore", invalid="ignore"):
            s = solve_ivp(system.rhs, (a, b), u, method=method, rtol=rtol, atol=atol,
                          **kwargs, **({"first_step": h} if h else {}))
        if not s.success:
            raise RuntimeError(f"{method} failed on [{a:g}, {b:g}]: {s.message}")
        u = s.y[:, -1]
        if not np.all(np.isfinite(u)):
            raise FloatingPointError(f"{method} blew up at t = {b:g}")
        out.append(u.copy())
        nfev, njev, nlu = nfev + s.nfev, njev + s.njev, nlu + s.nlu
        if len(s.t) > 2:
            h = min(float(s.t[-2] - s.t[-3]), b - a)  # the last full step (the final one is clipped)
    return Solution(times, np.stack(out), method, rtol, atol, nfev, njev, nlu, time.perf_counter() - start)


def allen_cahn(n: int, eps: float, lo: float = -1.0, hi: float = 1.0) -> tuple[SemilinearPeriodic, np.ndarray]:
    """u_t = ε u_xx + 5u − 5u³, u0 = x² cos(πx): the system and its initial grid values."""
    x = grid(lo, hi, n)
    sys_ = SemilinearPeriodic(n, hi - lo, {2: eps}, reaction=(lambda u: 5.0 * u - 5.0 * u**3, lambda u: 5.0 - 15.0 * u**2))
    return sys_, x**2 * np.cos(np.pi * x)


def kdv(n: int, delta: float, lo: float = -1.0, hi: float = 1.0, u0: Callable | None = None
        ) -> tuple[SemilinearPeriodic, np.ndarray]:
    """u_t + u u_x + δ² u_xxx = 0 (as u_t = −δ² u_xxx + ∂ₓ(−u²/2)), u0 = cos(πx) unless given."""
    x = grid(lo, hi, n)
    sys_ = SemilinearPeriodic(n, hi - lo, {3: -delta**2}, flux=(lambda u: -0.5 * u * u, lambda u: -u))
    return sys_, (np.cos(np.pi * x) if u0 is None else u0(x))
