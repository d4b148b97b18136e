"""Corpus adapters, speaker-disjoint splits and the TTS generator on tiny fake folders."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from training.data import corpora, splits, synth_corpus
from training.data.corpora import Utterance

SR = 8000


def tone(f0: float, seconds: float = 0.3, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.01
    return (0.3 * np.sin(2 * np.pi * f0 * t) + noise).astype(np.float32)


def write(path, x, sr=SR, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, **kw)
    return path


def test_synth_manifest(tmp_path):
    rows = [("flite-slt", "f", "en", "flite", "flite-slt"), ("flite-slt.up400", "f", "en", "flite", "flite-slt"),
            ("espeak-ar-m1", "m", "ar", "espeak", "espeak-ar-m1")]
    lines = ["\t".join(synth_corpus.MANIFEST_COLUMNS)]
    for k, (spk, g, lang, eng, base) in enumerate(rows):
        rel = f"wav/{spk}/{spk}_000.wav"
        write(tmp_path / rel, tone(100 + 50 * k))
        lines.append("\t".join([spk, g.upper(), lang, eng, rel, "0.3", base, "Some text."]))
    (tmp_path / "manifest.tsv").write_text("\n".join(lines) + "\n")
    utts = corpora.CORPORA["synth"](tmp_path)
    assert [u.speaker for u in utts] == [r[0] for r in rows]
    assert [u.gender for u in utts] == ["f", "f", "m"]
    assert utts[1].group == "flite-slt" and utts[2].language == "ar" and utts[2].engine == "espeak"
    assert utts[0].load().shape == (int(0.3 * SR),)


def _fake_fsdd(root, speakers=("alice", "bob"), n=12):
    for s, spk in enumerate(speakers):
        for i in range(n):
            write(root / "recordings" / f"{i % 10}_{spk}_{i}.wav", tone(120 + 60 * s + 5 * i, 0.4, seed=i))
    return root


def test_fsdd_concatenates_one_speaker(tmp_path, monkeypatch):
    root = _fake_fsdd(tmp_path / "fsdd")
    utts = corpora.fsdd(root, min_seconds=1.0, max_seconds=2.0)
    assert {u.speaker for u in utts} == {"alice", "bob"} and all(u.corpus == "fsdd" for u in utts)
    for u in utts:
        assert u.audio is not None and u.audio.dtype == np.float32
        assert 0.5 <= len(u.audio) / SR <= 2.0 + 0.4 + 0.15  # a recording can overshoot the target
    assert len({u.id for u in utts}) == len(utts)
    again = corpora.fsdd(root, min_seconds=1.0, max_seconds=2.0)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(utts, again))
    other = corpora.fsdd(root, seed=1, min_seconds=1.0, max_seconds=2.0)
    assert not all(len(a.audio) == len(b.audio) and np.array_equal(a.audio, b.audio) for a, b in zip(utts, other))
    monkeypatch.setenv("SEPVIZ_FSDD", str(root))
    assert corpora.fsdd_root() == root
    cached = corpora.fsdd(root, min_seconds=1.0, max_seconds=2.0, cache_dir=tmp_path / "cache")
    assert all(u.path.exists() and np.array_equal(u.load(), u.audio) for u in cached)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is needed to shift voices (apt-get install sox)")
def test_shifted_speakers_are_new_voices_of_the_same_group(tmp_path):
    utts = corpora.fsdd(_fake_fsdd(tmp_path / "fsdd"), min_seconds=1.0, max_seconds=2.0)
    copies = corpora.shifted_speakers(utts, 2, seed=0)
    assert len(copies) == 2 * len(utts)
    plan = {tag: (cents, tempo) for tag, cents, tempo in synth_corpus.shift_plan("alice", 2, 0)}
    assert {u.speaker for u in copies if u.group == "alice"} == {f"alice.{t}" for t in plan}
    assert {u.group for u in copies} == {"alice", "bob"} and len({u.id for u in copies}) == len(copies)
    src = next(u for u in utts if u.speaker == "alice")
    for tag, (cents, tempo) in plan.items():
        out = next(u for u in copies if u.speaker == f"alice.{tag}" and u.name.startswith(src.name))
        assert abs(len(out.audio) / len(src.audio) - 1 / tempo) < 0.05  # tempo shortens or stretches
        peak = lambda x: np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x)))))
        ratio = peak(out.audio[:SR // 2]) / peak(src.audio[:SR // 2])
        assert abs(1200 * np.log2(ratio) - cents) < 60  # the pitch moved by the planned cents


def test_fsdd_default_location():
    assert corpora.DEFAULT_FSDD == corpora.REPO_ROOT.parent / "shared" / "data" / "fsdd"


def test_librispeech(tmp_path):
    sub = tmp_path / "train-clean-100"
    write(sub / "19" / "198" / "19-198-0001.flac", tone(150, sr=16000), sr=16000)
    write(sub / "19" / "198" / "19-198-0002.flac", tone(160, sr=16000), sr=16000)
    write(sub / "26" / "495" / "26-495-0000.flac", tone(110, sr=16000), sr=16000)
    (tmp_path / "SPEAKERS.TXT").write_text(";ID  |SEX| SUBSET | MINUTES | NAME\n19 | F | train-clean-100 | 25.19 | Kara\n"
                                           "26   | M | train-clean-100 | 25.08 | Denny\n")
    utts = corpora.librispeech(tmp_path)
    assert [(u.speaker, u.gender) for u in utts] == [("19", "f"), ("19", "f"), ("26", "m")]
    assert utts[0].load().shape == (int(0.3 * SR),)  # resampled 16 kHz -> 8 kHz
    assert [u.gender for u in corpora.librispeech(sub)] == ["f", "f", "m"]  # root = subset folder


def test_timit(tmp_path):
    for rel in ["TRAIN/DR1/FCJF0/SA1.WAV", "TRAIN/DR1/FCJF0/SI648.WAV", "TRAIN/DR1/FCJF0/SI648.WAV.wav",
                "TEST/DR2/MABC0/SX1.WAV", "train/dr3/mxyz0/si1.wav"]:
        write(tmp_path / rel, tone(130, sr=16000), sr=16000, format="WAV")
    utts = corpora.timit(tmp_path)
    assert sorted((u.speaker, u.gender, u.path.name) for u in utts) == [
        ("FCJF0", "f", "SI648.WAV"), ("MABC0", "m", "SX1.WAV"), ("MXYZ0", "m", "si1.wav")]
    assert len(corpora.timit(tmp_path, include_sa=True)) == 4


@pytest.mark.parametrize("layout", ["wsj0mix", "librimix"])
def test_mixture_layouts(tmp_path, layout):
    mix_dir = "mix" if layout == "wsj0mix" else "mix_clean"
    for sub in ("tt", "cv"):
        for k in range(2):
            s = [tone(100 + 40 * c + k) for c in range(3)]
            write(tmp_path / sub / mix_dir / f"m{k}.wav", sum(s), subtype="FLOAT")
            for c, x in enumerate(s):
                write(tmp_path / sub / f"s{c + 1}" / f"m{k}.wav", x, subtype="FLOAT")
    ex = corpora.MIXTURE_CORPORA[layout](tmp_path)
    assert len(ex) == 4 and all(len(e.sources) == 3 for e in ex) and ex[0].name == "cv/m0"
    mix, src = ex[0].load()
    assert src.shape == (3, len(mix)) and np.allclose(src.sum(0), mix, atol=1e-6)
    assert len(corpora.MIXTURE_CORPORA[layout](tmp_path / "tt")) == 2


def _fake_synth_utts(n_voices=30, copies=3):
    engines = ["flite", "festival", "espeak"]
    utts = []
    for v in range(n_voices):
        base = f"{engines[v % 3]}-v{v}"
        for c in range(copies):
            spk = base if c == 0 else f"{base}.up{300 + c}"
            utts += [Utterance(spk, "f" if v % 2 else "m", "synth", engine=engines[v % 3], group=base,
                               name=f"{spk}_{i}") for i in range(4)]
    return utts


def test_splits_speaker_disjoint_and_stratified():
    utts = _fake_synth_utts()
    parts = {s: splits.split_utterances(utts, s, seed=0) for s in splits.SPLITS}
    assert sum(map(len, parts.values())) == len(utts)
    spk = {s: {u.speaker for u in p} for s, p in parts.items()}
    grp = {s: {u.group for u in p} for s, p in parts.items()}
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not spk[a] & spk[b] and not grp[a] & grp[b]
    assert len(grp["test"]) == 3 and len(grp["valid"]) == 3
    assert {u.gender for u in parts["test"]} == {"f", "m"}
    assert len({u.engine for u in parts["test"]}) >= 2
    again = splits.split_utterances(utts, "test", seed=0)
    assert [u.id for u in again] == [u.id for u in parts["test"]]
    seeds = {frozenset(u.group for u in splits.split_utterances(utts, "test", seed=s)) for s in range(5)}
    assert len(seeds) > 1


def test_splits_single_speaker_groups_get_two_speakers():
    utts = [Utterance(f"s{k}", "fm"[k % 2], "librispeech", name=f"u{k}") for k in range(8)]
    for s in ("valid", "test"):
        assert len({u.speaker for u in splits.split_utterances(utts, s)}) >= 2


def test_fsdd_splits():
    utts = [Utterance(spk, "m", "fsdd", name=f"fsdd-{spk}-{i:04d}") for spk in splits.FSDD_SPEAKERS for i in range(20)]
    assert {u.speaker for u in splits.split_utterances(utts, "test")} == set(splits.FSDD_SPEAKERS)
    assert splits.split_utterances(utts, "train") == []
    tr = splits.split_utterances(utts, "train", fsdd_scheme="finetune")
    va = splits.split_utterances(utts, "valid", fsdd_scheme="finetune")
    te = splits.split_utterances(utts, "test", fsdd_scheme="finetune")
    assert len(tr) == 36 and len(va) == 4 and not {u.id for u in tr} & {u.id for u in va}
    assert not {u.speaker for u in tr} & {u.speaker for u in te}


def test_voice_plan_ids_and_genders():
    talkers = [t for b in synth_corpus.base_voices() for t in synth_corpus.shifted_copies(b, 2, seed=0)]
    assert len({t.speaker for t in talkers}) == len(talkers)
    assert all(t.gender in ("f", "m") for t in talkers)
    assert all(t.speaker.split(".")[0] == t.base_voice for t in talkers)
    shifts = [t.pitch_cents for t in talkers if t.pitch_cents]
    assert all(300 <= abs(c) <= 500 for c in shifts) and min(shifts) < 0 < max(shifts)
    assert [t.gender for t in synth_corpus.base_voices() if t.voice.endswith("+f2")][0] == "f"


def test_trim_and_normalise():
    x = np.concatenate([np.zeros(4000), tone(200, 0.5).astype(np.float64), np.zeros(4000)])
    y = synth_corpus.trim_and_normalise(x)
    assert abs(len(y) / SR - 0.6) < 0.03
    assert np.isclose(np.abs(y).max(), 10 ** (-3 / 20), atol=1e-4)


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="espeak-ng and sox are needed to synthesise (apt-get install espeak-ng sox)")
def test_espeak_voice_renders(tmp_path):
    base = next(b for b in synth_corpus.base_voices() if b.speaker == "espeak-en-us-f2")
    group = synth_corpus.shifted_copies(base, 1, seed=0)
    rows = synth_corpus.render_talkers(group, tmp_path, n_utts=1, seed=0)
    assert [r["speaker"] for r in rows] == [t.speaker for t in group]
    for r in rows:
        x, sr = sf.read(str(tmp_path / r["path"]))
        assert sr == SR and x.ndim == 1 and 1.0 < len(x) / sr < 8.0
        assert np.isclose(np.abs(x).max(), 10 ** (-3 / 20), atol=2e-3) and r["gender"] == "f"
    mtime = (tmp_path / rows[0]["path"]).stat().st_mtime_ns
    synth_corpus.render_talkers(group, tmp_path, n_utts=1, seed=0)  # idempotent: existing files kept
    assert (tmp_path / rows[0]["path"]).stat().st_mtime_ns == mtime
