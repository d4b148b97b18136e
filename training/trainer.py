"""One trainer for every objective (DANet, ADANet, deep clustering, uPIT/DEF).

Adam; the learning rate is halved when the validation loss stops improving and training stops
early after ``patience`` epochs without gain (per curriculum stage); gradient-norm clipping;
bf16 autocast on GPU; a JSON-lines log; resumable from ``<out>.state.pt``.  At the end the mean
training attractors (fixed-attractor inference) are stored and the checkpoint is written in fp16.

Under ``torchrun`` (a :class:`~training.distributed.DistContext` of several ranks) the loss runs in
``DistributedDataParallel``: each rank draws its own share of every epoch's items, the gradients
are averaged over the ranks, and each update still sees the recipe's ``batch_size`` items (split
over ranks and, with ``micro_batch``, accumulated over passes).  Rank 0 alone validates, logs and
writes the state and the checkpoint; the numbers every rank acts on (the validation loss, the
time budget) are sent to all, so the ranks take the same learning-rate and curriculum steps.
"""
from __future__ import annotations

import contextlib
import json
import sys
import math
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from sepviz.checkpoint import build_danet, save_checkpoint
from sepviz.danet import DANet, DANetConfig
from sepviz.features import StftConfig
from sepviz.frontend import FrontendAutoencoder, FrontendConfig
from sepviz.models import count_parameters

from .config import TrainConfig
from .distributed import DistContext, RankShare, any_rank, batch_plan, from_main, sum_over_ranks
from .warm_start import carry_net_from_checkpoint
from .objectives import TARGETS, SceTerm, autoencoder_loss, batch_loss, make_batch, make_frontend_batch


def build_model(cfg: TrainConfig) -> DANet | FrontendAutoencoder:
    if cfg.objective == "adaptive_ae":  # pretraining: the front-end alone
        return FrontendAutoencoder(cfg.frontend)
    n_out = max(cfg.data.n_speakers)
    return build_danet(DANetConfig(model=cfg.model, model_kwargs=dict(cfg.model_kwargs), objective=cfg.objective,
                                   mask=cfg.mask, n_speakers=n_out, keep=cfg.keep, n_anchors=cfg.n_anchors,
                                   stft=StftConfig().to_dict(), enhance=dict(cfg.enhance),
                                   frontend=dict(cfg.frontend)))


def fixed_attractors_from(attractors: torch.Tensor, n_speakers: int, seed: int = 0) -> torch.Tensor:
    """Fixed attractors = centres of all training attractors (k-means over the pooled set).

    Speaker order inside a mixture is arbitrary, so averaging per output slot would collapse to
    one point; the DANet paper's Fig. 5 shows the attractors form C stable clusters instead.
    """
    from sklearn.cluster import KMeans

    pts = attractors.reshape(-1, attractors.shape[-1])
    pts = pts[pts.abs().sum(-1) > 0]  # drop absent (zero) speakers
    km = KMeans(n_clusters=n_speakers, n_init=4, random_state=seed).fit(pts.double().numpy())
    return torch.as_tensor(km.cluster_centers_, dtype=torch.float32)


def _read_state(path: str) -> dict[str, torch.Tensor]:
    from sepviz.checkpoint import read_checkpoint

    return read_checkpoint(path)["state_dict"]


def _check_same_frontend(path: str, frontend: dict) -> None:
    """Filters of one shape can still be applied at another stride or pooling: refuse that."""
    from sepviz.checkpoint import read_checkpoint

    def geometry(d):
        return {k: v for k, v in FrontendConfig.from_dict(d).to_dict().items() if k not in ("init", "log_floor")}

    if not frontend:
        raise ValueError(f"init_from {path}: it holds an adaptive front-end, but this recipe reads the STFT "
                         "(set [frontend])")
    theirs = read_checkpoint(path)["config"].get("frontend") or {}
    if geometry(theirs) != geometry(frontend):
        raise ValueError(f"init_from {path}: its front-end {geometry(theirs)} is not this recipe's {geometry(frontend)}")


def average_state_dicts(paths: list[str]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several checkpoints' weights, in fp32.

    Why refuse a mismatch instead of skipping it: averaging is only meaningful for the same
    network fine-tuned from one parent, and a silently partial soup would be a different model."""
    if not paths:
        raise ValueError("init_from: an empty list of checkpoints to average")
    states = [_read_state(p) for p in paths]
    first = states[0]
    for p, st in zip(paths[1:], states[1:]):
        if st.keys() != first.keys() or any(st[k].shape != first[k].shape for k in first):
            raise ValueError(f"init_from: {p} has another architecture than {paths[0]}; only the same network "
                             "can be averaged")
    return {k: (torch.stack([st[k].float() for st in states]).mean(0) if first[k].is_floating_point() else first[k])
            for k in first}


class BatchLoss(torch.nn.Module):
    """The training loss as a module, so ``DistributedDataParallel`` sees the whole step (the
    network and every parameter the loss touches: anchors, the uPIT head) in one ``forward``."""

    def __init__(self, model: DANet, cfg: TrainConfig, stft_cfg: StftConfig,
                 speaker_vectors: torch.nn.Parameter | None = None) -> None:
        super().__init__()
        self.model, self.cfg, self.stft_cfg = model, cfg, stft_cfg
        self.speaker_vectors = speaker_vectors  # the source-contrastive table (S, K), or None

    def forward(self, mix: torch.Tensor, sources: torch.Tensor,
                speaker_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``mix (B, samples)``, ``sources (B, C, samples)`` on the model's device, ``speaker_ids
        (B, C)`` rows of the speaker table (-1: absent or unseen) -> ``(loss, ideal attractors (B, C, K))``."""
        cfg, lc = self.cfg, self.cfg.loss
        if cfg.objective == "adaptive_ae":
            return autoencoder_loss(self.model, mix, sources, sparsity=lc.ae_sparsity, rho=lc.ae_rho,
                                    overlap=lc.ae_overlap)
        if self.model.frontend is not None:
            b = make_frontend_batch(self.model, mix, sources, cfg.keep, lc.target)
        else:
            b = make_batch(mix, sources, self.stft_cfg, cfg.keep, lc.target)
        sce = None
        if self.speaker_vectors is not None:
            if speaker_ids is None:  # a set without ids: no talker is known
                speaker_ids = torch.full(sources.shape[:2], -1, dtype=torch.long, device=mix.device)
            sce = SceTerm(lc.sce_weight, self.speaker_vectors, speaker_ids, negatives=lc.sce_negatives,
                          mu=lc.sce_mu, sampling=lc.sce_sampling, silence_db=lc.sce_silence_db)
        with torch.autocast(mix.device.type, dtype=torch.bfloat16, enabled=mix.device.type == "cuda"):
            return batch_loss(self.model, b, dc_weight=lc.dc_weight, disc_weight=lc.disc_weight,
                              aux_dc_weight=lc.aux_dc_weight, clustered_weight=lc.clustered_weight,
                              sce=sce, enhance_weight=lc.enhance_weight,
                              enhance_beta=lc.enhance_beta, freeze_embedding=lc.freeze_embedding)


class Trainer:
    def __init__(self, cfg: TrainConfig, out: str | Path, train_set, valid_set, *, device: str = "cpu",
                 data_summary: dict | None = None, num_workers: int = 0, dist: DistContext | None = None,
                 micro_batch: int = 0) -> None:
        """``dist``: this process's rank in a torchrun world (default: a world of one, no
        process group); ``micro_batch``: at most this many items per pass (0: the rank's whole
        share of ``batch_size``), the rest of an update's items accumulated over further passes."""
        if cfg.loss.target not in TARGETS:
            raise ValueError(f"unknown target {cfg.loss.target!r}; choose {TARGETS}")
        self.cfg, self.out = cfg, Path(out)
        self.device = torch.device(device)
        self.dist = dist or DistContext()
        self.batches = batch_plan(cfg.schedule.batch_size, self.dist.world_size, micro_batch)
        torch.manual_seed(cfg.seed)  # every rank builds the same network (DDP also sends rank 0's)
        self.model = build_model(cfg).to(self.device)
        if cfg.init_from:
            self._init_weights(cfg.init_from)
        if cfg.net_from:
            n = carry_net_from_checkpoint(self.model, cfg.net_from)
            self._say(f"carried {n} tensors of {cfg.net_from}'s net onto the front-end's "
                      f"{self.model.frontend.config.n_filters} filters")
        if cfg.loss.train_frontend:
            if self.model.frontend is None or cfg.objective == "adaptive_ae":
                raise ValueError("train_frontend fine-tunes a separator's adaptive front-end: set [frontend] "
                                 "and a separator's objective")
            if cfg.loss.target != "sisnr":
                raise ValueError("train_frontend needs target = \"sisnr\" (a mask target would move with the front-end)")
            self.model.frontend.requires_grad_(True)
        if self.dist.rank:  # rank 0 keeps the single-process stream; the others draw their own dropout
            torch.manual_seed(cfg.seed + 7919 * self.dist.rank)
        params = list(self.model.parameters())
        self.speaker_vectors: torch.nn.Parameter | None = None
        if cfg.loss.sce_weight:  # the source-contrastive table: one vector per training speaker, training only
            index = getattr(train_set, "speaker_index", None)
            if not index:
                raise ValueError("sce_weight needs a training set that carries speaker ids (training.train.build_datasets)")
            g = torch.Generator().manual_seed(cfg.seed)
            dim = self.model.emb_dim
            self.speaker_vectors = torch.nn.Parameter(
                (torch.randn(len(index), dim, generator=g) / dim ** 0.5).to(self.device))
            params.append(self.speaker_vectors)
        self.opt = torch.optim.Adam(params, lr=cfg.schedule.lr)
        self.train_set, self.valid_set = train_set, valid_set
        self.stft_cfg = StftConfig()
        self.loss = BatchLoss(self.model, cfg, self.stft_cfg, self.speaker_vectors)
        self.train_loss = self.loss
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            # anchors of a model whose objective never uses them get no gradient
            unused = getattr(self.model, "anchors", None) is not None and cfg.objective != "adanet"
            self.train_loss = DistributedDataParallel(
                self.loss, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=unused)
        self.data_summary = data_summary or {}
        self.num_workers = num_workers
        self.log_path = self.out.with_suffix(".log.jsonl")
        self.state_path = self.out.with_suffix(".state.pt")
        self.history: list[dict] = []
        self.stage, self.epoch_in_stage, self.global_epoch, self.steps = 0, 0, 0, 0
        self.best_val, self.bad_epochs, self.train_seconds = math.inf, 0, 0.0
        self.best_state: dict | None = None

    def _init_weights(self, path: str | list[str]) -> None:
        """Warm start (e.g. a 3-speaker model from a 2-speaker one): copy every tensor whose name
        and shape match; per-speaker tensors of another size keep their fresh values.  Several
        paths: their weights are averaged first (they must share one architecture)."""
        src = average_state_dicts(path) if isinstance(path, list) else _read_state(path)
        own = self.model.state_dict()
        same = {k: v.to(own[k].dtype) for k, v in src.items() if k in own and own[k].shape == v.shape}
        # a pretrained adaptive front-end (objective adaptive_ae) brings the front-end alone
        parts = [p for p in ("net.", "frontend.") if any(k.startswith(p) for k in src)]
        missing = [k for k in own if k.startswith(tuple(parts)) and k not in same]
        if missing:
            raise ValueError(f"{path}: {'embedding-net' if 'net.' in parts else 'front-end'} weights do not "
                             f"match this recipe's architecture ({', '.join(missing[:3])})")
        if "frontend." in parts and not isinstance(path, list):
            _check_same_frontend(path, self.model.config.frontend)
        self.model.load_state_dict(same, strict=False)
        self._say(f"initialised {len(same)}/{len(own)} tensors from {path}")

    # -- bookkeeping -----------------------------------------------------------------------
    def _say(self, msg: str) -> None:
        if self.dist.is_main:
            print(msg, flush=True)

    def _log(self, rec: dict) -> None:
        self.history.append(rec)
        if self.dist.is_main:
            with self.log_path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")

    def save_state(self) -> None:
        if not self.dist.is_main:
            return
        extra = {"speaker_vectors": self.speaker_vectors.detach()} if self.speaker_vectors is not None else {}
        torch.save({**extra, "model": self.model.state_dict(), "opt": self.opt.state_dict(),
                    "best": self.best_state or self.model.state_dict(),
                    "counters": {"stage": self.stage, "epoch_in_stage": self.epoch_in_stage,
                                 "global_epoch": self.global_epoch, "steps": self.steps,
                                 "best_val": self.best_val, "bad_epochs": self.bad_epochs,
                                 "train_seconds": self.train_seconds}}, self.state_path)

    def try_resume(self) -> bool:
        """Continue from ``<out>.state.pt``; every rank reads the same file (on shared storage)."""
        found = self.state_path.exists()
        seen = round(sum_over_ranks([float(found)], self.dist, self.device)[0])
        if seen not in (0, self.dist.world_size):
            raise RuntimeError(f"--resume: {self.state_path} is visible to {seen} of {self.dist.world_size} "
                               "processes; put --out on storage every node shares")
        if not found:
            return False
        st = torch.load(self.state_path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(st["model"])
        if self.speaker_vectors is not None and "speaker_vectors" in st:
            with torch.no_grad():
                self.speaker_vectors.copy_(st["speaker_vectors"])
        self.opt.load_state_dict(st["opt"])
        self.best_state = st["best"]
        for k, v in st["counters"].items():
            setattr(self, k, v)
        self._say(f"resumed from {self.state_path} at stage {self.stage}, epoch {self.global_epoch}")
        return True

    # -- loops -----------------------------------------------------------------------------
    def _loader(self, dataset, shuffle: bool, batch_size: int | None = None) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size or self.cfg.schedule.batch_size, shuffle=shuffle, drop_last=shuffle,
                          num_workers=self.num_workers,
                          generator=torch.Generator().manual_seed(self.cfg.seed + self.global_epoch))

    def _train_loader(self) -> DataLoader:
        """One pass's batches of this epoch; with several ranks, this rank's slice of each update's."""
        if not self.dist.enabled:
            return self._loader(self.train_set, True, self.batches.micro_batch)
        # the order one process draws (the same seeded shuffle through the same loader), dealt out
        order = DataLoader(range(len(self.train_set)), batch_size=None, shuffle=True,
                           generator=torch.Generator().manual_seed(self.cfg.seed + self.global_epoch))
        share = RankShare([int(i) for i in order], self.cfg.schedule.batch_size, self.dist)
        return DataLoader(self.train_set, batch_size=self.batches.micro_batch, sampler=share, drop_last=True,
                          num_workers=self.num_workers,
                          generator=torch.Generator().manual_seed(self.cfg.seed + self.global_epoch))

    def _step_loss(self, mix, sources, speaker_ids=None):
        ids = None if speaker_ids is None else speaker_ids.to(self.device)
        return self.loss(mix.to(self.device), sources.to(self.device), ids)

    def train_epoch(self, frames: int) -> float:
        """One epoch of updates; the mean training loss (over every rank's items)."""
        self.model.train()
        self.train_set.set_segment(frames * self.stft_cfg.hop_length)
        self.train_set.set_epoch(self.global_epoch)
        acc = self.batches.accumulation
        loader = self._train_loader()
        passes = len(loader) // acc * acc  # whole updates only: every rank takes the same number
        total, n, group = 0.0, 0, 0.0
        bar = tqdm(loader, desc=f"epoch {self.global_epoch} ({frames} fr)", total=passes,
                   leave=False, mininterval=5, disable=not sys.stderr.isatty() or not self.dist.is_main)
        for k, batch in enumerate(bar):  # (mix, sources) or (mix, sources, speaker_ids)
            mix, sources = batch[0], batch[1]
            ids = batch[2].to(self.device) if len(batch) > 2 else None
            if k >= passes:
                break
            last = (k + 1) % acc == 0
            # DDP averages the gradients over ranks on the update's last pass only
            with self.train_loss.no_sync() if self.dist.enabled and not last else contextlib.nullcontext():
                loss, _ = self.train_loss(mix.to(self.device), sources.to(self.device), ids)
                if k % acc == 0:
                    self.opt.zero_grad(set_to_none=True)
                (loss if acc == 1 else loss / acc).backward()
            group += loss.item()
            if not last:
                continue
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.schedule.clip_norm)
            self.opt.step()
            self.steps += 1
            total, n, group = total + (group if acc == 1 else group / acc), n + 1, 0.0
            bar.set_postfix(loss=f"{total / n:.4f}")
            if self._stop_now():
                break
        total, n = sum_over_ranks([total, float(n)], self.dist, self.device)
        return total / max(n, 1)

    @torch.no_grad()
    def validate(self, collect_attractors: bool = False):
        self.model.eval()
        total, n, atts = 0.0, 0, []
        for batch in self._loader(self.valid_set, False):
            loss, att = self._step_loss(*batch)
            total, n = total + float(loss) * batch[0].shape[0], n + batch[0].shape[0]
            if collect_attractors and att is not None:  # (the autoencoder pretraining has none)
                atts.append(att.float().cpu())
        return total / max(n, 1), (torch.cat(atts) if atts else None)

    def _out_of_time(self) -> bool:
        budget = self.cfg.schedule.max_minutes
        return bool(budget) and (self.train_seconds + time.perf_counter() - self._t0) > 60 * budget

    def _stop_now(self) -> bool:
        """Out of time on any rank: all ranks stop together (a rank that ran on would wait forever
        for the others' gradients)."""
        if not self.cfg.schedule.max_minutes:
            return False
        return any_rank(self._out_of_time(), self.dist, self.device)

    def _validation_loss(self) -> float:
        """Rank 0 validates; every rank gets its loss, so all take the same schedule decisions."""
        val = self.validate()[0] if self.dist.is_main else 0.0
        return from_main([val], self.dist, self.device)[0]

    def fit(self) -> Path:
        self._t0 = time.perf_counter()
        sched = self.cfg.schedule
        while self.stage < len(sched.curriculum) and not self._stop_now():
            frames, epochs = sched.curriculum[self.stage]
            self.valid_set.set_segment(frames * self.stft_cfg.hop_length)
            if self.epoch_in_stage >= epochs or self.bad_epochs > sched.patience:
                self.stage, self.epoch_in_stage, self.bad_epochs = self.stage + 1, 0, 0
                if self.stage < len(sched.curriculum):
                    self.best_val = math.inf  # longer chunks: losses are not comparable across stages
                continue
            t = time.perf_counter()
            train_loss = self.train_epoch(frames)
            val_loss = self._validation_loss()
            if val_loss < self.best_val - 1e-6:
                self.best_val, self.bad_epochs = val_loss, 0
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= sched.lr_halving_patience:
                    for g in self.opt.param_groups:
                        g["lr"] /= 2
            self._log({"epoch": self.global_epoch, "stage": self.stage, "frames": frames, "train_loss": train_loss,
                       "valid_loss": val_loss, "lr": self.opt.param_groups[0]["lr"], "steps": self.steps,
                       "epoch_seconds": time.perf_counter() - t})
            self._say(f"epoch {self.global_epoch} stage {self.stage} ({frames} frames): train {train_loss:.4f} "
                      f"valid {val_loss:.4f} lr {self.opt.param_groups[0]['lr']:.2e} ({time.perf_counter() - t:.0f} s)")
            self.global_epoch += 1
            self.epoch_in_stage += 1
            self.train_seconds += time.perf_counter() - self._t0
            self._t0 = time.perf_counter()
            self.save_state()
        self.train_seconds += time.perf_counter() - self._t0
        self._t0 = time.perf_counter()
        return self.finish()

    def finish(self) -> Path:
        """Rank 0: the best weights, their fixed attractors and the fp16 checkpoint; other ranks
        write nothing and return the same path."""
        if not self.dist.is_main:
            return self.out
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        val_loss, atts = self.validate(collect_attractors=True)
        if not math.isfinite(self.best_val):  # no epoch ran (e.g. an averaged warm start saved as is)
            self.best_val = val_loss
        if atts is not None:
            self.model.fixed_attractors.copy_(fixed_attractors_from(atts, self.model.config.n_speakers, self.cfg.seed))
        training = {
            "recipe": self.cfg.to_dict(),
            "data": self.data_summary,
            "steps": self.steps,
            "epochs": self.global_epoch,
            "train_minutes": round(self.train_seconds / 60, 2),
            "seconds_per_step": round(self.train_seconds / max(self.steps, 1), 4),
            "device": str(self.device) if self.device.type == "cpu" else torch.cuda.get_device_name(self.device),
            "best_valid_loss": self.best_val,
            "history": self.history[-50:],
            "n_parameters": count_parameters(self.model),
        }
        if self.dist.enabled or self.batches.accumulation > 1:
            training["distributed"] = {"world_size": self.dist.world_size, "backend": self.dist.backend or None,
                                       "batch_size": self.batches.batch_size,
                                       "micro_batch": self.batches.micro_batch,
                                       "accumulation": self.batches.accumulation}
        self.model.to("cpu")
        return save_checkpoint(self.out, self.model, training=training, half=True)
