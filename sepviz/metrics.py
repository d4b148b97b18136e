"""Separation quality: SI-SNR(i), BSS Eval SDR(i)/SIR/SAR, narrow-band PESQ, and the ideal-mask oracles.

Conventions
-----------
* Signals are ``(C, samples)`` (one row per source) or ``(samples,)``; they are compared in
  float64 so that near-perfect estimates do not hit float32 round-off.
* Separated outputs come in arbitrary order, so every multi-source score here is
  **permutation invariant**: :func:`best_pairing` picks the output order that maximises the
  mean SI-SNR, and *every* metric (SDR, SIR, SAR, PESQ) is then reported under that one
  permutation.  Choosing each metric's own best permutation would mix different pairings into
  one row of numbers; SI-SNR is the criterion the DANet-family papers train and report with.
* "Improvement" metrics (SI-SNRi, SDRi) subtract the score the unprocessed mixture already gets
  against the same reference, which is what the papers report and what makes numbers
  comparable across mixtures with different input SNRs.

Degenerate signals (an all-zero estimate, e.g. a clusterer that gave one speaker no bins) never
raise: dB scores are clipped to ``[FLOOR_DB, -FLOOR_DB]`` = [-80, 80] dB, a silent estimate gets
the floor for SI-SNR, SDR and SAR, and SIR (0/0 for silence) is NaN; means use ``nanmean``.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch

from .errors import SepvizInputError
from .features import StftConfig, istft, stft
from .masks import IDEAL_MASKS

FLOOR_DB = -80.0      # score of a silent estimate; SI-SNR is clipped to [FLOOR_DB, -FLOOR_DB]
_REL_EPS = 10 ** (FLOOR_DB / 10)  # 1e-8
_TINY = 1e-30         # absolute guard against 0/0 for all-zero signals
PESQ_RATES = (8000, 16000)
BSS_FILTER_LENGTH = 512  # BSS Eval v3/v4 default distortion filter (64 ms at 8 kHz)

METRIC_KEYS = ("si_snr", "si_snri", "sdr", "sdri", "sir", "sar", "pesq")


# --------------------------------------------------------------------------- helpers


def _as_f64(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_2d(x, name: str) -> np.ndarray:
    a = _as_f64(x)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise SepvizInputError(f"{name} must be (samples,) or (sources, samples), got shape {a.shape}")
    return a


def _common_length(*arrays: np.ndarray) -> list[np.ndarray]:
    """Cut to the shortest length: resampling and iSTFT can differ by a few samples."""
    n = min(a.shape[-1] for a in arrays)
    if n == 0:
        raise SepvizInputError("cannot score empty signals")
    return [a[..., :n] for a in arrays]


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or np.all(np.isnan(x)):
        return float("nan")
    return float(np.nanmean(x))


def _silent(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rows of ``x`` whose energy is negligible (below -160 dB relative to their reference)."""
    e_x = np.sum(x ** 2, axis=-1)
    e_r = np.sum(ref ** 2, axis=-1)
    return e_x <= _REL_EPS ** 2 * e_r + _TINY


# --------------------------------------------------------------------------- SI-SNR


def si_snr(est, ref) -> np.ndarray | float:
    """Scale-invariant SNR in dB (Le Roux et al. 2019, "SDR - half-baked or well done?").

    Both signals are made zero-mean, the estimate is projected onto the reference
    (``target = <est, ref> ref / ||ref||^2``) and the rest is noise:
    ``10 log10(||target||^2 / ||est - target||^2)``.  Rescaling the estimate does not change
    the score (a separator cannot know the true level of each talker), and unlike BSS Eval SDR
    no filtering of the reference is allowed, so phase/spectral distortion is penalised.

    The last axis is time; leading axes broadcast (``(C, T)`` gives ``(C,)``).  The value is
    exact inside ``[-80, 80]`` dB and clipped to it: an exact copy scores 80 dB instead of a
    round-off-dependent ~150 dB, and an all-zero estimate scores -80 dB instead of NaN.
    """
    est, ref = _common_length(_as_f64(est), _as_f64(ref))
    est = est - est.mean(axis=-1, keepdims=True)
    ref = ref - ref.mean(axis=-1, keepdims=True)
    alpha = np.sum(est * ref, axis=-1, keepdims=True) / (np.sum(ref ** 2, axis=-1, keepdims=True) + _TINY)
    target = alpha * ref
    t = np.sum(target ** 2, axis=-1)
    n = np.sum((est - target) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.clip(10 * np.log10((t + _TINY) / (n + _TINY)), FLOOR_DB, -FLOOR_DB)
    # A silent estimate has no noise *and* no target (0/0): it separated nothing, so the floor.
    out = np.where(_silent(est, ref), FLOOR_DB, out)
    return float(out) if np.ndim(out) == 0 else out


def si_snr_improvement(est, ref, mixture) -> np.ndarray | float:
    """SI-SNR of the estimate minus the SI-SNR of the unprocessed mixture, per reference (dB).

    ``est`` and ``ref`` must already be paired (use :func:`best_pairing` first); the
    mixture ``(samples,)`` is compared with every reference.
    """
    est, ref, mix = _common_length(_as_f64(est), _as_f64(ref), _as_f64(mixture).reshape(-1))
    return si_snr(est, ref) - si_snr(np.broadcast_to(mix, ref.shape), ref)


def pairwise_si_snr(est, ref) -> np.ndarray:
    """``(C_est, C_ref)`` matrix of SI-SNRs of every estimate against every reference."""
    est, ref = _common_length(_as_2d(est, "estimates"), _as_2d(ref, "references"))
    return si_snr(est[:, None, :], ref[None, :, :])


def best_pairing(est, ref) -> tuple[int, ...]:
    """Output order that maximises the mean SI-SNR: ``est[perm[i]]`` goes with ``ref[i]``.

    This scores separated voices; the training losses' permutation of least loss is
    :func:`sepviz.pit.pit_min_permutation`.

    Solved as an assignment problem (Hungarian algorithm), so it is exact for any number of
    sources; with more estimates than references the extra estimates are left out (e.g. an
    automatic speaker count that found one voice too many).
    """
    from scipy.optimize import linear_sum_assignment

    m = pairwise_si_snr(est, ref)  # (C_est, C_ref)
    if m.shape[0] < m.shape[1]:
        raise SepvizInputError(f"{m.shape[0]} estimates cannot be paired with {m.shape[1]} references")
    rows, cols = linear_sum_assignment(-m)
    perm = np.empty(m.shape[1], dtype=int)
    perm[cols] = rows
    return tuple(int(p) for p in perm)


def _pair(est, ref, perm: Sequence[int] | None):
    est, ref = _common_length(_as_2d(est, "estimates"), _as_2d(ref, "references"))
    if perm is None:
        perm = best_pairing(est, ref)
    return est[list(perm)], ref, tuple(perm)


# --------------------------------------------------------------------------- BSS Eval


def _bss_raw(est: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fast_bss_eval (already paired, no permutation search) with mir_eval as the fallback.

    fast_bss_eval is called with torch tensors: its numpy backend's non-permuted path breaks
    on numpy >= 2 (``np.linalg.solve`` stopped broadcasting a stack of vectors), the torch
    backend computes the same numbers.
    """
    try:
        import fast_bss_eval

        out = fast_bss_eval.bss_eval_sources(torch.from_numpy(ref), torch.from_numpy(est),
                                             filter_length=BSS_FILTER_LENGTH, compute_permutation=False)
        return tuple(o.numpy().astype(np.float64) for o in out[:3])
    except Exception:  # noqa: BLE001 - ill-conditioned input, missing package...
        pass
    try:
        import mir_eval

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
        return sdr, sir, sar
    except Exception:  # noqa: BLE001 - e.g. mir_eval refuses silent references
        nan = np.full(ref.shape[0], np.nan)
        return nan, nan.copy(), nan.copy()


def bss_eval(est, ref, perm: Sequence[int] | None = None) -> dict:
    """Permutation-invariant BSS Eval (Vincent et al. 2006): SDR, SIR, SAR per source in dB.

    The estimate is decomposed into the reference filtered by a 512-tap FIR filter (target),
    leakage of the other references (interference) and the rest (artifacts); so unlike SI-SNR,
    SDR forgives a fixed linear filter.  Computed with ``fast_bss_eval`` (same numbers as
    ``mir_eval``, far faster), falling back to ``mir_eval`` if it fails.

    ``est`` and ``ref`` are ``(C, samples)``; the pairing is ``perm`` or the best-SI-SNR one.
    Values are clipped to ``[-80, 80]`` dB (an exact copy has infinite SIR); an all-zero
    estimate gets SDR = SAR = -80 dB and SIR = NaN (0/0) rather than an exception.
    Returns ``{"sdr", "sir", "sar": (C,) arrays, "permutation": tuple}``.
    """
    est, ref, perm = _pair(est, ref, perm)
    silent = _silent(est, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdr, sir, sar = _bss_raw(est, ref)
    # Clip like SI-SNR: an exact copy gives +inf SIR (no interference at all), which would make
    # every mean infinite; NaN (undefined) stays NaN.
    sdr, sir, sar = (np.clip(np.array(x, dtype=np.float64), FLOOR_DB, -FLOOR_DB) for x in (sdr, sir, sar))
    sdr[silent], sar[silent], sir[silent] = FLOOR_DB, FLOOR_DB, np.nan
    return {"sdr": sdr, "sir": sir, "sar": sar, "permutation": perm}


def sdr_improvement(est, ref, mixture, perm: Sequence[int] | None = None) -> np.ndarray:
    """BSS Eval SDR of each (paired) estimate minus the SDR of the mixture against that reference."""
    est, ref, perm = _pair(est, ref, perm)
    mix = _as_f64(mixture).reshape(-1)
    est, ref, mix = _common_length(est, ref, mix)
    sdr = bss_eval(est, ref, perm=range(ref.shape[0]))["sdr"]
    base = bss_eval(np.repeat(mix[None], ref.shape[0], 0), ref, perm=range(ref.shape[0]))["sdr"]
    return sdr - base


# --------------------------------------------------------------------------- PESQ


def _pesq_one(est: np.ndarray, ref: np.ndarray, sr: int) -> float:
    from pesq import pesq

    try:
        score = pesq(sr, ref.astype(np.float32), est.astype(np.float32), "nb")
    except Exception:  # noqa: BLE001 - NoUtterancesError, BufferTooShortError, NaN from silence...
        return float("nan")
    return float(score) if np.isfinite(score) and score > 0 else float("nan")  # -1 = error code


def pesq_nb(est, ref, sr: int = 8000, perm: Sequence[int] | None = None) -> np.ndarray | float:
    """Narrow-band PESQ (ITU-T P.862, MOS-LQO about 1 to 4.5) of each estimate, via ``pesq``.

    Narrow band because the DANet family works on 8 kHz audio.  Any rate is accepted (audio
    not at 8 or 16 kHz is resampled to 8 kHz first).  PESQ needs speech-like activity and at
    least 0.25 s: when it refuses a signal (``NoUtterancesError``, ``BufferTooShortError``,
    silent estimate) the score is NaN instead of an exception.  1-D input gives a float;
    ``(C, samples)`` input is paired by the best SI-SNR permutation (or ``perm``) and gives ``(C,)``.
    """
    one = _as_f64(est).ndim == 1 and _as_f64(ref).ndim == 1
    est, ref, perm = _pair(est, ref, perm)
    if sr not in PESQ_RATES:
        from .audio import resample

        est = np.stack([resample(e, sr, 8000) for e in est]).astype(np.float64)
        ref = np.stack([resample(r, sr, 8000) for r in ref]).astype(np.float64)
        sr = 8000
    scores = np.array([_pesq_one(e, r, sr) for e, r in zip(est, ref)])
    return float(scores[0]) if one else scores


# --------------------------------------------------------------------------- oracles


def ideal_mask_separation(mixture, sources, kind: str = "wfm",
                          stft_config: StftConfig = StftConfig(), frontend=None, mixture_view=None) -> np.ndarray:
    """Upper-bound separation: an ideal mask from the true sources applied to the mixture.

    ``kind`` is ``ibm``, ``irm`` or ``wfm`` (see :mod:`sepviz.masks`).  The mask multiplies the
    mixture STFT, so the estimates keep the *mixture* phase exactly like the model's outputs;
    the gap between a model and these oracles is therefore only in the masks.  ``sources`` is
    ``(C, samples)`` and ``mixture`` ``(samples,)`` at ``stft_config.sample_rate``; returns
    ``(C, samples)`` float32.

    ``frontend``: a model's adaptive front-end (:class:`sepviz.frontend.AdaptiveFrontend`); the
    masks then come from the sources' latents, multiply the mixture's latent and are decoded with
    the mixture's pooling indices, as that model's own outputs are.  ``mixture_view``: the mixture
    already seen through that front-end (:class:`sepviz.frontend.FrontendView`, e.g.
    ``Embedding.frontend``), so it is not encoded again for every oracle.
    """
    try:
        mask_fn = IDEAL_MASKS[kind]
    except KeyError:
        raise SepvizInputError(f"unknown ideal mask {kind!r}; choose one of {sorted(IDEAL_MASKS)}") from None
    mix = _as_f64(mixture).reshape(-1)
    src = _as_2d(sources, "sources")
    n = mix.shape[0]
    src = np.pad(src[:, :n], ((0, 0), (0, max(0, n - src.shape[1]))))
    if frontend is not None:
        with torch.inference_mode():
            if mixture_view is None:
                x, idx = frontend.encode(torch.from_numpy(mix)[None])  # (1, T, F), (1, F, T)
            else:
                x, idx = mixture_view.latent.double(), mixture_view.indices
            s = frontend.encode(torch.from_numpy(src))[0]             # (C, T, F)
            est = frontend.decode(mask_fn(s, x[0]) * x, idx, n)
        return est.cpu().numpy().astype(np.float32)
    with torch.inference_mode():
        x = stft(torch.from_numpy(mix), stft_config)                 # (T, F)
        s = stft(torch.from_numpy(src), stft_config)                 # (C, T, F)
        masks = mask_fn(s, x)
        est = istft(masks * x.unsqueeze(0), n, stft_config)
    return est.numpy().astype(np.float32)


# --------------------------------------------------------------------------- everything at once


def mixture_baseline(sources, mixture) -> dict:
    """SI-SNR and SDR of the unprocessed mixture against each source: ``{"si_snr": (C,), "sdr": (C,)}``.

    The subtrahends of SI-SNRi and SDRi.  They depend only on the mixture, so when several
    systems are scored on one mixture compute this once and pass it to :func:`evaluate_estimates`.
    """
    ref, mix = _common_length(_as_2d(sources, "sources"), _as_f64(mixture).reshape(-1))
    c = ref.shape[0]
    mixes = np.repeat(mix[None], c, 0)
    return {"si_snr": np.asarray(si_snr(mixes, ref), dtype=np.float64).reshape(c),
            "sdr": bss_eval(mixes, ref, perm=range(c))["sdr"]}


def evaluate_estimates(estimates, sources, mixture, sr: int = 8000, pesq: bool = True,
                       perm: Sequence[int] | None = None, baseline: dict | None = None) -> dict:
    """Every metric for one mixture, under the best-SI-SNR permutation.

    ``estimates`` ``(C_est, samples)``, ``sources`` ``(C, samples)``, ``mixture`` ``(samples,)``,
    all at ``sr`` (lengths may differ by a few samples: all are cut to the shortest).  PESQ is
    the slow part, hence ``pesq=False`` (the entries are then NaN).  ``baseline`` is
    :func:`mixture_baseline` of the same sources and mixture (computed here if not given).
    Returns::

        {"si_snr": (C,), "si_snri": (C,), "sdr": (C,), "sdri": (C,), "sir": (C,), "sar": (C,),
         "pesq": (C,), "permutation": tuple, "mean": {metric: float (NaN-skipping mean)}}

    Arrays are indexed by *reference*: entry ``i`` scores ``estimates[permutation[i]]``
    against ``sources[i]``.
    """
    est, ref, mix = _common_length(_as_2d(estimates, "estimates"), _as_2d(sources, "sources"),
                                   _as_f64(mixture).reshape(-1))
    est, ref, perm = _pair(est, ref, perm)
    c = ref.shape[0]
    if baseline is None:
        baseline = mixture_baseline(ref, mix)
    ident = range(c)
    out: dict = {}
    out["si_snr"] = np.asarray(si_snr(est, ref), dtype=np.float64).reshape(c)
    out["si_snri"] = out["si_snr"] - np.asarray(baseline["si_snr"], dtype=np.float64)
    bss = bss_eval(est, ref, perm=ident)
    out["sdr"], out["sir"], out["sar"] = bss["sdr"], bss["sir"], bss["sar"]
    out["sdri"] = out["sdr"] - np.asarray(baseline["sdr"], dtype=np.float64)
    out["pesq"] = pesq_nb(est, ref, sr, perm=ident) if pesq else np.full(c, np.nan)
    out["permutation"] = perm
    out["mean"] = {k: _nanmean(out[k]) for k in METRIC_KEYS}
    return out


evaluate_mixture = evaluate_estimates  # name used in docs/ARCHITECTURE.md
