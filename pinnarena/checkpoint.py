"""Checkpoints of a training batch, written atomically at chunk boundaries.

A checkpoint holds everything the loop needs to continue exactly: the carry's leaves
(parameters, optimizer and remedy states, collocation batch, data key, step and evaluation
counters, last update directions), the accumulated train/eval/compile seconds, the curves
recorded so far and each seed's status. The carry's tree structure is not stored: it is rebuilt
from the freshly built (identical) configuration, and a fingerprint of the run ids and leaf
shapes guards against resuming a different configuration. Because checkpoints are taken at
evaluation boundaries and restore the carry bit for bit, a resumed run ends with the same result
as an uninterrupted one on the same device.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

FILE = "checkpoint.npz"


def fingerprint(run_ids: list[str], carry) -> str:
    leaves = jax.tree_util.tree_leaves(carry)
    desc = json.dumps([run_ids, [(list(np.shape(x)), str(np.asarray(x).dtype)) for x in leaves]])
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


def save(directory: str | os.PathLike, carry, meta: dict[str, Any], fp: str) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(carry)]
    arrays = {f"leaf{i:05d}": x for i, x in enumerate(leaves)}
    arrays["meta"] = np.asarray(json.dumps({**meta, "fingerprint": fp}, default=float))
    fd, tmp = tempfile.mkstemp(prefix=".ckpt.", suffix=".npz", dir=directory)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, directory / FILE)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return directory / FILE


def load(directory: str | os.PathLike, template, fp: str):
    """(carry, meta) from ``directory``, or None when there is no matching checkpoint."""
    path = Path(directory) / FILE
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("fingerprint") != fp:
            return None
        leaves = [z[f"leaf{i:05d}"] for i in range(len(jax.tree_util.tree_leaves(template)))]
    treedef = jax.tree_util.tree_structure(template)
    carry = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
    return carry, meta


def remove(directory: str | os.PathLike) -> None:
    """Delete the checkpoint in ``directory`` and in its sub-folders (auto's per-choice batches)."""
    for path in Path(directory).rglob(FILE):
        path.unlink()
