"""The count stage: how many talkers a mixture holds, and the warnings that it may hold fewer.

"auto" fits the most talkers the model can tell apart and drops the outputs that are not talkers
(:func:`count_from`); after a separation, :func:`quiet_voice_warning` and
:func:`same_attractor_warning` say when it looks like fewer talkers than were asked for.  The
thresholds are the model's calibrated ones (:class:`~sepviz.calibration.Calibration`), else
:data:`~sepviz.calibration.MERGE_COSINE` and :data:`~sepviz.calibration.ONE_TALKER_COSINE`.
"""
from __future__ import annotations

import torch

from .calibration import MERGE_COSINE, ONE_TALKER_COSINE
from .clusterers import CLUSTERERS, ClusterResult
from .danet import DANet
from .fitting import cluster_embedding, resolve_weighting
from .inference import Embedding
from .masking import embedding_masks, output_energies_db

DROP_DB = -20.0         # ADANet rule: an output 20 dB below the loudest is not a talker


class SepWarning(str):
    """A warning's text (what people read) with a stable ``code`` (what programs test): both
    ``"quiet_voice"`` (an output far below the loudest) and ``"same_attractor"`` (two attractors
    nearly alike) mean the mixture may hold fewer talkers than were asked for."""

    code: str

    def __new__(cls, code: str, text: str):
        obj = super().__new__(cls, text)
        obj.code = code
        return obj


def one_talker_cosine(model: DANet) -> float:
    """The model's calibrated two-voice threshold for the one-talker warning, else
    :data:`ONE_TALKER_COSINE`.  Why not :func:`merge_cosine`: that one is chosen for the *three*
    attractors of the auto count; two real talkers' attractors often sit closer (the default
    model, 40 validation mixtures: up to 0.89), so it raised the warning on ordinary mixtures."""
    oc = model.config.one_talker_cosine
    return ONE_TALKER_COSINE if oc is None else float(oc)


def merge_cosine(model: DANet) -> float:
    """The model's calibrated merge threshold for the auto count, else :data:`MERGE_COSINE`."""
    mc = model.config.merge_cosine
    return MERGE_COSINE if mc is None else float(mc)


def max_cosine(att: torch.Tensor) -> float:
    """The largest cosine between two different attractors of ``att (C, K)``."""
    a = torch.nn.functional.normalize(att, dim=1)
    g = a @ a.t()
    g.fill_diagonal_(-1.0)
    return float(g.max())


def estimate_speaker_count(emb: Embedding, clusterer: str, max_speakers: int = 3, *, seed: int = 0,
                           beta: float = 10.0, iterations: int = 20, weighting: str = "auto") -> int:
    """Guess 2 or 3 talkers: fit ``max_speakers`` attractors and drop those that are not talkers.

    An output is dropped when its energy is 20 dB below the loudest one (the ADANet rule), or
    when its attractor nearly coincides with another (cosine above the model's merge threshold,
    0.85 unless calibrated: one talker split in two).
    This is what ``n_speakers=None`` ("auto") does in :func:`sepviz.separate.separate_embedding`.
    """
    return count_speakers(emb, clusterer, max_speakers, seed=seed, beta=beta, iterations=iterations,
                          weighting=weighting)[0]


def speaker_count_plan(model: DANet, clusterer: str, max_speakers: int = 3) -> tuple[str, int]:
    """How "auto" counts for ``clusterer``: ``(counter, most talkers)``; counter ``"head"`` means
    the count is simply the DEF head's number of outputs.

    The attractor clusterers all count with k-means: its hard clusters give distinct attractors
    when a talker is there.  Soft k-means, the GMMs and fixed attractors give attractors that sit
    close together (soft responsibilities pull them to the common mean; fixed ones never go
    silent), and the 0.85-cosine rule then merged a real third talker: on the 40 validation
    mixtures of each count (the mixed 2/3-talker model before its last stage, then danet_3spk.pt)
    soft k-means found 3 of 3 talkers 13 times, the GMM 3, the tied GMM 22, k-means 39, with 40,
    40, 38 and 36 of the 2-talker ones right (``python -m sepviz evaluate ... --count``).  A
    model's own outputs bound the count: ADANet counts with its N anchors; the DEF head gives
    exactly as many masks as it has outputs (a quiet extra voice is then flagged by the
    separation's warnings).  A model trained on two-talker mixtures only cannot tell a third
    talker (the 2-talker DANet's k-means count was right for 28/40 two-talker and 18/40
    three-talker validation mixtures, a coin toss, before this bound), so "auto" counts up to the
    talkers the model was trained for.
    """
    entry = CLUSTERERS.get(clusterer)
    counts_with = entry.counts_with if entry else "kmeans"
    most = entry.most_talkers(model) if entry else None  # what the model's anchors, head or fixed attractors hold
    if counts_with == "head" and most is not None:
        return "head", most
    max_speakers = min(max_speakers, max(2, model.config.n_speakers))
    if counts_with == "anchors" and most is not None:
        return "anchors", min(max_speakers, most)
    if most is not None:  # fixed attractors: as many as the training had
        max_speakers = min(max_speakers, most)
    return "kmeans", max_speakers


def counting_fit(emb: Embedding, counter: str, max_speakers: int, *, seed: int = 0, beta: float = 10.0,
                 iterations: int = 20, weighting: str = "auto") -> tuple[ClusterResult, list[float], float]:
    """Fit ``max_speakers`` attractors with ``counter``: the fit, each output's energy (dB below the
    loudest, at T = 1: DROP_DB was set on uncalibrated masks) and the largest attractor cosine."""
    res = cluster_embedding(emb, counter, max_speakers, seed=seed, beta=beta, iterations=iterations,
                            weighting=weighting)
    energies = output_energies_db(embedding_masks(emb, res, temperature=1.0), emb.mag)
    return res, energies, max_cosine(res.attractors)


def count_from(energies: list[float], max_cosine: float, merge: float) -> int:
    """The auto-count rule on a counting fit: outputs within DROP_DB of the loudest are talkers,
    less one when all of them are and two attractors are closer than ``merge`` (cosine)."""
    c = sum(e > DROP_DB for e in energies)
    if c == len(energies) and max_cosine > merge:
        c -= 1
    return max(2, c)


def count_speakers(emb: Embedding, clusterer: str, max_speakers: int = 3,
                   **kw) -> tuple[int, ClusterResult | None]:
    """:func:`estimate_speaker_count` plus the counting fit, kept when it is ``clusterer``'s own
    fit of the final number (see :func:`speaker_count_plan` for how each clusterer counts)."""
    counter, max_speakers = speaker_count_plan(emb.model, clusterer, max_speakers)
    if counter == "head" or max_speakers <= 2:
        return max(2, max_speakers), None
    res, energies, cosine = counting_fit(emb, counter, max_speakers, **kw)
    return count_from(energies, cosine, merge_cosine(emb.model)), (res if counter == clusterer else None)


def quiet_voice_warning(energies_db: list[float], n_speakers: int) -> list[SepWarning]:
    """``[SepWarning("quiet_voice", ...)]`` when an output is DROP_DB below the loudest, else ``[]``."""
    weak = [i + 1 for i, e in enumerate(energies_db) if e < DROP_DB]
    if not weak:
        return []
    return [SepWarning("quiet_voice", f"voice {', '.join(map(str, weak))} is more than 20 dB quieter than "
                       f"the loudest: the mixture may hold fewer than {n_speakers} talkers")]


def _check_attractors(emb: Embedding, res: ClusterResult, clusterer: str, c: int, weighting: str, seed: int,
                      iterations: int) -> torch.Tensor:
    """The attractors the "nearly the same attractor" warning measures: a k-means fit of ``c``
    talkers with the default weighting, whatever the clusterer.  Why: both thresholds were
    calibrated on such fits (``merge_cosine`` on the auto count's, ``one_talker_cosine`` on
    two-attractor ones, training/calibrate.py), and soft k-means and the GMMs pull their
    attractors closer together: on the bundled ``synth_3talker_1`` the default model's k-means
    attractors reach cosine 0.840 (threshold 0.845) but soft k-means's 0.887, which warned "fewer
    than 3 talkers" on three real talkers.  The oracle's attractors come from the references, so
    it is never checked."""
    if clusterer == "kmeans" and resolve_weighting(weighting, c) == resolve_weighting("auto", c):
        return res.attractors
    return cluster_embedding(emb, "kmeans", c, seed=seed, iterations=iterations).attractors


def same_attractor_warning(emb: Embedding, res: ClusterResult, clusterer: str, n_speakers: int, *,
                           weighting: str = "auto", seed: int = 0, iterations: int = 20) -> list[SepWarning]:
    """``[SepWarning("same_attractor", ...)]`` when two of the talkers' k-means attractors
    (:func:`_check_attractors`) are closer than the model's threshold (:func:`merge_cosine` for
    three talkers, :func:`one_talker_cosine` for two), else ``[]``."""
    too_close = merge_cosine(emb.model) if n_speakers >= 3 else one_talker_cosine(emb.model)
    if not max_cosine(_check_attractors(emb, res, clusterer, n_speakers, weighting, seed, iterations)) > too_close:
        return []
    return [SepWarning("same_attractor",
                       f"{'two of the' if n_speakers >= 3 else 'the two'} voices have nearly the same "
                       f"attractor (cosine > {too_close:g}): the mixture may hold fewer than "
                       f"{n_speakers} talkers, so one voice may be split in two")]
