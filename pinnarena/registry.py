"""Name → factory registries with helpful errors, and plugin discovery by module.

Every extensible part of the suite (problems, optimizers, remedies) is a :class:`Registry`.
Contributors add one file to the part's folder; :func:`discover` imports every module in the
folder once, and each module registers its entries at import time.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown registry name; the message lists close matches and what is accepted."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


class Registry(Generic[T]):
    """A mapping from lowercase slugs to factories, filled by plugin modules."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self._package = package
        self._factories: dict[str, Callable[..., T]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._discovered = package is None

    def register(self, name: str, factory: Callable[..., T] | None = None, **meta: Any):
        """Register ``factory`` under ``name`` (usable as a decorator)."""

        def _add(f: Callable[..., T]) -> Callable[..., T]:
            if name != name.lower() or " " in name:
                raise ValueError(f"{self.kind} names are lowercase slugs without spaces, got {name!r}")
            if name in self._factories and self._factories[name] is not f:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[name] = f
            self._meta[name] = dict(meta)
            return f

        return _add(factory) if factory is not None else _add

    def _discover(self) -> None:
        if not self._discovered:
            self._discovered = True
            discover(self._package)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._factories)

    def factory(self, name: str) -> Callable[..., T]:
        self._discover()
        if name not in self._factories:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._factories))
        return self._factories[name]

    def meta(self, name: str) -> dict[str, Any]:
        self.factory(name)
        return self._meta[name]

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def unknown_name_message(kind: str, name: str, accepted) -> str:
    accepted = sorted(accepted)
    close = difflib.get_close_matches(name, accepted, n=5, cutoff=0.5)
    msg = f"unknown {kind} {name!r}."
    if close:
        msg += f" Did you mean: {', '.join(close)}?"
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    msg += f" Accepted {plural}: {', '.join(accepted)}."
    return msg


def discover(package: str) -> None:
    """Import every non-private module of ``package`` so that it registers its entries."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
