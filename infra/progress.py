"""Progress bars with an honest ETA, shared by every long command."""

from __future__ import annotations

from tqdm import tqdm


def progress_bar(total: int, description: str, unit: str, quiet: bool = False, leave: bool = True) -> tqdm:
    """A bar whose rate is the average since it started (``smoothing=0``): trials vary in
    length (pruned ones are short), and a rate from the last few would swing the ETA.
    ``leave=False`` clears it when it closes."""
    return tqdm(total=total, desc=description, unit=unit, disable=quiet or total <= 0, dynamic_ncols=True,
                smoothing=0, leave=leave)


__all__ = ["progress_bar"]
