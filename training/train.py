"""Train a seed system from its recipe.

    python -m training.train danet_blstm --profile cpu --out checkpoints/default.pt
    python -m training.train danet_bgru_gmm --stages --out-dir runs          # the recipe's [[stages]] (training.stages)
    torchrun --nproc_per_node=4 -m training.train danet_blstm --out my.pt      # 4 GPUs (or CPU processes)

Data: on-the-fly mixing (wsj0-2mix recipe) of the speaker-disjoint train split of the corpus;
validation on a fixed, seeded set of mixtures of the *validation* speakers.  Or, with
``data.corpus = "wsj0mix"`` / ``"librimix"``, a precomputed folder read lazily (its train and
validation subfolders).  Under torchrun the run is data-parallel (training.distributed): each
process draws its own share of the items, and every update still sees the recipe's batch_size.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from sepviz.threads import limit_threads

from . import distributed
from .config import TrainConfig, load_recipe
from .trainer import Trainer


class CurriculumMix(torch.utils.data.Dataset):
    """On-the-fly mixtures whose chunk length the trainer changes per curriculum stage.

    ``pools`` is a list of ``(utterances, probability)``: each item is drawn from one pool (e.g.
    the synthetic corpus, or FSDD real speech for fine-tuning) with the given probability.
    ``speaker_index`` (speaker -> row) makes items carry speaker ids (:class:`DynamicMixDataset`).
    """

    def __init__(self, pools, n_speakers, items: int, seed: int, mode: str, fixed: bool = False,
                 speed_perturb: float = 0.0, reverb: float = 0.0, noise: float = 0.0,
                 speaker_index: dict[str, int] | None = None) -> None:
        from .data.mixing import DynamicMixDataset, formable_counts

        counts = (n_speakers,) if isinstance(n_speakers, int) else tuple(n_speakers)
        bank = None
        if reverb > 0:
            from .data.rooms import load_bank

            bank = load_bank()  # one bank for every pool
        self.sets = [DynamicMixDataset(u, n_speakers=formable_counts(u, counts), segment_samples=6400,
                                       epoch_size=items, seed=seed + 7919 * k, mode=mode, speed_perturb=speed_perturb,
                                       n_rows=max(counts), reverb=reverb, noise=noise,
                                       rir_bank=bank, speaker_index=speaker_index)
                     for k, (u, _) in enumerate(pools)]
        self.speaker_index = speaker_index
        probs = torch.tensor([p for _, p in pools], dtype=torch.float64)
        self.cum = (probs / probs.sum()).cumsum(0)
        self.items, self.seed, self.fixed, self.epoch = items, seed, fixed, 0

    def set_segment(self, samples: int) -> None:
        for ds in self.sets:
            ds.segment_samples = samples

    def set_epoch(self, epoch: int) -> None:
        if not self.fixed:  # validation: the same mixtures every epoch
            self.epoch = epoch
            for ds in self.sets:
                ds.set_epoch(epoch)

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, i):
        u = float(np.random.default_rng([self.seed, self.epoch, int(i), 17]).random())
        k = int(torch.searchsorted(self.cum, torch.tensor(u, dtype=torch.float64)).clamp(max=len(self.sets) - 1))
        return self.sets[k][i]


def _pooled(d) -> tuple[list, list, dict]:
    """Training and validation pools of ``data.pools``, and their summary for the model card."""
    from .data import corpora, splits

    names = [str(n) for n, _ in d.pools]
    unknown = sorted(set(names) - set(corpora.CORPORA) - {"union"})
    if unknown:
        raise ValueError(f"data.pools names unknown corpora {unknown}; choose from {sorted(corpora.CORPORA)} or 'union'")
    parts: dict[str, dict[str, list]] = {}
    for name in dict.fromkeys(n for n in names if n != "union"):
        utts = corpora.CORPORA[name](d.root) if name == "synth" else corpora.CORPORA[name]()
        scheme = {"fsdd_scheme": "finetune"} if name == "fsdd" else {}
        parts[name] = {s: splits.split_utterances(utts, s, seed=d.seed, **scheme) for s in ("train", "valid")}
    union_train = [u for p in parts.values() for u in p["train"]]
    train = [(union_train if n == "union" else parts[n]["train"], float(w)) for n, w in d.pools]
    valid = [(parts[n]["valid"], float(w)) for n, w in d.pools if n != "union" and len({
        u.speaker for u in parts[n]["valid"]}) >= 2]
    summary = {name: {"train": splits.describe(p["train"], hours=True), "valid": splits.describe(p["valid"])}
               for name, p in parts.items()}
    total = sum(float(w) for _, w in d.pools)
    summary["weights"] = {n: round(float(w) / total, 4) for n, w in d.pools}
    return train, valid, summary


def speaker_index(pools) -> dict[str, int]:
    """Speaker name -> row of the source-contrastive speaker table, over every training pool."""
    return {s: i for i, s in enumerate(sorted({u.speaker for pool, _ in pools for u in pool}))}


# the training and validation subfolders of a precomputed corpus (wsj0-2mix's scripts; LibriMix's)
MIXTURE_SPLITS = {"wsj0mix": ("tr", "cv"), "librimix": ("train-360", "dev")}


def _precomputed(cfg: TrainConfig):
    """Training and validation sets of a precomputed mixture folder, read lazily (paths only)."""
    from .data.mixing import MixtureFolderDataset

    d = cfg.data
    if d.pools or d.finetune_fsdd_fraction or d.fsdd_shifts or d.speed_perturb or d.reverb or d.noise:
        raise ValueError(f"data.corpus = {d.corpus!r} reads fixed mixtures: pools, FSDD fine-tuning and "
                         "perturbations need a corpus mixed on the fly")
    dirs = [Path(d.root) / (given or default) for given, default in zip((d.train_dir, d.valid_dir),
                                                                      MIXTURE_SPLITS[d.corpus])]
    for folder in dirs:
        if not folder.is_dir():
            raise ValueError(f"{d.corpus} folder not found: {folder} (set data.root, data.train_dir, data.valid_dir)")
    rows = max(d.n_speakers)
    seed = d.seed if d.mix_seed is None else d.mix_seed
    try:
        train = MixtureFolderDataset(dirs[0], 6400, corpus=d.corpus, random_crop=True, seed=seed, n_rows=rows)
        valid = MixtureFolderDataset(dirs[1], 6400, corpus=d.corpus, n_rows=rows, limit=d.valid_items)
    except FileNotFoundError as exc:  # a folder without its mix/ s1/ s2/ files
        raise ValueError(str(exc)) from None
    summary = {"corpus": d.corpus, "root": d.root, "n_speakers": d.n_speakers,
               "train": {"folder": str(dirs[0]), "mixtures": len(train), "talkers": train.n_sources},
               "valid": {"folder": str(dirs[1]), "mixtures": len(valid), "talkers": valid.n_sources},
               "mixing": "precomputed, read lazily; a random chunk of each mixture per epoch",
               "items_per_epoch": len(train)}
    return train, valid, summary


def build_datasets(cfg: TrainConfig):
    from .data import corpora, splits

    d = cfg.data
    if d.corpus in corpora.MIXTURE_CORPORA:
        return _precomputed(cfg)
    n_spk = tuple(d.n_speakers) if len(d.n_speakers) > 1 else d.n_speakers[0]
    if d.pools:
        if d.finetune_fsdd_fraction or d.fsdd_shifts:
            raise ValueError("data.pools names FSDD itself: leave finetune_fsdd_fraction and fsdd_shifts at 0")
        train_pools, valid_pools, pools = _pooled(d)
        summary = {"corpus": "+".join(dict.fromkeys(n for n, _ in d.pools if n != "union")), "pools": pools,
                   "n_speakers": d.n_speakers, "mode": d.mode, "split": "speaker-disjoint (training.data.splits)",
                   "mixing": "dynamic, 0-5 dB, wsj0-2mix recipe", "items_per_epoch": d.train_items_per_epoch,
                   "train": splits.describe([x for pool, _ in train_pools for x in pool]),
                   "valid": splits.describe([x for pool, _ in valid_pools for x in pool])}
        for key in ("speed_perturb", "reverb", "noise"):
            if getattr(d, key):
                summary[key] = getattr(d, key)
        mix_seed = d.seed if d.mix_seed is None else d.mix_seed
        index = speaker_index(train_pools) if cfg.loss.sce_weight else None
        train = CurriculumMix(train_pools, n_spk, d.train_items_per_epoch, mix_seed, d.mode,
                              speed_perturb=d.speed_perturb, reverb=d.reverb, noise=d.noise,
                              speaker_index=index)
        # validation talkers are unseen: they have no speaker vector (ids -1), so the
        # source-contrastive term adds nothing there and the validation loss stays comparable
        valid = CurriculumMix(valid_pools, n_spk, d.valid_items, d.seed + 1000, d.mode, fixed=True,
                              speaker_index={} if index is not None else None)
        return train, valid, summary
    if d.reverb or d.noise:
        raise ValueError("data.reverb and data.noise need data.pools")
    utts = corpora.CORPORA[d.corpus](d.root)
    parts = {s: splits.split_utterances(utts, s, seed=d.seed) for s in ("train", "valid")}
    train_pools, valid_pools = [(parts["train"], 1.0 - d.finetune_fsdd_fraction)], [(parts["valid"], 1.0)]
    summary = {"corpus": d.corpus, "root": d.root, "n_speakers": d.n_speakers, "mode": d.mode,
               "train": splits.describe(parts["train"]), "valid": splits.describe(parts["valid"]),
               "split": "speaker-disjoint (training.data.splits)",
               "mixing": "dynamic, 0-5 dB, wsj0-2mix recipe", "items_per_epoch": d.train_items_per_epoch}
    if d.speed_perturb:
        summary["speed_perturb"] = d.speed_perturb
    if d.fsdd_shifts and not d.finetune_fsdd_fraction > 0:
        raise ValueError("data.fsdd_shifts copies the FSDD fine-tuning talkers: set data.finetune_fsdd_fraction > 0 too")
    if d.finetune_fsdd_fraction > 0:
        fs = corpora.fsdd()
        fs_train = splits.split_utterances(fs, "train", fsdd_scheme="finetune")
        fs_valid = splits.split_utterances(fs, "valid", fsdd_scheme="finetune")
        if d.fsdd_shifts:
            fs_train = fs_train + corpora.shifted_speakers(fs_train, d.fsdd_shifts, seed=d.seed)
        # FSDD speakers also join the synthetic pool, so real voices meet synthetic ones too.
        train_pools = [(parts["train"] + fs_train, 1.0 - d.finetune_fsdd_fraction), (fs_train, d.finetune_fsdd_fraction)]
        valid_pools = [(parts["valid"], 1.0 - d.finetune_fsdd_fraction), (fs_valid, d.finetune_fsdd_fraction)]
        summary["fsdd_finetune"] = {"fraction": d.finetune_fsdd_fraction, "speakers": sorted({u.group or u.speaker for u in fs_train}),
                                    "utterances": len(fs_train), "scheme": "finetune (test speakers held out)",
                                    "shifted_copies_per_talker": d.fsdd_shifts}
    mix_seed = d.seed if d.mix_seed is None else d.mix_seed
    index = speaker_index(train_pools) if cfg.loss.sce_weight else None
    train = CurriculumMix(train_pools, n_spk, d.train_items_per_epoch, mix_seed, d.mode, speed_perturb=d.speed_perturb,
                          speaker_index=index)
    valid = CurriculumMix(valid_pools, n_spk, d.valid_items, d.seed + 1000, d.mode, fixed=True,
                          speaker_index={} if index is not None else None)
    return train, valid, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", help="recipe name (training/recipes/NAME.toml) or path")
    ap.add_argument("--profile", default=None, help="override table in the recipe, e.g. 'cpu'")
    ap.add_argument("--out", help="checkpoint to write")
    ap.add_argument("--stages", action="store_true",
                    help="run the recipe's [[stages]] in order (training.stages), each into --out-dir")
    ap.add_argument("--out-dir", default="runs", help="with --stages: where each stage's checkpoint and log go")
    ap.add_argument("--from-stage", default=None, metavar="NAME|N",
                    help="with --stages: start at this stage (earlier ones' checkpoints must be in --out-dir)")
    ap.add_argument("--to-stage", default=None, metavar="NAME|N", help="with --stages: stop after this stage")
    ap.add_argument("--root", default=None, help="corpus folder (default from the recipe)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="cuda or cpu; under torchrun each process takes GPU LOCAL_RANK")
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a recipe key (flat or grouped: lr or schedule.lr), e.g. --set batch_size=8 "
                         "--set data.train_items_per_epoch=100; with --stages, for every stage")
    ap.add_argument("--resume", action="store_true", help="continue from OUT.state.pt if present (every rank)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, metavar="N",
                    help="DataLoader worker processes per rank that mix (or read) the training items "
                         "(default 0: in the training process)")
    ap.add_argument("--micro-batch", type=int, default=0, metavar="N",
                    help="at most N items per pass through the network; an update's other items are "
                         "accumulated over further passes, so it still sees the recipe's batch_size "
                         "(default 0: each process's whole share at once)")
    args = ap.parse_args(argv)
    if args.workers < 0 or args.micro_batch < 0:
        ap.error("--workers and --micro-batch must be 0 or more")
    if args.stages == bool(args.out) or (args.stages and args.profile):
        ap.error("give --out (one run) or --stages (the recipe's stages, each with its own profile)")
    overrides: dict = {}
    for item in args.set:
        key, _, val = item.partition("=")
        node = overrides
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = json.loads(val)
    if args.root:
        overrides.setdefault("data", {})["root"] = args.root
    if args.max_minutes is not None:
        overrides["max_minutes"] = args.max_minutes
    if args.threads:
        limit_threads(args.threads)
    try:  # a recipe or stage list that cannot work: one line, not a traceback
        if args.stages:
            from .stages import run_stages

            return run_stages(args.recipe, args.out_dir, lambda cfg, out: train_one(cfg, out, args),
                              from_stage=args.from_stage, to_stage=args.to_stage,
                              overrides=overrides, fresh_logs=not args.resume)
        cfg = load_recipe(args.recipe, args.profile, overrides)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return train_one(cfg, args.out, args)


def train_one(cfg: TrainConfig, out: str | Path, args: argparse.Namespace) -> int:
    """One training run of ``cfg`` into ``out`` with the command line's device and process settings."""
    try:  # a split or corpus that cannot work: one line, not a traceback
        dist, device = distributed.setup(args.device)  # a world of one without torchrun
        plan = distributed.batch_plan(cfg.schedule.batch_size, dist.world_size, args.micro_batch)
        train, valid, summary = build_datasets(cfg)
        trainer = Trainer(cfg, out, train, valid, device=device, data_summary=summary,
                          num_workers=args.workers, dist=dist, micro_batch=args.micro_batch)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # a missing corpus or a bad data setting
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if dist.is_main:
        where = (f" on {dist.world_size} processes ({dist.backend}; each update's {plan.batch_size} items: "
                 f"{plan.per_rank} per process, in passes of {plan.micro_batch})" if dist.enabled else "")
        print(f"training {cfg.name} ({cfg.model} {cfg.model_kwargs}, {cfg.objective}) on {summary['train']} "
              f"-> {out}{where}", flush=True)
    if args.resume:
        trainer.try_resume()
    path = trainer.fit()
    distributed.shutdown(dist)  # every rank waits for rank 0's checkpoint
    if dist.is_main:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
