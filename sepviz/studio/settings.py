"""The studio's choices and limits, and the parsing of what a user (or an API client) chose."""
from __future__ import annotations

from sepviz.errors import SepvizInputError

MAX_VOICES = 3
N_SPEAKERS = ["2", "3", "auto"]
PROJECTIONS = ["PCA 2D", "PCA 3D", "UMAP 2D", "UMAP 3D"]
COLOR_BY = ["assigned speaker", "true speaker", "power"]
ALL_CLUSTERERS = ["kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head", "oracle"]
WEIGHTED_CLUSTERERS = ("kmeans", "soft_kmeans", "gmm_tied")  # the fits that use the loudness weights
FIT_WEIGHTING_CHOICES = [("auto (2 talkers: on, 3: off)", "auto"), ("on", "loudness"), ("off", "none")]
TRACKING_CHOICES = [("as calibrated for the model", "model"), ("off: one attractor per talker", "off")]
CLUSTERER_LABELS = {
    "kmeans": "k-means", "gmm": "GMM (full covariance)", "gmm_tied": "GMM (tied full covariance)", "soft_kmeans": "soft k-means",
    "fixed": "fixed (training attractors)", "anchors": "ADANet anchors",
    "head": "DEF mask head (uPIT)", "oracle": "oracle (references)",
}
DEFAULT_MAX_FILE_SIZE = "25mb"
REF_TOLERANCE_S = 0.5
MAX_VOICE_FOLDERS = 200  # separations whose voice files are kept on disk
# status, 3 voices, zip of the voices, embedding, spectrograms, masks, metrics, report, the panels that
# belong to one result (the export's files, the selection's audio and note), results panel
N_EXTRA_OUTPUTS = 3  # the export's files, the selection's audio and its note
N_MAIN_OUTPUTS = 11 + N_EXTRA_OUTPUTS


def parse_n_speakers(value) -> int | None:
    s = str(value).strip().lower()
    if s in ("auto", "none", ""):
        return None
    if s in ("2", "3"):
        return int(s)
    raise SepvizInputError(f"number of speakers must be 2, 3 or auto, not {value!r}")


def parse_projection(value: str) -> tuple[str, int]:
    try:
        method, dims = str(value).split()
        return {"pca": "pca", "umap": "umap"}[method.lower()], int(dims[0])
    except (ValueError, KeyError, IndexError):
        raise SepvizInputError(f"unknown projection {value!r}; choose one of {PROJECTIONS}") from None


def parse_time_range(t_from, t_to) -> tuple[float, float] | None:
    a, b = float(t_from or 0.0), float(t_to or 0.0)
    if a < 0 or b < 0:
        raise SepvizInputError("the time range cannot be negative")
    if b and b <= a:
        raise SepvizInputError(f"the time range end ({b:g} s) must be after its start ({a:g} s); 0 means the end")
    return None if a == 0 and b == 0 else (a, b)
