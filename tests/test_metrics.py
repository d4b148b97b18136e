"""Metrics against direct formulas, permutation invariance, degenerate inputs, oracles, PESQ."""
import math

import numpy as np
import pytest

from _synth import SR, harmonic
from sepviz.errors import SepvizInputError
from sepviz.features import StftConfig
from sepviz.metrics import (FLOOR_DB, METRIC_KEYS, bss_eval, best_pairing, evaluate_estimates,
                            ideal_mask_separation, pairwise_si_snr, pesq_nb, sdr_improvement, si_snr,
                            si_snr_improvement)


def direct_si_snr(est, ref):
    """Textbook SI-SNR, no regularisation."""
    est = np.asarray(est, np.float64) - np.mean(est)
    ref = np.asarray(ref, np.float64) - np.mean(ref)
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return 10 * math.log10(np.sum(target ** 2) / np.sum((est - target) ** 2))


def rng_signals(c=2, n=4000, seed=0):
    return np.random.default_rng(seed).standard_normal((c, n))


# --------------------------------------------------------------------------- SI-SNR


def test_si_snr_scaled_copy_is_huge_and_scale_invariant():
    ref = rng_signals(1)[0]
    assert si_snr(ref, ref) > 70
    assert si_snr(3.7 * ref + 0.5, ref) > 70  # gain and DC offset are ignored
    noisy = ref + 0.3 * rng_signals(1, seed=1)[0]
    assert si_snr(0.01 * noisy, ref) == pytest.approx(si_snr(noisy, ref), abs=1e-9)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_si_snr_known_snr(snr_db):
    ref, noise = rng_signals(2, seed=3)
    ref, noise = ref - ref.mean(), noise - noise.mean()
    noise -= np.dot(noise, ref) / np.dot(ref, ref) * ref  # orthogonal to the reference
    noise *= math.sqrt(np.sum(ref ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
    assert si_snr(ref + noise, ref) == pytest.approx(snr_db, abs=1e-6)


def test_si_snr_matches_direct_formula_and_broadcasts():
    est, ref = rng_signals(2, seed=4), rng_signals(2, seed=5)
    est = est + 2 * ref
    got = si_snr(est, ref)
    assert got.shape == (2,)
    np.testing.assert_allclose(got, [direct_si_snr(e, r) for e, r in zip(est, ref)], atol=1e-6)
    m = pairwise_si_snr(est, ref)
    assert m.shape == (2, 2) and m[0, 0] == pytest.approx(got[0]) and m[0, 1] == pytest.approx(direct_si_snr(est[0], ref[1]), abs=1e-6)


def test_si_snr_silent_estimate_is_floor_not_nan():
    ref = rng_signals(1)[0]
    assert si_snr(np.zeros_like(ref), ref) == pytest.approx(FLOOR_DB)
    assert np.isfinite(si_snr(np.zeros(100), np.zeros(100)))


def test_si_snr_improvement_is_difference_against_mixture():
    src = rng_signals(2, seed=6)
    mix = src.sum(0)
    est = src + 0.2 * rng_signals(2, seed=7)
    got = si_snr_improvement(est, src, mix)
    want = [direct_si_snr(est[i], src[i]) - direct_si_snr(mix, src[i]) for i in range(2)]
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(evaluate_estimates(est, src, mix, pesq=False)["si_snri"], want, atol=1e-6)


# --------------------------------------------------------------------------- permutations


def test_best_pairing_three_sources():
    src = rng_signals(3, seed=8)
    est = src + 0.1 * rng_signals(3, seed=9)
    assert best_pairing(est[[2, 0, 1]], src) == (1, 2, 0)
    assert best_pairing(est, src) == (0, 1, 2)
    # one estimate too many: the extra one is left out
    extra = np.concatenate([rng_signals(1, seed=10), est])
    assert best_pairing(extra, src) == (1, 2, 3)
    with pytest.raises(SepvizInputError):
        best_pairing(est[:1], src)


def test_all_metrics_are_permutation_invariant(tone_pair):
    mix, src = tone_pair
    est = src + 0.05 * rng_signals(2, n=src.shape[1], seed=11)
    a = evaluate_estimates(est, src, mix, sr=SR, pesq=True)
    b = evaluate_estimates(est[::-1], src, mix, sr=SR, pesq=True)
    assert a["permutation"] == (0, 1) and b["permutation"] == (1, 0)
    for k in METRIC_KEYS:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-6, err_msg=k)
        assert a["mean"][k] == pytest.approx(b["mean"][k], rel=1e-6, abs=1e-6)
    assert set(a["mean"]) == set(METRIC_KEYS)


# --------------------------------------------------------------------------- BSS Eval


def test_bss_eval_matches_mir_eval_and_known_snr():
    import warnings

    import mir_eval

    src = rng_signals(2, n=4000, seed=12)
    est = src[::-1] + 0.1 * rng_signals(2, n=4000, seed=13)  # swapped outputs
    got = bss_eval(est, src)
    assert got["permutation"] == (1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mir_eval.separation.bss_eval_sources(src, est[[1, 0]], compute_permutation=False)
    for i, k in enumerate(("sdr", "sir", "sar")):
        np.testing.assert_allclose(got[k], want[i], atol=1e-3, err_msg=k)
    assert np.all(got["sdr"] > 15)  # white noise 20 dB down, partly forgiven by the filter


def test_bss_eval_handles_all_zero_estimate(tone_pair):
    mix, src = tone_pair
    est = np.stack([src[0], np.zeros_like(src[1])])
    out = bss_eval(est, src, perm=(0, 1))
    assert out["sdr"][1] == FLOOR_DB and out["sar"][1] == FLOOR_DB and math.isnan(out["sir"][1])
    assert out["sdr"][0] > 40 and out["sir"][0] == -FLOOR_DB  # exact copy: clipped, not inf
    res = evaluate_estimates(est, src, mix, pesq=True)
    assert all(math.isfinite(res["mean"][k]) for k in METRIC_KEYS)  # NaNs are skipped in the means


def test_sdr_improvement_is_difference_against_mixture(tone_pair):
    mix, src = tone_pair
    est = src + 0.1 * rng_signals(2, n=src.shape[1], seed=14)
    sdri = sdr_improvement(est[::-1], src, mix)
    want = bss_eval(est, src)["sdr"] - bss_eval(np.stack([mix, mix]), src, perm=(0, 1))["sdr"]
    np.testing.assert_allclose(sdri, want, atol=1e-6)
    np.testing.assert_allclose(evaluate_estimates(est, src, mix, pesq=False)["sdri"], want, atol=1e-6)


# --------------------------------------------------------------------------- oracles


@pytest.mark.parametrize("kind,floor", [("ibm", 12.0), ("irm", 10.0), ("wfm", 12.0)])
def test_ideal_masks_separate_two_harmonic_tones(tone_pair, kind, floor):
    mix, src = tone_pair
    est = ideal_mask_separation(mix, src, kind, StftConfig())
    assert est.shape == src.shape and est.dtype == np.float32
    res = evaluate_estimates(est, src, mix, sr=SR, pesq=False)
    assert res["permutation"] == (0, 1)
    assert res["mean"]["si_snri"] > floor
    assert res["mean"]["sdri"] > floor


def test_ideal_masks_reconstruct_single_source_and_reject_unknown(tone_pair):
    mix, src = tone_pair
    lone = np.stack([src[0], np.zeros_like(src[0])])
    est = ideal_mask_separation(src[0], lone, "wfm")
    assert si_snr(est[0], src[0]) > 60
    with pytest.raises(SepvizInputError):
        ideal_mask_separation(mix, src, "cirm")


# --------------------------------------------------------------------------- PESQ


def speechlike(seconds=2.0, sr=SR, seed=0):
    """Harmonic tone with a syllable-like on/off envelope: PESQ's voice activity detector finds utterances."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.clip(np.sin(2 * math.pi * 1.3 * t), 0, None) ** 0.5
    x = harmonic(140.0, seconds, sr, n_harm=12) * env
    return (x + 0.002 * np.random.default_rng(seed).standard_normal(x.shape)).astype(np.float32)


def test_pesq_nb_in_range_and_degrades_with_noise():
    ref = speechlike()
    clean = pesq_nb(ref, ref)
    noisy = pesq_nb(ref + 0.05 * np.random.default_rng(1).standard_normal(ref.shape), ref)
    for s in (clean, noisy):
        assert isinstance(s, float) and 1.0 <= s <= 4.6
    assert clean > 4.0 and noisy < clean - 1.0


def test_pesq_nb_errors_become_nan_and_other_rates_resample():
    ref = speechlike()
    assert math.isnan(pesq_nb(np.zeros_like(ref), ref))   # silent estimate
    assert math.isnan(pesq_nb(ref[:400], ref[:400]))      # 50 ms: BufferTooShortError
    ref16 = speechlike(sr=16000)
    ref11 = speechlike(sr=11025)
    s16, s11 = pesq_nb(ref16, ref16, sr=16000), pesq_nb(ref11, ref11, sr=11025)
    assert (math.isnan(s16) or 1.0 <= s16 <= 4.6) and (math.isnan(s11) or 1.0 <= s11 <= 4.6)
    both = pesq_nb(np.stack([ref, ref]), np.stack([ref, ref]))
    assert both.shape == (2,)
