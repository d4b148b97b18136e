"""``python -m sepviz separate | evaluate | info`` end to end on a tiny random model."""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepviz.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *words):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


# --------------------------------------------------------------------------- separate


def test_separate_writes_voices_at_the_input_rate(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    mix = wsj0_2mix_dir / "mix" / "mix00.wav"
    info = sf.info(str(mix))
    out_dir = tmp_path / "voices"
    code, out, err = run(capsys, ["separate", mix, "--checkpoint", tiny_checkpoint, "--clusterer", "gmm",
                                  "--out", out_dir])
    assert code == 0, err
    paths = [out_dir / f"mix00_voice{i}.wav" for i in (1, 2)]
    for p in paths:
        assert p.is_file() and str(p) in out
        w = sf.info(str(p))
        assert w.samplerate == info.samplerate == 16000
        assert w.frames == info.frames and w.channels == 1
    assert not (out_dir / "mix00_voice3.wav").exists()
    assert "timings" in out and "network" in out
    data, _ = sf.read(str(paths[0]))
    assert np.isfinite(data).all() and np.abs(data).max() > 0


def test_separate_three_speakers_with_anchors(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    code, out, err = run(capsys, ["separate", wsj0_2mix_dir / "mix" / "mix01.wav", "--checkpoint", tiny_checkpoint,
                                  "--clusterer", "anchors", "--n-speakers", "3", "--out", tmp_path])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("mix01_voice*.wav")) == [f"mix01_voice{i}.wav" for i in (1, 2, 3)]


# --------------------------------------------------------------------------- evaluate


def test_evaluate_prints_table_and_json_last_line(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    jf = tmp_path / "res" / "eval.json"
    code, out, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                  "--clusterer", "kmeans", "gmm", "--json", jf])
    assert code == 0, err
    lines = out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["n"] == 3
    assert list(result["model"]) == ["kmeans", "gmm"]
    assert set(result["oracle"]) == {"ibm", "irm", "wfm"}
    keys = {"si_snri", "sdri", "sir", "sar", "pesq"}
    for group in ("model", "oracle"):
        for name, m in result[group].items():
            assert set(m) == keys, (group, name)
            assert all(v is None or isinstance(v, float) for v in m.values())
    assert set(result) <= {"n", "model", "oracle", "geometry", "extra"}
    # The oracles separate tones/noise far better than a random network.
    assert result["oracle"]["wfm"]["si_snri"] > 8
    assert result["oracle"]["ibm"]["si_snri"] > result["model"]["kmeans"]["si_snri"]
    assert result["oracle"]["wfm"]["pesq"] is None or 1.0 <= result["oracle"]["wfm"]["pesq"] <= 4.6
    assert json.loads(jf.read_text()) == result
    per = result["extra"]["per_mixture"]  # for paired comparisons, in the folder's order
    assert per["files"] == sorted(p.name for p in (Path(wsj0_2mix_dir) / "mix").iterdir())
    kmeans = per["si_snri"]["model:kmeans"]
    assert len(kmeans) == 3 and abs(sum(kmeans) / 3 - result["model"]["kmeans"]["si_snri"]) < 1e-9
    se = result["extra"]["si_snri_se"]["oracle:wfm"]
    wfm = per["si_snri"]["oracle:wfm"]
    assert se == pytest.approx(statistics.stdev(wfm) / 3 ** 0.5)
    table = "\n".join(lines[:-1])
    assert f"oracle:wfm {se:.2f}" in table
    assert "model + gmm" in table and "oracle WFM" in table and "SI-SNRi" in table
    assert "[3/3]" in err  # progress on stderr, not stdout
    assert "[3/3]" not in out


def test_mask_temperature_option_overrides_the_checkpoints_for_one_run(capsys, tmp_path, tiny_checkpoint,
                                                                       wsj0_2mix_dir):
    """--mask-temperature changes the masks (and so the scores) and is recorded; bad values are refused."""
    def kmeans_run(*extra):
        code, out, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                      "--clusterer", "kmeans", "--oracle", "--no-pesq", "--limit", "1", *extra])
        assert code == 0, err
        return json.loads(out.strip().splitlines()[-1])

    plain, soft = kmeans_run(), kmeans_run("--mask-temperature", "4")
    assert plain["extra"]["mask_temperature"] == 1.0 and soft["extra"]["mask_temperature"] == 4.0
    assert soft["model"]["kmeans"]["si_snri"] != plain["model"]["kmeans"]["si_snri"]
    for bad in ("0", "nan", "100"):
        code, out, err = run(capsys, ["separate", wsj0_2mix_dir / "mix" / "mix00.wav", "--checkpoint",
                                      tiny_checkpoint, "--out", tmp_path, "--mask-temperature", bad])
        assert code == 2 and "--mask-temperature must be in [0.05, 20]" in err and "Traceback" not in err


def test_tracking_option_overrides_the_checkpoints_for_one_run(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    """--tracking FRAMES:STRENGTH moves the attractors (other scores, recorded in the JSON); 'off'
    keeps one per talker; a bad setting is a clear error."""
    def kmeans_run(*extra):
        code, out, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                      "--clusterer", "kmeans", "--oracle", "--no-pesq", "--limit", "1", *extra])
        assert code == 0, err
        return json.loads(out.strip().splitlines()[-1])

    plain, tracked = kmeans_run("--tracking", "off"), kmeans_run("--tracking", "4:0.5")
    assert plain["extra"]["attractor_tracking"] is None
    assert tracked["extra"]["attractor_tracking"] == {"frames": 4, "strength": 0.5}
    assert tracked["model"]["kmeans"]["si_snri"] != plain["model"]["kmeans"]["si_snri"]
    for bad in ("fast", "0:1", "8:-2"):
        code, out, err = run(capsys, ["separate", wsj0_2mix_dir / "mix" / "mix00.wav", "--checkpoint",
                                      tiny_checkpoint, "--out", tmp_path, "--tracking", bad])
        assert code == 2 and "--tracking:" in err and "Traceback" not in err


def test_evaluate_scores_the_automatic_talker_count(capsys, tiny_checkpoint, wsj0_2mix_dir):
    """--count reports, per clusterer, how often 'auto' finds the folder's talkers: the very count
    separate() makes with n_speakers=None on the same mixtures."""
    from sepviz.separate import separate

    code, out, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                  "--clusterer", "kmeans", "fixed", "oracle", "--oracle", "--no-pesq", "--count"])
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    count = result["extra"]["count"]
    assert list(count) == ["kmeans", "fixed"]  # the oracle is given the references' count
    for name, c in count.items():
        expected = [separate(p, None, tiny_checkpoint, name, None).n_speakers
                    for p in sorted((wsj0_2mix_dir / "mix").glob("*.wav"))]
        assert c["found"] == {"2": expected.count(2), "3": expected.count(3)}, name
        assert c["right"] == expected.count(2)
        assert f"auto count with {name}: {c['right']}/3 right (2 talkers" in out
    code, out, _ = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                "--clusterer", "kmeans", "--oracle", "--no-pesq", "--limit", "1"])
    assert "count" not in json.loads(out.strip().splitlines()[-1])["extra"] and "auto count" not in out


def test_evaluate_skips_clusterers_the_model_cannot_run(capsys, tmp_path, wsj0_2mix_dir, checkpoint_factory):
    plain = checkpoint_factory(tmp_path / "plain.pt", n_anchors=0, fixed=False)
    code, out, err = run(capsys, ["evaluate", "--checkpoint", plain, "--data", wsj0_2mix_dir, "--clusterer",
                                  "anchors", "fixed", "fixed", "oracle", "--oracle", "ibm", "--limit", "1",
                                  "--no-pesq"])
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 1 and list(result["model"]) == ["oracle"] and list(result["oracle"]) == ["ibm"]
    assert result["model"]["oracle"]["pesq"] is None  # --no-pesq
    assert "skipping clusterer anchors" in err and "skipping clusterer fixed" in err
    assert len(result["extra"]["skipped_clusterers"]) == 2


# --------------------------------------------------------------------------- --jobs


def _without_timings(result: dict) -> dict:
    """An evaluate result less the wall-clock fields (``extra.seconds*``), which may differ run to run."""
    extra = {k: v for k, v in result["extra"].items() if not k.startswith("seconds")}
    return {**result, "extra": extra}


def _scores_table(out: str) -> list[str]:
    """The printed report less its timings (the 'sep s' column and the seconds to embed)."""
    import re

    lines = out.strip().splitlines()[:-1]
    return [re.sub(r"\(\+ [\d.]+ s to embed\)", "", ln)[:-9] if ln.startswith(("model +", "oracle "))
            else re.sub(r"\(\+ [\d.]+ s to embed\)", "", ln) for ln in lines]


def test_evaluate_in_two_worker_processes_gives_the_scores_of_one(capsys, tiny_checkpoint, wsj0_2mix_dir):
    """--jobs 2 scores the mixtures in two one-thread worker processes: the JSON (every score, the
    geometry, the counts, the per-mixture lists in the folder's order) and the table are those of
    --jobs 1 run on one thread, to the last digit."""
    argv = ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir, "--clusterer", "kmeans", "fixed",
            "--count"]
    code, out1, err1 = run(capsys, ["--threads", "1", *argv])  # the suite runs on 1 thread
    assert code == 0, err1
    code, out2, err2 = run(capsys, [*argv, "--jobs", "2"])
    assert code == 0, err2
    one, two = json.loads(out1.strip().splitlines()[-1]), json.loads(out2.strip().splitlines()[-1])
    assert "geometry" in two and two["extra"]["count"]["kmeans"]["right"] == one["extra"]["count"]["kmeans"]["right"]
    assert _without_timings(two) == _without_timings(one)
    assert _scores_table(out2) == _scores_table(out1)
    assert "in 2 worker processes" in err2 and all(f"[{i}/3]" in err2 for i in (1, 2, 3))


def test_separate_a_folder_in_two_worker_processes_writes_the_voices_of_one(capsys, tmp_path, tiny_checkpoint,
                                                                            wsj0_2mix_dir):
    mix_dir = wsj0_2mix_dir / "mix"
    code, out1, err = run(capsys, ["separate", mix_dir, "--checkpoint", tiny_checkpoint, "--out", tmp_path / "one"])
    assert code == 0, err
    code, out2, err = run(capsys, ["separate", mix_dir, "--checkpoint", tiny_checkpoint, "--out", tmp_path / "two",
                                   "--jobs", "2"])
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == [f"mix{m:02d}_voice{i}.wav" for m in range(3) for i in (1, 2)]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    # each file's report in the folder's order, whichever worker finished first
    reports = [ln.split(" from ")[1].split(" (")[0] for ln in out2.splitlines() if " voices from " in ln]
    assert reports == [str(mix_dir / f"mix{m:02d}.wav") for m in range(3)]
    assert "3 of 3 mixtures separated" in out2 and "[3/3]" in err


def test_bad_jobs_and_folders_are_one_line_errors(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    for argv in (["separate", wsj0_2mix_dir / "mix", "--jobs", "0"],
                 ["evaluate", "--data", wsj0_2mix_dir, "--jobs", "-2"],
                 ["evaluate", "--data", wsj0_2mix_dir, "--jobs", "many"]):
        code, _, err = run(capsys, argv)
        assert_user_error(code, err, "--jobs")
    code, _, err = run(capsys, ["separate", wsj0_2mix_dir / "mix", "--checkpoint", tiny_checkpoint,
                                "--out", wsj0_2mix_dir / "mix"])
    assert_user_error(code, err, "input folder")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, ["separate", tmp_path / "empty", "--checkpoint", tiny_checkpoint, "--out", tmp_path])
    assert_user_error(code, err, "no audio files")


# --------------------------------------------------------------------------- info


def test_info_prints_the_model_card(capsys, tiny_checkpoint):
    code, out, err = run(capsys, ["--threads", "1", "info", tiny_checkpoint])  # the suite runs on 1 thread
    assert code == 0, err
    assert "blstm" in out and "parameters" in out and "random tiny test model" in out and "anchors" in out
    assert "mask temperature: 1 (not calibrated)" in out and "attractor tracking: off" in out
    code, out, _ = run(capsys, ["info", tiny_checkpoint, "--json"])
    card = json.loads(out)
    assert card["config"]["n_anchors"] == 4 and card["n_parameters"] > 0 and card["fixed_attractors"] is True


def test_info_is_short_unless_full(capsys, tiny_checkpoint):
    code, short, err = run(capsys, ["--threads", "1", "info", tiny_checkpoint])
    assert code == 0, err
    assert len(short.splitlines()) <= 25 and "training:" not in short and "--full" in short
    code, full, err = run(capsys, ["--threads", "1", "info", tiny_checkpoint, "--full"])
    assert code == 0, err
    assert full.startswith(short.rsplit("(--full", 1)[0]) and "training:" in full and "stft:" in full


def test_python_dash_m_entry_point(tiny_checkpoint):
    """``python -m sepviz`` runs main() and passes its exit status on (one subprocess: torch import is slow)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "sepviz", "info", str(tiny_checkpoint) + ".missing"],
                       capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: checkpoint not found") and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- bad input


def test_missing_audio_file(capsys, tmp_path, tiny_checkpoint):
    code, _, err = run(capsys, ["separate", tmp_path / "nope.wav", "--checkpoint", tiny_checkpoint,
                                "--out", tmp_path])
    assert_user_error(code, err, "not found")


def test_non_audio_file(capsys, tmp_path, tiny_checkpoint):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n" * 50)
    code, _, err = run(capsys, ["separate", bad, "--checkpoint", tiny_checkpoint, "--out", tmp_path])
    assert_user_error(code, err, "notes.wav")
    assert not list(tmp_path.glob("notes_voice*.wav"))


def test_corrupt_checkpoint(capsys, tmp_path, wsj0_2mix_dir):
    ckpt = tmp_path / "corrupt.pt"
    ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    mix = wsj0_2mix_dir / "mix" / "mix00.wav"
    for argv in (["separate", mix, "--checkpoint", ckpt, "--out", tmp_path], ["info", ckpt],
                 ["evaluate", "--checkpoint", ckpt, "--data", wsj0_2mix_dir]):
        code, _, err = run(capsys, argv)
        assert_user_error(code, err, "corrupt.pt")


def test_missing_checkpoint_and_default(capsys, tmp_path, wsj0_2mix_dir, monkeypatch):
    import sepviz.cli as cli

    mix = wsj0_2mix_dir / "mix" / "mix00.wav"
    code, _, err = run(capsys, ["separate", mix, "--checkpoint", tmp_path / "none.pt"])
    assert_user_error(code, err, "checkpoint not found")
    monkeypatch.setattr(cli, "DEFAULT_CHECKPOINT", tmp_path / "checkpoints" / "default.pt")
    code, _, err = run(capsys, ["separate", mix, "--out", tmp_path])
    assert_user_error(code, err, "default", "--checkpoint")


def test_bad_data_folders_and_arguments(capsys, tmp_path, tiny_checkpoint, wsj0_2mix_dir):
    code, _, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", tmp_path / "nowhere"])
    assert_user_error(code, err, "not found")
    broken = tmp_path / "broken"
    for d in ("mix", "s1", "s2"):
        (broken / d).mkdir(parents=True)
    sf.write(str(broken / "mix" / "a.wav"), np.zeros(8000, np.float32) + 0.1, 8000)
    sf.write(str(broken / "s1" / "a.wav"), np.zeros(8000, np.float32) + 0.1, 8000)
    code, _, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", broken])
    assert_user_error(code, err, "s2/a.wav")
    code, _, err = run(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--data", wsj0_2mix_dir,
                                "--clusterer", "spectral"])
    assert_user_error(code, err, "spectral")
    code, _, err = run(capsys, ["separate", wsj0_2mix_dir / "mix" / "mix00.wav", "--n-speakers", "5"])
    assert_user_error(code, err, "n-speakers")
    code, _, err = run(capsys, [])
    assert_user_error(code, err)
    code, _, err = run(capsys, ["--threads", "-1", "info", tiny_checkpoint])
    assert_user_error(code, err, "--threads")
