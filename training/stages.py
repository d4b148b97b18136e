"""A checkpoint trained in stages, as its recipe lists them.

    python -m training.train danet_bgru_gmm --stages --out-dir runs            # every stage, in order
    python -m training.train danet_blstm_3spk --stages --to-stage default_stage9 --out-dir runs   # up to one
    python -m training.train danet_blstm_3spk --stages --from-stage default_real --out-dir runs

A recipe's ``[[stages]]`` tables, in order, each one training run::

    [[stages]]
    name = "bgru_gmm_stage2"          # its checkpoint: OUT_DIR/NAME.pt, its log OUT_DIR/NAME.log.jsonl
    profile = "cpu_long"              # a profile of this recipe (or of `recipe = "OTHER"`)
    init_from = "bgru_gmm_stage1"     # an earlier stage's name, a checkpoint path, or a list (their average)
    ship = "checkpoints/bgru_gmm.pt"  # copy the checkpoint here, with the joined log of the stages so far
    [stages.set]                      # overrides, as --set takes them (flat or grouped keys)
    lr = 5e-4
    data.mix_seed = 3

Why stages live in the recipe: a shipped checkpoint is often several warm-started runs and weight
averages; written as data, each stage's settings can be read next to the profile they change, and
the script that trains everything only names the recipes.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import TrainConfig, _merge, load_recipe, nest, read_recipe

STAGE_KEYS = {"name", "recipe", "profile", "init_from", "set", "ship"}


@dataclass
class Stage:
    name: str
    recipe: str                        # a recipe name or path
    profile: str = ""
    init_from: str | list[str] = ""    # earlier stages' names or checkpoint paths ("" = the profile's own)
    overrides: dict = field(default_factory=dict)
    ship: str = ""


def read_stages(recipe: str | Path) -> list[Stage]:
    """The recipe's stage list, checked: unique names, known keys, warm starts from earlier stages."""
    path, raw = read_recipe(recipe)
    tables = raw.get("stages") or []
    if not tables:
        raise ValueError(f"recipe {path.name} lists no [[stages]]")
    stages: list[Stage] = []
    for k, t in enumerate(tables, 1):
        name = t.get("name")
        unknown = sorted(set(t) - STAGE_KEYS)
        if not name or unknown:
            raise ValueError(f"{path.name}: stage {k} needs a name and takes only {sorted(STAGE_KEYS)}"
                             + (f" (not {unknown})" if unknown else ""))
        if name in {s.name for s in stages}:
            raise ValueError(f"{path.name}: two stages are named {name!r}")
        init = t.get("init_from", "")
        for ref in init if isinstance(init, list) else [init] if init else []:
            if not ref.endswith(".pt") and ref not in {s.name for s in stages}:
                raise ValueError(f"{path.name}: stage {name!r} starts from {ref!r}, neither an earlier stage "
                                 "nor a .pt file")
        nest(t.get("set", {}), f"{path.name} stage {name}")  # an unknown option fails here, before any run
        stages.append(Stage(name=name, recipe=t.get("recipe", str(path)), profile=t.get("profile", ""),
                            init_from=init, overrides=t.get("set", {}), ship=t.get("ship", "")))
    return stages


def stage_config(stage: Stage, out_dir: Path, overrides: dict | None = None) -> TrainConfig:
    """The stage's config: its recipe and profile, its own overrides, then ``overrides`` (the
    command line's, for every stage), with earlier stages' names resolved to their checkpoints."""
    def resolve(ref: str) -> str:
        return ref if ref.endswith(".pt") else str(out_dir / f"{ref}.pt")

    over = _merge(nest(stage.overrides, f"stage {stage.name}"), nest(overrides or {}, "overrides"))
    if stage.init_from:
        init = stage.init_from
        over["init_from"] = [resolve(r) for r in init] if isinstance(init, list) else resolve(init)
    return load_recipe(stage.recipe, stage.profile or None, over)


def lineage(stage: Stage, stages: list[Stage]) -> list[Stage]:
    """The stages whose weights ``stage`` grew from (its ``init_from`` stages, theirs, ...) and
    itself, in recipe order: an earlier stage on another branch (a trial that did not lead here)
    is not part of its history."""
    by_name = {s.name: s for s in stages}
    keep, todo = set(), [stage.name]
    while todo:
        name = todo.pop()
        if name in keep or name not in by_name:  # a checkpoint path: the history stops there
            continue
        keep.add(name)
        init = by_name[name].init_from
        todo.extend(init if isinstance(init, list) else [init] if init else [])
    return [s for s in stages if s.name in keep]


def ship(stage: Stage, stages: list[Stage], out_dir: Path) -> None:
    """Copy the stage's checkpoint to ``stage.ship``, its log joined from its :func:`lineage`'s
    (the model card reads the history from it; an average saved as is has no log)."""
    dest = Path(stage.ship)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out_dir / f"{stage.name}.pt", dest)
    logs = [out_dir / f"{s.name}.log.jsonl" for s in lineage(stage, stages)]
    dest.with_suffix(".log.jsonl").write_text("".join(p.read_text() for p in logs if p.exists()))
    print(f"shipped {dest}", flush=True)


def _stage_index(stages: list[Stage], ref: str, option: str) -> int:
    """The 0-based index of stage ``ref`` (a name or 1-based number)."""
    names = [s.name for s in stages]
    if ref in names:
        return names.index(ref)
    if ref.isdigit() and 1 <= int(ref) <= len(stages):
        return int(ref) - 1
    raise ValueError(f"{option} {ref}: the stages are 1-{len(stages)}: {', '.join(names)}")


def run_stages(recipe: str | Path, out_dir: str | Path, train_one: Callable[[TrainConfig, Path], int], *,
               from_stage: str | None = None, to_stage: str | None = None, overrides: dict | None = None,
               fresh_logs: bool = True) -> int:
    """Run the recipe's stages in order (from ``from_stage`` up to ``to_stage``, each a name or
    1-based number), each with ``train_one(cfg, out) -> exit status``; stop at the first that fails.
    ``fresh_logs``: delete a stage's old log first (the trainer appends to it; off when resuming)."""
    stages = read_stages(recipe)
    start = _stage_index(stages, from_stage, "--from-stage") if from_stage else 0
    stop = _stage_index(stages, to_stage, "--to-stage") + 1 if to_stage else len(stages)
    if stop <= start:
        raise ValueError(f"--to-stage {to_stage} comes before --from-stage {from_stage}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configs = [stage_config(s, out_dir, overrides) for s in stages[start:stop]]  # every stage checked first
    for k, (stage, cfg) in enumerate(zip(stages[start:stop], configs), start):
        out = out_dir / f"{stage.name}.pt"
        if fresh_logs:
            out.with_suffix(".log.jsonl").unlink(missing_ok=True)
        print(f"stage {k + 1}/{len(stages)}: {stage.name} ({Path(stage.recipe).stem}"
              + (f", profile {stage.profile}" if stage.profile else "") + ")", flush=True)
        status = train_one(cfg, out)
        if status:
            return status
        if stage.ship:
            ship(stage, stages, out_dir)
    return 0
