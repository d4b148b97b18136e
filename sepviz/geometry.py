"""Embedding geometry: do the talkers form clusters the studio can show?

Two numbers per mixture, independent of any clusterer (they need the references):

* **silhouette**: the mean cosine silhouette (Rousseeuw 1987, scikit-learn) of the salient bins'
  unit embeddings, each labelled by its dominant true talker (the IBM). Near 1: tight,
  well-separated talker clusters; near 0: the clusters overlap, so no clusterer can find them.
  A seeded subsample of at most 3,000 bins per mixture keeps it O(n^2)-cheap.
* **closest attractor cosine**: the cosine between the two closest oracle attractors (each
  talker's mean embedding over its dominant salient bins, as the ``oracle`` clusterer takes them).
  Near 1: two talkers point the same way in the embedding space.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SILHOUETTE_BINS = 3000


@dataclass
class Geometry:
    silhouette: float          # nan when fewer than two talkers own salient bins
    closest_cosine: float      # nan likewise

    def to_dict(self) -> dict:
        return {"silhouette": self.silhouette, "closest_attractor_cosine": self.closest_cosine}


def embedding_geometry(v: torch.Tensor, assignment: torch.Tensor, salient: torch.Tensor, *,
                       max_bins: int = SILHOUETTE_BINS, seed: int = 0) -> Geometry:
    """Geometry of one mixture's embeddings.

    Args:
        v: embeddings ``(T, F, K)``.
        assignment: ideal binary mask of the references ``(C, T, F)`` (one-hot over C).
        salient: bool ``(T, F)``, the bins the clusterers fit on.
        max_bins: subsample size for the silhouette (seeded by `seed`).
    """
    from sklearn.metrics import silhouette_score

    emb = v.detach().float().reshape(-1, v.shape[-1]).numpy()
    labels = assignment.detach().float().reshape(assignment.shape[0], -1).argmax(0).numpy()
    keep = salient.detach().reshape(-1).numpy().astype(bool)
    emb, labels = emb[keep], labels[keep]
    talkers = np.unique(labels)
    if len(talkers) < 2:
        return Geometry(float("nan"), float("nan"))
    att = np.stack([emb[labels == c].mean(0) for c in talkers])
    att /= np.maximum(np.linalg.norm(att, axis=1, keepdims=True), 1e-12)
    cos = att @ att.T
    closest = float(cos[np.triu_indices(len(talkers), 1)].max())
    if len(labels) > max_bins:
        pick = np.random.default_rng(seed).choice(len(labels), size=max_bins, replace=False)
        emb, labels = emb[pick], labels[pick]
    if len(np.unique(labels)) < 2:
        return Geometry(float("nan"), closest)
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return Geometry(float(silhouette_score(unit, labels, metric="cosine")), closest)
