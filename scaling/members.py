"""A scaling run's family checked against its prediction: measured columns in ``family.csv``.

``python -m scaling.fit`` predicts each member's metric from the law it fitted (a band for a
new observation). Training a member with the run's own recipe measures exactly what was
predicted, and :func:`record_measured` writes it next to the band:

* ``measured_metric``: validation accuracy, the metric the law was fitted on;
* ``measured_test_accuracy``: the same network on the test split (not predicted; blank when
  the data has none);
* ``inside_band``: whether the measured metric lies in ``[predicted_low, predicted_high]``
  (blank without a prediction: a law that failed its checks predicts nothing).

The measurement uses replicate :data:`MEASURED_REPLICATE`, a seed index no scaling run's
grid, law members or seed racing use (they count up from 0 and stay below
2 x ``MAX_SEEDS``): the check is free of the selection the fit made.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from infra.errors import UsageError
from infra.files import write_atomically
from runners.flags import MAX_SEEDS
from scaling.run_files import FAMILY_FILE

MEASURED_REPLICATE = 1000
assert MEASURED_REPLICATE >= 2 * MAX_SEEDS  # never a seed the scaling run itself trained
MEASURED_COLUMNS = ("measured_metric", "measured_test_accuracy", "inside_band")


def read_family(run: Path) -> pd.DataFrame:
    """A scaling run's ``family.csv``; one line when it is missing or damaged."""
    path = Path(run) / FAMILY_FILE
    try:
        family = pd.read_csv(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: missing; the scaling run has not written its family yet") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: not a readable family table ({str(error).splitlines()[0][:120]})") from None
    if "phi" not in family or not pd.api.types.is_integer_dtype(family["phi"]):
        raise UsageError(f"{path}: not a family table (needs an integer phi column)")
    return family


def record_measured(run: Path, member: str, metric: float, test_accuracy: float | None) -> str:
    """Write ``member``'s measured metric into the run's ``family.csv``; a line saying where
    it fell. Ghost members have no predicted row and are not recorded there."""
    if member.startswith("ghost-"):
        return f"{member}: family.csv predicts the plain members only; its result stays in its run directory"
    phi = int(member.removeprefix("b"))
    family = read_family(run)
    rows = family.index[family["phi"] == phi]
    if len(rows) == 0:
        return f"{member}: family.csv has no row phi = {phi} (a run made before B0 was listed); not recorded"
    for column in MEASURED_COLUMNS:  # object columns: numbers, booleans and blanks side by side
        family[column] = family[column].astype("object") if column in family else None
    row = rows[0]
    family.loc[row, "measured_metric"] = metric
    family.loc[row, "measured_test_accuracy"] = test_accuracy
    low = pd.to_numeric(family.get("predicted_low"), errors="coerce")
    high = pd.to_numeric(family.get("predicted_high"), errors="coerce")
    if low is None or high is None or pd.isna(low[row]) or pd.isna(high[row]):
        family.loc[row, "inside_band"] = None
        where = "no predicted band (the law is not usable, the member is beyond its reach, or no law was fitted)"
    else:
        inside = bool(low[row] <= metric <= high[row])
        family.loc[row, "inside_band"] = inside
        where = f"{'inside' if inside else 'OUTSIDE'} the predicted band [{low[row]:.4f}, {high[row]:.4f}]"
    write_atomically(Path(run) / FAMILY_FILE, lambda path: family.to_csv(path, index=False))
    return f"{member}: measured {metric:.4f}, {where} (family.csv)"


def measured_members(family: pd.DataFrame) -> pd.DataFrame:
    """The members ``python -m scaling.check RUN --members`` (or ``scaling.fit --check-members``) measured (``family.csv``'s
    measured columns), with ``inside`` the band verdict (``None`` without a prediction)."""
    if "measured_metric" not in family:
        return family.iloc[0:0].assign(measured=[], inside=[])
    measured = family.assign(measured=pd.to_numeric(family["measured_metric"], errors="coerce"))
    measured = measured[measured["measured"].notna()]
    verdict = measured["inside_band"].map({True: True, False: False, "True": True, "False": False})
    return measured.assign(inside=verdict.where(verdict.notna(), None))


def band_verdict(measured: pd.DataFrame) -> str:
    """``"k of n measured members inside the predicted band"`` (members without a band left out)."""
    judged = measured[measured["inside"].notna()]
    if judged.empty:
        return f"{len(measured)} measured, none with a predicted band to compare"
    return f"{int(judged['inside'].astype(bool).sum())} of {len(judged)} measured members inside the predicted band"


__all__ = ["MEASURED_COLUMNS", "MEASURED_REPLICATE", "band_verdict", "measured_members", "read_family", "record_measured"]
