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

# metadata columns in this order; "true_voice" only when references exist
COLUMNS = ("time_s", "frequency_hz", "power_db", "assigned_voice", "true_voice")


def bins_table(v: np.ndarray, index: np.ndarray, mag: np.ndarray, assignment: np.ndarray, *,
               seconds_per_frame: float, hz_per_bin: float, true_assignment: np.ndarray | None = None) -> dict:
    """The bins ``index`` (flat indices into the ``(T, F)`` grid) as columns.

    ``v (T, F, K)`` embeddings, ``mag (T, F)`` magnitudes, ``assignment (T, F)`` the voice each
    bin goes to (0-based), ``true_assignment (T, F)`` the reference each bin belongs to.  Voices
    are numbered from 1, as the studio shows them; power is in dB below the loudest bin of the
    whole mixture (as in the cloud's hover)."""
    v = np.asarray(v, np.float32)
    t, f, k = v.shape
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= t * f):
        raise ValueError(f"bin indices must lie in [0, {t * f}), got {index.min()}..{index.max()}")
    m = np.asarray(mag, np.float64).reshape(-1)
    table = {
        "vectors": v.reshape(-1, k)[index],
        "time_s": ((index // f) * seconds_per_frame).astype(np.float32),
        "frequency_hz": ((index % f) * hz_per_bin).astype(np.float32),
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
    fmts = {"time_s": "{:.4f}", "frequency_hz": "{:.1f}", "power_db": "{:.1f}", "assigned_voice": "{:d}",
            "true_voice": "{:d}"}
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
