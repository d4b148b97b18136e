"""Recipes: one TOML file per seed system, with ``[profiles.NAME]`` tables of overrides and, for a
shipped checkpoint, the ``[[stages]]`` that train it (``training.stages``).

The top level holds the paper configuration (e.g. 4 x BLSTM-600); a profile swaps in a smaller
network and budget so the same recipe trains in minutes on a 2-core CPU.

A configuration is grouped per component: the network and the run at the top level of
:class:`TrainConfig`, the loss terms in ``loss`` (:class:`LossConfig`), the optimiser and its
schedule in ``schedule`` (:class:`ScheduleConfig`), the training data in ``data``
(:class:`DataConfig`).  Recipes, ``--set`` keys and the configs stored in checkpoints may name a
loss or schedule option flat (``aux_dc_weight = 30``, ``--set lr=5e-4``) or grouped
(``loss.aux_dc_weight``): both read the same, so older recipes and checkpoints keep loading.
"""
from __future__ import annotations

import copy
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

# the flat view of a stored config lives in sepviz (the studio reads stored configs and must not
# import training); re-exported here for training's own callers
from sepviz.model_card import RECIPE_GROUPS, flat_recipe  # noqa: F401

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
class LossConfig:
    """The training objective's terms and their weights (``training.objectives.batch_loss``)."""

    # danet/adanet reconstruction target: "wfm" (the papers), "psa" (phase-sensitive: the
    # complex-spectrum error of the separated voice) or "sisnr" (the resynthesised voices' SI-SNR)
    target: str = "wfm"
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
    # DPCL++ (Isik et al. 2016): the enhancement layer (TrainConfig.enhance) refines the masks soft
    # k-means gives, trained on the voices' SI-SNR (PIT) with weight ``enhance_weight``;
    # deep-clustering embeddings are soft-assigned at stiffness ``enhance_beta``.
    # ``freeze_embedding`` trains the layer alone (the thesis's first step), then a run without it
    # fine-tunes the whole chain through soft k-means.
    enhance_weight: float = 0.0
    enhance_beta: float = 10.0
    freeze_embedding: bool = False
    # The thesis's last step for the adaptive front-end (fig. 4.3): train its analysis and
    # synthesis filters too, end to end on the voices' SI-SNR (target "sisnr" only: with a mask
    # target the front-end would move its own targets).
    train_frontend: bool = False
    # the adaptive front-end's separation-autoencoder pretraining (objective "adaptive_ae"): NMSE +
    # ae_sparsity * KL(ae_rho || mean activation) + ae_overlap * the overlapping term
    ae_sparsity: float = 0.01
    ae_rho: float = 0.05
    ae_overlap: float = 0.1


@dataclass
class ScheduleConfig:
    """Batches, optimiser and when to stop (``training.trainer.Trainer``)."""

    batch_size: int = 16
    lr: float = 1e-3
    clip_norm: float = 5.0
    # curriculum: list of [frames, epochs]; the papers train on 100-frame chunks, then 400.
    # [[400, 0]] with a list `init_from` saves the weight average as it is (no update).
    curriculum: list[list[int]] = field(default_factory=lambda: [[100, 10], [400, 10]])
    patience: int = 3                  # epochs without validation gain before stopping (per stage)
    lr_halving_patience: int = 1       # epochs without gain before halving the learning rate
    max_minutes: float = 0.0           # wall-clock budget (0 = none)


# flat option name -> its group, so `aux_dc_weight = 30` and `loss.aux_dc_weight = 30` read the same
GROUPS = dict(zip(RECIPE_GROUPS, (LossConfig, ScheduleConfig)))  # the group names are sepviz's (one list)
FLAT_KEYS = {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}

# Options of unshipped trials, gone: (the value that meant "off", why).  A stored config naming one
# at that value loads silently (the shipped checkpoints stored them so); a recipe or --set that
# switches one on is refused, and a stored config that did is loaded without it, with a note.
REMOVED = {
    "warmup_steps": (0, "the linear learning-rate warm-up, tried in round 7 and not shipped (docs/history.md)"),
    "tracked_weight": (0.0, "the tracked-attractor loss term, tried in rounds 10-13 and never shipped "
                            "(docs/history.md); the studio's attractor tracking is calibrated, not trained"),
    "tracked": (None, "the window of the tracked-attractor loss term (tracked_weight, never shipped)"),
    "tracked_temperature": (None, "the temperature of the tracked-attractor loss term (never shipped)"),
    "data.eq_perturb": (0.0, "timbre augmentation, tried in round 8 and not shipped (docs/history.md)"),
}


@dataclass
class TrainConfig:
    """One training run: the network and run settings here, the rest in the groups below.

    Reading or setting a grouped option by its flat name (``cfg.lr``, ``cfg.aux_dc_weight = 1``)
    reaches its group, so code written against the flat config keeps working."""

    name: str = "danet_blstm"
    model: str = "blstm"
    model_kwargs: dict = field(default_factory=lambda: {"hidden": 600, "layers": 4, "dropout": 0.0})
    objective: str = "danet"
    mask: str = "softmax"
    keep: float = 0.9
    n_anchors: int = 0
    # DPCL++'s enhancement layer (sepviz.models.enhance; e.g. {"hidden": 300, "layers": 2}); how it
    # is trained is in `loss` (enhance_weight, enhance_beta, freeze_embedding)
    enhance: dict = field(default_factory=dict)
    # The thesis's adaptive front-end (sepviz.frontend.FrontendConfig; empty = the STFT).  With
    # objective "adaptive_ae" it is what the separation autoencoder pretrains (mixture and sources
    # encoded, the sources' latent masks applied to the mixture's, each source decoded); with the
    # separators' objectives the net reads its latent (init_from a pretraining checkpoint).
    frontend: dict = field(default_factory=dict)
    # Start from this checkpoint's weights (same architecture).  A list averages the checkpoints'
    # weights first (a "model soup", Wortsman et al. 2022): runs fine-tuned from one parent with
    # different seeds or weights stay in one basin, and their mean can beat each of them.
    init_from: str | list[str] = ""
    # With an adaptive front-end: an STFT separator whose recurrent embedding net is carried onto
    # the front-end's filters by frequency (training.warm_start), after init_from brought the
    # pretrained front-end.
    net_from: str = ""
    profile: str = ""                  # the recipe's profile table applied (kept for model cards)
    seed: int = 0
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __getattr__(self, name: str):  # only reached for names that are not attributes themselves
        group = self.__dict__.get(FLAT_KEYS.get(name, ""))
        if group is None:
            raise AttributeError(name)
        return getattr(group, name)

    def __setattr__(self, name: str, value) -> None:
        group = self.__dict__.get(FLAT_KEYS.get(name, ""))
        if group is not None:
            setattr(group, name, value)
        else:
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict, where: str = "stored config") -> "TrainConfig":
        """A config from a dict, flat (older checkpoints' ``training.recipe``) or grouped; options
        that are gone are dropped (with a note when they were switched on)."""
        d = nest(raw, where, strict=False)
        return cls(**{k: v for k, v in d.items() if k not in ("data", *GROUPS)},
                   data=DataConfig(**d.get("data", {})),
                   **{g: group(**d.get(g, {})) for g, group in GROUPS.items()})


_TOP = {f.name for f in fields(TrainConfig)} - {"data", *GROUPS}
_DATA = {f.name for f in fields(DataConfig)}


def _problem(msg: str, strict: bool) -> None:
    if strict:
        raise ValueError(msg)
    print(f"note: {msg}; ignored", file=sys.stderr)


def _removed(key: str, value, where: str, strict: bool) -> None:
    off, why = REMOVED[key]
    if value == off or (off is None and not strict):
        return
    _problem(f"{where}: option {key} = {value!r} was removed ({why})", strict)


def nest(raw: dict, where: str = "recipe", strict: bool = True) -> dict:
    """``raw`` with flat loss and schedule options moved into their groups, removed ones dropped.

    ``strict`` (recipes, ``--set``): an unknown option, or a removed one switched on, is an error,
    since the run would not do what it says; else (a stored config) it is dropped with a note."""
    out: dict = {}
    for key, value in raw.items():
        if key in REMOVED:
            _removed(key, value, where, strict)
        elif key in FLAT_KEYS:
            out.setdefault(FLAT_KEYS[key], {})[key] = value
        elif key in GROUPS or key == "data":
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {key} must be a table of options, got {value!r}")
            known = _DATA if key == "data" else {f.name for f in fields(GROUPS[key])}
            for k, v in value.items():
                if f"{key}.{k}" in REMOVED:
                    _removed(f"{key}.{k}", v, where, strict)
                elif k in known:
                    out.setdefault(key, {})[k] = v
                else:
                    _problem(f"{where}: unknown option {key}.{k} (training/config.py lists the options)", strict)
        elif key in _TOP:
            out[key] = value
        else:
            _problem(f"{where}: unknown option {key} (training/config.py lists the options)", strict)
    return out


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "model_kwargs" else v
    return out


def read_recipe(path_or_name: str | Path) -> tuple[Path, dict]:
    """The recipe file (a name in training/recipes/ or a path) and its parsed TOML."""
    path = Path(path_or_name)
    if not path.suffix:
        path = RECIPES_DIR / f"{path_or_name}.toml"
    return path, tomllib.loads(path.read_text())


def load_recipe(path_or_name: str | Path, profile: str | None = None, overrides: dict | None = None) -> TrainConfig:
    """The recipe's top level, then its ``profile`` table, then ``overrides`` (each with flat or
    grouped keys; grouped before merging, so a flat key in one layer overrides a grouped one)."""
    path, raw = read_recipe(path_or_name)
    profiles = raw.pop("profiles", {})
    raw.pop("stages", None)  # how a checkpoint is trained in stages (training.stages), not one run's config
    if profile and profile not in profiles:
        raise ValueError(f"recipe {path.name} has no profile {profile!r} (has {sorted(profiles)})")
    cfg = nest(raw, path.name)
    if profile:
        cfg = _merge(cfg, nest(profiles[profile], f"{path.name} profile {profile}"))
    if overrides:
        cfg = _merge(cfg, nest(overrides, "overrides"))
    cfg.setdefault("name", path.stem)
    cfg.setdefault("profile", profile or "")
    return TrainConfig.from_dict(cfg, path.name)
