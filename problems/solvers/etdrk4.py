r"""Fourier pseudo-spectral ETDRK4 for stiff periodic PDEs in 1-D and 2-D.

We solve v_t = L v + N(v, t) for the Fourier coefficients v = F[u] of a periodic field, where the
linear operator L is diagonal in Fourier space (diffusion, dispersion, hyperdiffusion, linear
reaction) and N is the nonlinear part, evaluated pseudo-spectrally (products in physical space).

Time stepping is the fourth-order exponential time-differencing Runge–Kutta scheme of Cox &
Matthews (J. Comput. Phys. 176, 2002) in the modified form of Kassam & Trefethen ("Fourth-order
time-stepping for stiff PDEs", SIAM J. Sci. Comput. 26, 2005, eqs. 2.6 and 2.5). With step h,
E = e^{hL}, E₂ = e^{hL/2}:

    a = E₂ v + Q N(v, t)
    b = E₂ v + Q N(a, t + h/2)
    c = E₂ a + Q (2 N(b, t + h/2) − N(v, t))
    v ← E v + f₁ N(v, t) + 2 f₂ (N(a, t + h/2) + N(b, t + h/2)) + f₃ N(c, t + h)

with Q = h φ-type coefficient (e^{z/2} − 1)/z and

    f₁ = h (−4 − z + e^z (4 − 3z + z²)) / z³
    f₂ = h ( 2 + z + e^z (−2 + z)) / z³
    f₃ = h (−4 − 3z − z² + e^z (4 − z)) / z³,     z = hL.

These expressions suffer catastrophic cancellation for small |z|; Kassam & Trefethen evaluate
them instead as the mean over M points of a circle of radius 1 centred at each z (Cauchy's
integral formula), which is what :func:`etdrk4_coefficients` does (M = 64 points on the full
circle; the mean is taken over complex values so that L may be complex, e.g. the dispersive
i δ² k³ of KdV).

Quadratic and cubic nonlinearities alias; ``dealias=True`` zeroes the upper third of the
wavenumbers of N (Orszag's 2/3 rule) in every direction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


def wavenumbers(n: int, length: float) -> np.ndarray:
    """Angular wavenumbers 2π m / length, m in numpy's FFT order."""
    return 2.0 * np.pi / length * np.fft.fftfreq(n, d=1.0 / n)


def periodic_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """n equispaced points lo, lo + Δ, …, hi − Δ of the periodic interval [lo, hi)."""
    return lo + (hi - lo) * np.arange(n) / n


def etdrk4_coefficients(L: np.ndarray, h: float, M: int = 64):
    """(E, E₂, Q, f₁, f₂, f₃) by the contour-integral means of Kassam & Trefethen (2005).

    Kassam & Trefethen use M points on the upper half of the circle and keep the real part, which
    is only valid for real L. We take M points on the whole unit circle around each z = hL, so the
    mean is the (spectrally accurate) value at the centre for complex L too.
    """
    L = np.asarray(L)
    r = np.exp(2j * np.pi * (np.arange(1, M + 1) - 0.5) / M)
    Q = f1 = f2 = f3 = 0.0
    for rj in r:  # accumulate the means point by point (no (…, M) temporaries for 2-D grids)
        z = h * L + rj
        ez = np.exp(z)
        Q = Q + (np.exp(z / 2) - 1.0) / z
        f1 = f1 + (-4.0 - z + ez * (4.0 - 3.0 * z + z**2)) / z**3
        f2 = f2 + (2.0 + z + ez * (-2.0 + z)) / z**3
        f3 = f3 + (-4.0 - 3.0 * z - z**2 + ez * (4.0 - z)) / z**3
    Q, f1, f2, f3 = (h * a / M for a in (Q, f1, f2, f3))
    E, E2 = np.exp(h * L), np.exp(h * L / 2)
    if np.isrealobj(L):
        Q, f1, f2, f3 = Q.real, f1.real, f2.real, f3.real
    return E, E2, Q, f1, f2, f3


def dealias_mask(shape: Sequence[int], real: bool = False) -> np.ndarray:
    """Boolean mask keeping |m| < n/3 in each trailing FFT axis (Orszag's 2/3 rule).

    With ``real`` the last axis is in ``rfft`` layout (m = 0 … n/2).
    """
    masks = [np.abs(np.fft.fftfreq(n, d=1.0 / n)) < n / 3.0 for n in shape]
    if real:
        masks[-1] = masks[-1][: shape[-1] // 2 + 1]
    out = masks[0]
    for m in masks[1:]:
        out = out[:, None] & m[None, :]
    return out


def to_rfft_layout(a: np.ndarray) -> np.ndarray:
    """Restrict a multiplier given in full FFT layout to the rfft half-spectrum of the last axis.

    Entry n/2 (the Nyquist mode, frequency −n/2 in FFT order) is kept as is; it is removed by
    dealiasing for derivative multipliers and is the same for even ones (|k|², k⁴).
    """
    a = np.asarray(a)
    return a[..., : a.shape[-1] // 2 + 1]


@dataclass
class Solution:
    """Snapshots ``u[i]`` (physical space) at ``times[i]`` on the periodic grid(s)."""

    times: np.ndarray
    u: np.ndarray
    dt: float
    wall_seconds: float


def solve(
    u0: np.ndarray,
    L: np.ndarray,
    nonlinear: Callable[[np.ndarray, float], np.ndarray],
    multiplier=1.0,
    *,
    dt: float,
    t_final: float,
    n_save: int,
    space_dims: int,
    real: bool = True,
    dealias: bool = True,
    M: int = 64,
) -> Solution:
    r"""Integrate v_t = L v + N from t = 0 to ``t_final`` and return ``n_save`` equispaced snapshots.

    ``u0`` has shape (F, n) or (F, n, n): the leading axis holds the fields (e.g. Gray–Scott's
    u, v), the trailing ``space_dims`` axes are periodic grids. The nonlinear term is
    N̂ = multiplier · F[nonlinear(u, t)] with u the physical field, so that a conservative term
    such as −(u²/2)_x is ``nonlinear = u²``, ``multiplier = −ik/2``. ``L`` and ``multiplier``
    broadcast against u0 and are given in full FFT layout (wavenumbers in ``np.fft.fftfreq``
    order); real fields (``real=True``) are transformed with ``rfftn`` and the multipliers are
    restricted to the half-spectrum. The number of steps between snapshots must be an integer.
    """
    axes = tuple(range(-space_dims, 0))
    shape = np.shape(u0)
    grid_shape = shape[-space_dims:]
    if real:
        fft = lambda a: np.fft.rfftn(a, axes=axes)
        ifft = lambda a: np.fft.irfftn(a, s=grid_shape, axes=axes)
        half = lambda a: to_rfft_layout(np.broadcast_to(a, shape))
    else:
        fft = lambda a: np.fft.fftn(a, axes=axes)
        ifft = lambda a: np.fft.ifftn(a, axes=axes)
        half = lambda a: np.broadcast_to(a, shape)
    n_steps = int(round(t_final / dt))
    if abs(n_steps * dt - t_final) > 1e-9 * max(1.0, t_final):
        raise ValueError(f"t_final {t_final} is not a multiple of dt {dt}")
    if n_steps % (n_save - 1):
        raise ValueError(f"{n_steps} steps cannot be split into {n_save - 1} equal save intervals")
    every = n_steps // (n_save - 1)
    E, E2, Q, f1, f2, f3 = etdrk4_coefficients(half(L), dt, M)
    mult = half(multiplier) * (dealias_mask(grid_shape, real) if dealias else 1.0)

    def N(v, t):
        return mult * fft(nonlinear(ifft(v), t))

    start = time.perf_counter()
    v = fft(np.asarray(u0, dtype=float if real else complex))
    out = [ifft(v)]
    t = 0.0
    for step in range(1, n_steps + 1):
        Nv = N(v, t)
        a = E2 * v + Q * Nv
        Na = N(a, t + dt / 2)
        b = E2 * v + Q * Na
        Nb = N(b, t + dt / 2)
        c = E2 * a + Q * (2.0 * Nb - Nv)
        Nc = N(c, t + dt)
        v = E * v + Nv * f1 + 2.0 * (Na + Nb) * f2 + Nc * f3
        t = step * dt
        if step % every == 0:
            u = ifft(v)
            if not np.all(np.isfinite(u)):
                raise FloatingPointError(f"ETDRK4 blew up at t = {t:g} (dt = {dt:g})")
            out.append(u)
    return Solution(np.linspace(0.0, t_final, n_save), np.stack(out), dt, time.perf_counter() - start)
