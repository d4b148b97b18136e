"""Recipes: one TOML file per seed system, with a ``[profiles.cpu]`` table of overrides.

The top level holds the paper configuration (e.g. 4 x BLSTM-600); a profile swaps in a smaller
network and budget so the same recipe trains in minutes on a 2-core CPU.
"""
from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class DataConfig:
    # an utterance corpus mixed on the fly (synth, fsdd, ...: training.data.corpora.CORPORA), or a
    # precomputed mixture folder read lazily (wsj0mix, librimix: MIXTURE_CORPORA; `root` holds the
    # `train_dir` and `valid_dir` subfolders, and an epoch is one pass over `train_dir`)
    corpus: str = "synth"
    root: str = "data/synth"
    # precomputed folders: subfolders of `root` ("" = the corpus's own: tr/cv for wsj0-2mix,
    # train-360/dev for LibriMix); the validation loss reads `valid_items` of them, evenly spread
    train_dir: str = ""
    valid_dir: str = ""
    n_speakers: list[int] = field(default_factory=lambda: [2])  # e.g. [2, 3] for a mixed model
    mode: str = "min"
    train_items_per_epoch: int = 4000
    valid_items: int = 200
    seed: int = 0                      # speaker split and validation mixtures
    # training mixtures; a warm-started stage sets a new one to see fresh mixtures (None = seed)
    mix_seed: int | None = None
    finetune_fsdd_fraction: float = 0.0  # share of training mixtures drawn from FSDD real speech
    fsdd_shifts: int = 0               # pitch/tempo-shifted copies of each FSDD fine-tuning talker
    # training sources played at a random speed in [1 - s, 1 + s] (new virtual talkers; 0 = off)
    speed_perturb: float = 0.0
    # training sources coloured by a random tilt and bell of up to this many dB (new timbres; 0 = off)
    eq_perturb: float = 0.0
    # Several corpora at once: [[NAME, WEIGHT], ...], NAME a corpus of training.data.corpora.CORPORA
    # (synth reads `root`, the real ones their default folders) or "union" (every named corpus's
    # training talkers in one pool, so real voices meet synthetic ones).  Each training mixture is
    # drawn from one pool with probability WEIGHT / sum; validation uses each corpus's validation
    # talkers.  Empty: `corpus` alone (and `finetune_fsdd_fraction`), as before.
    pools: list[list] = field(default_factory=list)
    # shares of the training mixtures put in a simulated room (training.data.rooms: RT60 0.1-0.6 s,
    # references = direct path + early reflections) and given coloured noise at 10-30 dB SNR
    reverb: float = 0.0
    noise: float = 0.0


@dataclass
class TrainConfig:
    name: str = "danet_blstm"
    model: str = "blstm"
    model_kwargs: dict = field(default_factory=lambda: {"hidden": 600, "layers": 4, "dropout": 0.0})
    objective: str = "danet"
    mask: str = "softmax"
    keep: float = 0.9
    # danet/adanet reconstruction target: "wfm" (the papers), "psa" (phase-sensitive: the
    # complex-spectrum error of the separated voice) or "sisnr" (the resynthesised voices' SI-SNR)
    target: str = "wfm"
    n_anchors: int = 0
    batch_size: int = 16
    lr: float = 1e-3
    clip_norm: float = 5.0
    # curriculum: list of [frames, epochs]; the papers train on 100-frame chunks, then 400
    curriculum: list[list[int]] = field(default_factory=lambda: [[100, 10], [400, 10]])
    patience: int = 3                  # epochs without validation gain before stopping (per stage)
    lr_halving_patience: int = 1       # epochs without gain before halving the learning rate
    # updates over which the learning rate ramps up linearly from lr / warmup_steps to lr.  Meant for
    # warm starts, whose fresh Adam takes full-size first steps.  Measured once (docs/results.md,
    # the seventh session): 200 warm-up updates did not stop a weight average's continuation from
    # losing validation loss in its first 100 updates, so that drop is not the first steps' doing.
    warmup_steps: int = 0
    max_minutes: float = 0.0           # wall-clock budget (0 = none)
    dc_weight: float = 1.0             # upit: weight of the deep-clustering term
    disc_weight: float = 0.1           # upit: discriminative term
    # danet/adanet: weight of an auxiliary deep-clustering loss on the unit-normalised embeddings.
    # The reconstruction loss alone never asks embeddings to form clusters (ideal attractors are
    # given); this term does, so test-time k-means finds the attractors the masks were trained on.
    aux_dc_weight: float = 0.0
    # danet/adanet: weight of a second reconstruction term whose attractors come from soft k-means
    # on the embeddings (as in the studio), scored with PIT.  Ideal attractors are what the papers
    # train with; this term trains the embeddings on the attractors the clusterer really finds.
    clustered_weight: float = 0.0
    # danet/adanet: weight of a third term whose attractors follow the talkers through time from
    # the clustered ones (the studio's attractor tracking, sepviz.tracking): half-window and prior
    # strength as [frames, strength], responsibilities at ``tracked_temperature``.  The clustered
    # term trains one attractor per talker; the studio masks with per-frame ones.
    tracked_weight: float = 0.0
    tracked: list[float] = field(default_factory=lambda: [16, 0.5])
    tracked_temperature: float = 1.6
    # danet/adanet: weight of a source-contrastive term (SCE, sepviz.losses.source_contrastive_loss):
    # a trainable vector per training speaker; every salient bin is pulled to its dominant talker's
    # vector and pushed from the other talkers' (and from ``sce_negatives`` more, "random" or "knn",
    # weight ``sce_mu``).  It asks for what the studio shows: each talker's bins in one cluster.
    # ``sce_silence_db`` > 0 scores only bins within that many dB of the loudest (else the salient bins).
    sce_weight: float = 0.0
    sce_negatives: int = 0
    sce_mu: float = 0.1
    sce_sampling: str = "random"
    sce_silence_db: float = 0.0
    # DPCL++ (Isik et al. 2016): an enhancement layer (sepviz.models.enhance; e.g. {"hidden": 300,
    # "layers": 2}) refines the masks soft k-means gives, trained on the voices' SI-SNR (PIT) with
    # weight ``enhance_weight``; deep-clustering embeddings are soft-assigned at stiffness
    # ``enhance_beta``.  ``freeze_embedding`` trains the layer alone (the thesis's first step),
    # then a run without it fine-tunes the whole chain through soft k-means.
    enhance: dict = field(default_factory=dict)
    enhance_weight: float = 0.0
    enhance_beta: float = 10.0
    freeze_embedding: bool = False
    # The thesis's adaptive front-end (sepviz.frontend.FrontendConfig; empty = the STFT).  With
    # objective "adaptive_ae" it is what the separation autoencoder pretrains (mixture and sources
    # encoded, the sources' latent masks applied to the mixture's, each source decoded), scored by
    # NMSE + ae_sparsity * KL(ae_rho || mean activation) + ae_overlap * the overlapping term; with
    # the separators' objectives the net reads its latent (init_from a pretraining checkpoint).
    frontend: dict = field(default_factory=dict)
    ae_sparsity: float = 0.01
    ae_rho: float = 0.05
    ae_overlap: float = 0.1
    # Start from this checkpoint's weights (same architecture).  A list averages the checkpoints'
    # weights first (a "model soup", Wortsman et al. 2022): runs fine-tuned from one parent with
    # different seeds or weights stay in one basin, and their mean can beat each of them.
    init_from: str | list[str] = ""
    profile: str = ""                  # the recipe's profile table applied (kept for model cards)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "model_kwargs" else v
    return out


def load_recipe(path_or_name: str, profile: str | None = None, overrides: dict | None = None) -> TrainConfig:
    path = Path(path_or_name)
    if not path.suffix:
        path = RECIPES_DIR / f"{path_or_name}.toml"
    raw = tomllib.loads(path.read_text())
    profiles = raw.pop("profiles", {})
    if profile:
        if profile not in profiles:
            raise ValueError(f"recipe {path.name} has no profile {profile!r} (has {sorted(profiles)})")
        raw = _merge(raw, profiles[profile])
    if overrides:
        raw = _merge(raw, overrides)
    data = DataConfig(**raw.pop("data", {}))
    raw.setdefault("name", path.stem)
    raw.setdefault("profile", profile or "")
    return TrainConfig(**raw, data=data)
