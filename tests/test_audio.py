"""Loading and validating audio: formats, rates, channels, dtypes, and a clear error for every bad input."""
import io

import numpy as np
import pytest
import soundfile as sf

from _synth import harmonic
from sepviz import audio
from sepviz.audio import load_audio, resample, to_mono, validate_wave
from sepviz.errors import SepvizInputError


def dominant_hz(x, sr):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x)


def tone(sr, seconds=1.0, f0=440.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


def assert_readable(err: SepvizInputError):
    msg = str(err)
    assert 10 < len(msg) < 300 and "Traceback" not in msg and "\n" not in msg


# --------------------------------------------------------------------------- good inputs


@pytest.mark.parametrize("fmt,subtype,ext,tol", [("WAV", "PCM_16", "wav", 1e-3), ("WAV", "FLOAT", "wav", 1e-6),
                                                 ("FLAC", "PCM_16", "flac", 1e-3), ("OGG", "VORBIS", "ogg", 0.05)])
def test_load_from_path(tmp_path, fmt, subtype, ext, tol):
    x = tone(8000)
    p = tmp_path / f"a.{ext}"
    sf.write(p, x, 8000, format=fmt, subtype=subtype)
    wave, sr = load_audio(p)
    assert sr == 8000 and wave.dtype == np.float32 and wave.shape == x.shape
    assert np.max(np.abs(wave - x)) < tol
    wave2, _ = load_audio(str(p))  # str paths too
    np.testing.assert_array_equal(wave, wave2)


def test_load_mp3_if_supported(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("libsndfile without MP3")
    p = tmp_path / "a.mp3"
    x = tone(16000, 1.0, 440.0)
    sf.write(p, x, 16000, format="MP3")
    wave, sr = load_audio(p)
    assert sr == 16000 and abs(len(wave) - 8000) < 2000  # decoder padding varies
    assert abs(dominant_hz(wave, 8000) - 440.0) < 5


@pytest.mark.parametrize("sr", [16000, 44100, 22050, 48000, 11025])
def test_any_sample_rate_is_resampled_to_8k(sr):
    x = tone(sr, 1.0, 440.0)
    wave, orig = load_audio((x, sr))
    assert orig == sr and wave.dtype == np.float32
    assert abs(len(wave) - 8000) <= 1
    assert abs(dominant_hz(wave, 8000) - 440.0) < 2  # pitch preserved
    assert np.sqrt(np.mean(wave ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)  # level preserved


def test_content_above_the_new_nyquist_is_removed():
    x = tone(44100, 1.0, 6000.0)  # above 4 kHz: must not alias into the band
    wave, _ = load_audio((x + tone(44100, 1.0, 300.0), 44100))
    assert abs(dominant_hz(wave, 8000) - 300.0) < 2
    spec = np.abs(np.fft.rfft(wave))
    assert spec[int(2000 * len(wave) / 8000)] < 1e-2 * spec.max()  # 6 kHz would alias to 2 kHz


def test_resample_identity_and_other_targets():
    x = tone(8000)
    np.testing.assert_array_equal(resample(x, 8000, 8000), x)
    assert len(resample(x, 8000, 16000)) == 16000
    wave, _ = load_audio((tone(44100), 44100), target_sr=16000)
    assert len(wave) == 16000


def test_stereo_file_is_downmixed(tmp_path):
    left, right = tone(16000, 1.0, 300.0), tone(16000, 1.0, 700.0, amp=0.2)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], 1), 16000, subtype="FLOAT")
    wave, sr = load_audio(p)
    expected, _ = load_audio(((left + right) / 2, 16000))
    np.testing.assert_allclose(wave, expected, atol=1e-6)


def test_short_stereo_file_keeps_its_samples(tmp_path):
    """A 6-channel file whose sample count is small still downmixes over the channel axis."""
    p = tmp_path / "six.wav"
    sf.write(p, np.tile(tone(8000, 0.5)[:, None], (1, 6)), 8000, subtype="FLOAT")
    wave, _ = load_audio(p)
    np.testing.assert_allclose(wave, tone(8000, 0.5), atol=1e-6)


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_stereo_arrays_are_downmixed(layout):
    st = np.stack([tone(8000), np.zeros(8000, np.float32)], 1)
    if layout == "channels_first":
        st = st.T
    wave, _ = load_audio((st, 8000))
    np.testing.assert_allclose(wave, tone(8000) / 2, atol=1e-6)


def test_to_mono_shapes():
    assert to_mono(np.zeros(5)).shape == (5,)
    assert to_mono(np.zeros((100, 2))).shape == (100,)
    assert to_mono(np.zeros((2, 100))).shape == (100,)
    assert to_mono(np.zeros((12, 1000))).shape == (1000,)  # 12-channel mic array, channels first
    with pytest.raises(SepvizInputError, match="1-D or 2-D"):
        to_mono(np.zeros((2, 2, 100)))


def test_int16_and_uint8_arrays_are_scaled():
    x = tone(8000, amp=0.5)
    pcm16 = np.round(x * 32767).astype(np.int16)
    wave, _ = load_audio((pcm16, 8000))
    np.testing.assert_allclose(wave, x, atol=1e-4)
    pcm8 = np.round(x * 127.5 + 127.5).astype(np.uint8)  # offset binary
    wave8, _ = load_audio((pcm8, 8000))
    np.testing.assert_allclose(wave8, x, atol=1e-2)
    assert abs(float(wave8.mean())) < 1e-2  # no DC offset
    wave32, _ = load_audio((np.round(x * 2**31).astype(np.int32), 8000))
    np.testing.assert_allclose(wave32, x, atol=1e-5)


def test_float64_and_list_input():
    x = tone(8000)
    wave, _ = load_audio((x.astype(np.float64), 8000))
    assert wave.dtype == np.float32
    wave2, _ = load_audio((x.tolist(), 8000.0))
    np.testing.assert_allclose(wave, wave2)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG"])
def test_bytes(fmt):
    buf = io.BytesIO()
    sf.write(buf, tone(16000), 16000, format=fmt)
    wave, sr = load_audio(buf.getvalue())
    assert sr == 16000 and abs(len(wave) - 8000) <= 1
    assert abs(dominant_hz(wave, 8000) - 440.0) < 2
    wave2, _ = load_audio(bytearray(buf.getvalue()))
    np.testing.assert_array_equal(wave, wave2)


def test_loud_float_input_is_scaled_to_full_scale():
    wave, _ = load_audio((4.0 * tone(8000), 8000))
    assert np.max(np.abs(wave)) == pytest.approx(1.0)


# --------------------------------------------------------------------------- bad inputs


def check_error(source, match, **kw):
    with pytest.raises(SepvizInputError, match=match) as info:
        load_audio(source, **kw)
    assert_readable(info.value)
    return info.value


def test_empty_inputs(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    check_error(p, "empty")
    check_error(b"", "empty")
    check_error((np.zeros(0, np.float32), 8000), "empty")
    check_error((np.zeros((0, 2), np.float32), 8000), "empty")


def test_header_only_wav_is_empty_or_too_short(tmp_path):
    p = tmp_path / "hdr.wav"
    sf.write(p, np.zeros(0, np.float32), 8000)
    check_error(p, "empty|short|0.00 s")


def test_missing_file(tmp_path):
    check_error(tmp_path / "nope.wav", "not found")


def test_silence():
    check_error((np.zeros(8000, np.float32), 8000), "silent")
    check_error((np.full(8000, 1e-6, np.float32), 8000), "silent")
    check_error((np.zeros(8000, np.int16), 8000), "silent")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(bad):
    x = tone(8000)
    x[100] = bad
    check_error((x, 8000), "NaN or infinite")


def test_text_file_renamed_wav_fails_fast(tmp_path):
    import time

    p = tmp_path / "notes.wav"
    p.write_text("these are my meeting notes\n" * 200)
    t = time.perf_counter()
    err = check_error(p, "not an audio file")
    assert time.perf_counter() - t < 1.0
    assert "notes.wav" in str(err)
    check_error(p.read_bytes(), "could not read the upload as audio")


def test_too_long_fails_before_decoding(tmp_path, monkeypatch):
    p = tmp_path / "long.wav"
    sf.write(p, np.tile(tone(8000), 70), 8000, subtype="PCM_16")  # 70 s
    buf = p.read_bytes()

    def no_decoding(*a, **k):
        raise AssertionError("decoded a file that the header already says is too long")

    monkeypatch.setattr(sf, "read", no_decoding)
    err = check_error(p, "70.0 s long; the limit is 60 s")
    assert "max_seconds" in str(err)  # tells the user how to raise it
    check_error(buf, "too long|70.0 s long")
    check_error(p, "limit is 10 s", max_seconds=10)
    monkeypatch.undo()
    wave, _ = load_audio(p, max_seconds=120)  # raising the limit works
    assert len(wave) == 70 * 8000


def test_too_long_array():
    check_error((np.tile(tone(8000), 61), 8000), "61.0 s long")
    wave, _ = load_audio((np.tile(tone(8000), 61), 8000), max_seconds=0)  # 0 disables the limit
    assert len(wave) == 61 * 8000


def test_too_short():
    err = check_error((tone(8000, 0.1), 8000), "0.10 s long; at least 0.25 s")
    assert "0.25" in str(err)
    wave, _ = load_audio((tone(8000, 0.25), 8000))  # exactly the minimum is fine
    assert len(wave) == 2000


def test_huge_file_is_refused_by_size(tmp_path, monkeypatch):
    p = tmp_path / "huge.wav"
    with open(p, "wb") as fh:  # sparse: 250 MB on paper, nothing on disk
        fh.truncate(250 * 2**20)
    err = check_error(p, "250 MB; the limit is 200 MB")
    assert "huge.wav" in str(err)
    monkeypatch.setattr(audio, "MAX_FILE_BYTES", 1000)
    check_error(b"\0" * 2000, "the upload is .* MB; the limit")


@pytest.mark.parametrize("sr", [0, -8000, None, "fast", 100, 10**7])
def test_bad_sample_rate(sr):
    check_error((tone(8000), sr), "sample rate")


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.ones(8000, dtype=bool), np.ones(8000, dtype=complex)])
def test_non_numeric_arrays(data):
    check_error((data, 8000), "numeric")


def test_bad_shapes_and_types():
    check_error((np.zeros((2, 2, 8000)), 8000), "1-D or 2-D")
    check_error((tone(8000),), "sample_rate")
    check_error(12345, "cannot read audio from a int")


def test_validate_wave_directly():
    validate_wave(tone(8000), 8000)
    with pytest.raises(SepvizInputError, match="sample rate"):
        validate_wave(tone(8000), 0)
    with pytest.raises(SepvizInputError, match="at least 1.0 s"):
        validate_wave(tone(8000, 0.5), 8000, min_seconds=1.0)


def test_errors_are_value_errors_for_callers_that_catch_those():
    with pytest.raises(ValueError):
        load_audio((np.zeros(0), 8000))


def test_harmonic_helper_is_audio():
    wave, _ = load_audio((harmonic(200.0), 8000))
    assert np.max(np.abs(wave)) <= 1.0
