"""The separation pipeline end to end with tiny random checkpoints."""
import io
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from _synth import harmonic, save_tiny_checkpoint, tiny_danet, tone_mixture
from sepviz import counting, inference
from sepviz import separate as sep_mod
from sepviz.errors import CheckpointError, SepvizInputError
from sepviz.features import StftConfig, stft
from sepviz.masks import ideal_binary_mask
from sepviz.separate import Embedding, Separation, embed, resolve_model, separate, separate_embedding


@pytest.fixture(scope="module")
def model():
    return tiny_danet("blstm")


@pytest.fixture(scope="module")
def mix8k():
    return tone_mixture((150.0, 370.0), 1.0)


def count_forward(m):
    calls = []
    handle = m.net.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[1]))
    return calls, handle


@pytest.mark.parametrize("sr,n", [(8000, 8000), (8000, 8003), (16000, 16001), (44100, 57337), (22050, 15431)])
def test_voices_come_back_at_the_input_rate_and_length(model, sr, n):
    mix = harmonic(150.0, n / sr, sr) + harmonic(370.0, n / sr, sr)
    assert len(mix) == n
    out = separate(mix, sr, model, "kmeans", 2)
    assert isinstance(out, Separation)
    assert out.sample_rate == sr and out.n_speakers == 2 and len(out.voices) == 2
    for v in out.voices:
        assert v.shape == mix.shape and v.dtype == np.float32 and np.isfinite(v).all()
    n8 = len(out.embedding.wave)
    assert all(v.shape == (n8,) for v in out.voices_model_sr)
    t = StftConfig().frames(n8)
    assert out.masks.shape == (2, t, 129) and out.assignment.shape == (t, 129)
    assert out.attractors.shape == (2, model.emb_dim)


def test_softmax_masks_sum_to_one_and_voices_sum_to_the_mixture(model, mix8k):
    mix, _ = mix8k
    out = separate(mix, 8000, model, "kmeans", 3)
    assert out.masks.shape[0] == 3
    np.testing.assert_allclose(out.masks.sum(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.sum(out.voices, 0), mix, atol=1e-4)


@pytest.mark.parametrize("clusterer", ["kmeans", "gmm", "gmm_tied", "soft_kmeans"])
@pytest.mark.parametrize("n", [2, 3, None])
def test_speaker_counts(model, mix8k, clusterer, n):
    mix, _ = mix8k
    out = separate(mix, 8000, model, clusterer, n)
    assert out.n_speakers in ((2, 3) if n is None else (n,))
    assert len(out.voices) == out.n_speakers == out.masks.shape[0] == out.attractors.shape[0]
    assert out.clusterer == clusterer and len(out.energies_db) == out.n_speakers
    assert max(out.energies_db) == pytest.approx(0.0, abs=1e-6)


def test_auto_count_is_bounded_by_the_models_own_outputs(mix8k):
    """'auto' fits up to 3 talkers, but a DEF mask head with 2 outputs (or ADANet with 2 anchors)
    cannot give 3: the count stops at what the model has instead of failing."""
    mix, _ = mix8k
    for model, clusterer in ((tiny_danet(objective="upit"), "head"),
                             (tiny_danet(objective="adanet", n_anchors=2), "anchors")):
        out = separate(mix, 8000, model, clusterer, None)
        assert out.n_speakers == 2 and len(out.voices) == 2
    three = tiny_danet(objective="upit", n_speakers=3)  # its head always gives three masks
    assert separate(mix, 8000, three, "head", None).n_speakers == 3


def test_auto_count_is_the_kmeans_count_for_every_attractor_clusterer():
    """Soft k-means and the GMMs count with k-means (their own attractors crowd together and merge
    a real third talker), then fit the found number of talkers with their own method."""
    from sepviz.separate import estimate_speaker_count

    model = tiny_danet("blstm", n_speakers=3)  # trained (here: built) for up to three talkers
    for freqs in ((150.0, 370.0), (120.0, 260.0, 610.0)):
        emb = embed(tone_mixture(freqs, 1.0)[0], 8000, model)
        n = estimate_speaker_count(emb, "kmeans")
        for clusterer in ("soft_kmeans", "gmm", "gmm_tied"):
            assert estimate_speaker_count(emb, clusterer) == n, clusterer
            auto, fixed_n = separate_embedding(emb, clusterer, None), separate_embedding(emb, clusterer, n)
            assert auto.n_speakers == n and auto.clusterer == clusterer
            np.testing.assert_array_equal(auto.attractors, fixed_n.attractors)
        # fixed attractors: k-means on as many talkers as the checkpoint stores attractors for
        assert estimate_speaker_count(emb, "fixed") == estimate_speaker_count(
            emb, "kmeans", max_speakers=model.fixed_attractors.shape[0])


def test_auto_counts_only_up_to_the_talkers_the_model_was_trained_for():
    """A 2-talker model's count of a third talker is a coin toss: 'auto' stays at two for it."""
    import copy
    import dataclasses

    from sepviz.separate import estimate_speaker_count

    three = tiny_danet("blstm", n_speakers=3)
    emb = embed(tone_mixture((120.0, 260.0, 610.0), 1.0)[0], 8000, three)
    assert estimate_speaker_count(emb, "kmeans") == 3  # this tiny net's k-means count finds three
    two = copy.deepcopy(three)  # the same network, declared as trained on two talkers
    two.config = dataclasses.replace(two.config, n_speakers=2)
    emb_two = dataclasses.replace(emb, model=two)
    assert estimate_speaker_count(emb_two, "kmeans") == 2
    assert separate_embedding(emb_two, "soft_kmeans", None).n_speakers == 2
    assert separate_embedding(emb_two, "soft_kmeans", 3).n_speakers == 3  # forcing three still works


def test_bad_speaker_count(model, mix8k):
    for n in (1, 4, 0):
        with pytest.raises(SepvizInputError, match="n_speakers must be 2, 3"):
            separate(mix8k[0], 8000, model, "kmeans", n)


def test_oracle_with_references(model, mix8k):
    mix, src = mix8k
    out = separate(mix, 8000, model, "oracle", None, references=list(src))
    assert out.n_speakers == 2  # taken from the references
    ibm = ideal_binary_mask(stft(torch.from_numpy(src)))
    np.testing.assert_array_equal(out.assignment, ibm.argmax(0).numpy())
    # The attractors are the IBM centroids of the salient embeddings.
    emb = out.embedding
    w = emb.salient.float()
    for c in range(2):
        y = ibm[c] * w
        expected = (emb.v * y[..., None]).sum((0, 1)) / y.sum()
        np.testing.assert_allclose(out.attractors[c], expected.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(SepvizInputError, match="3 speakers requested"):
        separate(mix, 8000, model, "oracle", 3, references=list(src))
    with pytest.raises(SepvizInputError, match="reference"):
        separate(mix, 8000, model, "oracle", 2)


def test_oracle_references_of_unequal_length(model, mix8k):
    mix, src = mix8k
    refs = [src[0][:-100], np.concatenate([src[1], np.zeros(50, np.float32)])]
    out = separate(mix, 8000, model, "oracle", 2, references=refs)
    assert out.masks.shape[0] == 2


def test_long_input_is_chunked_with_the_same_length_and_embeddings(monkeypatch):
    """A CNN with a small receptive field gives exactly the unchunked embeddings when chunked."""
    m = tiny_danet("dilated_cnn")
    mix = harmonic(150.0, 2.0, 16000) + harmonic(330.0, 2.0, 16000)
    whole = embed(mix, 16000, m)
    calls, handle = count_forward(m)
    monkeypatch.setattr(inference, "CHUNK_SECONDS", 0.5)
    monkeypatch.setattr(inference, "CONTEXT_SECONDS", 0.1)
    try:
        out = separate(mix, 16000, m, "kmeans", 2)
    finally:
        handle.remove()
    t, chunk, ctx = whole.v.shape[0], int(0.5 * 125), int(0.1 * 125)
    assert len(calls) == -(-t // chunk) and max(calls) <= chunk + 2 * ctx  # 0.5 s chunks plus context
    assert out.embedding.v.shape == whole.v.shape
    torch.testing.assert_close(out.embedding.v, whole.v, atol=1e-5, rtol=1e-5)
    assert all(v.shape == mix.shape for v in out.voices)


def test_tiny_chunk_setting_does_not_break(monkeypatch, model, mix8k):
    monkeypatch.setattr(inference, "CHUNK_SECONDS", 0.001)  # < 1 frame
    monkeypatch.setattr(inference, "CONTEXT_SECONDS", 0.0)
    out = separate(mix8k[0], 8000, model, "kmeans", 2)
    assert out.embedding.v.shape[:2] == (StftConfig().frames(8000), 129)


def test_shortest_allowed_input(model):
    mix = harmonic(150.0, 0.25) + harmonic(370.0, 0.25)
    for n in (2, 3, None):
        out = separate(mix, 8000, model, "gmm", n)
        assert all(v.shape == mix.shape for v in out.voices)


def test_single_talker_gives_a_warning_not_a_crash(model):
    one = harmonic(200.0, 1.0)
    out = separate(one, 8000, model, "kmeans", 2)  # random net: just must not crash
    assert len(out.voices) == 2
    out = separate(one, 8000, model, "kmeans", None)
    assert out.n_speakers in (2, 3)


def constant_embedding_model(emb_dim=4):
    """An untrained-looking net whose every bin embeds to the same vector (no speaker information)."""
    m = tiny_danet("blstm", emb_dim=emb_dim)
    with torch.no_grad():
        m.net.proj.weight.zero_()
        m.net.proj.bias.copy_(torch.arange(1.0, emb_dim + 1).repeat(129))
    return m


def test_indistinguishable_voices_warn():
    m = constant_embedding_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn: fewer distinct points than clusters
        out = separate(harmonic(200.0, 1.0), 8000, m, "soft_kmeans", 2)
    assert any("nearly the same attractor" in w for w in out.warnings), out.warnings


def test_a_voice_20_db_down_warns():
    m = constant_embedding_model()
    b = torch.arange(1.0, 5.0)
    m.fixed_attractors.copy_(torch.stack([10 * b / b.dot(b), -10 * b / b.dot(b)]))
    out = separate(harmonic(200.0, 1.0), 8000, m, "fixed", 2)
    assert out.energies_db[1] < -20
    assert any("voice 2 is more than 20 dB quieter" in w for w in out.warnings), out.warnings


def test_separate_embedding_reuses_the_network_output(model, mix8k):
    calls, handle = count_forward(model)
    try:
        emb = embed(mix8k[0], 8000, model)
        assert isinstance(emb, Embedding) and len(calls) == 1
        outs = [separate_embedding(emb, name, n) for name in ("kmeans", "gmm", "soft_kmeans") for n in (2, 3, None)]
        assert len(calls) == 1  # no reruns
    finally:
        handle.remove()
    assert all(o.embedding is emb for o in outs)
    assert set(emb.timings) >= {"load", "stft", "network"}
    assert set(outs[0].timings) >= {"load", "network", "cluster", "masks_istft"}
    again = separate_embedding(emb, "kmeans", 2)
    np.testing.assert_array_equal(again.masks, outs[0].masks)  # deterministic


def test_checkpoint_path_bytes_and_file_inputs(tmp_path, mix8k):
    path, m = save_tiny_checkpoint(tmp_path / "m.pt")
    mix, _ = mix8k
    assert resolve_model(path) is resolve_model(str(path))  # loaded once, cached
    a = separate(mix, 8000, path, "kmeans", 2)
    buf = io.BytesIO()
    sf.write(buf, mix, 8000, format="WAV", subtype="FLOAT")
    b = separate(buf.getvalue(), None, path, "kmeans", 2)
    wav = tmp_path / "mix.wav"
    wav.write_bytes(buf.getvalue())
    c = separate(wav, None, str(path), "kmeans", 2)
    d = separate(torch.from_numpy(mix), 8000, path, "kmeans", 2)
    for o in (b, c, d):
        np.testing.assert_allclose(o.masks, a.masks, atol=1e-6)
    with pytest.raises(CheckpointError, match="not found"):
        separate(mix, 8000, tmp_path / "missing.pt")


def test_raw_array_needs_a_sample_rate(model, mix8k):
    with pytest.raises(SepvizInputError, match="sample rate"):
        separate(mix8k[0], None, model)


def test_bad_audio_reaches_the_user_as_input_errors(model):
    with pytest.raises(SepvizInputError, match="silent"):
        separate(np.zeros(8000, np.float32), 8000, model)
    with pytest.raises(SepvizInputError, match="limit is 1 s"):
        separate(harmonic(200.0, 2.0), 8000, model, max_seconds=1)


def test_fixed_and_anchor_clusterers(mix8k):
    mix, _ = mix8k
    m = tiny_danet("blstm", objective="adanet", n_anchors=3, n_speakers=2)
    m.fixed_attractors.copy_(torch.randn(2, m.emb_dim))
    for name in ("fixed", "anchors"):
        out = separate(mix, 8000, m, name, 2)
        assert out.masks.shape[0] == 2
    out = separate(mix, 8000, m, "fixed", None)  # auto count is capped at the 2 stored attractors
    assert out.n_speakers == 2
    out = separate(mix, 8000, m, "anchors", 3)
    assert sorted(out.cluster.extras["chosen"].tolist()) == [0, 1, 2]
    with pytest.raises(SepvizInputError, match="fixed attractors for 2 speakers"):
        separate(mix, 8000, m, "fixed", 3)


def test_three_speakers_with_only_two_anchors(mix8k):
    m = tiny_danet("blstm", objective="adanet", n_anchors=2)
    with pytest.raises(SepvizInputError, match="2 anchors; cannot find 3"):
        separate(mix8k[0], 8000, m, "anchors", 3)
    assert separate(mix8k[0], 8000, m, "anchors", None).n_speakers == 2  # auto never asks for 3


@pytest.mark.parametrize("objective", ["dpcl", "upit"])
def test_deep_clustering_models_use_binary_masks(mix8k, objective):
    m = tiny_danet("blstm", objective=objective, activation="unit")
    out = separate(mix8k[0], 8000, m, "kmeans", 2)
    assert set(np.unique(out.masks).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(out.masks.argmax(0), out.assignment)
    np.testing.assert_allclose(np.sum(out.voices, 0), mix8k[0], atol=1e-4)


def test_def_head_masks_are_the_heads_own_soft_masks(mix8k):
    m = tiny_danet("blstm", objective="upit", activation="unit")
    out = separate(mix8k[0], 8000, m, "head", 2)
    emb = embed(mix8k[0], 8000, m)
    with torch.no_grad():
        expected = m.head_masks(emb.v.unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(out.masks, expected, atol=1e-5)
    np.testing.assert_allclose(np.sum(out.voices, 0), mix8k[0], atol=1e-4)  # softmax masks sum to one
    with pytest.raises(SepvizInputError, match="2 outputs"):
        separate(mix8k[0], 8000, m, "head", 3)


def test_sigmoid_model_masks_are_in_range(mix8k):
    m = tiny_danet("bgru", mask="sigmoid")
    out = separate(mix8k[0], 8000, m, "kmeans", 2)
    assert ((out.masks > 0) & (out.masks < 1)).all()


def test_keep_controls_the_salient_bins(model, mix8k):
    emb = embed(mix8k[0], 8000, model, keep=0.5)
    assert emb.keep == 0.5 and 0.45 < float(emb.salient.float().mean()) < 0.55
    assert embed(mix8k[0], 8000, model).keep == model.config.keep


def test_a_model_in_training_mode_is_run_in_eval_mode_and_left_as_it_was(mix8k):
    m = tiny_danet("dilated_cnn", dropout=0.5)
    ref = embed(mix8k[0], 8000, m).v
    m.train()
    a, b = embed(mix8k[0], 8000, m).v, embed(mix8k[0], 8000, m).v
    assert m.training
    torch.testing.assert_close(a, ref)
    torch.testing.assert_close(b, ref)


def test_stereo_references_are_downmixed(model, mix8k):
    mix, src = mix8k
    stereo = [np.stack([s, s], 1) for s in src]  # (samples, 2)
    a = separate(mix, 8000, model, "oracle", 2, references=list(src))
    b = separate(mix, 8000, model, "oracle", 2, references=stereo)
    np.testing.assert_array_equal(a.assignment, b.assignment)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_model_on_the_gpu(mix8k):
    m = tiny_danet("blstm", objective="adanet", n_anchors=3).cuda()
    m.fixed_attractors.normal_()
    cpu = tiny_danet("blstm", objective="adanet", n_anchors=3)
    cpu.load_state_dict({k: v.cpu() for k, v in m.state_dict().items()})
    for name in ("kmeans", "gmm", "soft_kmeans", "fixed", "anchors"):
        out = separate(mix8k[0], 8000, m, name, 2)
        ref = separate(mix8k[0], 8000, cpu, name, 2)
        assert out.embedding.v.device.type == "cpu"
        np.testing.assert_allclose(out.embedding.v.numpy(), ref.embedding.v.numpy(), atol=1e-4)
        assert all(v.shape == mix8k[0].shape for v in out.voices)


def test_auto_weighting_weights_loudness_for_two_talkers_only():
    from sepviz.errors import SepvizInputError
    from sepviz.separate import resolve_weighting

    assert resolve_weighting("auto", 2) == "loudness"
    assert resolve_weighting("auto", 3) == "none"
    assert resolve_weighting("none", 2) == "none" and resolve_weighting("loudness", 3) == "loudness"
    with pytest.raises(SepvizInputError, match="unknown fit weighting"):
        resolve_weighting("louder", 2)


def test_a_calibrated_mask_temperature_softens_the_masks_of_its_talker_count_only(mix8k):
    """masks = softmax(similarity / T[C]); counts without a temperature, and the auto count's
    energy rule, stay at T = 1."""
    from sepviz.danet import masks_from_attractors

    plain, warm = tiny_danet("blstm"), tiny_danet("blstm")
    warm.config.mask_temperature = {"2": 2.5}
    emb_plain, emb_warm = embed(mix8k[0], 8000, plain), embed(mix8k[0], 8000, warm)
    a, b = separate_embedding(emb_plain, "kmeans", 2), separate_embedding(emb_warm, "kmeans", 2)
    np.testing.assert_allclose(a.attractors, b.attractors)  # same clustering, other masks
    expected = masks_from_attractors(emb_warm.v.unsqueeze(0), torch.as_tensor(b.attractors).unsqueeze(0),
                                     "softmax", 2.5)[0].numpy()
    np.testing.assert_allclose(b.masks, expected, atol=1e-6)
    assert np.abs(b.masks - 0.5).mean() < np.abs(a.masks - 0.5).mean()  # softer
    np.testing.assert_allclose(np.sum(b.voices, 0), mix8k[0], atol=1e-4)  # still sum to the mixture
    np.testing.assert_allclose(separate_embedding(emb_warm, "kmeans", 3).masks,
                               separate_embedding(emb_plain, "kmeans", 3).masks, atol=1e-6)
    assert warm.config.temperature(2) == 2.5 and warm.config.temperature(3) == 1.0
    refs = list(mix8k[1])  # oracle attractors are exact: their masks stay at T = 1
    np.testing.assert_allclose(separate_embedding(emb_warm, "oracle", 2, references=refs).masks,
                               separate_embedding(emb_plain, "oracle", 2, references=refs).masks, atol=1e-6)


def test_a_calibrated_merge_threshold_decides_the_auto_count(mix8k, monkeypatch):
    """The count's cosine rule uses the model's own threshold (MERGE_COSINE when not calibrated)."""
    m = tiny_danet("blstm", n_speakers=3)
    emb = embed(mix8k[0], 8000, m)
    real_fit = sep_mod.counting_fit
    # every output loud; the closest two attractors at cosine 0.8
    monkeypatch.setattr(counting, "counting_fit",
                        lambda *a, **kw: (real_fit(*a, **kw)[0], [0.0, -1.0, -3.0], 0.8))
    assert m.config.merge_cosine is None and sep_mod.merge_cosine(m) == sep_mod.MERGE_COSINE == 0.85
    assert separate_embedding(emb, "kmeans", None).n_speakers == 3  # 0.8 < 0.85: three talkers
    m.config.merge_cosine = 0.75
    assert separate_embedding(emb, "kmeans", None).n_speakers == 2  # 0.8 > 0.75: one talker split in two
    assert sep_mod.count_from([0.0, -1.0, -30.0], 0.1, 0.5) == 2  # a quiet output is no talker
    assert sep_mod.count_from([0.0, -1.0, -3.0], 0.6, 0.5) == 2 and sep_mod.count_from([0.0, -1.0, -3.0], 0.4, 0.5) == 3
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    with pytest.raises(ValueError, match="merge_cosine"):
        build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 4}, merge_cosine=1.5))


@pytest.mark.parametrize("bad", [{"2": 0.0}, {"2": "hot"}, {"two": 1.5}, [1.5], {"3": float("nan")}])
def test_a_bad_mask_temperature_is_refused(bad):
    with pytest.raises(ValueError, match="mask_temperature"):
        _danet_with_temperature(bad)


def _danet_with_temperature(temps):
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig

    return build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 4},
                                   mask_temperature=temps))


def test_calibrated_attractor_tracking_moves_the_attractors_of_its_talker_count_only(mix8k):
    """The model's tracking gives per-frame attractors and the masks follow them; three talkers
    (not calibrated here), the oracle and ``tracking=None`` keep one attractor per talker."""
    from sepviz.calibration import Tracking
    from sepviz.tracking import tracked_masks

    m = tiny_danet("blstm")
    m.config.attractor_tracking = {"2": {"frames": 4, "strength": 0.5}}
    emb = embed(mix8k[0], 8000, m)
    out = separate_embedding(emb, "kmeans", 2)
    t, f, k = emb.v.shape
    assert out.attractor_tracks.shape == (2, t, k)
    expected = tracked_masks(emb.v, torch.as_tensor(out.attractor_tracks), "softmax", m.config.temperature(2))
    np.testing.assert_allclose(out.masks, expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.sum(out.voices, 0), mix8k[0], atol=1e-4)  # the masks still sum to 1
    plain = separate_embedding(emb, "kmeans", 2, tracking=None)
    assert plain.attractor_tracks is None and not np.allclose(plain.masks, out.masks)
    np.testing.assert_allclose(plain.attractors, out.attractors)  # the clusterer's own fit is unchanged
    # the bins' voices (the cloud's colours) are the tracked masks' choice; without tracking, the clusterer's
    np.testing.assert_array_equal(out.assignment, out.masks.argmax(0))
    np.testing.assert_array_equal(plain.assignment, plain.cluster.assignment.reshape(t, f).numpy())
    other = separate_embedding(emb, "kmeans", 2, tracking=Tracking(8, 2.0))
    assert other.attractor_tracks is not None and not np.allclose(other.masks, out.masks)
    assert separate_embedding(emb, "kmeans", 3).attractor_tracks is None
    assert separate_embedding(emb, "oracle", 2, references=list(mix8k[1])).attractor_tracks is None
    with pytest.raises(ValueError, match="attractor_tracking"):
        from sepviz.checkpoint import build_danet
        from sepviz.danet import DANetConfig
        build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 4},
                                attractor_tracking={"2": {"frames": -1, "strength": 1}}))


def test_the_one_talker_warning_for_two_voices_uses_its_own_threshold(mix8k, monkeypatch):
    """Two voices warn above the model's one_talker_cosine (0.99 when not calibrated), three above
    the auto count's merge threshold: two real talkers' attractors often sit closer than that."""
    m = tiny_danet("blstm", n_speakers=3)
    emb = embed(mix8k[0], 8000, m)
    monkeypatch.setattr(counting, "max_cosine", lambda att: 0.9)
    assert sep_mod.one_talker_cosine(m) == sep_mod.ONE_TALKER_COSINE == 0.99
    assert not any("same attractor" in w for w in separate_embedding(emb, "kmeans", 2).warnings)
    assert any("voices have nearly the same attractor (cosine > 0.85)" in w
               for w in separate_embedding(emb, "kmeans", 3).warnings)
    m.config.one_talker_cosine = 0.875
    assert any(w.startswith("the two voices have nearly the same attractor (cosine > 0.875)")
               for w in separate_embedding(emb, "kmeans", 2).warnings)
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    with pytest.raises(ValueError, match="one_talker_cosine"):
        build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 4},
                                one_talker_cosine=1.0))


def test_the_same_attractor_warning_measures_kmeans_attractors(mix8k, monkeypatch):
    """The thresholds were calibrated on k-means attractors; soft k-means and the GMMs pull theirs
    together, so the warning measures a k-means fit whatever the clusterer (the bundled
    synth_3talker_1 warned "fewer than 3 talkers" with soft k-means)."""
    m = tiny_danet("blstm", n_speakers=3)
    emb = embed(mix8k[0], 8000, m)
    fitted = {}
    real = sep_mod.cluster_embedding

    def spy(emb, clusterer, c, **kw):
        res = real(emb, clusterer, c, **kw)
        fitted[id(res.attractors)] = clusterer
        return res

    monkeypatch.setattr(sep_mod, "cluster_embedding", spy)  # the clusterer's own fit
    monkeypatch.setattr(counting, "cluster_embedding", spy)  # the warning's k-means fit
    close_if = lambda who: (lambda att: 0.95 if (fitted.get(id(att)) == "kmeans") == who else 0.5)  # noqa: E731
    monkeypatch.setattr(counting, "max_cosine", close_if(False))  # only the clusterer's own attractors are close
    for clusterer, c in (("soft_kmeans", 3), ("gmm", 3), ("gmm_tied", 2), ("soft_kmeans", 2)):
        assert not any("same attractor" in w for w in separate_embedding(emb, clusterer, c).warnings), clusterer
    monkeypatch.setattr(counting, "max_cosine", close_if(True))  # k-means's attractors are close
    for clusterer in ("soft_kmeans", "kmeans"):
        w = separate_embedding(emb, clusterer, 3).warnings
        assert [x.code for x in w] == ["same_attractor"], (clusterer, w)


def test_moving_an_attractor_recomputes_masks_and_voices_without_the_network(model, mix8k):
    from sepviz.separate import move_attractor

    emb = embed(mix8k[0], 8000, model)
    base = separate_embedding(emb, "kmeans", 2, tracking=None)
    calls, handle = count_forward(model)
    try:
        same = move_attractor(base, 0, np.zeros(model.emb_dim))
        # onto the other attractor: both voices get half of every bin
        onto = move_attractor(base, 0, base.attractors[1] - base.attractors[0])
    finally:
        handle.remove()
    assert calls == []
    np.testing.assert_allclose(same.masks, base.masks, atol=1e-6)
    np.testing.assert_allclose(same.voices[0], base.voices[0], atol=1e-5)
    np.testing.assert_allclose(onto.attractors[0], base.attractors[1], atol=1e-6)
    np.testing.assert_allclose(onto.masks, 0.5, atol=1e-5)
    np.testing.assert_allclose(np.sum(onto.voices, 0), mix8k[0], atol=1e-4)  # softmax masks still add up
    with pytest.raises(SepvizInputError, match="no attractor 3"):
        move_attractor(base, 2, np.zeros(model.emb_dim))
