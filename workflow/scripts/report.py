"""Snakemake script: leaderboard.parquet + the runs' Parquet files → leaderboard.md, index.html, figures."""
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pinnarena.report import render

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
read = lambda files: pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)  # noqa: E731
board = pd.read_parquet(snakemake.input.leaderboard)  # noqa: F821
out = Path(snakemake.output.markdown).parent  # noqa: F821
paths = render(board, read(snakemake.input.summaries), read(snakemake.input.curves), out)  # noqa: F821
missing = [p for p in [snakemake.output.html, *snakemake.output.figures] if not Path(p).exists()]  # noqa: F821
if missing:
    raise RuntimeError(f"report: declared outputs not written: {missing}")
print("\n".join(map(str, paths)), file=sys.stderr)
