"""pinnarena: a benchmark suite for optimizers and gradient-conflict remedies in PINNs.

The contributor folders ``problems/`` and ``optimizers/`` sit at the top of the checkout and are
importable as ``pinnarena.problems`` and ``pinnarena.optimizers``. An installed package gets them
through setuptools' ``package-dir`` mapping (see pyproject.toml); when pinnarena is imported from
a checkout that was never installed, the checkout root is appended to this package's search path
so that the same names resolve to the same folders. No generic top-level module names
(``problems``, ``optimizers``) are ever installed.
"""
from __future__ import annotations

import os as _os

__version__ = "0.1.0"

_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "problems", "__init__.py")) and _os.path.isfile(
    _os.path.join(_root, "optimizers", "__init__.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821
