"""Seeded, speaker-disjoint train/valid/test splits.

Why: separation quality must be measured on voices the model never heard. Splits are made over
*groups* (`Utterance.group`: all pitch/tempo-shifted copies of one TTS voice share a group), so a
test talker is never a shifted twin of a training talker. Groups are ordered by (gender, engine or
language) and the valid/test groups are picked evenly spaced along that order (systematic
stratified sampling), so held-out sets cover both genders and several engines/languages.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

import numpy as np

from training.data.corpora import Utterance

SPLITS = ("train", "valid", "test")
FRACTIONS = (0.8, 0.1, 0.1)

# FSDD has only four speakers, so it is split by explicit lists. "eval" (default): every speaker is
# an evaluation talker (models are trained on the synthetic corpus). "finetune": two speakers to
# adapt on, the other two held out; its valid set is every 10th utterance of the train speakers
# (utterance-disjoint, not speaker-disjoint: two speakers cannot be split further and still mix).
FSDD_SPEAKERS = ("george", "jackson", "nicolas", "theo")
FSDD_SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "eval": {"train": (), "valid": (), "test": FSDD_SPEAKERS},
    "finetune": {"train": ("george", "nicolas"), "valid": ("george", "nicolas"), "test": ("jackson", "theo")},
}


# LibriSpeech (../shared/data/librispeech, 191 readers): 20 validation and 25 test readers, picked
# evenly along the gender order so both sets are gender-balanced; the rest train.
LIBRISPEECH_HELD_OUT = {"valid": 20, "test": 25}
# The Asterisk prompt voices (7, one man): June (fr-CA) is never trained on, so a real voice of a
# corpus left out of training is in the cross-corpus test folder; the others train.
ASTERISK_SPLITS: dict[str, tuple[str, ...]] = {"valid": (), "test": ("june",)}


def _key(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def _group(u: Utterance) -> str:
    return u.group or u.speaker


def _evenly(items: list[str], k: int, rng: np.random.Generator) -> list[str]:
    """k items spread evenly over the list, with a seeded offset."""
    if k <= 0:
        return []
    step = len(items) / k
    off = rng.uniform(0, step)
    return [items[min(len(items) - 1, int(off + j * step))] for j in range(k)]


def assign_groups(utterances: Iterable[Utterance], seed: int = 0,
                  fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, str]:
    """Map every group to "train" / "valid" / "test" (deterministic from group ids and seed)."""
    strata: dict[str, tuple[str, str]] = {}
    speakers: dict[str, set[str]] = defaultdict(set)
    for u in utterances:
        g = _group(u)
        strata.setdefault(g, (u.gender, u.engine or u.language or u.corpus))
        speakers[g].add(u.speaker)
    owner: dict[str, str] = {}
    for g, spks in speakers.items():
        for s in spks:
            if owner.setdefault(s, g) != g:
                raise ValueError(f"speaker {s!r} belongs to groups {owner[s]!r} and {g!r}")
    order = sorted(strata, key=lambda g: (strata[g], _key(seed, g)))
    n = len(order)
    # valid/test each need >= 2 speakers to form a mixture: with one-speaker groups take >= 2 groups
    min_groups = 1 if min((len(s) for s in speakers.values()), default=1) >= 2 else 2
    n_test = max(round(fractions[2] * n), min_groups) if n >= 3 * min_groups and fractions[2] > 0 else 0
    n_valid = max(round(fractions[1] * n), min_groups) if n - n_test >= 2 * min_groups and fractions[1] > 0 else 0
    rng = np.random.default_rng(_key(seed, "split"))
    test = set(_evenly(order, n_test, rng))
    rest = [g for g in order if g not in test]
    valid = set(_evenly(rest, n_valid, rng))
    return {g: "test" if g in test else "valid" if g in valid else "train" for g in order}


def fsdd_split(utterances: list[Utterance], split: str, scheme: str = "eval") -> list[Utterance]:
    """FSDD subset by the explicit speaker lists in FSDD_SPLITS[scheme]."""
    table = FSDD_SPLITS[scheme]
    spk = set(table[split])
    chosen = [u for u in utterances if u.speaker in spk]
    if split in ("train", "valid") and table["train"] and table["train"] == table["valid"]:
        held = {u.id for u in sorted(chosen, key=lambda u: u.id)[9::10]}
        chosen = [u for u in chosen if (u.id in held) == (split == "valid")]
    return chosen


def split_utterances(utterances: list[Utterance], split: str, seed: int = 0,
                     fractions: tuple[float, float, float] = FRACTIONS, fsdd_scheme: str = "eval") -> list[Utterance]:
    """Utterances of one split ("train" | "valid" | "test"); FSDD-only input uses FSDD_SPLITS."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    corpora = {u.corpus for u in utterances}
    if corpora == {"fsdd"}:
        return fsdd_split(utterances, split, fsdd_scheme)
    if corpora == {"asterisk"}:
        held = {v for k in ("valid", "test") for v in ASTERISK_SPLITS[k]}
        if split == "train":
            return [u for u in utterances if u.speaker not in held]
        return [u for u in utterances if u.speaker in ASTERISK_SPLITS[split]]
    if corpora == {"librispeech"}:
        n = len({_group(u) for u in utterances})
        if n >= 3 * sum(LIBRISPEECH_HELD_OUT.values()) // 2:
            fractions = (1.0 - sum(LIBRISPEECH_HELD_OUT.values()) / n, LIBRISPEECH_HELD_OUT["valid"] / n,
                         LIBRISPEECH_HELD_OUT["test"] / n)
    where = assign_groups(utterances, seed, fractions)
    return [u for u in utterances if where[_group(u)] == split]


def describe(utterances: list[Utterance], hours: bool = False) -> dict:
    """Counts for logs/reports: speakers, female speakers, groups, utterances (and with `hours`
    the audio's duration, read from the file headers)."""
    spk = {u.speaker: u.gender for u in utterances}
    out = {"speakers": len(spk), "female": sum(g == "f" for g in spk.values()),
           "groups": len({_group(u) for u in utterances}), "utterances": len(utterances)}
    if hours:
        import soundfile as sf

        secs = sum(len(u.audio) / u.sample_rate if u.audio is not None else sf.info(str(u.path)).duration
                   for u in utterances)
        out["hours"] = round(secs / 3600, 2)
    return out
