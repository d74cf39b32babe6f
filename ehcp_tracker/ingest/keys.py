"""Which case keys are among others: by hashing, as object arrays.

pandas' Arrow-backed strings (the default ``str`` dtype of pandas 3) answer ``isin`` by walking a
Python list of the wanted values on every call: 3.5 s of a million-case re-import went there. An
object ``Index`` hashes them in C.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def member(values, wanted) -> np.ndarray:
    """``values.isin(wanted)`` as a boolean array, by hashing (``values``: a Series, an Index or an array)."""
    keys = values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else np.asarray(values, dtype=object)
    wanted = wanted.to_numpy(dtype=object) if hasattr(wanted, "to_numpy") else np.asarray(list(wanted), dtype=object)
    return pd.Index(keys, dtype=object).isin(wanted)
