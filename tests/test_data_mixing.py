"""wsj0-2mix recipe maths, the folder writer, the dynamic-mixing dataset and the CLI."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import torch

from training.data import make_mixtures, synth_corpus
from training.data.corpora import Utterance
from training.data.mixing import (DynamicMixDataset, MixtureFolderDataset, active_level_db, change_speed,
                                  draw_levels, mix_signals, write_mixture_folder)

SR = 8000


def voice(f0: float, seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t + seed) ** 2
    x = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 4)) * env
    return (0.4 * x / np.abs(x).max() + 0.005 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def utts(n_speakers=4, per_speaker=3):
    return [Utterance(f"spk{s}", "fm"[s % 2], "test", audio=voice(100 + 45 * s, 0.5 + 0.1 * i, seed=i),
                      name=f"spk{s}_{i}") for s in range(n_speakers) for i in range(per_speaker)]


def test_mix_signals_levels_sum_and_lengths():
    sig = [voice(120, 1.0), 3 * voice(300, 0.6, 1), 0.1 * voice(200, 0.8, 2)]
    levels = [0.0, -4.0, -1.5]
    for mode, T in [("min", int(0.6 * SR)), ("max", SR)]:
        mix, src, gains = mix_signals(sig, levels, mode)
        assert mix.dtype == np.float32 and src.shape == (3, T) and np.array_equal(src.sum(0, dtype=np.float32), mix)
        assert np.abs(mix).max() <= 0.9 + 1e-6
        assert np.allclose(src[:, : int(0.6 * SR)], gains[:, None] * np.stack([x[: int(0.6 * SR)] for x in sig]), atol=1e-6)
    _, src, _ = mix_signals(sig, levels, "max")
    assert not src[1, int(0.6 * SR):].any()  # zero padding at the end
    lv = [active_level_db(s[: int(0.6 * SR)]) for s in src]
    assert np.allclose(np.array(lv) - lv[0], levels, atol=0.3)
    with pytest.raises(ValueError):
        mix_signals(sig, levels, "longest")


def test_draw_levels_range():
    rng = np.random.default_rng(0)
    draws = np.array([draw_levels(3, rng) for _ in range(500)])
    assert (draws[:, 0] == 0).all() and (draws[:, 1:] <= 0).all() and (draws[:, 1:] >= -5).all()
    assert draws[:, 1:].min() < -4.5 and draws[:, 1:].max() > -0.5


@pytest.mark.parametrize("n_speakers", [2, 3])
def test_write_mixture_folder(tmp_path, n_speakers):
    pool = utts()
    rec = write_mixture_folder(tmp_path / "a", pool, n=4, n_speakers=n_speakers, seed=3, mode="max")
    dirs = ["mix"] + [f"s{c + 1}" for c in range(n_speakers)]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(dirs + ["mixtures.tsv"])
    for r in rec:
        assert len(set(r.speakers)) == n_speakers
        assert all(0 >= lv >= -5 for lv in r.levels_db)
        x = [sf.read(str(tmp_path / "a" / d / f"{r.name}.wav"), dtype="float32")[0] for d in dirs]
        assert sf.info(str(tmp_path / "a" / "mix" / f"{r.name}.wav")).subtype == "FLOAT"
        assert np.array_equal(np.sum(x[1:], axis=0, dtype=np.float32), x[0])
    rows = list(csv.DictReader(open(tmp_path / "a" / "mixtures.tsv"), delimiter="\t"))
    assert [r["name"] for r in rows] == [r.name for r in rec] and rows[0]["sources"].startswith("test:spk")
    write_mixture_folder(tmp_path / "b", pool, n=4, n_speakers=n_speakers, seed=3, mode="max")
    for d in dirs:
        for f in (tmp_path / "a" / d).iterdir():
            # samples, not bytes: libsndfile stamps float WAVs with a timestamped PEAK chunk
            assert np.array_equal(sf.read(str(f))[0], sf.read(str(tmp_path / "b" / d / f.name))[0])
    ds = MixtureFolderDataset(tmp_path / "a", segment=3000)
    mix, src = ds[0]
    assert len(ds) == 4 and mix.shape == (3000,) and src.shape == (n_speakers, 3000)
    full_mix, full_src = MixtureFolderDataset(tmp_path / "a")[1]
    assert torch.equal(full_src.sum(0), full_mix)


def test_dynamic_mix_dataset_shapes_and_determinism():
    pool = utts()
    ds = DynamicMixDataset(pool, n_speakers=2, segment_samples=2000, epoch_size=6, seed=1, mode="min")
    mix, src = ds[0]
    assert len(ds) == 6 and mix.shape == (2000,) and src.shape == (2, 2000) and mix.dtype == torch.float32
    assert torch.equal(src.sum(0), mix) and (src.abs().amax(1) > 0).all()
    same = DynamicMixDataset(pool, n_speakers=2, segment_seconds=0.25, epoch_size=6, seed=1, mode="min")
    assert all(torch.equal(ds[i][0], same[i][0]) for i in range(6))
    ds.set_epoch(1)
    assert not all(torch.equal(ds[i][0], same[i][0]) for i in range(6))
    long = DynamicMixDataset(pool, n_speakers=2, segment_samples=2 * SR, epoch_size=2, seed=1, mode="max")
    assert long[0][0].shape == (2 * SR,) and not long[0][0][-100:].any()  # zero-padded past the longest


def test_change_speed_scales_pitch_and_length():
    tone = np.sin(2 * np.pi * 500 * np.arange(SR) / SR).astype(np.float32)
    assert change_speed(tone, 1.0) is tone
    for speed in (0.9, 1.1):
        out = change_speed(tone, speed)
        assert out.dtype == np.float32 and abs(len(out) - SR / speed) <= 1
        peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * SR / len(out)
        assert abs(peak_hz - 500 * speed) < 3
    with pytest.raises(ValueError):
        change_speed(tone, 0.0)


def test_dynamic_mix_dataset_speed_perturbation():
    """Sources are played at a new speed per draw (new virtual talkers); off, items are unchanged."""
    pool = utts()
    plain = DynamicMixDataset(pool, n_speakers=2, epoch_size=8, seed=3)
    fast = DynamicMixDataset(pool, n_speakers=2, epoch_size=8, seed=3, speed_perturb=0.2)
    assert DynamicMixDataset(pool, n_speakers=2, epoch_size=8, seed=3, speed_perturb=0.0)[0][0].equal(plain[0][0])
    lengths_plain = [plain[i][0].shape[0] for i in range(8)]
    lengths_fast = [fast[i][0].shape[0] for i in range(8)]
    assert lengths_plain != lengths_fast  # "min" mode cuts to the shortest, whose length now varies
    assert all(torch.equal(fast[i][1].sum(0), fast[i][0]) for i in range(8))
    again = DynamicMixDataset(pool, n_speakers=2, epoch_size=8, seed=3, speed_perturb=0.2)
    assert all(torch.equal(fast[i][0], again[i][0]) for i in range(8))  # still reproducible
    with pytest.raises(ValueError):
        DynamicMixDataset(pool, n_speakers=2, speed_perturb=0.6)


def test_random_equaliser_colours_within_its_bound_and_keeps_length():
    """A tilt + bell of at most ±g dB per bin; 0 dB leaves the signal as it is."""
    from training.data.mixing import random_equaliser

    rng = np.random.default_rng(0)
    noise = rng.standard_normal(8000).astype(np.float32)
    assert random_equaliser(noise, 0.0, rng) is noise
    for seed in range(5):
        out = random_equaliser(noise, 6.0, np.random.default_rng(seed))
        assert out.shape == noise.shape and out.dtype == np.float32
        gain_db = 20 * np.log10(np.abs(np.fft.rfft(out))[1:] / np.abs(np.fft.rfft(noise))[1:])
        assert gain_db.max() < 12.0 + 1e-3 and gain_db.min() > -12.0 - 1e-3  # tilt and bell add up
        assert gain_db.max() - gain_db.min() > 0.5  # it did colour the noise


def test_dynamic_mix_dataset_eq_perturbation():
    """Coloured sources still sum to the mixture, reproducibly; off, items are unchanged."""
    pool = utts()
    plain = DynamicMixDataset(pool, n_speakers=2, epoch_size=4, seed=3)
    eq = DynamicMixDataset(pool, n_speakers=2, epoch_size=4, seed=3, eq_perturb=6.0)
    assert DynamicMixDataset(pool, n_speakers=2, epoch_size=4, seed=3, eq_perturb=0.0)[0][0].equal(plain[0][0])
    assert not eq[0][0].equal(plain[0][0])
    assert all(torch.allclose(eq[i][1].sum(0), eq[i][0]) for i in range(4))
    again = DynamicMixDataset(pool, n_speakers=2, epoch_size=4, seed=3, eq_perturb=6.0)
    assert all(torch.equal(eq[i][0], again[i][0]) for i in range(4))
    with pytest.raises(ValueError):
        DynamicMixDataset(pool, n_speakers=2, eq_perturb=-1.0)


def test_dynamic_mix_dataset_mixed_speaker_counts():
    ds = DynamicMixDataset(utts(), n_speakers=(2, 3), segment_samples=1500, epoch_size=40, seed=0)
    active = []
    for i in range(len(ds)):
        mix, src = ds[i]
        assert src.shape == (3, 1500) and torch.equal(src.sum(0), mix)
        active.append(int((src.abs().amax(1) > 0).sum()))
    assert set(active) == {2, 3}
    two = [ds[i][1] for i in range(len(ds)) if active[i] == 2]
    assert all(not s[2].any() for s in two)  # the padded third source is all zero
    with pytest.raises(ValueError):
        DynamicMixDataset(utts(n_speakers=2), n_speakers=3, segment_samples=100)


def test_make_mixtures_cli(tmp_path, capsys):
    root = tmp_path / "synth"
    lines = ["\t".join(synth_corpus.MANIFEST_COLUMNS)]
    for s in range(12):
        spk, g = f"espeak-v{s}", "fm"[s % 2]
        for i in range(2):
            rel = f"wav/{spk}/{spk}_{i:03d}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(root / rel), voice(100 + 20 * s, 0.4, seed=i), SR, subtype="PCM_16")
            lines.append("\t".join([spk, g, "en", ["espeak", "flite"][s % 2], rel, "0.4", spk, "x"]))
    (root / "manifest.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "mix"
    assert make_mixtures.main(["--corpus", "synth", "--root", str(root), "--split", "test", "--n", "3",
                               "--speakers", "2", "--out", str(out)]) == 0
    assert len(list((out / "mix").glob("*.wav"))) == 3 and (out / "s2").is_dir()
    assert "wrote 3 2-talker mixtures" in capsys.readouterr().out


def test_dynamic_mix_dataset_file_cache_is_lossless_for_pcm16(tmp_path):
    pool = []
    for s in range(3):
        p = tmp_path / f"s{s}.wav"
        sf.write(str(p), voice(150 + 60 * s, 0.4, seed=s), SR, subtype="PCM_16")
        pool.append(Utterance(f"s{s}", "f", "test", path=p))
    ds = DynamicMixDataset(pool, n_speakers=2, segment_samples=1000, epoch_size=2)
    assert ds[0][1].shape == (2, 1000)
    assert np.array_equal(ds.audio(1), sf.read(str(pool[1].path), dtype="float32")[0])
    assert ds._cache[1].dtype == np.int16
