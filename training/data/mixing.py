"""The wsj0-2mix mixing recipe, as fixed folders and as an on-the-fly training dataset.

Recipe (Hershey et al. 2016 / Isik et al. 2016 scripts): C = 2 or 3 utterances of different
speakers, resampled to 8 kHz, each normalised to the same active speech level, then given a random
relative level of 0-5 dB (source 1 is the reference; each further source sits 0-5 dB below it);
"min" cuts all to the shortest, "max" zero-pads to the longest; everything is scaled down together
if the mixture would exceed 0.9. Sources are returned *after* all scaling, so they sum exactly to
the mixture (the training targets).
"""
from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
import torch

from training.data.corpora import SAMPLE_RATE, Utterance
from training.data.levels import active_level_db, mix_signals  # noqa: F401 - the tests and callers read them here too

MAX_LEVEL_DB = 5.0
GENDER_RULES = ("any", "mixed", "same")


def draw_levels(n_sources: int, rng: np.random.Generator, max_db: float = MAX_LEVEL_DB) -> list[float]:
    """Source 1 at 0 dB; every further source 0-max_db dB below it (its own draw)."""
    return [0.0] + [-float(rng.uniform(0, max_db)) for _ in range(n_sources - 1)]


class _Picker:
    """Draws C utterances of C different speakers, speaker-uniformly (not utterance-uniformly)."""

    def __init__(self, utterances: Sequence[Utterance]) -> None:
        self.utterances = list(utterances)
        by_spk: dict[str, list[int]] = {}
        for k, u in enumerate(self.utterances):
            by_spk.setdefault(u.speaker, []).append(k)
        self.speakers = sorted(by_spk)
        self.by_speaker = by_spk

    def pick(self, n: int, rng: np.random.Generator, genders: str = "any") -> list[int]:
        """Utterance indices of `n` different speakers; `genders` "mixed" wants both genders among
        them, "same" one gender (drawn again until it holds; "any" draws once, as always)."""
        if n > len(self.speakers):
            raise ValueError(f"need {n} different speakers, have {len(self.speakers)}")
        if genders not in GENDER_RULES:
            raise ValueError(f"genders must be one of {GENDER_RULES}, not {genders!r}")
        for _ in range(10000):
            spk = rng.choice(len(self.speakers), size=n, replace=False)
            kinds = {self.utterances[self.by_speaker[self.speakers[s]][0]].gender for s in spk}
            if genders == "any" or (genders == "mixed" and kinds >= {"f", "m"}) or (genders == "same" and len(kinds) == 1):
                return [int(rng.choice(self.by_speaker[self.speakers[s]])) for s in spk]
        raise ValueError(f"cannot draw {n} speakers of {genders} gender from {len(self.speakers)} speakers")


def formable_counts(utterances: Sequence[Utterance], counts: Sequence[int]) -> tuple[int, ...]:
    """The talker counts in ``counts`` that ``utterances`` have enough speakers for (speakers as
    :class:`_Picker` draws them).  Why: a pool pooled into a 2/3-talker recipe (the two FSDD
    fine-tuning talkers in validation) then gives 2-talker mixtures instead of no pool at all."""
    n = len(_Picker(utterances).speakers)
    ok = tuple(c for c in counts if c <= n)
    if not ok:
        raise ValueError(f"{min(counts)}-talker mixtures need more speakers than {n}")
    if ok != tuple(counts):
        print(f"note: a pool of {n} talkers gives {'/'.join(map(str, ok))}-talker mixtures only", file=sys.stderr)
    return ok


@dataclass
class MixtureRecord:
    """One row of mixtures.tsv: what went into a written mixture."""

    name: str
    speakers: list[str]
    utterances: list[str]
    levels_db: list[float]
    gains: list[float]
    samples: int


def write_mixture_folder(out: str | Path, utterances: Sequence[Utterance], n: int, n_speakers: int = 2,
                         seed: int = 0, mode: str = "min", sample_rate: int = SAMPLE_RATE,
                         genders: str = "any") -> list[MixtureRecord]:
    """Write `n` mixtures in the wsj0-2mix layout: out/mix, out/s1, out/s2 [, out/s3] + mixtures.tsv.

    `genders`: "any", or "mixed" / "same" for mixtures of both genders / one gender.

    Files are float32 WAV, so mix == s1 + s2 (+ s3) holds exactly on disk.
    """
    out = Path(out)
    dirs = ["mix"] + [f"s{c + 1}" for c in range(n_speakers)]
    for d in dirs:
        (out / d).mkdir(parents=True, exist_ok=True)
    picker, rng = _Picker(utterances), np.random.default_rng(seed)
    cache: dict[int, np.ndarray] = {}
    records = []
    for k in range(n):
        idx = picker.pick(n_speakers, rng, genders)
        levels = draw_levels(n_speakers, rng)
        sig = [cache.setdefault(i, utterances[i].load(sample_rate)) for i in idx]
        mix, src, gains = mix_signals(sig, levels, mode, sample_rate)
        spk = [utterances[i].speaker for i in idx]
        name = f"{k:05d}_" + "_".join(spk)
        for d, x in zip(dirs, [mix, *src]):
            sf.write(str(out / d / f"{name}.wav"), x, sample_rate, subtype="FLOAT")
        records.append(MixtureRecord(name, spk, [_source_ref(utterances[i]) for i in idx], levels,
                                     [float(g) for g in gains], len(mix)))
    with open(out / "mixtures.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["name", "speakers", "sources", "levels_db", "gains", "seconds"])
        for r in records:
            w.writerow([r.name, ",".join(r.speakers), ",".join(r.utterances), ",".join(f"{v:.3f}" for v in r.levels_db),
                        ",".join(f"{g:.6g}" for g in r.gains), f"{r.samples / sample_rate:.3f}"])
    return records


def _source_ref(u: Utterance) -> str:
    return str(u.path) if u.path is not None else f"{u.corpus}:{u.id}"


def _fit(x: torch.Tensor, length: int, start: int) -> torch.Tensor:
    """Crop the last axis to `length` from `start`, or zero-pad at the end."""
    if x.shape[-1] >= length:
        return x[..., start: start + length]
    return torch.nn.functional.pad(x, (0, length - x.shape[-1]))


def change_speed(x: np.ndarray, speed: float) -> np.ndarray:
    """Play ``x`` ``speed`` times faster at the same sample rate (pitch and formants scale too).

    Polyphase resampling by 100 / round(100 * speed): anti-aliased, and exact for 1.0.
    """
    from sepviz.audio import resample

    down = int(round(100 * speed))
    if down <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    if down == 100:
        return x
    return resample(x, down, 100)  # "from down Hz to 100 Hz": up 100, down `down`


def random_equaliser(x: np.ndarray, max_db: float, rng: np.random.Generator,
                     sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Filter ``x`` with a random smooth timbre: a spectral tilt and one bell, each within ±``max_db``.

    Why: the synthetic talkers are studio-clean, real voices come through other throats, rooms
    and microphones; a random colouring per source is a new timbre (a virtual talker) at the same
    pitch and tempo, which speed perturbation cannot give.  Gain in dB at frequency f:
    ``a * log2(f / 1 kHz) / 2 + b * exp(-(log2(f / f0) / w)^2 / 2)``, with a, b uniform in
    ±max_db, f0 log-uniform in 200-3600 Hz and w in 0.3-1 octave.  Zero-phase (FFT) filtering of
    the whole utterance: the curve is smooth, so its impulse response is short.
    """
    if max_db <= 0:
        return x
    a, b = rng.uniform(-max_db, max_db, size=2)
    f0 = float(np.exp(rng.uniform(np.log(200.0), np.log(3600.0))))
    w = float(rng.uniform(0.3, 1.0))
    n = len(x)
    log2_f = np.log2(np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), 62.5))  # DC counts as 62.5 Hz
    gain_db = a * (log2_f - np.log2(1000.0)) / 2 + b * np.exp(-0.5 * ((log2_f - np.log2(f0)) / w) ** 2)
    return np.fft.irfft(np.fft.rfft(x) * 10 ** (gain_db / 20), n).astype(np.float32)


class DynamicMixDataset(torch.utils.data.Dataset):
    """On-the-fly wsj0-2mix mixtures for training: a fresh, reproducible set every epoch.

    Item i of epoch e depends only on (seed, e, i). Items have a fixed length (random crop or
    zero-pad to the segment) and ``max(n_speakers)`` source rows; a 2-talker item in a (2, 3)
    dataset gets an all-zero third source. Decoded audio is cached in memory per process.

    ``speed_perturb = s`` plays each source at a random speed in [1 - s, 1 + s] (resampling, so
    pitch, formants and tempo move together, as Kaldi's speed perturbation): every draw is a new
    virtual talker, which fights the over-fitting to the training talkers that a corpus of a few
    hundred voices invites. The speed is quantised to 1 % so the polyphase filter stays short.
    ``eq_perturb = g`` colours each source with a random tilt and bell of up to ±g dB
    (:func:`random_equaliser`): a new timbre at the same pitch.
    ``reverb = p`` puts a share p of the items in a room drawn from ``rir_bank``
    (:mod:`training.data.rooms`; references: each talker's direct path and early reflections),
    ``noise = q`` adds coloured noise at 10-30 dB SNR to a share q; such an item's mixture is
    then not the sum of its sources.
    With ``speaker_index`` (speaker name -> row of a speaker table) items are ``(mixture, sources,
    speaker_ids (C_max,))``, -1 for absent talkers and speakers not in the index (the
    source-contrastive objective's targets).
    """

    def __init__(self, utterances: Sequence[Utterance], n_speakers: int | Sequence[int] = 2,
                 segment_seconds: float | None = None, segment_samples: int | None = None,
                 epoch_size: int = 1000, seed: int = 0, mode: str = "min", sample_rate: int = SAMPLE_RATE,
                 max_level_db: float = MAX_LEVEL_DB, speed_perturb: float = 0.0,
                 eq_perturb: float = 0.0, n_rows: int | None = None, reverb: float = 0.0, noise: float = 0.0,
                 rir_bank: dict | None = None, speaker_index: dict[str, int] | None = None) -> None:
        if not (0.0 <= reverb <= 1.0 and 0.0 <= noise <= 1.0):
            raise ValueError(f"reverb and noise are shares of the items, in [0, 1]; got {reverb}, {noise}")
        if reverb > 0 and rir_bank is None:
            from training.data.rooms import load_bank

            rir_bank = load_bank()
        self.reverb, self.noise, self.rir_bank = float(reverb), float(noise), rir_bank
        self.speaker_index = speaker_index
        if not 0.0 <= speed_perturb < 0.5:
            raise ValueError(f"speed_perturb must be in [0, 0.5), got {speed_perturb}")
        if not 0.0 <= eq_perturb <= 24.0:
            raise ValueError(f"eq_perturb must be in [0, 24] dB, got {eq_perturb}")
        self.eq_perturb = float(eq_perturb)
        self.utterances = list(utterances)
        self.speed_perturb = float(speed_perturb)
        self.n_speakers = (n_speakers,) if isinstance(n_speakers, int) else tuple(n_speakers)
        # source rows per item: more than the largest count when this set is pooled with others
        # that mix more talkers (all items of a batch need the same rows)
        self.n_out = max(self.n_speakers) if n_rows is None else int(n_rows)
        if self.n_out < max(self.n_speakers):
            raise ValueError(f"n_rows={n_rows} is fewer than the {max(self.n_speakers)} talkers a mixture may hold")
        self.sample_rate = sample_rate
        self.segment_samples = segment_samples if segment_samples is not None else (
            int(round(segment_seconds * sample_rate)) if segment_seconds is not None else None)
        self.epoch_size, self.seed, self.mode, self.max_level_db = epoch_size, seed, mode, max_level_db
        self.epoch = 0
        self._picker = _Picker(self.utterances)
        if max(self.n_speakers) > len(self._picker.speakers):
            raise ValueError(f"{max(self.n_speakers)}-talker mixtures need more speakers than "
                             f"{len(self._picker.speakers)}")
        self._cache: dict[int, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.epoch_size

    def audio(self, k: int) -> np.ndarray:
        """Samples of utterance k; files are decoded once and kept as int16 (half the memory of
        float32, lossless for the PCM16 corpora: ~0.5 GB for 8 h at 8 kHz)."""
        u = self.utterances[k]
        if u.audio is not None and u.sample_rate == self.sample_rate:
            return u.audio
        if k not in self._cache:
            self._cache[k] = np.clip(np.round(u.load(self.sample_rate) * 32768), -32768, 32767).astype(np.int16)
        return self._cache[k].astype(np.float32) / 32768

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        c = int(rng.choice(self.n_speakers))
        idx = self._picker.pick(c, rng)
        levels = draw_levels(c, rng, self.max_level_db)
        signals = [self.audio(k) for k in idx]
        if self.speed_perturb > 0:  # drawn after the levels, so items without it stay as they were
            speeds = rng.uniform(1 - self.speed_perturb, 1 + self.speed_perturb, size=c)
            signals = [change_speed(x, s) for x, s in zip(signals, speeds)]
        if self.eq_perturb > 0:  # drawn last, for the same reason
            signals = [random_equaliser(x, self.eq_perturb, rng, self.sample_rate) for x in signals]
        mix = None
        if self.reverb > 0 or self.noise > 0:  # drawn last too: items without rooms or noise stay as they were
            from training.data.rooms import room_mixture

            wet, noisy = rng.random() < self.reverb, rng.random() < self.noise
            if wet or noisy:
                mix, src = room_mixture(signals, levels, rng, bank=self.rir_bank if wet else None,
                                        snr_db=float(rng.uniform(10, 30)) if noisy else None, mode=self.mode,
                                        sample_rate=self.sample_rate)
        if mix is None:
            _, src, _ = mix_signals(signals, levels, self.mode, self.sample_rate)
        sources = torch.zeros(self.n_out, src.shape[1])
        sources[:c] = torch.from_numpy(src)
        mixture = sources.sum(0) if mix is None else torch.from_numpy(mix)
        if self.segment_samples is not None:
            start = int(rng.integers(0, max(1, sources.shape[1] - self.segment_samples + 1)))
            sources = _fit(sources, self.segment_samples, start)
            mixture = _fit(mixture, self.segment_samples, start)
        if self.speaker_index is None:
            return mixture, sources
        ids = torch.full((self.n_out,), -1, dtype=torch.long)
        ids[:c] = torch.tensor([self.speaker_index.get(self.utterances[k].speaker, -1) for k in idx])
        return mixture, sources, ids


class MixtureFolderDataset(torch.utils.data.Dataset):
    """A fixed wsj0-2mix-layout folder (mix/ s1/ s2/ [s3/]), or LibriMix's (mix_clean/ s1/ ...).

    Lazy: the folder is listed once (paths only) and item i reads its own files when asked, so a
    30-hour wsj0-2mix or a 100-hour LibriMix never sits in memory, and DataLoader workers share
    the reading.  With `segment` (samples) items are cut from the start or zero-padded at the end,
    so the same folder always yields the same tensors; with `random_crop` (training) the cut starts
    at a random sample drawn from (seed, epoch, i), a new chunk of each long mixture every epoch.
    `n_rows` pads the sources with all-zero rows (absent talkers) for a model of more outputs;
    `limit` keeps that many mixtures spread evenly over the sorted folder (a validation subset).
    `set_segment` and `set_epoch` are what the trainer calls between curriculum stages and epochs.
    """

    def __init__(self, root: str | Path, segment: int | None = None, sample_rate: int = SAMPLE_RATE, *,
                 corpus: str = "wsj0mix", random_crop: bool = False, seed: int = 0, n_rows: int | None = None,
                 limit: int | None = None) -> None:
        from training.data.corpora import MIXTURE_CORPORA

        if corpus not in MIXTURE_CORPORA:
            raise ValueError(f"unknown mixture corpus {corpus!r}; choose from {sorted(MIXTURE_CORPORA)}")
        examples = MIXTURE_CORPORA[corpus](root)
        if not examples:
            raise FileNotFoundError(f"no mix/ s1/ s2/ examples under {root}")
        if limit is not None and 0 < limit < len(examples):
            examples = [examples[int(k)] for k in np.unique(np.linspace(0, len(examples) - 1, limit).round())]
        counts = {len(ex.sources) for ex in examples}
        self.n_sources = max(counts)
        self.n_rows = self.n_sources if n_rows is None else int(n_rows)
        if self.n_rows < self.n_sources:
            raise ValueError(f"{root} has mixtures of {self.n_sources} talkers; the model separates {self.n_rows}")
        self.examples, self.segment, self.sample_rate = examples, segment, sample_rate
        self.random_crop, self.seed, self.epoch = random_crop, seed, 0

    def set_segment(self, samples: int | None) -> None:
        self.segment = samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mixture (T,), sources (n_rows, T))`` float32, T = ``segment`` when set."""
        mix, src = self.examples[i].load(self.sample_rate)
        mixture = torch.from_numpy(mix)
        sources = torch.zeros(self.n_rows, src.shape[1])
        sources[: src.shape[0]] = torch.from_numpy(src)
        if self.segment is not None:
            start = 0
            if self.random_crop and sources.shape[1] > self.segment:
                rng = np.random.default_rng([self.seed, self.epoch, int(i)])
                start = int(rng.integers(0, sources.shape[1] - self.segment + 1))
            mixture, sources = _fit(mixture, self.segment, start), _fit(sources, self.segment, start)
        return mixture, sources
