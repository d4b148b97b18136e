"""Export the embeddings of plotted T-F bins, with what each bin is, for other tools.

Two formats: the TensorBoard Embedding Projector's pair of tab-separated files (``vectors.tsv``:
one embedding per row, no header; ``metadata.tsv``: a header row, then one row per bin), which
projector.tensorflow.org loads with "Load" and TensorBoard reads next to a checkpoint; and one
``.npz`` of the same columns for numpy.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

# metadata columns in this order (those a table has); "true_voice" only when references exist.  A
# model with a learned front-end has "filter" (the latent's row) and its "centre_hz" where an STFT
# model has "frequency_hz": a filter's row index is no frequency
COLUMNS = ("time_s", "frequency_hz", "filter", "centre_hz", "power_db", "assigned_voice", "true_voice")


def bins_table(v: np.ndarray, index: np.ndarray, mag: np.ndarray, assignment: np.ndarray, *,
               seconds_per_frame: float, hz_per_bin: float, true_assignment: np.ndarray | None = None,
               row_hz: np.ndarray | None = None) -> dict:
    """The bins ``index`` (flat indices into the ``(T, F)`` grid) as columns.

    ``v (T, F, K)`` embeddings, ``mag (T, F)`` magnitudes, ``assignment (T, F)`` the voice each
    bin goes to (0-based), ``true_assignment (T, F)`` the reference each bin belongs to.  Voices
    are numbered from 1, as the studio shows them; power is in dB below the loudest bin of the
    whole mixture (as in the cloud's hover).  ``row_hz (F,)``: for a learned front-end's latent,
    each filter's centre frequency; the table then has ``filter`` and ``centre_hz`` columns
    instead of ``frequency_hz``."""
    v = np.asarray(v, np.float32)
    t, f, k = v.shape
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= t * f):
        raise ValueError(f"bin indices must lie in [0, {t * f}), got {index.min()}..{index.max()}")
    m = np.asarray(mag, np.float64).reshape(-1)
    rows = index % f
    if row_hz is None:
        row_cols = {"frequency_hz": (rows * hz_per_bin).astype(np.float32)}
    else:  # the rows are learned filters: a row index times hz_per_bin is no frequency a filter has
        row_hz = np.asarray(row_hz, np.float32).reshape(-1)
        if len(row_hz) != f:
            raise ValueError(f"row_hz has {len(row_hz)} centre frequencies for {f} rows")
        row_cols = {"filter": rows.astype(np.int32), "centre_hz": row_hz[rows]}
    table = {
        "vectors": v.reshape(-1, k)[index],
        "time_s": ((index // f) * seconds_per_frame).astype(np.float32),
        **row_cols,
        "power_db": np.maximum(20 * np.log10(m[index] + 1e-8) - 20 * np.log10(m.max() + 1e-8), -120).astype(np.float32),
        "assigned_voice": np.asarray(assignment).reshape(-1)[index].astype(np.int16) + 1,
        "bin_index": index,
    }
    if true_assignment is not None:
        table["true_voice"] = np.asarray(true_assignment).reshape(-1)[index].astype(np.int16) + 1
    return table


def projector_tsv(table: dict) -> tuple[str, str]:
    """``(vectors.tsv, metadata.tsv)`` texts of a :func:`bins_table`."""
    vec = io.StringIO()
    np.savetxt(vec, table["vectors"], fmt="%.6g", delimiter="\t")
    cols = [c for c in COLUMNS if c in table]
    rows = ["\t".join(cols)]
    fmts = {"time_s": "{:.4f}", "frequency_hz": "{:.1f}", "filter": "{:d}", "centre_hz": "{:.1f}",
            "power_db": "{:.1f}", "assigned_voice": "{:d}", "true_voice": "{:d}"}
    data = [table[c].tolist() for c in cols]
    for vals in zip(*data):
        rows.append("\t".join(fmts[c].format(x) for c, x in zip(cols, vals)))
    return vec.getvalue(), "\n".join(rows) + "\n"


def write_projector_zip(table: dict, path: str | os.PathLike) -> Path:
    """``vectors.tsv`` and ``metadata.tsv`` zipped together at ``path``."""
    vectors, metadata = projector_tsv(table)
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("vectors.tsv", vectors)
        zf.writestr("metadata.tsv", metadata)
    return path


def write_npz(table: dict, path: str | os.PathLike) -> Path:
    """The table as a compressed ``.npz`` (``vectors``, the metadata columns, ``bin_index``)."""
    path = Path(path)
    with open(path, "wb") as fh:  # a file object: np.savez would append ".npz" to a name without it
        np.savez_compressed(fh, **table)
    return path
