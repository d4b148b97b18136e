"""Write ``docs/results.md``: every shipped checkpoint x clusterer on held-out test sets.

Each table is produced by ``python -m sepviz evaluate`` and the exact command is printed above
it, so every number can be reproduced.  Usage::

    python -m training.report --sets synth2=data/mix/synth2_test fsdd2=data/mix/fsdd2_test \
        --checkpoints checkpoints/*.pt --out docs/results.md
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sepviz.checkpoint import load_checkpoint
from sepviz.clusterers import available_clusterers
from sepviz.evaluation import standard_error
from sepviz.model_card import averaged_from, describe_init


METRICS = [("si_snri", "SI-SNRi"), ("sdri", "SDRi"), ("sir", "SIR"), ("sar", "SAR"), ("pesq", "PESQ")]


def run_evaluate(ckpt: str, data: str, clusterers: list[str], limit: int | None, pesq: bool,
                 count: bool = False, jobs: int = 1) -> tuple[str, dict]:
    cmd = [sys.executable, "-m", "sepviz", "evaluate", "--checkpoint", ckpt, "--data", data, "--clusterer", *clusterers]
    if jobs > 1:  # worker processes; the numbers do not depend on it
        cmd += ["--jobs", str(jobs)]
    if count:
        cmd += ["--count"]
    if limit:
        cmd += ["--limit", str(limit)]
    if not pesq:
        cmd += ["--no-pesq"]
    shown = "python " + " ".join(shlex.quote(c) for c in cmd[1:])
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{shown} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["_seconds"] = time.perf_counter() - t
    return shown, result


def fmt(v) -> str:
    return "-" if v is None or v != v else f"{v:.2f}"


def table(result: dict) -> str:
    rows = ["| system | " + " | ".join(name for _, name in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, m in result["model"].items():
        rows.append(f"| model + {name} | " + " | ".join(fmt(m.get(k)) for k, _ in METRICS) + " |")
    for name, m in result.get("oracle", {}).items():
        rows.append(f"| oracle {name.upper()} | " + " | ".join(fmt(m.get(k)) for k, _ in METRICS) + " |")
    extra = result.get("extra") or {}
    se = extra.get("si_snri_se") or {}
    if se:
        rows.append("\nSI-SNRi standard error over the mixtures: "
                    + ", ".join(f"{key.split(':', 1)[1]} {fmt(v)}" for key, v in se.items()) + ".")
    wfm = result.get("oracle", {}).get("wfm", {}).get("si_snri")
    if wfm:
        best = max((m.get("si_snri", float("-inf")), n) for n, m in result["model"].items())
        ratio_se = ratio_standard_error((extra.get("per_mixture") or {}).get("si_snri") or {},
                                        f"model:{best[1]}", "oracle:wfm")
        precision = "" if ratio_se is None else f" (standard error {100 * ratio_se:.1f} points, paired over the mixtures)"
        rows.append(f"\nBest model SI-SNRi ({best[1]}) is **{100 * best[0] / wfm:.1f} %** of the WFM oracle's "
                    f"on the same {result['n']} mixtures{precision}.")
    count = (result.get("extra") or {}).get("count")
    if count and (line := count_line(count, result["n"], result["extra"].get("n_speakers"))):
        rows.append(line)
    geo = result.get("geometry")
    if geo:
        rows.append(f"\nEmbedding geometry (no clusterer): silhouette {fmt(geo.get('silhouette'))}, closest oracle "
                    f"attractors' cosine {fmt(geo.get('closest_attractor_cosine'))}.")
    return "\n".join(rows)


def status_row_system(result: dict) -> str:
    """The clusterer a status row reports: k-means where the model has it, else its best."""
    models = result["model"]
    if "kmeans" in models:
        return "kmeans"
    return max(models, key=lambda n: models[n].get("si_snri") if models[n].get("si_snri") is not None else float("-inf"))


def status_table(results: dict[str, dict[str, dict]]) -> str:
    """One markdown table, checkpoint x test folder: SI-SNRi (standard error), share of the WFM
    oracle, SDRi, PESQ (each with k-means, or the checkpoint's best clusterer where it has none)
    and the embedding silhouette.  ``results[checkpoint][folder]`` is an evaluate JSON."""
    rows = ["| checkpoint | test folder | mixtures | clusterer | SI-SNRi dB (se) | share of WFM | SDRi dB | PESQ | silhouette |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for ckpt, sets in results.items():
        for folder, r in sets.items():
            name = status_row_system(r)
            m = r["model"][name]
            extra = r.get("extra") or {}
            se = (extra.get("si_snri_se") or {}).get(f"model:{name}")
            wfm = (r.get("oracle") or {}).get("wfm", {}).get("si_snri")
            share = f"{100 * m['si_snri'] / wfm:.0f} %" if wfm and m.get("si_snri") is not None else "-"
            geo = (r.get("geometry") or {}).get("silhouette")
            rows.append(f"| `{ckpt}` | `{folder}` | {r['n']} | {name} | {fmt(m.get('si_snri'))} ({fmt(se)}) | {share} | "
                        f"{fmt(m.get('sdri'))} | {fmt(m.get('pesq'))} | {fmt(geo)} |")
    return "\n".join(rows)


# The thesis's figures (D'Amato 2018, LibriSpeech 2-talker mixtures, SDRi dB; "all" = every gender
# pair, "m+f", "m+m"): Table 6.34 on its test speakers, Table 6.35 on out-of-set speakers.  Their
# network: 4 x BLSTM-600, K = 40 (its chapter 6).
THESIS_ANCHORS = {
    "sce_danet": ("SCE DANet finetuned", {"all": 11.42, "m+f": 12.92, "m+m": 10.28}, {"all": 10.89, "m+f": 10.98, "m+m": 9.37}),
    "dpcl_pp": ("DPCL++ (reproduced)", {"all": 10.01, "m+f": 13.35, "m+m": 8.93}, {"all": 9.48, "m+f": 11.51, "m+m": 7.90}),
    "adaptive": ("Adapt SCE DANet finetuned", {"all": 9.94, "m+f": 11.95, "m+m": 9.65}, {"all": 8.97, "m+f": 9.74, "m+m": 8.85}),
}
THESIS_RECIPES = {"sce_danet": "sce_danet", "dpcl_pp": "dpcl_pp", "adaptive": "adapt_sce_danet"}


def thesis_table(results: dict[str, dict[str, dict]], n_parameters: dict[str, int | None],
                 thesis_parameters: dict[str, int]) -> str:
    """The thesis's systems next to its own figures: our SDRi (k-means, or the checkpoint's best
    clusterer where it has none) on the real mixed- and same-gender folders, the thesis's m+f / m+m
    SDRi on its test and out-of-set speakers, and both networks' parameter counts.  A system not
    shipped yet shows "-" for ours.  ``results[checkpoint][folder]`` is an evaluate JSON."""
    rows = ["| system | ours: real2_mixed SDRi | ours: real2_same SDRi | parameters (ours) | thesis: m+f SDRi (out-of-set) "
            "| thesis: m+m SDRi (out-of-set) | thesis: all SDRi (out-of-set) | parameters (thesis network) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for ckpt, (name, test, out) in THESIS_ANCHORS.items():
        ours = []
        for folder in ("real2_mixed", "real2_same"):
            r = results.get(ckpt, {}).get(folder)
            ours.append(fmt(r["model"][status_row_system(r)].get("sdri")) if r else "-")
        n = n_parameters.get(ckpt)
        rows.append(f"| `{ckpt}` ({name}) | {ours[0]} | {ours[1]} | {f'{n:,}' if n else '-'} | {test['m+f']:.2f} ({out['m+f']:.2f}) "
                    f"| {test['m+m']:.2f} ({out['m+m']:.2f}) | {test['all']:.2f} ({out['all']:.2f}) "
                    f"| {thesis_parameters[ckpt]:,} |")
    return "\n".join(rows)


def ratio_standard_error(per_mixture: dict, system: str, oracle: str) -> float | None:
    """Standard error of mean(system) / mean(oracle) over the same mixtures (delta method).

    Why paired: a hard mixture is hard for both, so the ratio is far more precise than the two
    means' own errors suggest; this is the precision of a "percent of WFM" target."""
    a, b = per_mixture.get(system), per_mixture.get(oracle)
    if not a or not b or len(a) != len(b) or len(a) < 2:
        return None
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a_arr) & np.isfinite(b_arr)
    a_arr, b_arr = a_arr[keep], b_arr[keep]
    if len(a_arr) < 2 or b_arr.mean() <= 0:
        return None
    ratio = a_arr.mean() / b_arr.mean()
    residual = a_arr - ratio * b_arr
    return float(standard_error(residual) / b_arr.mean())


def count_line(count: dict, n: int, n_speakers: int | None) -> str:
    """One line on the automatic talker count.  The attractor clusterers all count with k-means, so
    it is shown once, with ADANet's anchors; the DEF head's count is its number of outputs."""
    shown = {c: v for c, v in count.items() if c in ("kmeans", "anchors")}
    if not shown:
        return ""
    parts = [f"{v['right']}/{n} with {'k-means' if c == 'kmeans' else c}" for c, v in shown.items()]
    return (f"\nAutomatic talker count ('auto', 2 or 3; `--count`): the {n_speakers} talkers found in "
            + ", ".join(parts) + ".")


def training_line(training: dict) -> str:
    """How long the checkpoint trained; a warm-started one says so, since its minutes are only the last stage's."""
    init_from = describe_init((training.get("recipe") or {}).get("init_from") or "")
    if averaged_from(training):
        return f"no updates of its own: {init_from} (full history in checkpoints/README.md)"
    line = f"trained {training.get('steps', '?')} updates in {training.get('train_minutes', '?')} min on {training.get('device', '?')}"
    return line + (f" (last stage, warm-started from {init_from}; full history in checkpoints/README.md)" if init_from else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", nargs="+", required=True)
    ap.add_argument("--sets", nargs="+", required=True, metavar="NAME=DIR")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-pesq", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes for each evaluation")
    ap.add_argument("--out", default="docs/results.md")
    ap.add_argument("--json", default="docs/results.json")
    args = ap.parse_args(argv)
    sets = dict(s.split("=", 1) for s in args.sets)
    today = time.strftime('%Y-%m-%d')
    measured = f"{today}, {platform.machine()} CPU"
    lines = ["# Evaluation results", "",
             f"Measured on {platform.machine()} CPU ({platform.processor() or 'unknown'}), "
             f"{today}, by `python -m training.report` (see each table's command).",
             "Mean over the mixtures of each test set; SI-SNRi and SDRi in dB against the mixture; "
             "PESQ narrow-band. Oracles use the same mixtures.", ""]
    everything: dict = {}
    for ckpt in args.checkpoints:
        model = load_checkpoint(ckpt)
        card = model.card
        names = [c for c in available_clusterers(model) if c != "oracle"]
        c_out = model.config.n_speakers
        lines += [f"## {Path(ckpt).stem}", "",
                  f"{card['config']['model']} {card['config']['model_kwargs']}, objective `{card['config']['objective']}`, "
                  f"{card['n_parameters'] / 1e6:.2f} M parameters, {training_line(card['training'])}.", ""]
        for set_name, folder in sets.items():
            n_src = len([p for p in Path(folder).glob("s[0-9]") if p.is_dir()])
            if n_src > c_out:
                continue
            print(f"evaluating {ckpt} on {set_name} ...", file=sys.stderr, flush=True)
            # only a model trained on three talkers counts them ("auto" stays at two for the others)
            shown, res = run_evaluate(ckpt, folder, names, args.limit, not args.no_pesq, count=c_out >= 3,
                                      jobs=args.jobs)
            res["command"], res["measured"] = shown, measured
            everything.setdefault(Path(ckpt).stem, {})[set_name] = res
            lines += [f"### {set_name} ({res['n']} mixtures, {n_src} talkers)", "", "```", shown, "```", "",
                      table(res), ""]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
        Path(args.json).write_text(json.dumps(everything, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
