"""The tool scripts under scripts/ and the research probes under research/ that print numbers quoted in docs."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from _synth import tiny_danet
from sepviz.checkpoint import save_checkpoint


def _script(name: str, folder: str = "scripts"):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(out: str) -> list[float]:
    line = out.strip().splitlines()[-1]
    m = re.search(r"one run (-?[\d.]+), averaged (-?[\d.]+) dB .*WFM (-?[\d.]+), averaged (-?[\d.]+) dB", line)
    assert m, line
    return [float(g) for g in m.groups()]


def test_shift_average_undoes_each_delay_before_averaging(tmp_path, capsys, wsj0_2mix_dir):
    """The same run twice averages to itself; delayed runs are put back in time (a voice left 16
    samples late would cost the WFM oracle's average far more than the framing does)."""
    script = _script("shift_average", "research")
    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"))
    args = ["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--limit", "2"]
    assert script.main(args + ["--shifts", "0,0"]) == 0
    one, avg, wfm, wfm_avg = _summary(capsys.readouterr().out)
    assert abs(avg - one) < 1e-3 and abs(wfm_avg - wfm) < 1e-3
    assert script.main(args + ["--shifts", "0,16,32"]) == 0
    _, _, wfm_shifted, wfm_shifted_avg = _summary(capsys.readouterr().out)
    assert abs(wfm_shifted - wfm) < 1e-3 and abs(wfm_shifted_avg - wfm) < 1.0


def test_paired_compares_the_mixtures_both_results_hold(tmp_path, capsys):
    import json

    def result(name, files, values):
        path = tmp_path / name
        path.write_text(json.dumps({"extra": {"per_mixture": {"files": files, "si_snri": {"model:kmeans": values}}}}))
        return str(path)

    a = result("a.json", ["m1.wav", "m2.wav", "m3.wav"], [5.0, 7.0, 9.0])
    b = result("b.json", ["m3.wav", "m2.wav", "m4.wav", "m1.wav"], [10.0, 6.0, 0.0, 6.0])  # other order, one extra
    assert _script("paired").main([a, b]) == 0
    out = capsys.readouterr().out
    # pairs: m1 5 -> 6, m2 7 -> 6, m3 9 -> 10: differences +1, -1, +1
    assert "3 mixtures in both: A 7.000 dB, B 7.333 dB; B - A +0.333 dB (se 0.667); fell in 1, rose in 2" in out


def test_paired_difference_leaves_out_a_mixture_either_left_unscored():
    import numpy as np

    from sepviz.evaluation import paired_difference, standard_error

    d = paired_difference([5.0, 7.0, np.nan, 9.0], [6.0, 6.0, 1.0, 10.0])
    assert (d.n, d.fell, d.rose) == (3, 1, 2)
    assert abs(d.mean - 1 / 3) < 1e-12 and abs(d.se - standard_error([1.0, -1.0, 1.0])) < 1e-12
    assert str(d) == "+0.333 (se 0.667)"
