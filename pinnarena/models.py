r"""Network architectures: an MLP and a PirateNet, with random Fourier features and random weight
factorisation.

A model is a pair of pure functions (``init(key) -> (params, buffers)``, ``apply(params, buffers,
x) -> y``) for a single input point x of shape (d,). ``buffers`` holds non-trainable arrays (the
Fourier matrix B); they are drawn from the run's key like everything else.

* Inputs are first mapped affinely from the problem's domain box to [-1, 1]^d.
* Random Fourier features (Tancik et al. 2020; Wang, Wang, Perdikaris 2021):
  γ(x) = [cos(Bx), sin(Bx)], B ∈ R^{m/2 × d}, B_ij ~ N(0, σ²), fixed during training
  (m = ``fourier_features``, σ = ``fourier_scale``).
* Random weight factorisation (Wang, Wang, Perdikaris 2022, arXiv 2210.01274): each dense weight
  is W = diag(exp(s)) V, with s ~ N(μ, σ) per output unit and V = W_glorot / exp(s), so the
  network starts at the same function as the plain MLP but trains (s, V).
* Dense layers use Glorot-normal weights and zero biases.

``model.arch``:

* ``mlp`` (default): ``depth`` hidden layers of ``width`` units, ``activation`` after each, then
  a linear output layer; the Fourier features (if ``fourier_features`` > 0) replace the input.
* ``pirate``: PirateNet (Wang, Li, Chen, Perdikaris, *PirateNets: Physics-informed Deep
  Learning with Residual Adaptive Networks*, JMLR 25, 2024; arXiv 2402.00326, its architecture
  section; section and equation numbers are not quoted, see below). With σ = ``activation``
  and the embedding Φ(x) = [cos(Bx̂), sin(Bx̂)] ∈ R^m (always on; m = ``width``, see below):

      U = σ(W_u Φ + b_u),  V = σ(W_v Φ + b_v)                      (two gates, computed once)
      x⁽¹⁾ = Φ(x);  for each residual block l = 1 … L (L = ``depth``):
          f = σ(W₁⁽ˡ⁾ x⁽ˡ⁾ + b₁⁽ˡ⁾),   z₁ = f ⊙ U + (1 − f) ⊙ V
          g = σ(W₂⁽ˡ⁾ z₁ + b₂⁽ˡ⁾),     z₂ = g ⊙ U + (1 − g) ⊙ V
          h = σ(W₃⁽ˡ⁾ z₂ + b₃⁽ˡ⁾)
          x⁽ˡ⁺¹⁾ = α⁽ˡ⁾ h + (1 − α⁽ˡ⁾) x⁽ˡ⁾,   α⁽ˡ⁾ a trainable scalar initialised to 0
      u(x) = W_out x⁽ᴸ⁺¹⁾ + b_out

  so ``depth`` counts residual blocks of three dense layers each (3L + 3 dense layers in all).
  At initialisation every α⁽ˡ⁾ = 0 and the network is the linear model W_out Φ(x) + b_out in the
  Fourier basis; the blocks' nonlinearity is switched on as the α⁽ˡ⁾ are trained. Every dense
  layer (gates, blocks, output) uses random weight factorisation when ``rwf`` is true; all dense
  weights start Glorot-normal, all biases at zero. ``fourier_features`` must be 0 (meaning:
  ``width``) or equal to ``width``. With ``pi_init`` true the output layer (W_out, b_out) is then
  fitted by least squares to the problem's initial-condition (else data, else boundary) terms:
  the paper's *physics-informed initialisation*, see pinnarena/pirate_init.py for the rule and
  the math. It is off by default (``pi_init`` false: W_out Glorot-normal like every layer), so
  runs stay comparable with architectures that do not see the data at initialisation.

  What was checked, and against what (this revision). The body of the paper (its equations and
  appendix tables) could not be opened from this environment: the stored copies of
  arXiv 2402.00326 reach only its abstract, and no equation numbers are quoted here for that
  reason. Checked were (i) the abstract and published summaries of the paper (random Fourier
  feature embedding; gated residual blocks with a trainable α initialised at 0 so that the
  network starts shallow, as a linear combination of the embedding; least-squares fit of the
  last layer to available data), and (ii) the authors' public reference implementation,
  ``jaxpi`` (``jaxpi/archs.py``: ``FourierEmbs``, ``Dense`` with ``weight_fact``,
  ``PIModifiedBottleneck``, ``PirateNet``; ``examples/*/configs/pirate.py`` and
  ``examples/allen_cahn/train.py`` for the initialisation), read to understand, not copied.
  Against these, every line of the forward pass above agrees: the embedding feeds both gates and
  the first block; U and V are computed once and shared by every block; the three dense layers
  with activation after each, the gating z = f ⊙ U + (1 − f) ⊙ V after the first and second;
  the skip x⁽ˡ⁺¹⁾ = α h + (1 − α) x⁽ˡ⁾ after the third activation with a scalar α = 0 at
  initialisation; a linear output layer; Glorot-normal weights, zero biases; weight
  factorisation W = diag(exp(s)) V with s ~ N(μ, σ) per output unit (``rwf_mean``, ``rwf_std``)
  on every dense layer. Nothing in the code had to change. Remaining differences:

  - Inputs are mapped to [-1, 1]^d before the embedding; the reference implementation embeds
    the raw coordinates (after an exact periodic embedding of periodic coordinates). A scale σ
    there corresponds to σ · (half-width of each coordinate's interval) here, coordinate by
    coordinate, so σ values cannot be copied between the two unchanged.
  - The output layer has a bias b_out (zero at initialisation) and, with ``rwf``, is factorised
    like the others; the reference implementation's physics-informed initialisation replaces
    the output layer by a plain kernel without bias. ``pi_init`` here fits (W_out, b_out)
    together and keeps the factorisation (V = W_out / exp(s)); with b_out this adds
    ``output_dim`` parameters.
  - The embedding dimension is tied to ``width``. In the reference implementation the third
    dense layer of a block maps back to the embedding dimension, so the two may differ there;
    every published configuration uses 256 for both.
  - The exact periodic embedding of the inputs (used by the authors for their periodic
    problems) is not part of this model; periodicity is a loss term here.
  - The paper's per-problem Fourier scales (its hyper-parameter tables) could not be checked;
    config/paper.yaml lists those of the authors' public example configurations.

Per-loss adapters (pinnarena/remedies/adapters.py) attach to the hidden dense layers: for the
MLP, ``all`` / ``first`` / ``last`` hidden layer; for the PirateNet, the three dense layers of
``all`` blocks / the ``first`` block / the ``last`` block (the gates and the output layer are
shared by every loss). Because α⁽ˡ⁾ = 0 at initialisation, a PirateNet adapter, like its block,
receives gradient only once its block's α⁽ˡ⁾ has moved away from 0 (after the first update).

The architecture is part of the run config (``model.*`` keys) and its parameter count is
recorded in every run's summary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

def softplus(x: jax.Array) -> jax.Array:
    """softplus(x) = log(1 + eˣ), written with primitives that every derivative mode handles.

    ``jax.nn.softplus`` is a custom-JVP function, which Taylor-mode (``jax.experimental.jet``,
    used for second and higher derivatives in pinnarena/derivatives.py) cannot trace. Here
    log1p(exp(min(x, c))) + max(x − c, 0) with c = 30: exact below c; above it softplus(x) = x
    up to e⁻³⁰ ≈ 1e-13, and so are its derivatives (1 and 0)."""
    c = jnp.full_like(x, 30.0)
    return jnp.log1p(jnp.exp(jnp.minimum(x, c))) + jnp.maximum(x - c, jnp.zeros_like(x))


ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": jax.nn.gelu,
    "swish": jax.nn.swish,
    "softplus": softplus,
}

ARCHS = ("mlp", "pirate")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture settings (the ``model.*`` keys of a run config)."""

    arch: str = "mlp"  # "mlp" or "pirate" (PirateNet; see the module docstring)
    width: int = 64
    depth: int = 4  # mlp: hidden layers; pirate: residual blocks (3 dense layers each)
    activation: str = "tanh"
    fourier_features: int = 0  # number of Fourier features (0: off; pirate: 0 means width); even
    fourier_scale: float = 1.0
    rwf: bool = False
    rwf_mean: float = 1.0
    rwf_std: float = 0.1
    pi_init: bool = False  # pirate only: fit the output layer by least squares (pinnarena/pirate_init.py)

    @property
    def embedding_dim(self) -> int:
        """Number of Fourier features actually used (0: none)."""
        if self.arch == "pirate" and self.fourier_features == 0:
            return self.width
        return self.fourier_features

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch {self.arch!r} is not known; accepted: {', '.join(ARCHS)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"model.activation {self.activation!r} is not known; accepted: {sorted(ACTIVATIONS)}"
            )
        if self.width < 1 or self.depth < 1:
            raise ValueError(f"model.width and model.depth must be ≥ 1, got {self.width}, {self.depth}")
        if self.fourier_features < 0 or self.fourier_features % 2:
            raise ValueError(f"model.fourier_features must be an even number ≥ 0, got {self.fourier_features}")
        if self.pi_init and self.arch != "pirate":
            raise ValueError(
                f"model.pi_init: true (physics-informed initialisation of the output layer) needs "
                f"model.arch: pirate, got model.arch = {self.arch!r}; accepted: model.pi_init false with "
                f"any model.arch ({', '.join(ARCHS)}), or model.pi_init true with model.arch pirate"
            )
        if self.arch == "pirate":
            if self.fourier_features not in (0, self.width):
                raise ValueError(
                    f"model.arch pirate needs model.fourier_features = model.width (or 0, meaning width): "
                    f"the residual connection adds the embedding to the blocks' output; got "
                    f"model.fourier_features = {self.fourier_features}, model.width = {self.width}"
                )
            if self.width % 2:
                raise ValueError(
                    f"model.arch pirate needs an even model.width (its Fourier embedding [cos Bx, sin Bx] "
                    f"has model.width features), got {self.width}"
                )


class Model(NamedTuple):
    init: Callable[[jax.Array], tuple[Any, Any]]
    apply: Callable[[Any, Any, jax.Array], jax.Array]


class _Net(NamedTuple):
    """An architecture as make_model assembles it.

    ``apply(params, buffers, x, lora)`` with ``lora`` None or {slot: {"a", "b"}}; ``slots`` the
    (fan_in, fan_out) of each adaptable hidden dense layer; ``groups`` the slots per hidden layer
    (mlp) or per residual block (pirate), from which ``first`` / ``last`` / ``all`` are taken.
    """

    init: Callable
    apply: Callable
    slots: list[tuple[int, int]]
    groups: list[list[int]]


def _init_dense(cfg: ModelConfig, key: jax.Array, fan_in: int, fan_out: int) -> dict:
    """Glorot-normal weights, zero bias; with ``cfg.rwf``, stored factorised as (s, v)."""
    kw, ks = jax.random.split(key)
    w = jax.random.normal(kw, (fan_in, fan_out)) * math.sqrt(2.0 / (fan_in + fan_out))
    layer = {"b": jnp.zeros((fan_out,))}
    if cfg.rwf:
        s = cfg.rwf_mean + cfg.rwf_std * jax.random.normal(ks, (fan_out,))
        layer["s"], layer["v"] = s, w / jnp.exp(s)
    else:
        layer["w"] = w
    return layer


def _dense(layer: dict, h: jax.Array, lora: dict | None = None) -> jax.Array:
    """h W + b, with W = diag(exp(s)) V under weight factorisation, plus a LoRA term h A B."""
    w = layer["v"] * jnp.exp(layer["s"]) if "s" in layer else layer["w"]
    z = h @ w + layer["b"]
    if lora is not None:
        z = z + (h @ lora["a"]) @ lora["b"]  # α/r = 1 with α = r
    return z


def _mlp(cfg: ModelConfig, d_in: int, output_dim: int, embed: Callable) -> _Net:
    act = ACTIVATIONS[cfg.activation]
    n_ff = cfg.fourier_features
    sizes = [n_ff if n_ff else d_in] + [cfg.width] * cfg.depth + [output_dim]

    def init(key):
        keys = jax.random.split(key, len(sizes))
        layers = [_init_dense(cfg, k, a, b) for k, (a, b) in zip(keys[1:], zip(sizes[:-1], sizes[1:]))]
        buffers = {}
        if n_ff:
            buffers["B"] = cfg.fourier_scale * jax.random.normal(keys[0], (d_in, n_ff // 2))
        return layers, buffers

    def apply(layers, buffers, x, lora=None):
        h = embed(buffers, x)
        for i, layer in enumerate(layers[:-1]):
            h = act(_dense(layer, h, None if lora is None else lora.get(i)))
        return _dense(layers[-1], h)

    slots = [(sizes[i], sizes[i + 1]) for i in range(cfg.depth)]
    return _Net(init, apply, slots, [[i] for i in range(cfg.depth)])


def _pirate(cfg: ModelConfig, d_in: int, output_dim: int, embed: Callable) -> _Net:
    act = ACTIVATIONS[cfg.activation]
    m = cfg.width  # = embedding dimension (validated)

    def init(key):
        k_b, k_u, k_v, k_out, *k_blocks = jax.random.split(key, 4 + cfg.depth)
        blocks = []
        for kb in k_blocks:
            blocks.append({"dense": [_init_dense(cfg, k, m, m) for k in jax.random.split(kb, 3)],
                           "alpha": jnp.zeros(())})
        params = {"gate_u": _init_dense(cfg, k_u, m, m), "gate_v": _init_dense(cfg, k_v, m, m),
                  "blocks": blocks, "out": _init_dense(cfg, k_out, m, output_dim)}
        return params, {"B": cfg.fourier_scale * jax.random.normal(k_b, (d_in, m // 2))}

    def apply(params, buffers, x, lora=None):
        phi = embed(buffers, x)
        u = act(_dense(params["gate_u"], phi))
        v = act(_dense(params["gate_v"], phi))
        ad = (lambda i: None) if lora is None else lora.get
        h = phi
        for l, block in enumerate(params["blocks"]):
            d1, d2, d3 = block["dense"]
            f = act(_dense(d1, h, ad(3 * l)))
            z1 = f * u + (1.0 - f) * v
            g = act(_dense(d2, z1, ad(3 * l + 1)))
            z2 = g * u + (1.0 - g) * v
            r = act(_dense(d3, z2, ad(3 * l + 2)))
            a = block["alpha"]
            h = a * r + (1.0 - a) * h
        return _dense(params["out"], h)

    slots = [(m, m)] * (3 * cfg.depth)
    return _Net(init, apply, slots, [[3 * l, 3 * l + 1, 3 * l + 2] for l in range(cfg.depth)])


def make_model(cfg: ModelConfig, domain, output_dim: int, adapters: dict | None = None,
               num_losses: int = 0) -> Model:
    """The network; with ``adapters`` ({rank, placement}), one LoRA adapter per loss.

    Without adapters ``params`` is the network's parameter pytree (mlp: the list of dense layers;
    pirate: {"gate_u", "gate_v", "blocks": [{"dense": [3 layers], "alpha"}], "out"}) and
    ``apply(params, buffers, x)``. With adapters ``params = {"trunk": <that pytree>,
    "adapters": [per loss: [per adapted layer: {"a", "b"}]]}`` and ``apply(params, buffers, x, k)``
    evaluates the trunk with loss k's adapter (k = None: trunk alone); see
    pinnarena/remedies/adapters.py and the module docstring for the adapted layers.
    """
    cfg.validate()
    lo = jnp.asarray(domain[0], dtype=float)
    hi = jnp.asarray(domain[1], dtype=float)
    d_in = lo.shape[0]
    n_ff = cfg.embedding_dim

    def embed(buffers, x):
        h = 2.0 * (x - lo) / (hi - lo) - 1.0
        if n_ff:
            z = h @ buffers["B"]
            h = jnp.concatenate([jnp.cos(z), jnp.sin(z)], axis=-1)
        return h

    net = {"mlp": _mlp, "pirate": _pirate}[cfg.arch](cfg, d_in, output_dim, embed)

    if not adapters:
        return Model(net.init, lambda params, buffers, x: net.apply(params, buffers, x))

    rank = adapters["rank"]
    groups = net.groups
    where = {"all": [i for g in groups for i in g], "last": groups[-1], "first": groups[0]}[adapters["placement"]]

    def init_with_adapters(key):
        trunk, buffers = net.init(key)  # the same trunk as the run without adapters
        k_ad = jax.random.fold_in(key, 0x5AD)
        ads = []
        for k in range(num_losses):
            per = []
            for j, i in enumerate(where):
                fan_in, fan_out = net.slots[i]
                a = jax.random.normal(jax.random.fold_in(k_ad, k * 1000 + j), (fan_in, rank)) / math.sqrt(fan_in)
                per.append({"a": a, "b": jnp.zeros((rank, fan_out))})
            ads.append(per)
        return {"trunk": trunk, "adapters": ads}, buffers

    def apply_with_adapters(params, buffers, x, k=None):
        lora = None if k is None else dict(zip(where, params["adapters"][k]))
        return net.apply(params["trunk"], buffers, x, lora)

    return Model(init_with_adapters, apply_with_adapters)


def count_params(tree) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree)))
