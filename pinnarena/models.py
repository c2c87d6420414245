r"""Network architectures: MLP with optional random Fourier features and random weight factorisation.

A model is a pair of pure functions (``init(key) -> (params, buffers)``, ``apply(params, buffers,
x) -> y``) for a single input point x of shape (d,). ``buffers`` holds non-trainable arrays (the
Fourier matrix B); they are drawn from the run's key like everything else.

* Inputs are first mapped affinely from the problem's domain box to [-1, 1]^d.
* Random Fourier features (Tancik et al. 2020; Wang, Wang, Perdikaris 2021):
  γ(x) = [cos(Bx), sin(Bx)], B ∈ R^{m/2 × d}, B_ij ~ N(0, σ²), fixed during training.
* Random weight factorisation (Wang, Wang, Perdikaris 2022, arXiv 2210.01274): each dense weight
  is W = diag(exp(s)) V, with s ~ N(μ, σ) per output unit and V = W_glorot / exp(s), so the
  network starts at the same function as the plain MLP but trains (s, V).
* Dense layers use Glorot-normal weights and zero biases.

The architecture is part of the run config (``model.*`` keys) and its parameter count is
recorded in every run's summary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": jax.nn.gelu,
    "swish": jax.nn.swish,
    "softplus": jax.nn.softplus,
}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture settings (the ``model.*`` keys of a run config)."""

    arch: str = "mlp"
    width: int = 64
    depth: int = 4  # hidden layers
    activation: str = "tanh"
    fourier_features: int = 0  # number of Fourier features (0: off); must be even
    fourier_scale: float = 1.0
    rwf: bool = False
    rwf_mean: float = 1.0
    rwf_std: float = 0.1

    def validate(self) -> None:
        if self.arch != "mlp":
            raise ValueError(f"model.arch {self.arch!r} is not known; accepted: mlp")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"model.activation {self.activation!r} is not known; accepted: {sorted(ACTIVATIONS)}"
            )
        if self.width < 1 or self.depth < 1:
            raise ValueError(f"model.width and model.depth must be ≥ 1, got {self.width}, {self.depth}")
        if self.fourier_features < 0 or self.fourier_features % 2:
            raise ValueError(f"model.fourier_features must be an even number ≥ 0, got {self.fourier_features}")


class Model(NamedTuple):
    init: Callable[[jax.Array], tuple[Any, Any]]
    apply: Callable[[Any, Any, jax.Array], jax.Array]


def make_model(cfg: ModelConfig, domain, output_dim: int, adapters: dict | None = None,
               num_losses: int = 0) -> Model:
    """The network; with ``adapters`` ({rank, placement}), one LoRA adapter per loss.

    Without adapters ``params`` is the list of dense layers and ``apply(params, buffers, x)``.
    With adapters ``params = {"trunk": layers, "adapters": [per loss: [per adapted layer:
    {"a", "b"}]]}`` and ``apply(params, buffers, x, k)`` evaluates the trunk with loss k's
    adapter (k = None: trunk alone); see pinnarena/remedies/adapters.py.
    """
    cfg.validate()
    lo = jnp.asarray(domain[0], dtype=float)
    hi = jnp.asarray(domain[1], dtype=float)
    d_in = lo.shape[0]
    act = ACTIVATIONS[cfg.activation]
    n_ff = cfg.fourier_features
    first_in = n_ff if n_ff else d_in
    sizes = [first_in] + [cfg.width] * cfg.depth + [output_dim]

    def init(key):
        keys = jax.random.split(key, len(sizes))
        layers = []
        for k, (a, b) in zip(keys[1:], zip(sizes[:-1], sizes[1:])):
            kw, ks = jax.random.split(k)
            w = jax.random.normal(kw, (a, b)) * math.sqrt(2.0 / (a + b))
            layer = {"b": jnp.zeros((b,))}
            if cfg.rwf:
                s = cfg.rwf_mean + cfg.rwf_std * jax.random.normal(ks, (b,))
                layer["s"], layer["v"] = s, w / jnp.exp(s)
            else:
                layer["w"] = w
            layers.append(layer)
        buffers = {}
        if n_ff:
            buffers["B"] = cfg.fourier_scale * jax.random.normal(keys[0], (d_in, n_ff // 2))
        return layers, buffers

    def dense(layer, h):
        w = layer["v"] * jnp.exp(layer["s"]) if "s" in layer else layer["w"]
        return h @ w + layer["b"]

    def trunk(layers, buffers, x, lora=None):
        h = 2.0 * (x - lo) / (hi - lo) - 1.0
        if n_ff:
            z = h @ buffers["B"]
            h = jnp.concatenate([jnp.cos(z), jnp.sin(z)], axis=-1)
        for i, layer in enumerate(layers[:-1]):
            z = dense(layer, h)
            if lora is not None and i in lora:
                z = z + (h @ lora[i]["a"]) @ lora[i]["b"]  # α/r = 1 with α = r
            h = act(z)
        return dense(layers[-1], h)

    if not adapters:
        return Model(init, lambda params, buffers, x: trunk(params, buffers, x))

    rank = adapters["rank"]
    hidden = list(range(cfg.depth))
    where = {"all": hidden, "last": hidden[-1:], "first": hidden[:1]}[adapters["placement"]]

    def init_with_adapters(key):
        layers, buffers = init(key)  # the same trunk as the run without adapters
        k_ad = jax.random.fold_in(key, 0x5AD)
        ads = []
        for k in range(num_losses):
            per = []
            for j, i in enumerate(where):
                fan_in = sizes[i]
                a = jax.random.normal(jax.random.fold_in(k_ad, k * 1000 + j), (fan_in, rank)) / math.sqrt(fan_in)
                per.append({"a": a, "b": jnp.zeros((rank, sizes[i + 1]))})
            ads.append(per)
        return {"trunk": layers, "adapters": ads}, buffers

    def apply_with_adapters(params, buffers, x, k=None):
        lora = None if k is None else dict(zip(where, params["adapters"][k]))
        return trunk(params["trunk"], buffers, x, lora)

    return Model(init_with_adapters, apply_with_adapters)


def count_params(tree) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree)))
