"""What a time budget buys on this machine: rerun published time-budgeted rows with their own
budget and compare the steps done per CPU second (pinnarena.cpu_model's 1.10-1.62x table).

    taskset -c 0 python benchmarks/bench_rerun_speed.py RESULTS RUN_ID [RUN_ID ...]

Session 8 reran four 10-s poisson-inv tuning trials (Adam, SSBroyden, L-BFGS, SOAP) of the first
CPU snapshot, which git keeps at 2288d14^ (``git worktree add /tmp/old 2288d14^`` and pass
``/tmp/old/results/published/cpu``), on one core of a Zen 5 EPYC with the other core busy.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from pinnarena.config import RunConfig
from pinnarena.results import read_summaries
from pinnarena.runner import run_seeds


def main(argv: list[str]) -> None:
    rows = read_summaries(argv[0])
    for rid in argv[1:]:
        r = rows[rows.run_id == rid].iloc[0]
        with tempfile.TemporaryDirectory() as t:
            new = run_seeds([RunConfig.from_json(r["config"])], [Path(t) / "m"])[0]
        ratio = (new["steps_done"] / new["train_cpu_seconds"]) / (r.steps_done / r.train_cpu_seconds)
        print(json.dumps({"problem": r.problem, "optimizer": r.optimizer, "published_steps": int(r.steps_done),
                          "steps_here": int(new["steps_done"]), "steps_per_cpu_second_ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main(sys.argv[1:])
