"""Reading user tables for ``scaling.fit``: one clear error line for anything unusable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from infra.errors import UserError

GRID_COLUMNS = ("depth_mult", "width_mult", "resolution_mult", "macs", "metric", "seed")


class TableError(UserError):
    """A results table that cannot be fitted: the message names the file and the problem."""


def read_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """``path`` (CSV or Parquet) with ``columns`` present, numeric and finite; other columns kept."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as error:  # pandas raises many types for malformed files
        raise TableError(f"{path}: cannot read as a {'Parquet' if path.suffix == '.parquet' else 'CSV'} table "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise TableError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                         f"(has: {', '.join(map(str, frame.columns)) or 'none'})")
    if frame.empty:
        raise TableError(f"{path}: no rows")
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise TableError(f"{path}: column {column} has a missing or non-numeric value "
                             f"{frame[column].iloc[row]!r} in data row {row + 1}")
        frame[column] = values.astype(float)
    return frame


def read_grid_table(path: Path) -> pd.DataFrame:
    """A grid table (:data:`GRID_COLUMNS`), with multipliers >= 1 and compute > 0."""
    frame = read_table(path, GRID_COLUMNS)
    for column in ("depth_mult", "width_mult", "resolution_mult"):
        if (frame[column] < 1 - 1e-9).any():
            raise TableError(f"{path}: {column} must be >= 1 on the phi = 1 grid, found "
                             f"{frame.loc[frame[column] < 1 - 1e-9, column].iloc[0]:g}")
    if (frame["macs"] <= 0).any():
        raise TableError(f"{path}: macs must be > 0, found {frame.loc[frame['macs'] <= 0, 'macs'].iloc[0]:g}")
    return frame


__all__ = ["GRID_COLUMNS", "TableError", "read_grid_table", "read_table"]
