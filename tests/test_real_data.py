"""The real-voice data pipeline on tiny fake folders: prompt joining, the LibriSpeech and Asterisk
adapters, their splits, gender-ruled mixtures, simulated rooms and noise, pooled training corpora,
the corpus check and the embedding geometry that `evaluate` reports.  No real corpora, no apt."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from training.data import corpora, make_mixtures, real_corpus, rooms, splits
from training.data.corpora import AsteriskVoice, Utterance
from training.data.mixing import GENDER_RULES, DynamicMixDataset, _Picker, mix_signals, write_mixture_folder

SR = 8000


def tone(f0: float, seconds: float = 0.3, sr: int = SR, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.01
    return (amp * np.sin(2 * np.pi * f0 * t) + noise).astype(np.float32)


def write(path, x, sr=SR, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, **kw)
    return path


def pool(n_f=3, n_m=3, per=2, seconds=0.5, corpus="test", prefix=""):
    """In-memory utterances of n_f women ({prefix}f0, ...) and n_m men."""
    out = []
    for s in range(n_f + n_m):
        g = "f" if s < n_f else "m"
        spk = f"{prefix}{g}{s}"
        out += [Utterance(spk, g, corpus, audio=tone(100 + 37 * s, seconds + 0.05 * i, seed=10 * s + i),
                          name=f"{corpus}-{spk}-{i}", group=spk, language="en") for i in range(per)]
    return out


def _runs(x: np.ndarray) -> tuple[list[float], list[int]]:
    """The values of the non-zero constant runs of `x` and the lengths of the zero gaps between them."""
    nz = x != 0
    edges = np.flatnonzero(np.diff(nz.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [len(x)]])
    values, gaps = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if nz[a]:
            assert np.all(x[a:b] == x[a]), "a prompt run is not one prompt"
            values.append(float(x[a]))
        else:
            gaps.append(int(b - a))
    return values, gaps


# --------------------------------------------------------------------------- join_prompts


def _prompt_table(speakers=("ann", "bob"), n=14):
    """Fake prompt paths and a loader: prompt j of speaker s is a constant (s * 100 + j + 1) / 1e4
    lasting 0.4-0.8 s, so every joined utterance says which prompts it holds."""
    rng = np.random.default_rng(5)
    by_speaker, audio = {}, {}
    for s, spk in enumerate(speakers):
        by_speaker[spk] = []
        for j in range(n):
            p = Path(f"/fake/{spk}/{j:02d}.wav")
            by_speaker[spk].append(p)
            audio[p] = np.full(int(rng.uniform(0.4, 0.8) * SR), (s * 100 + j + 1) / 1e4, np.float32)
    return by_speaker, audio


def test_join_prompts_builds_2_to_6_second_utterances_using_each_prompt_once():
    by_speaker, audio = _prompt_table()
    calls = []

    def loader(p):
        calls.append(p)
        return audio[p]

    utts = corpora.join_prompts(by_speaker, corpus="fake", genders={"ann": "f", "bob": "m"},
                                languages={"ann": "en", "bob": "fr"}, seed=0, loader=loader)
    assert sorted(calls) == sorted(audio)  # every prompt read exactly once
    assert {u.speaker for u in utts} == {"ann", "bob"}
    assert {(u.speaker, u.gender, u.language, u.corpus, u.group) for u in utts} == {
        ("ann", "f", "en", "fake", "ann"), ("bob", "m", "fr", "fake", "bob")}
    assert len({u.id for u in utts}) == len(utts)
    value_of = {float(a[0]): p for p, a in audio.items()}
    for spk in by_speaker:
        mine = [u for u in utts if u.speaker == spk]
        assert len(mine) >= 2
        used = []
        for k, u in enumerate(mine):
            secs = len(u.audio) / SR
            assert secs <= 6.0 + 0.8 + 0.15 + 1e-6  # one prompt and gap past the target at most
            assert secs >= (2.0 if k < len(mine) - 1 else 1.0)  # only the last may be a short remainder
            values, gaps = _runs(u.audio)
            assert len(values) >= 2 and all(400 <= g <= 1200 for g in gaps)  # 50-150 ms of silence
            assert len(gaps) == len(values) - 1  # no silence at either end
            used += [value_of[v] for v in values]
        assert len(used) == len(set(used))  # no prompt twice
        assert all(p in by_speaker[spk] for p in used)  # and only the speaker's own
        left = [p for p in by_speaker[spk] if p not in used]
        assert sum(len(audio[p]) for p in left) < 0.5 * 2.0 * SR + 2 * 1200  # only a short remainder dropped
    again = corpora.join_prompts(by_speaker, corpus="fake", genders={}, languages={}, seed=0, loader=audio.get)
    assert [u.name for u in again] == [u.name for u in utts]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(utts, again))
    assert {u.gender for u in again} == {"?"}  # unknown speakers
    other = corpora.join_prompts(by_speaker, corpus="fake", genders={}, languages={}, seed=1, loader=audio.get)
    assert [_runs(u.audio)[0] for u in other] != [_runs(u.audio)[0] for u in utts]


def test_join_prompts_cache_dir_writes_wavs_that_load_back_equal(tmp_path):
    by_speaker, audio = _prompt_table(n=8)
    cache = tmp_path / "cache"
    utts = corpora.join_prompts(by_speaker, corpus="fake", genders={}, languages={}, cache_dir=cache, loader=audio.get)
    assert utts and all(u.path == cache / u.speaker / f"{u.name}.wav" and u.path.is_file() for u in utts)
    for u in utts:
        assert sf.info(str(u.path)).samplerate == SR
        assert np.array_equal(corpora.load_audio(u.path), u.audio)
    assert all(u.audio is not None for u in utts)  # still in memory too
    plain = corpora.join_prompts(by_speaker, corpus="fake", genders={}, languages={}, loader=audio.get)
    assert all(u.path is None for u in plain)


# --------------------------------------------------------------------------- Asterisk


@pytest.fixture
def fake_asterisk(tmp_path, monkeypatch):
    """Three fake voices served by a fake dpkg -L, under a tmp /usr/share/asterisk/sounds."""
    sounds = tmp_path / "sounds"
    monkeypatch.setattr(corpora, "ASTERISK_SOUNDS", sounds)

    def prompts(folder, n, f0):
        return [write(folder / f"p{k:02d}.wav", np.concatenate([np.zeros(400, np.float32), tone(f0 + 7 * k, 0.5, seed=k),
                                                                 np.zeros(400, np.float32)]), subtype="PCM_16")
                for k in range(n)]

    alice = prompts(sounds / "en_US_f_Alice", 10, 200)
    alice_digits = prompts(sounds / "en_US_f_Alice" / "digits", 3, 300)
    alice_silence = [write(sounds / "en_US_f_Alice" / "silence" / "1.wav", np.zeros(800, np.float32))]
    other_folder = prompts(sounds / "es_MX_f_Other", 2, 250)  # same package, not the voice's folder
    link = sounds / "en_US_f_Alice" / "link.wav"
    link.symlink_to(alice[0])
    bruno = prompts(sounds / "it_IT_m_Bruno", 10, 110)
    clara = prompts(tmp_path / "elsewhere" / "fr" / "clara", 10, 180)  # a folder-less voice: every file
    clara_silence = [write(tmp_path / "elsewhere" / "fr" / "clara" / "silence" / "2.wav", np.zeros(800, np.float32))]
    table = {"pkg-en": alice + alice_digits + alice_silence + other_folder + [link], "pkg-it": bruno,
             "pkg-fr-clara": clara + clara_silence}
    monkeypatch.setattr(corpora, "_package_files", lambda package: list(table.get(package, [])))
    voices = (AsteriskVoice("alice", "f", "en", ("pkg-en",), ("en_US_f_Alice",)),
              AsteriskVoice("bruno", "m", "it", ("pkg-it",), ("it_IT_m_Bruno",)),
              AsteriskVoice("clara", "f", "fr", ("pkg-fr-clara",)),
              AsteriskVoice("dasha", "f", "ru", ("pkg-ru-a", "pkg-ru-b"), ("ru_RU_f_Dasha",)))  # not installed
    monkeypatch.setattr(corpora, "ASTERISK_VOICES", voices)
    return {"voices": {v.name: v for v in voices}, "alice": alice + alice_digits, "bruno": bruno, "clara": clara}


def test_asterisk_files_keep_the_voice_folders_and_skip_silence_and_links(fake_asterisk):
    v = fake_asterisk["voices"]
    assert corpora.asterisk_files(v["alice"]) == sorted(fake_asterisk["alice"])
    assert corpora.asterisk_files(v["bruno"]) == sorted(fake_asterisk["bruno"])
    assert corpora.asterisk_files(v["clara"]) == sorted(fake_asterisk["clara"])
    assert corpora.asterisk_files(v["dasha"]) == []


def test_asterisk_adapter_on_fake_packages(fake_asterisk, tmp_path, monkeypatch):
    loaded = []
    real_load = corpora._load_prompt
    monkeypatch.setattr(corpora, "_load_prompt", lambda p: loaded.append(p) or real_load(p))
    utts = corpora.asterisk(tmp_path / "cache", voices=("alice", "bruno", "clara"), seed=0)
    assert {u.speaker for u in utts} == {"alice", "bruno", "clara"} and all(u.corpus == "asterisk" for u in utts)
    assert {(u.speaker, u.gender, u.language) for u in utts} == {("alice", "f", "en"), ("bruno", "m", "it"),
                                                                 ("clara", "f", "fr")}
    for u in utts:
        # one cache per choice of voices (utterance names count over the chosen voices)
        assert u.path.parent == tmp_path / "cache" / "seed0" / "alice+bruno+clara" / u.speaker and u.path.is_file()
        assert 1.0 <= len(u.audio) / SR <= 6.0 + 0.6 + 0.15
    # every prompt of the three voices read once; silence, links and the foreign folder never
    assert sorted(loaded) == sorted(fake_asterisk["alice"] + fake_asterisk["bruno"] + fake_asterisk["clara"])
    in_memory = corpora.asterisk(None, voices=("alice", "bruno", "clara"), seed=0)
    assert all(u.path is None for u in in_memory)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(utts, in_memory))


def test_asterisk_unknown_voice_is_refused(fake_asterisk, tmp_path):
    with pytest.raises(ValueError, match="unknown Asterisk voices"):
        corpora.asterisk(tmp_path / "cache", voices=("alice", "zoe"))


def test_asterisk_missing_voice_names_its_packages_and_apt_get(fake_asterisk, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        corpora.asterisk(tmp_path, voices=("alice", "dasha"))
    msg = str(e.value)
    assert "dasha" in msg and "pkg-ru-a" in msg and "pkg-ru-b" in msg and "apt-get install" in msg
    assert "alice" not in msg.split(":")[0]  # only the missing voice is named as missing
    with pytest.raises(FileNotFoundError, match="apt-get install"):
        corpora.asterisk(tmp_path)  # every voice, dasha among them


def test_install_asterisk_voices_without_apt_names_the_packages(monkeypatch):
    monkeypatch.setattr(corpora.shutil, "which", lambda name: None)
    voices = (AsteriskVoice("x", "f", "en", ("pkg-b", "pkg-a")),)
    with pytest.raises(RuntimeError, match=r"apt-get install pkg-a pkg-b sox"):
        corpora.install_asterisk_voices(voices)


def test_load_prompt_trims_silence_of_a_wav(tmp_path):
    x = np.concatenate([np.zeros(2400, np.float32), tone(440, 0.5), np.zeros(2400, np.float32)])
    y = corpora._load_prompt(write(tmp_path / "p.wav", x, subtype="FLOAT"))
    assert y.dtype == np.float32 and abs(len(y) - (4000 + 800)) <= 5  # the tone plus 50 ms each side
    assert len(corpora._load_prompt(write(tmp_path / "z.wav", np.zeros(800, np.float32)))) == 0


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox decodes the GSM prompts (apt-get install sox)")
def test_load_prompt_decodes_gsm_with_sox(tmp_path):
    ramp = np.minimum(1.0, np.minimum(np.arange(4000), np.arange(4000)[::-1]) / 160)  # 20 ms fades
    sine = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4000) / SR) * ramp
    x = np.concatenate([np.zeros(2400), sine, np.zeros(2400)])
    # a -64 dB floor: GSM turns digital silence after a tone into ringing, and a -54 dB floor into
    # -40 dB peaks, right at the trimming threshold
    x = (x + 3e-4 * np.random.default_rng(0).standard_normal(len(x))).astype(np.float32)
    wav = write(tmp_path / "in.wav", x, subtype="PCM_16")
    gsm = tmp_path / "out.gsm"
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", str(gsm)], check=True, capture_output=True)
    y = corpora._load_prompt(gsm)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(len(y) - (4000 + 800)) < 160  # the tone and 50 ms each side; the silences trimmed
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.argmax(spec) * SR / len(y) - 440) < 20
    assert 0.1 < np.abs(y).max() <= 1.0


# --------------------------------------------------------------------------- LibriSpeech


def _fake_librispeech(root, n_readers, sr=16000):
    lines = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for k in range(n_readers):
        spk, g = str(100 + k), "F" if k % 2 == 0 else "M"
        write(root / "train-clean-100" / spk / "1" / f"{spk}-1-0000.flac", tone(100 + k, 0.05, sr=sr, seed=k), sr=sr)
        lines.append(f"{spk:<5}| {g} | train-clean-100  | 25.0  | Reader {k}")
    (root / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n")
    return root


def test_librispeech_reads_speakers_and_genders(tmp_path, monkeypatch):
    root = _fake_librispeech(tmp_path / "libri", 4)
    utts = corpora.librispeech(root)
    assert [(u.speaker, u.gender, u.corpus, u.language, u.group) for u in utts] == [
        ("100", "f", "librispeech", "en", "100"), ("101", "m", "librispeech", "en", "101"),
        ("102", "f", "librispeech", "en", "102"), ("103", "m", "librispeech", "en", "103")]
    assert utts[0].load().shape == (int(0.05 * SR),)
    assert [u.gender for u in corpora.librispeech(root / "train-clean-100")] == ["f", "m", "f", "m"]
    monkeypatch.setenv("SEPVIZ_LIBRISPEECH", str(root))
    assert corpora.librispeech_root() == root and len(corpora.librispeech()) == 4
    monkeypatch.delenv("SEPVIZ_LIBRISPEECH")
    assert corpora.librispeech_root() == corpora.DEFAULT_LIBRISPEECH


def test_librispeech_missing_or_empty_folder_names_it(tmp_path):
    for folder in (tmp_path / "nowhere", tmp_path / "empty"):
        if folder.name == "empty":
            (folder / "19" / "198").mkdir(parents=True)
        with pytest.raises(FileNotFoundError) as e:
            corpora.librispeech(folder)
        assert str(folder) in str(e.value) and "SEPVIZ_LIBRISPEECH" in str(e.value)


def test_librispeech_split_holds_out_20_valid_and_25_test_readers_gender_balanced(tmp_path):
    utts = corpora.librispeech(_fake_librispeech(tmp_path / "libri", 70))
    assert sum(u.gender == "f" for u in utts) == 35
    parts = {s: splits.split_utterances(utts, s, seed=0) for s in splits.SPLITS}
    spk = {s: {u.speaker for u in p} for s, p in parts.items()}
    assert len(spk["valid"]) == splits.LIBRISPEECH_HELD_OUT["valid"] == 20
    assert len(spk["test"]) == splits.LIBRISPEECH_HELD_OUT["test"] == 25
    assert len(spk["train"]) == 25 and sum(map(len, parts.values())) == len(utts)
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not spk[a] & spk[b]
    for s in ("valid", "test"):
        f = sum(u.gender == "f" for u in parts[s])
        assert abs(f - (len(parts[s]) - f)) <= 2, (s, f, len(parts[s]))
    again = {s: [u.speaker for u in splits.split_utterances(utts, s, seed=0)] for s in splits.SPLITS}
    assert again == {s: [u.speaker for u in p] for s, p in parts.items()}
    assert {u.speaker for u in splits.split_utterances(utts, "test", seed=1)} != spk["test"]


def test_asterisk_split_never_trains_on_june():
    utts = [Utterance(v.name, v.gender, "asterisk", language=v.language, name=f"{v.name}-{i}", group=v.name)
            for v in corpora.ASTERISK_VOICES for i in range(3)]
    train = splits.split_utterances(utts, "train")
    test = splits.split_utterances(utts, "test")
    assert {u.speaker for u in test} == {"june"} == set(splits.ASTERISK_SPLITS["test"])
    assert "june" not in {u.speaker for u in train}
    assert {u.speaker for u in train} == {v.name for v in corpora.ASTERISK_VOICES} - {"june"}
    assert splits.split_utterances(utts, "valid") == []


def test_describe_hours_from_memory_and_file_headers(tmp_path):
    p = write(tmp_path / "a.wav", np.zeros(36 * SR, np.float32), subtype="PCM_16")
    utts = [Utterance("a", "f", "x", path=p), Utterance("b", "m", "x", audio=np.zeros(36 * 16000, np.float32),
                                                          sample_rate=16000)]
    d = splits.describe(utts, hours=True)
    assert d["hours"] == 0.02 and d["speakers"] == 2 and d["female"] == 1
    assert "hours" not in splits.describe(utts)


# --------------------------------------------------------------------------- gender rules


def _genders_of(picker, idx):
    return [picker.utterances[i].gender for i in idx]


def test_picker_gender_rules():
    picker = _Picker(pool(3, 3))
    rng = np.random.default_rng(0)
    for _ in range(60):
        idx = picker.pick(2, rng, "mixed")
        assert sorted(_genders_of(picker, idx)) == ["f", "m"]
        assert len({picker.utterances[i].speaker for i in idx}) == 2
        assert len(set(_genders_of(picker, picker.pick(2, rng, "same")))) == 1
        three = _genders_of(picker, picker.pick(3, rng, "mixed"))
        assert set(three) == {"f", "m"}
        assert len(set(_genders_of(picker, picker.pick(3, rng, "same")))) == 1
    seen = {tuple(sorted(_genders_of(picker, picker.pick(2, rng, "same")))) for _ in range(60)}
    assert seen == {("f", "f"), ("m", "m")}  # both genders' pairs occur
    with pytest.raises(ValueError, match="gender"):
        _Picker(pool(3, 0)).pick(2, np.random.default_rng(0), "mixed")
    with pytest.raises(ValueError, match="gender"):
        _Picker(pool(2, 2)).pick(3, np.random.default_rng(0), "same")
    with pytest.raises(ValueError, match="genders must be one of"):
        picker.pick(2, rng, "female")
    assert GENDER_RULES == ("any", "mixed", "same")


def test_picker_any_draws_as_before():
    """"any" (and no argument) consumes the rng as the pre-rule draw did: old mixtures stay the same."""
    picker = _Picker(pool(3, 3, per=3))

    def old_pick(n, rng):  # the draw before gender rules existed
        spk = rng.choice(len(picker.speakers), size=n, replace=False)
        return [int(rng.choice(picker.by_speaker[picker.speakers[s]])) for s in spk]

    a, b, c = (np.random.default_rng(7) for _ in range(3))
    for k in range(50):
        n = 2 + k % 2
        assert picker.pick(n, a, "any") == picker.pick(n, b) == old_pick(n, c)
    assert a.random() == b.random() == c.random()


def test_write_mixture_folder_gender_rules(tmp_path):
    utts = pool(3, 3, seconds=0.3)
    gender = {u.speaker: u.gender for u in utts}
    for rule in ("same", "mixed"):
        rec = write_mixture_folder(tmp_path / rule, utts, n=8, n_speakers=2, seed=1, genders=rule)
        rows = list(csv.DictReader(open(tmp_path / rule / "mixtures.tsv"), delimiter="\t"))
        assert len(rows) == len(rec) == 8
        for r in rows:
            kinds = {gender[s] for s in r["speakers"].split(",")}
            assert len(kinds) == (1 if rule == "same" else 2), (rule, r["speakers"])
    same_kinds = {gender[r.speakers[0]] for r in write_mixture_folder(tmp_path / "s2", utts, n=12, seed=2, genders="same")}
    assert same_kinds == {"f", "m"}
    with pytest.raises(ValueError):
        write_mixture_folder(tmp_path / "bad", utts, n=1, genders="female")


# --------------------------------------------------------------------------- rooms

TINY_ROOMS = rooms.RoomSpec(n_rooms=2, sources_per_room=2, rt60=(0.1, 0.15), length=(3.0, 4.0), width=(3.0, 4.0),
                            height=(2.4, 2.6), distance=(0.5, 1.5), seed=0)


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory):
    """A 2-room bank built by load_bank (pyroomacoustics) and its path."""
    path = tmp_path_factory.mktemp("rirs") / "bank.npz"
    return rooms.load_bank(path, TINY_ROOMS), path


def hand_bank(tail: bool = True, rooms_: int = 2, slots: int = 3, length: int = 1600) -> dict:
    """A bank of the make_bank layout: a direct path at 5-9 samples and (tail) a decaying late
    tail from 900 samples (past 50 ms after the direct path)."""
    rng = np.random.default_rng(3)
    rirs = np.zeros((rooms_, slots, length), np.float32)
    for r in range(rooms_):
        for s in range(slots):
            rirs[r, s, 5 + r + s] = 1.0
            if tail:
                n = length - 900
                rirs[r, s, 900:] = 0.3 * rng.standard_normal(n) * np.exp(-np.arange(n) / 150)
    return {"rirs": rirs, "lengths": np.full(rooms_, length), "rt60": np.full(rooms_, 0.2, np.float32),
            "sample_rate": np.array(SR)}


def test_reverberate_reference_is_the_direct_path_and_early_part_only():
    x = tone(300, 0.5, seed=1)
    rir = np.zeros(2000, np.float32)
    rir[10] = 1.0
    rir[100] = 0.5            # an early reflection (11 ms after the direct path)
    rir[1000] = 0.25          # a late one (124 ms after)
    full, early = rooms.reverberate(x, rir)
    assert full.shape == early.shape == x.shape and full.dtype == early.dtype == np.float32
    delayed = lambda d: np.concatenate([np.zeros(d, np.float32), x[:-d]])
    assert np.allclose(early, delayed(10) + 0.5 * delayed(90 + 10), atol=1e-5)
    assert np.allclose(full, early + 0.25 * delayed(1000), atol=1e-5)
    # trailing zeros of a padded bank row change nothing; a shorter window leaves out the reflection
    assert np.allclose(rooms.reverberate(x, np.pad(rir, (0, 3000)))[1], early, atol=1e-6)
    assert np.allclose(rooms.reverberate(x, rir, early_ms=5.0)[1], delayed(10), atol=1e-5)


@pytest.mark.parametrize("n", [8000, 8001, 333])
def test_coloured_noise_has_unit_power_and_the_length_asked(n):
    for seed in range(3):
        x = rooms.coloured_noise(n, np.random.default_rng(seed))
        assert x.shape == (n,) and x.dtype == np.float32 and np.isfinite(x).all()
        assert np.mean(x.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-4)
    a, b = rooms.coloured_noise(n, np.random.default_rng(0)), rooms.coloured_noise(n, np.random.default_rng(0))
    assert np.array_equal(a, b) and not np.array_equal(a, rooms.coloured_noise(n, np.random.default_rng(1)))


def test_room_mixture_dry_and_silent_is_the_plain_recipe():
    sig = [tone(150, 0.5, seed=0), tone(420, 0.4, seed=1)]
    levels = [0.0, -3.0]
    mix, refs = rooms.room_mixture(sig, levels, np.random.default_rng(0), bank=None, snr_db=None)
    m2, src, _ = mix_signals(sig, levels, "min")
    assert refs.shape == src.shape == (2, int(0.4 * SR)) and mix.dtype == refs.dtype == np.float32
    assert np.allclose(mix, refs.sum(0), atol=1e-6)
    assert np.allclose(refs, src, atol=1e-6) and np.allclose(mix, m2, atol=1e-6)
    assert np.abs(mix).max() <= 0.9 + 1e-6  # 0 dB active level: the peak guard scaled it
    mix_max, refs_max = rooms.room_mixture(sig, levels, np.random.default_rng(0), bank=None, snr_db=None, mode="max")
    assert refs_max.shape == (2, int(0.5 * SR)) and np.allclose(mix_max, mix_signals(sig, levels, "max")[0], atol=1e-6)


def test_room_mixture_noise_sits_at_the_asked_snr():
    sig = [tone(150, 0.5, seed=0), tone(420, 0.5, seed=1)]
    levels = [-30.0, -33.0]  # quiet: no peak scaling
    for snr in (20.0, 10.0):
        mix, refs = rooms.room_mixture(sig, levels, np.random.default_rng(4), bank=None, snr_db=snr)
        clean = refs.sum(0).astype(np.float64)
        resid = mix - clean
        assert np.abs(mix).max() < 0.9
        measured = 10 * np.log10(np.mean(clean ** 2) / np.mean(resid ** 2))
        assert abs(measured - snr) < 1.5, measured
        dry, dry_refs = rooms.room_mixture(sig, levels, np.random.default_rng(4), bank=None, snr_db=None)
        assert np.allclose(dry_refs, refs, atol=1e-7)  # the noise leaves the references alone


def test_make_bank_and_load_bank(tiny_bank, tmp_path):
    bank, path = tiny_bank
    assert path.is_file()
    assert bank["rirs"].shape[:2] == (2, 2) and bank["rirs"].dtype == np.float32
    assert bank["lengths"].shape == (2,) and bank["lengths"].max() == bank["rirs"].shape[2]
    assert ((bank["rt60"] >= 0.1) & (bank["rt60"] <= 0.15)).all() and int(bank["sample_rate"]) == SR
    assert np.isfinite(bank["rirs"]).all() and (np.abs(bank["rirs"]).max(axis=2) > 0).all()
    again = rooms.load_bank(path, build=False)
    assert set(again) == set(bank) and all(np.array_equal(again[k], bank[k]) for k in bank)
    with pytest.raises(FileNotFoundError, match="python -m training.data.rooms"):
        rooms.load_bank(tmp_path / "none.npz", build=False)


def test_room_mixture_in_a_simulated_room(tiny_bank):
    bank, _ = tiny_bank
    sig = [tone(150, 0.6, seed=0), tone(420, 0.6, seed=1)]
    for seed in range(3):
        mix, refs = rooms.room_mixture(sig, [0.0, -2.0], np.random.default_rng(seed), bank=bank, snr_db=None)
        assert mix.shape == (len(sig[0]),) and refs.shape == (2, len(sig[0]))
        assert np.isfinite(mix).all() and np.isfinite(refs).all() and (np.abs(refs).max(1) > 0).all()
        assert np.abs(mix).max() <= 0.9 + 1e-6
        resid = mix - refs.sum(0)
        assert np.mean(resid ** 2) > 1e-4 * np.mean(mix ** 2)  # the late tail stays in the mixture only
        noisy, _ = rooms.room_mixture(sig, [0.0, -2.0], np.random.default_rng(seed), bank=bank, snr_db=15.0)
        assert np.abs(noisy).max() <= 0.9 + 1e-6 and np.isfinite(noisy).all()
    with pytest.raises(ValueError, match="talker positions"):
        rooms.room_mixture(sig + [tone(300, 0.6)], [0.0, -1.0, -2.0], np.random.default_rng(0), bank=bank, snr_db=None)


# --------------------------------------------------------------------------- dynamic mixing in rooms


def test_dynamic_mix_dataset_reverb_and_noise():
    utts = pool(2, 2, seconds=0.5)
    kw = dict(n_speakers=2, segment_samples=2000, epoch_size=6, seed=1)
    wet = DynamicMixDataset(utts, reverb=1.0, noise=1.0, rir_bank=hand_bank(), **kw)
    again = DynamicMixDataset(utts, reverb=1.0, noise=1.0, rir_bank=hand_bank(), **kw)
    plain = DynamicMixDataset(utts, **kw)
    for i in range(len(wet)):
        mix, src = wet[i]
        assert mix.shape == (2000,) and src.shape == (2, 2000) and mix.dtype == src.dtype == torch.float32
        assert torch.isfinite(mix).all() and torch.isfinite(src).all() and mix.abs().max() <= 0.9 + 1e-6
        assert not torch.allclose(mix, src.sum(0), atol=1e-3)
        m2, s2 = again[i]
        assert torch.equal(mix, m2) and torch.equal(src, s2)
        assert not torch.equal(mix, plain[i][0])


def test_dynamic_mix_dataset_reverb_references_line_up_with_the_mixture():
    """A room of pure delays: reverberant = early, so mixture == sum of references, delayed."""
    utts = pool(2, 2, seconds=0.5)
    ds = DynamicMixDataset(utts, n_speakers=2, segment_samples=2000, epoch_size=4, seed=2, reverb=1.0,
                           rir_bank=hand_bank(tail=False))
    plain = DynamicMixDataset(utts, n_speakers=2, segment_samples=2000, epoch_size=4, seed=2)
    for i in range(4):
        mix, src = ds[i]
        assert torch.allclose(mix, src.sum(0), atol=1e-5)
        assert not torch.equal(mix, plain[i][0])


def test_dynamic_mix_dataset_without_rooms_or_noise_is_unchanged():
    utts = pool(3, 2, per=3)
    kw = dict(n_speakers=(2, 3), segment_samples=1500, epoch_size=10, seed=4, speed_perturb=0.1, eq_perturb=3.0)
    old = DynamicMixDataset(utts, **kw)
    off = DynamicMixDataset(utts, reverb=0.0, noise=0.0, rir_bank=hand_bank(), **kw)
    for i in range(10):
        (m1, s1), (m2, s2) = old[i], off[i]
        assert torch.equal(m1, m2) and torch.equal(s1, s2) and torch.equal(s1.sum(0), m1)
    for bad in ({"reverb": 1.5}, {"noise": -0.1}):
        with pytest.raises(ValueError, match="shares"):
            DynamicMixDataset(utts, n_speakers=2, **bad)


def test_dynamic_mix_dataset_noise_only_needs_no_bank(monkeypatch):
    monkeypatch.setattr(rooms, "load_bank", lambda *a, **k: pytest.fail("a bank was loaded for noise only"))
    ds = DynamicMixDataset(pool(2, 2), n_speakers=2, segment_samples=2000, epoch_size=3, seed=0, noise=1.0)
    assert ds.rir_bank is None
    mix, src = ds[0]
    assert not torch.allclose(mix, src.sum(0), atol=1e-4) and torch.isfinite(mix).all()


def test_dynamic_mix_dataset_loads_the_bank_named_by_the_environment(tmp_path, monkeypatch):
    bank = hand_bank()
    np.savez(tmp_path / "bank.npz", **bank)
    monkeypatch.setenv("SEPVIZ_RIR_BANK", str(tmp_path / "bank.npz"))
    ds = DynamicMixDataset(pool(2, 2), n_speakers=2, segment_samples=2000, epoch_size=2, reverb=1.0)
    assert np.array_equal(ds.rir_bank["rirs"], bank["rirs"])


# --------------------------------------------------------------------------- pooled training corpora


@pytest.fixture
def fake_pools(monkeypatch):
    """CORPORA "synth" (takes root) and "librispeech" (no argument): ten talkers each, in memory."""
    seen_roots = []

    def synth(root):
        seen_roots.append(root)
        return pool(5, 5, per=2, seconds=2.5, corpus="synth", prefix="tts-")

    monkeypatch.setitem(corpora.CORPORA, "synth", synth)
    monkeypatch.setitem(corpora.CORPORA, "librispeech",
                        lambda: pool(5, 5, per=1, seconds=0.5, corpus="librispeech", prefix="ls-"))
    return seen_roots


def _cfg(**data):
    from training.config import DataConfig, TrainConfig

    return TrainConfig(data=DataConfig(**{"root": "fake/synth", "train_items_per_epoch": 8, "valid_items": 4, **data}))


def test_build_datasets_with_pools(fake_pools):
    from training.train import build_datasets

    train, valid, summary = build_datasets(_cfg(pools=[["synth", 3], ["librispeech", 1], ["union", 4]]))
    assert fake_pools == ["fake/synth"]  # synth reads data.root, once
    pools = summary["pools"]
    assert summary["corpus"] == "synth+librispeech"
    assert pools["weights"] == {"synth": 0.375, "librispeech": 0.125, "union": 0.5}
    assert sum(pools["weights"].values()) == pytest.approx(1.0)
    for name in ("synth", "librispeech"):
        assert set(pools[name]) == {"train", "valid"} and "hours" in pools[name]["train"]
        assert pools[name]["train"]["speakers"] == 6 and pools[name]["valid"]["speakers"] == 2
    assert pools["synth"]["train"]["hours"] == 0.01  # 6 talkers x 2 x ~2.5 s
    assert len(train.sets) == 3 and len(valid.sets) == 2  # union trains only
    union = {u.corpus for u in train.sets[2].utterances}
    assert union == {"synth", "librispeech"} and len(train.sets[2]._picker.speakers) == 12
    train_spk = {u.speaker for ds in train.sets for u in ds.utterances}
    valid_spk = {u.speaker for ds in valid.sets for u in ds.utterances}
    assert not train_spk & valid_spk
    for ds in (train, valid):
        mix, src = ds[0]
        assert mix.shape == (6400,) and src.shape == (2, 6400) and torch.isfinite(mix).all()
    assert all(ds.reverb == 0 and ds.noise == 0 for ds in train.sets)
    assert summary["train"]["speakers"] == 12 and summary["valid"]["speakers"] == 4


def test_build_datasets_pools_with_noise_and_reverb(fake_pools, tmp_path, monkeypatch):
    from training.train import build_datasets

    np.savez(tmp_path / "bank.npz", **hand_bank())
    monkeypatch.setenv("SEPVIZ_RIR_BANK", str(tmp_path / "bank.npz"))
    train, valid, summary = build_datasets(_cfg(pools=[["synth", 1], ["librispeech", 1]], reverb=0.5, noise=0.25))
    assert summary["reverb"] == 0.5 and summary["noise"] == 0.25
    assert [(ds.reverb, ds.noise) for ds in train.sets] == [(0.5, 0.25)] * 2
    assert train.sets[0].rir_bank is train.sets[1].rir_bank  # one bank for every pool
    assert all(ds.reverb == 0 and ds.noise == 0 for ds in valid.sets)  # validation stays dry
    mix, src = train[0]
    assert mix.shape == (6400,) and torch.isfinite(mix).all()


def test_build_datasets_pool_errors(fake_pools):
    from training.train import build_datasets

    with pytest.raises(ValueError, match="nosuch"):
        build_datasets(_cfg(pools=[["synth", 1], ["nosuch", 1]]))
    with pytest.raises(ValueError, match="data.pools"):
        build_datasets(_cfg(corpus="synth", reverb=0.5))
    with pytest.raises(ValueError, match="data.pools"):
        build_datasets(_cfg(corpus="synth", noise=0.5))
    with pytest.raises(ValueError, match="finetune_fsdd_fraction"):
        build_datasets(_cfg(pools=[["synth", 1]], finetune_fsdd_fraction=0.2))


# --------------------------------------------------------------------------- make_mixtures CLI


def test_make_mixtures_unknown_corpus_is_an_argparse_error(tmp_path, capsys):
    for corpus in ("nosuch", "librispeech,nosuch", ","):
        with pytest.raises(SystemExit) as e:
            make_mixtures.main(["--corpus", corpus, "--out", str(tmp_path / "o")])
        assert e.value.code == 2
        assert "unknown corpus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        make_mixtures.main(["--corpus", "librispeech,asterisk", "--root", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "one corpus" in capsys.readouterr().err


def test_make_mixtures_missing_corpus_folder_returns_2(tmp_path, capsys):
    missing = tmp_path / "no_librispeech"
    code = make_mixtures.main(["--corpus", "librispeech", "--root", str(missing), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0]
    assert not (tmp_path / "o").exists()


def test_make_mixtures_pools_comma_separated_corpora_with_a_gender_rule(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(corpora.CORPORA, "librispeech", lambda: pool(2, 0, seconds=0.3, corpus="librispeech"))
    monkeypatch.setitem(corpora.CORPORA, "asterisk", lambda: [
        Utterance("carlo", "m", "asterisk", audio=tone(110, 0.3), name="carlo-0"),
        Utterance("june", "f", "asterisk", audio=tone(230, 0.3), name="june-0")])
    out = tmp_path / "cross"
    assert make_mixtures.main(["--corpus", "librispeech,asterisk", "--split", "all", "--genders", "mixed",
                               "--n", "6", "--seed", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 speakers (3 female)" in text and "mixed genders" in text
    rows = list(csv.DictReader(open(out / "mixtures.tsv"), delimiter="\t"))
    assert len(rows) == 6 and all("carlo" in r["speakers"] for r in rows)  # the one man is in every mixture


# --------------------------------------------------------------------------- real_corpus --check


def test_real_corpus_check_reports_the_missing_corpus(monkeypatch, capsys):
    def no_librispeech(*a, **k):
        raise FileNotFoundError("no LibriSpeech FLAC files (SPEAKER/CHAPTER/*.flac) under /nowhere/librispeech")

    monkeypatch.setitem(corpora.CORPORA, "librispeech", no_librispeech)
    monkeypatch.setitem(corpora.CORPORA, "asterisk", lambda *a, **k: pool(1, 1, corpus="asterisk"))
    monkeypatch.setitem(corpora.CORPORA, "fsdd", lambda *a, **k: pool(0, 2, corpus="fsdd"))
    assert real_corpus.check() is False
    out = capsys.readouterr().out
    assert "librispeech: missing: no LibriSpeech FLAC files" in out and "/nowhere/librispeech" in out
    assert "asterisk: 2 talkers (1 women), 4 utterances" in out and "fsdd: 2 talkers (0 women)" in out
    assert real_corpus.main(["--check"]) == 1
    capsys.readouterr()

    def no_sox(*a, **k):
        raise RuntimeError("needs sox")

    monkeypatch.setitem(corpora.CORPORA, "asterisk", no_sox)
    assert real_corpus.check() is False and "asterisk: missing: needs sox" in capsys.readouterr().out
    monkeypatch.setitem(corpora.CORPORA, "librispeech", lambda *a, **k: pool(1, 1, corpus="librispeech"))
    monkeypatch.setitem(corpora.CORPORA, "asterisk", lambda *a, **k: pool(1, 1, corpus="asterisk"))
    assert real_corpus.check() is True and "missing" not in capsys.readouterr().out
    assert real_corpus.main([]) == 0


# --------------------------------------------------------------------------- embedding geometry


def _geometry_inputs(T=20, F=30, K=8, same=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (T, F), generator=g)
    assignment = torch.stack([labels == 0, labels == 1]).float()
    centres = torch.zeros(2, K)
    centres[0, 0] = 1.0
    centres[1, 1] = 1.0
    if same:
        centres[1] = centres[0]
    v = 3.0 * centres[labels] + 0.2 * torch.randn(T, F, K, generator=g)
    salient = torch.ones(T, F, dtype=torch.bool)
    return v, assignment, salient


def test_embedding_geometry_separated_and_overlapping_talkers():
    from sepviz.geometry import Geometry, embedding_geometry

    v, a, s = _geometry_inputs()
    geo = embedding_geometry(v, a, s)
    assert isinstance(geo, Geometry) and geo.silhouette > 0.8 and geo.closest_cosine < 0.2
    assert geo.to_dict() == {"silhouette": geo.silhouette, "closest_attractor_cosine": geo.closest_cosine}
    v, a, s = _geometry_inputs(same=True)
    geo = embedding_geometry(v, a, s)
    assert abs(geo.silhouette) < 0.1 and geo.closest_cosine == pytest.approx(1.0, abs=0.01)
    identical = embedding_geometry(torch.ones_like(v), a, s)
    assert abs(identical.silhouette) < 0.1 and identical.closest_cosine == pytest.approx(1.0, abs=1e-6)
    # only the salient bins count: hide talker 1's bins and the separated pair turns into one talker
    v, a, s = _geometry_inputs()
    one = embedding_geometry(v, a, a[0].bool())
    assert np.isnan(one.silhouette) and np.isnan(one.closest_cosine)


def test_embedding_geometry_single_talker_is_nan():
    from sepviz.geometry import embedding_geometry

    v, _, s = _geometry_inputs()
    a = torch.zeros(2, *s.shape)
    a[0] = 1.0
    geo = embedding_geometry(v, a, s)
    assert np.isnan(geo.silhouette) and np.isnan(geo.closest_cosine)


def test_embedding_geometry_subsample_is_seeded():
    from sepviz.geometry import embedding_geometry

    v, a, s = _geometry_inputs(T=40, F=40, same=True, seed=3)
    full = embedding_geometry(v, a, s, max_bins=10 ** 6)
    g1 = embedding_geometry(v, a, s, max_bins=300, seed=5)
    g2 = embedding_geometry(v, a, s, max_bins=300, seed=5)
    assert g1.silhouette == g2.silhouette and g1.closest_cosine == g2.closest_cosine
    assert g1.closest_cosine == full.closest_cosine  # the attractors use every salient bin
    assert g1.silhouette != full.silhouette  # 300 of 1600 bins: not the full score
    assert embedding_geometry(v, a, s, max_bins=300, seed=6).silhouette != g1.silhouette


def test_evaluate_json_holds_the_embedding_geometry(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    from sepviz.cli import main

    code = main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(wsj0_2mix_dir), "--clusterer",
                 "kmeans", "--oracle", "--no-pesq"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    geo = result["geometry"]
    assert set(geo) == {"silhouette", "closest_attractor_cosine"}
    sil = result["extra"]["per_mixture"]["silhouette"]
    assert len(sil) == result["n"] == 3 and all(-1.0 <= x <= 1.0 for x in sil)
    assert geo["silhouette"] == pytest.approx(float(np.mean(sil)))
    assert -1.0 <= geo["closest_attractor_cosine"] <= 1.0
    assert "embedding geometry (any clusterer): silhouette" in out
