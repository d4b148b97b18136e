"""Why `fixed` attractors fail or work for a checkpoint: compare them with each mixture's oracle attractors.

    python scripts/attractor_geometry.py --checkpoint checkpoints/default.pt --data data/mix/synth2_test --limit 25

Prints the stored fixed attractors' lengths and the cosine between them, then, over the mixtures,
the mean cosine between the talkers' oracle attractors (how far apart two talkers sit) and the
share of mixtures whose talkers go to *different* fixed attractors (fixed inference needs that).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sepviz.checkpoint import load_checkpoint  # noqa: E402
from sepviz.separate import embed, separate_embedding  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/default.pt")
    ap.add_argument("--data", required=True, help="folder with mix/ s1/ s2/ [s3/]")
    ap.add_argument("--limit", type=int, default=25)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_checkpoint(a.checkpoint)
    fixed = model.fixed_attractors.float()
    fu = torch.nn.functional.normalize(fixed, dim=1)
    print(f"fixed attractors: lengths {', '.join(f'{x:.2f}' for x in fixed.norm(dim=1).tolist())}; "
          f"cosine between them {float((fu @ fu.t()).triu(1).max()):.2f}")
    data = Path(a.data)
    src_dirs = sorted(p for p in data.iterdir() if p.is_dir() and p.name.startswith("s") and p.name[1:].isdigit())
    cos_talkers, distinct = [], []
    for mix_path in sorted((data / "mix").glob("*.wav"))[: a.limit]:
        refs = [sf.read(d / mix_path.name, dtype="float32")[0] for d in src_dirs]
        emb = embed(str(mix_path), None, model)
        att = torch.as_tensor(separate_embedding(emb, "oracle", len(refs), references=refs).attractors).float()
        au = torch.nn.functional.normalize(att, dim=1)
        cos_talkers.append(float((au @ au.t()).triu(1).max()))
        nearest = (au @ fu[: len(refs)].t()).argmax(dim=1)
        distinct.append(len(set(nearest.tolist())) == len(refs))
    print(f"{len(cos_talkers)} mixtures: cosine between the talkers' oracle attractors, mean "
          f"{np.mean(cos_talkers):.2f} (min {np.min(cos_talkers):.2f}); talkers nearest to different fixed "
          f"attractors in {100 * np.mean(distinct):.0f} % of the mixtures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
