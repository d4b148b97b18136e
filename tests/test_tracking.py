"""Attractor tracking: per-frame attractors that follow a drifting talker."""
import math

import pytest
import torch

from sepviz.calibration import Tracking, check_tracking, tracking_summary
from sepviz.tracking import tracked_attractors, tracked_masks


def drifting_pair(t: int = 200, f: int = 10):
    """Two talkers whose 2-D embedding directions both rotate by 1.2 rad over the mixture: talker 0
    owns the even frequency bins, talker 1 the odd ones; returns (v (T, F, 2), owner (T, F))."""
    theta = torch.linspace(0.0, 1.2, t)[:, None].expand(t, f)
    owner = (torch.arange(f)[None, :] % 2).expand(t, f)
    angle = theta + owner * 1.6
    return 3 * torch.stack([torch.cos(angle), torch.sin(angle)], -1), owner


def global_attractors(v, owner):
    return torch.stack([v[owner == c].mean(0) for c in (0, 1)])


def test_tracked_attractors_follow_a_drifting_talker_and_their_masks_are_surer():
    v, owner = drifting_pair()
    att = global_attractors(v, owner)
    tracks = tracked_attractors(v, att, torch.ones(v.shape[:2]), Tracking(frames=8, strength=0.5))
    assert tracks.shape == (2, v.shape[0], 2)
    # at the last frame talker 0's own direction is 1.2 rad; the global attractor points at ~0.6
    last = math.atan2(float(tracks[0, -1, 1]), float(tracks[0, -1, 0]))
    assert abs(last - 1.2) < abs(math.atan2(float(att[0, 1]), float(att[0, 0])) - 1.2)
    right = torch.nn.functional.one_hot(owner, 2).permute(2, 0, 1).float()
    tracked = (tracked_masks(v, tracks) * right).sum(0).mean()
    plain = (torch.softmax(torch.einsum("tfk,ck->ctf", v, att), 0) * right).sum(0).mean()
    assert 1 - tracked < 0.5 * (1 - plain)  # at most half the mask lost to the wrong talker
    masks = tracked_masks(v, tracks, temperature=2.0)
    torch.testing.assert_close(masks.sum(0), torch.ones(v.shape[:2]))
    assert tracked_masks(v, tracks, kind="sigmoid").shape == (2, *v.shape[:2])


def test_a_strong_prior_or_no_weight_keeps_the_global_attractors():
    v, owner = drifting_pair(t=50)
    att = global_attractors(v, owner)
    stiff = tracked_attractors(v, att, torch.ones(v.shape[:2]), Tracking(4, 1e6))
    torch.testing.assert_close(stiff, att[:, None, :].expand_as(stiff), atol=1e-3, rtol=1e-3)
    silent = tracked_attractors(v, att, torch.zeros(v.shape[:2]), Tracking(4, 0.5))
    torch.testing.assert_close(silent, att[:, None, :].expand_as(silent))
    free = tracked_attractors(v, att, torch.ones(v.shape[:2]), Tracking(4, 0.0))
    assert torch.isfinite(free).all()
    # a window longer than the mixture and no prior: every frame gets the same attractors
    whole = tracked_attractors(v, att, torch.ones(v.shape[:2]), Tracking(1000, 0.0))
    torch.testing.assert_close(whole, whole[:, :1].expand_as(whole))


def test_tracking_settings_parse_and_are_checked():
    assert Tracking.parse("off") is None and Tracking.parse(" OFF ") is None
    assert Tracking.parse("32:0.5") == Tracking(32, 0.5) and Tracking.parse("16") == Tracking(16, 0.5)
    for bad in ("fast", "32:x", "0:0.5", "-4:1", "8:-1", "1.5:1"):
        with pytest.raises(ValueError, match="tracking|FRAMES"):
            Tracking.parse(bad)
    assert Tracking.checked(32, 0.5) == Tracking(32, 0.5) and Tracking.checked(8.0, 0) == Tracking(8, 0.0)
    for frames, strength in ((0, 0.5), (4, -1), (1.5, 1), (True, 1), (8, float("nan"))):
        with pytest.raises(ValueError, match="attractor tracking needs"):
            Tracking.checked(frames, strength)
    check_tracking({"2": {"frames": 32, "strength": 0.5}})
    for bad in ({"2": {"frames": 0, "strength": 0.5}}, {"two": {"frames": 8, "strength": 1}},
                {"2": {"frames": 8}}, {"2": {"frames": 8, "strength": float("nan")}}, [8]):
        with pytest.raises(ValueError, match="attractor_tracking"):
            check_tracking(bad)
    assert tracking_summary({"3": {"frames": 16, "strength": 1.0}, "2": {"frames": 32, "strength": 0.5}}) == \
        "+-32 frames, strength 0.5 (2 talkers), +-16 frames, strength 1 (3 talkers)"


def test_the_tracking_bound_script_prints_its_four_rows(tmp_path, capsys, wsj0_2mix_dir):
    import importlib.util
    from pathlib import Path

    from _synth import tiny_danet
    from sepviz.checkpoint import save_checkpoint

    spec = importlib.util.spec_from_file_location(
        "tracking_bound", Path(__file__).resolve().parents[1] / "research" / "tracking_bound.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"))
    args = ["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--limit", "1"]
    assert script.main(args) == 2 and "no attractor tracking" in capsys.readouterr().err
    assert script.main(args + ["--tracking", "4:0.5"]) == 0
    out = capsys.readouterr().out
    for row in ("oracle, one attractor", "oracle, +-16 frames", "kmeans ", "kmeans + tracking (+-4 frames, strength 0.5)"):
        assert row in out


def test_every_spelling_of_a_tracking_setting_reads_the_same():
    want = Tracking(32, 0.5)
    for value in ("32:0.5", {"frames": 32, "strength": 0.5}, [32, 0.5], (32.0, 0.5), want):
        assert Tracking.from_value(value) == want
    assert Tracking.from_value(None) is None and Tracking.from_value("off") is None
    for bad in (4, [4], {"frames": 4}, [0, 0.5], "fast"):
        with pytest.raises(ValueError, match="tracking|FRAMES"):
            Tracking.from_value(bad)
