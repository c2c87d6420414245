"""Snakemake script: the suite's run summaries → leaderboard.parquet."""
import sys

import pandas as pd
import pyarrow.parquet as pq

from pinnarena.aggregate import leaderboard
from pinnarena.results import write_parquet_atomic

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
summaries = pd.concat([pq.read_table(f).to_pandas() for f in snakemake.input.summaries], ignore_index=True)  # noqa: F821
board = leaderboard(summaries)
write_parquet_atomic(board, snakemake.output[0])  # noqa: F821
print(f"{len(summaries)} runs → {len(board)} leaderboard rows", file=sys.stderr)
