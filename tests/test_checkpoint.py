"""One-file checkpoints: round trips, the config travelling inside, and clear errors for bad files."""
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from _synth import TINY_KWARGS, tiny_danet
from sepviz.checkpoint import FORMAT, build_danet, load_checkpoint, read_checkpoint, save_checkpoint
from sepviz.danet import DANetConfig
from sepviz.errors import CheckpointError


def feats(t=7):
    return torch.randn(1, t, 129, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(TINY_KWARGS))
def test_round_trip_gives_identical_outputs(name, tmp_path):
    model = tiny_danet(name)
    with torch.no_grad():  # non-trivial batch-norm statistics must travel too
        for buf_name, buf in model.named_buffers():
            if buf_name.endswith("running_mean"):
                buf.normal_()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model)
    assert path.is_file() and not list(tmp_path.rglob("*.tmp"))  # atomic write left no temp file
    loaded = load_checkpoint(path)
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(feats()), model(feats()))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2) and v1.dtype == v2.dtype


def test_half_precision_round_trip_is_close_and_smaller(tmp_path):
    model = tiny_danet("blstm", hidden=32)
    full = save_checkpoint(tmp_path / "full.pt", model)
    half = save_checkpoint(tmp_path / "half.pt", model, half=True)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    raw = torch.load(half, weights_only=True)
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point())
    loaded = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())  # cast back on load
    with torch.no_grad():
        a, b = model(feats()), loaded(feats())
    assert not torch.equal(a, b)
    torch.testing.assert_close(b, a, atol=5e-3, rtol=5e-3)


def test_config_travels_inside(tmp_path):
    model = tiny_danet("bgru", objective="adanet", n_anchors=4, n_speakers=3, mask="sigmoid", emb_dim=7,
                       activation="tanh", dropout=0.2)
    model.config.keep = 0.8
    with torch.no_grad():
        model.fixed_attractors.copy_(torch.randn(3, 7))
        model.anchors.copy_(torch.randn(4, 7))
    path = save_checkpoint(tmp_path / "m.pt", model, training={"steps": 12, "recipe": {"lr": 1e-3}},
                           metrics={"si_snri": 9.5})
    loaded = load_checkpoint(path)
    cfg = loaded.config
    assert (cfg.model, cfg.objective, cfg.mask, cfg.n_speakers, cfg.n_anchors, cfg.keep) == \
        ("bgru", "adanet", "sigmoid", 3, 4, 0.8)
    assert cfg.model_kwargs == {"hidden": 8, "layers": 2, "emb_dim": 7, "activation": "tanh", "dropout": 0.2}
    assert cfg.stft == {"sample_rate": 8000, "n_fft": 256, "hop_length": 64, "window": "sqrt_hann"}
    assert type(loaded.net).__name__ == "BGRU" and loaded.net.activation == "tanh" and loaded.net.dropout == 0.2
    assert torch.equal(loaded.fixed_attractors, model.fixed_attractors) and loaded.has_fixed_attractors
    assert torch.equal(loaded.anchors, model.anchors)
    card = loaded.card
    assert card["name"] == "m" and card["training"]["steps"] == 12 and card["metrics"] == {"si_snri": 9.5}
    assert card["n_parameters"] == sum(p.numel() for p in model.parameters())


def test_non_default_stft_travels(tmp_path):
    cfg = DANetConfig(model="blstm", model_kwargs={"hidden": 4, "layers": 1, "emb_dim": 3},
                      stft={"sample_rate": 16000, "n_fft": 512, "hop_length": 128})
    model = build_danet(cfg)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model))
    assert loaded.config.stft["n_fft"] == 512 and loaded.net.n_freq == 257


def test_checkpoint_loads_with_weights_only(tmp_path):
    """The payload holds only plain types, so the safe loader reads it; odd summary values are made plain."""
    model = tiny_danet()
    training = {"loss": np.float32(0.25), "hist": np.arange(3), "out": tmp_path / "x.pt", "shape": (1, 2),
                "best": float("inf")}
    path = save_checkpoint(tmp_path / "m.pt", model, training=training)
    payload = torch.load(path, map_location="cpu", weights_only=True)  # must not raise
    assert payload["format"] == FORMAT and payload["format_version"] == 1
    assert payload["training"] == {"loss": 0.25, "hist": [0, 1, 2], "out": str(tmp_path / "x.pt"),
                                   "shape": [1, 2], "best": float("inf")}
    assert read_checkpoint(path)["config"]["model"] == "blstm"
    assert load_checkpoint(path).card["training"]["loss"] == 0.25


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path)  # a directory


def _good(tmp_path):
    return save_checkpoint(tmp_path / "good.pt", tiny_danet())


def test_random_bytes(tmp_path):
    p = tmp_path / "random.pt"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match="not a readable sepviz checkpoint"):
        load_checkpoint(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.pt"
    p.write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a readable sepviz checkpoint"):
        load_checkpoint(p)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_file(tmp_path, fraction):
    data = _good(tmp_path).read_bytes()
    p = tmp_path / "trunc.pt"
    p.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="trunc"):
        load_checkpoint(p)


def test_plain_torch_save_of_another_dict(tmp_path):
    p = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(3)}, "epoch": 3}, p)
    with pytest.raises(CheckpointError, match="not a sepviz checkpoint"):
        load_checkpoint(p)
    torch.save(tiny_danet().state_dict(), p)  # a bare state dict, no header
    with pytest.raises(CheckpointError, match="not a sepviz checkpoint"):
        load_checkpoint(p)
    torch.save([1, 2, 3], p)
    with pytest.raises(CheckpointError, match="not a sepviz checkpoint"):
        load_checkpoint(p)


def test_pickle_with_code_is_refused(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "obj": Path("x")}, p)  # needs a non-allow-listed global to unpickle
    with pytest.raises(CheckpointError, match="not a readable sepviz checkpoint"):
        load_checkpoint(p)


def _rewrite(tmp_path, **changes):
    payload = torch.load(_good(tmp_path), weights_only=True)
    payload.update(changes)
    p = tmp_path / "bad.pt"
    torch.save(payload, p)
    return p, payload


def test_state_dict_from_a_different_architecture_with_the_header(tmp_path):
    other = tiny_danet("dilated_cnn").state_dict()
    p, _ = _rewrite(tmp_path, state_dict=other)  # header says blstm
    with pytest.raises(CheckpointError, match="does not match its declared model 'blstm'"):
        load_checkpoint(p)
    wider = tiny_danet("blstm", hidden=16).state_dict()  # same keys, different shapes
    p, _ = _rewrite(tmp_path, state_dict=wider)
    with pytest.raises(CheckpointError, match="size mismatch"):
        load_checkpoint(p)


@pytest.mark.parametrize("change,match", [
    ({"config": {"model": "transformer"}}, "invalid config"),
    ({"config": {"model": "blstm", "model_kwargs": {"bogus": 1}}}, "invalid config"),
    ({"config": {"model": "blstm", "objective": "gan"}}, "invalid config"),
    ({"config": {"model": "blstm", "model_kwargs": [1, 2]}}, "invalid config"),
    ({"config": "blstm"}, "no config"),
    ({"state_dict": None}, "no state_dict"),
    ({"state_dict": {"net.proj.weight": [1.0, 2.0]}}, "malformed state_dict"),
    ({"format_version": 99}, "newer sepviz"),
    ({"format_version": "1"}, "format_version"),
])
def test_malformed_payloads(tmp_path, change, match):
    p, _ = _rewrite(tmp_path, **change)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(p)
    assert "bad.pt" in str(info.value)  # the message names the file


def test_zip_with_wrong_contents(tmp_path):
    p = tmp_path / "zip.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = _good(tmp_path)
    before = path.read_bytes()

    def boom(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, tiny_danet(seed=1))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["good.pt"]  # no temp file left behind
    load_checkpoint(path)


def test_errors_are_sepviz_errors():
    from sepviz.errors import SepvizError

    assert issubclass(CheckpointError, SepvizError)


def test_write_metrics_keeps_weights_and_summarize_reads_them(tmp_path):
    from sepviz.checkpoint import summarize_metrics, write_metrics

    model = tiny_danet("blstm")
    path = save_checkpoint(tmp_path / "m.pt", model, training={"steps": 3}, half=True)
    before = read_checkpoint(path)
    metrics = {"synth2_unseen": {"n": 25, "model": {"kmeans": {"si_snri": 7.2}, "gmm": {"si_snri": 4.1}},
                                 "oracle": {"wfm": {"si_snri": 12.4}}},
               "note": "hand-made"}
    write_metrics(path, metrics)
    after = read_checkpoint(path)
    assert after["metrics"] == metrics and after["training"] == before["training"]
    assert all(torch.equal(before["state_dict"][k], v) and v.dtype == torch.float16
               for k, v in after["state_dict"].items() if v.is_floating_point())
    assert load_checkpoint(path).card["metrics"] == metrics and not list(tmp_path.glob("*.tmp"))
    lines = summarize_metrics(metrics)
    assert lines[0] == "synth2_unseen (25 mixtures), SI-SNRi dB: kmeans 7.20 (best), gmm 4.10; WFM oracle 12.40"
    assert lines[1] == "note: hand-made"
    with pytest.raises(CheckpointError):
        write_metrics(tmp_path / "missing.pt", metrics)


def test_stamp_metrics_writes_each_checkpoints_own_results(tmp_path, capsys):
    import json

    from training.stamp_metrics import main

    for name in ("a", "b"):
        save_checkpoint(tmp_path / f"{name}.pt", tiny_danet("blstm"))
    results = {"a": {"set1": {"n": 2, "model": {"kmeans": {"si_snri": 3.0}}, "oracle": {},
                              "extra": {"data": "data/mix/x", "seconds": 9.0}, "command": "python -m sepviz ..."}}}
    (tmp_path / "r.json").write_text(json.dumps(results))
    assert main([str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--results", str(tmp_path / "r.json")]) == 0
    stamped = read_checkpoint(tmp_path / "a.pt")["metrics"]
    assert stamped == {"set1": {"n": 2, "model": {"kmeans": {"si_snri": 3.0}}, "oracle": {},
                                "command": "python -m sepviz ...", "data": "data/mix/x"}}
    assert read_checkpoint(tmp_path / "b.pt")["metrics"] == {}
    assert "no results" in capsys.readouterr().out
    assert main([str(tmp_path / "a.pt"), "--results", str(tmp_path / "none.json")]) == 2


def test_write_calibration_sets_the_temperature_and_keeps_the_evidence(tmp_path):
    from sepviz.checkpoint import write_calibration

    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"), training={"steps": 3})
    assert load_checkpoint(path).config.mask_temperature == {}  # older files: T = 1 everywhere
    write_calibration(path, {2: 1.4}, {"clusterer": "kmeans"})
    write_calibration(path, {"3": 1.8}, {"clusterer": "kmeans", "note": "second"})
    m = load_checkpoint(path)
    assert m.config.mask_temperature == {"2": 1.4, "3": 1.8} and m.config.temperature(3) == 1.8
    assert m.card["training"] == {"steps": 3, "calibration": {"clusterer": "kmeans", "note": "second"}}
    with pytest.raises(ValueError, match="mask_temperature"):
        write_calibration(path, {"2": -1.0}, {})
    assert load_checkpoint(path).config.mask_temperature == {"2": 1.4, "3": 1.8}  # refused before writing


def test_write_calibration_sets_and_clears_the_attractor_tracking(tmp_path):
    from sepviz.checkpoint import write_calibration

    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"))
    assert load_checkpoint(path).config.tracking(2) is None  # older files: no tracking
    write_calibration(path, {}, {}, tracking={"2": {"frames": 16, "strength": 0.5}, "3": {"frames": 8, "strength": 1}})
    write_calibration(path, {}, {}, tracking={"3": None})
    m = load_checkpoint(path)
    assert m.config.attractor_tracking == {"2": {"frames": 16, "strength": 0.5}} and m.config.tracking(3) is None
    with pytest.raises(ValueError, match="attractor_tracking"):
        write_calibration(path, {}, {}, tracking={"2": {"frames": 0, "strength": 0.5}})
    assert load_checkpoint(path).config.tracking(2).frames == 16  # refused before writing


def test_a_checkpoint_with_a_bad_temperature_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"))
    payload = read_checkpoint(path)
    payload["config"]["mask_temperature"] = {"2": "warm"}
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="invalid config"):
        load_checkpoint(path)
