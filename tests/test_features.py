"""STFT front end, feature normalisation, salient bins, and the ideal masks."""
import numpy as np
import pytest
import torch

from _synth import SR, harmonic, tone_sources
from sepviz.features import StftConfig, istft, log_magnitude_features, salient_weights, stft
from sepviz.masks import (IDEAL_MASKS, ideal_binary_mask, ideal_ratio_mask, phase_sensitive_target,
                          wiener_filter_mask)


def noisy_tone(n=SR, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.from_numpy(harmonic(200.0, n / SR)) + 0.01 * torch.randn(n, generator=g)


# --------------------------------------------------------------------------- STFT


def test_stft_shape_8khz():
    cfg = StftConfig()
    assert (cfg.n_fft, cfg.hop_length, cfg.n_freq, cfg.sample_rate) == (256, 64, 129, 8000)
    spec = stft(torch.zeros(SR))
    assert spec.shape == (SR // 64 + 1, 129) == (cfg.frames(SR), cfg.n_freq)
    assert spec.is_complex()


def test_stft_batched_leading_dims_and_numpy_input():
    x = torch.randn(2, 3, 1000)
    spec = stft(x)
    assert spec.shape == (2, 3, 1000 // 64 + 1, 129)
    # Each item equals its own STFT (the flatten/reshape does not mix items or swap T and F).
    torch.testing.assert_close(spec[1, 2], stft(x[1, 2]))
    assert stft(np.zeros(640, dtype=np.float32)).shape == (11, 129)
    assert stft(torch.zeros(640, dtype=torch.int16)).shape == (11, 129)  # integer input is cast


def test_stft_is_time_major():
    """A tone at bin 32 (1 kHz) lights up column 32 of every frame, not row 32."""
    t = torch.arange(SR) / SR
    spec = stft(torch.sin(2 * torch.pi * 1000.0 * t)).abs()
    assert (spec[5:-5].argmax(dim=1) == 32).all()


@pytest.mark.parametrize("n", [10, 100, 255, 256, 1000, 2001, 4099, 8000, 12345])
def test_istft_of_unmasked_stft_returns_input(n):
    x = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 0.3
    y = istft(stft(x), n)
    assert y.shape == (n,)
    assert (y - x).abs().max() < 1e-4


def test_istft_batched_and_double():
    x = torch.randn(2, 3, 1500, dtype=torch.float64)
    y = istft(stft(x), 1500)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert (y - x).abs().max() < 1e-9


def test_masks_that_sum_to_one_give_voices_that_sum_to_the_mixture():
    x = noisy_tone(3001)
    spec = stft(x)
    m = torch.softmax(torch.randn(3, *spec.shape), dim=0)
    voices = istft(m * spec, 3001)
    assert (voices.sum(0) - x).abs().max() < 1e-4


def test_stft_config_round_trip_and_unknown_window():
    cfg = StftConfig(sample_rate=16000, n_fft=512, hop_length=128)
    assert StftConfig.from_dict({**cfg.to_dict(), "extra": 1}) == cfg
    assert cfg.n_freq == 257 and stft(torch.zeros(16000), cfg).shape == (126, 257)
    with pytest.raises(ValueError, match="window"):
        stft(torch.zeros(1000), StftConfig(window="hamming"))


# --------------------------------------------------------------------------- features


def test_log_magnitude_features_are_normalised_per_utterance():
    mags = torch.stack([stft(noisy_tone(seed=0)).abs(), 50 * stft(noisy_tone(seed=1)).abs()])
    f = log_magnitude_features(mags)
    assert f.shape == mags.shape
    for b in range(2):  # each utterance separately, not the batch as a whole
        assert abs(float(f[b].mean())) < 1e-4
        assert abs(float(f[b].std()) - 1.0) < 1e-3


@pytest.mark.parametrize("gain", [0.05, 0.5, 10.0, 1000.0])
def test_log_magnitude_features_are_gain_invariant(gain):
    # (Invariance holds while the quietest bins stay above the absolute log floor LOG_EPS=1e-8:
    # at -60 dB gains a few near-empty bins of this tone move by ~0.04.)
    mag = stft(noisy_tone()).abs()
    torch.testing.assert_close(log_magnitude_features(gain * mag), log_magnitude_features(mag),
                               atol=2e-3, rtol=0)


def test_log_magnitude_features_of_silence_are_finite():
    f = log_magnitude_features(torch.zeros(20, 129))
    assert torch.isfinite(f).all() and f.abs().max() < 1.0  # constant input: ~0 up to rounding


# --------------------------------------------------------------------------- salient bins


def test_salient_weights_keep_ninety_percent_of_the_loudest_bins():
    mag = stft(noisy_tone()).abs()
    w = salient_weights(mag, keep=0.9)
    assert w.shape == mag.shape and w.dtype == torch.float32
    assert set(w.unique().tolist()) <= {0.0, 1.0}
    assert 0.88 <= float(w.mean()) <= 0.92
    assert mag[w == 1].min() >= mag[w == 0].max()  # the kept ones are the loud ones


def test_salient_weights_per_utterance_and_other_fractions():
    mags = torch.stack([stft(noisy_tone(seed=0)).abs(), 1e-3 * stft(noisy_tone(seed=1)).abs()])
    w = salient_weights(mags, keep=0.5)
    for b in range(2):  # the quiet utterance is not swallowed by the loud one
        assert 0.48 <= float(w[b].mean()) <= 0.52
    assert salient_weights(mags, keep=1.0).eq(1).all()


def test_salient_weights_handle_silence_and_constant_input():
    assert salient_weights(torch.zeros(30, 129)).eq(1).all()
    assert salient_weights(torch.full((2, 30, 129), 0.5)).eq(1).all()
    assert salient_weights(torch.zeros(1, 129)).eq(1).all()  # a single frame


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5])
def test_salient_weights_reject_bad_fraction(keep):
    with pytest.raises(ValueError):
        salient_weights(torch.rand(4, 129), keep=keep)


# --------------------------------------------------------------------------- ideal masks


def source_specs(c=2):
    f0s = (150.0, 370.0, 620.0)[:c]
    return stft(torch.from_numpy(tone_sources(f0s, 0.5)))  # (C, T, F)


def test_ideal_binary_mask_is_one_hot_on_the_dominant_source():
    s = source_specs(3)
    m = ideal_binary_mask(s)
    assert m.shape == s.shape
    assert set(m.unique().tolist()) == {0.0, 1.0}
    assert (m.sum(0) == 1).all()
    torch.testing.assert_close(m.argmax(0), s.abs().argmax(0))


@pytest.mark.parametrize("name", ["irm", "wfm"])
def test_ratio_masks_sum_to_one(name):
    s = source_specs(3) + 1e-3  # no all-zero bins
    m = IDEAL_MASKS[name](s)
    assert ((m >= 0) & (m <= 1)).all()
    torch.testing.assert_close(m.sum(0), torch.ones(s.shape[1:]), atol=1e-5, rtol=0)


def test_wiener_filter_and_ratio_mask_formulas():
    s = torch.complex(torch.tensor([[[3.0]], [[0.0]]]), torch.tensor([[[0.0]], [[4.0]]]))  # |s| = 3, 4
    torch.testing.assert_close(wiener_filter_mask(s).flatten(), torch.tensor([9 / 25, 16 / 25]))
    torch.testing.assert_close(ideal_ratio_mask(s).flatten(), torch.tensor([3 / 7, 4 / 7]))
    s = source_specs(2)
    p = s.abs() ** 2
    expected = p / p.sum(0, keepdim=True).clamp_min(1e-12)
    keep = p.sum(0) > 1e-6
    torch.testing.assert_close(wiener_filter_mask(s)[:, keep], expected[:, keep], atol=1e-5, rtol=1e-4)


def test_phase_sensitive_target_sums_to_one_and_gives_the_complex_error():
    s = source_specs(3)
    x = s.sum(0)
    psf = phase_sensitive_target(s, x)
    keep = x.abs() > 1e-4
    torch.testing.assert_close(psf.sum(0)[keep], torch.ones(int(keep.sum())), atol=1e-4, rtol=0)
    assert (psf < 0).any()  # where a source opposes the mixture's phase: no [0, 1] clamp
    # For any real mask, |M X - S|^2 = |X|^2 (M - PSF)^2 + a term that does not depend on M.
    m1, m2 = torch.rand(s.shape), torch.rand(s.shape)
    err = lambda m: (m * x - s).abs() ** 2  # noqa: E731
    psa = lambda m: x.abs() ** 2 * (m - psf) ** 2  # noqa: E731
    torch.testing.assert_close((err(m1) - err(m2))[:, keep], (psa(m1) - psa(m2))[:, keep], atol=1e-3, rtol=1e-3)
    assert torch.isfinite(phase_sensitive_target(s, torch.zeros_like(x))).all()  # silent mixture


def test_ideal_masks_with_batch_dims_and_silent_source():
    s = source_specs(2).unsqueeze(0).repeat(2, 1, 1, 1)
    s[1, 1] = 0  # an absent talker
    for fn in IDEAL_MASKS.values():
        m = fn(s)
        assert m.shape == s.shape and torch.isfinite(m).all()
    assert (ideal_binary_mask(s)[1, 1] == 0).all()  # ... never owns a bin
    assert wiener_filter_mask(s)[1, 1].abs().max() == 0


# --------------------------------------------------------------------------- fit weights


def test_loudness_weights_grow_with_magnitude_and_are_gain_invariant():
    from sepviz.features import loudness_weights

    mag = stft(noisy_tone()).abs()
    w = loudness_weights(mag)
    assert w.shape == mag.shape and bool((w >= 0).all()) and bool(torch.isfinite(w).all())
    flat_m, flat_w = mag.reshape(-1), w.reshape(-1)
    order = flat_m.argsort()
    assert bool((flat_w[order].diff() >= -1e-6).all())  # louder bin, larger weight
    assert float(flat_w[order[-1]]) > 10 * float(flat_w[order[len(order) // 10]])
    assert torch.allclose(loudness_weights(mag * 100), w, atol=1e-5)  # relative to the median


def test_loudness_weights_are_relative_to_the_salient_bins_and_survive_silence():
    from sepviz.features import loudness_weights

    mag = stft(noisy_tone()).abs()
    sal = salient_weights(mag, 0.9).bool()
    med = mag[sal].median()
    assert torch.allclose(loudness_weights(mag, sal), torch.log1p(mag / med))
    silent = loudness_weights(torch.zeros(10, 129))
    assert bool(torch.isfinite(silent).all()) and float(silent.abs().max()) == 0.0
