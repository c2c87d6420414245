"""No remedy: the plain sum of the loss terms, g = Σ_k ∇L_k (unit weights)."""
from pinnarena.remedies import Remedy, register


@register("none", family="baseline",
          search_space={})
def none() -> Remedy:
    return Remedy()
