"""Why `fixed` attractors or k-means fail or work for a checkpoint: the embedding geometry per mixture.

    python research/attractor_geometry.py --checkpoint checkpoints/default.pt --data data/mix/synth2_test --limit 25

Prints the stored fixed attractors' lengths and the cosine between them, then, over the mixtures,
the mean cosine between the talkers' oracle attractors (how far apart two talkers sit), the
share of mixtures whose talkers go to *different* fixed attractors (fixed inference needs that),
and whether k-means *could* find the talkers: k-means is started from the talkers' own split
(their mean directions) and run to convergence on the same weighted embedding directions the
`kmeans` clusterer fits. If that solution keeps the talkers together and scores a lower k-means
objective than the usual fit, a better initialisation would help; if it drifts away from the
talkers or scores worse, the embeddings do not cluster by talker and only the network can fix it.
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
from sepviz.features import loudness_weights  # noqa: E402
from sepviz.separate import embed, reference_assignment, resolve_weighting, separate_embedding  # noqa: E402
from sepviz.threads import limit_threads  # noqa: E402


def kmeans_from_talkers(u: np.ndarray, w: np.ndarray, talkers: np.ndarray, usual: np.ndarray) -> tuple[bool, float]:
    """Run k-means from the talkers' split; return (its objective beats the usual fit's, share of
    the weight it keeps with the talkers under the best pairing)."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.cluster import KMeans

    c = int(talkers.max()) + 1
    def fit(init):
        return KMeans(n_clusters=c, init=init, n_init=1).fit(u, sample_weight=w)
    start = np.stack([np.average(u[talkers == k], axis=0, weights=w[talkers == k]) for k in range(c)])
    from_talkers = fit(start)
    usual_fit = fit(np.stack([np.average(u[usual == k], axis=0, weights=w[usual == k]) for k in range(c)]))
    agree = np.zeros((c, c))
    np.add.at(agree, (talkers, from_talkers.labels_), w)
    rows, cols = linear_sum_assignment(-agree)
    return from_talkers.inertia_ < usual_fit.inertia_ - 1e-6, float(agree[rows, cols].sum() / w.sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/default.pt")
    ap.add_argument("--data", required=True, help="folder with mix/ s1/ s2/ [s3/]")
    ap.add_argument("--limit", type=int, default=25)
    a = ap.parse_args(argv)
    limit_threads(1)
    model = load_checkpoint(a.checkpoint)
    fixed = model.fixed_attractors.float()
    fu = torch.nn.functional.normalize(fixed, dim=1)
    print(f"fixed attractors: lengths {', '.join(f'{x:.2f}' for x in fixed.norm(dim=1).tolist())}; "
          f"cosine between them {float((fu @ fu.t()).triu(1).max()):.2f}")
    data = Path(a.data)
    src_dirs = sorted(p for p in data.iterdir() if p.is_dir() and p.name.startswith("s") and p.name[1:].isdigit())
    cos_talkers, distinct, talker_better, kept_share = [], [], [], []
    for mix_path in sorted((data / "mix").glob("*.wav"))[: a.limit]:
        refs = [sf.read(d / mix_path.name, dtype="float32")[0] for d in src_dirs]
        emb = embed(str(mix_path), None, model)
        att = torch.as_tensor(separate_embedding(emb, "oracle", len(refs), references=refs).attractors).float()
        au = torch.nn.functional.normalize(att, dim=1)
        cos_talkers.append(float((au @ au.t()).triu(1).max()))
        nearest = (au @ fu[: len(refs)].t()).argmax(dim=1)
        distinct.append(len(set(nearest.tolist())) == len(refs))
        sal = emb.salient.reshape(-1)
        u = torch.nn.functional.normalize(emb.v.reshape(-1, emb.v.shape[-1]).float(), dim=1)[sal]
        w = (loudness_weights(emb.mag, emb.salient).reshape(-1)[sal].float()
             if resolve_weighting("auto", len(refs)) == "loudness" else torch.ones(u.shape[0]))
        talkers = reference_assignment(emb, refs).reshape(len(refs), -1).argmax(0)[sal]
        found = separate_embedding(emb, "kmeans", len(refs)).cluster.assignment.reshape(-1)[sal]
        better, kept = kmeans_from_talkers(u.double().numpy(), w.double().numpy(), talkers.numpy(), found.numpy())
        talker_better.append(better)
        kept_share.append(kept)
    print(f"{len(cos_talkers)} mixtures: cosine between the talkers' oracle attractors, mean "
          f"{np.mean(cos_talkers):.2f} (min {np.min(cos_talkers):.2f}); talkers nearest to different fixed "
          f"attractors in {100 * np.mean(distinct):.0f} % of the mixtures")
    print(f"k-means started from the talkers' split keeps {100 * np.mean(kept_share):.0f} % of the (weighted) "
          f"bins with their talker (min {100 * np.min(kept_share):.0f} %) and beats the usual fit's objective in "
          f"{100 * np.mean(talker_better):.0f} % of the mixtures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
