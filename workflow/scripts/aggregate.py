"""Snakemake script: the suite's run summaries and curves (+ targets) → leaderboard.parquet."""
import sys

import pandas as pd
import pyarrow.parquet as pq

from pinnarena.aggregate import leaderboard
from pinnarena.results import write_parquet_atomic
from pinnarena.scoring import load_targets

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
read = lambda files: pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)  # noqa: E731
summaries = read(snakemake.input.summaries)  # noqa: F821
curves = read(snakemake.input.curves)  # noqa: F821
targets = load_targets(snakemake.input.targets[0], suite=snakemake.params.suite) if snakemake.input.targets else None  # noqa: F821
board = leaderboard(summaries, curves, targets)
write_parquet_atomic(board, snakemake.output[0])  # noqa: F821
print(f"{len(summaries)} runs → {len(board)} leaderboard rows; targets: "
      f"{snakemake.input.targets[0] if snakemake.input.targets else 'derived from adam + none'}", file=sys.stderr)  # noqa: F821
