"""A checkpoint's calibration: the test-time settings chosen on validation talkers after training.

Training fixes the network; how its embeddings are turned into voices is tuned afterwards
(``python -m training.calibrate``) and stored in the checkpoint config next to the model's own
settings (:class:`sepviz.danet.DANetConfig` is the model's settings plus a :class:`Calibration`),
so a checkpoint separates as it was calibrated with nothing else at hand:

* ``mask_temperature`` per talker count: masks are ``softmax(similarity / T)``;
* ``attractor_tracking`` per talker count: a :class:`Tracking` (:mod:`sepviz.tracking`);
* ``merge_cosine``: the auto count's threshold (:mod:`sepviz.counting`), default :data:`MERGE_COSINE`;
* ``one_talker_cosine``: the two-voice warning's threshold, default :data:`ONE_TALKER_COSINE`.

Talker counts are string keys (``"2"``, ``"3"``) because checkpoints are read with
``torch.load(weights_only=True)`` and keep plain dicts.  Every setting is checked on load
(:meth:`Calibration.check_calibration`), when written (``sepviz.checkpoint.write_calibration``) and
when given on the command line, by the same functions here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MERGE_COSINE = 0.85     # auto count: attractors this similar are one talker split in two (unless calibrated)
ONE_TALKER_COSINE = 0.99  # two voices this similar are one talker (unless calibrated: real pairs reach 0.89)
TEMPERATURE_RANGE = (0.05, 20.0)  # mask temperatures a checkpoint, the CLI and calibrate accept


def _number_in(x, lo: float, hi: float, *, closed: bool) -> bool:
    """A real number (not a bool, not NaN) in [lo, hi] (``closed``) or (lo, hi)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return lo <= x <= hi if closed else lo < x < hi


def check_mask_temperature(temps) -> None:
    """Raise ValueError unless ``temps`` maps talker counts ("2", "3") to numbers in TEMPERATURE_RANGE."""
    lo, hi = TEMPERATURE_RANGE
    if not isinstance(temps, dict) or not all(str(k).isdigit() and _number_in(t, lo, hi, closed=True)
                                              for k, t in temps.items()):
        raise ValueError(f"mask_temperature must map talker counts to numbers in [{lo:g}, {hi:g}], got {temps!r}")


def check_merge_cosine(merge, name: str = "merge_cosine") -> None:
    """Raise ValueError unless ``merge`` is None (the default rule) or a cosine in (0, 1)."""
    if merge is not None and not _number_in(merge, 0.0, 1.0, closed=False):
        raise ValueError(f"{name} must be a number in (0, 1), got {merge!r}")


def temperature_summary(temps: dict) -> str:
    """"1.2 (2 talkers), 1.4 (3 talkers)": how cards and ``sepviz info`` show a calibration."""
    return ", ".join(f"{float(t):g} ({c} talkers)" for c, t in sorted(temps.items()))


FRAMES_RANGE = (1, 2000)        # tracking half-window in STFT frames (8 ms each at 8 kHz, hop 64)
STRENGTH_RANGE = (0.0, 1000.0)  # tracking prior weight of the global attractor, relative to a window's own


@dataclass(frozen=True)
class Tracking:
    """How attractors follow the talkers (sepviz.tracking): half-window ``frames`` and prior ``strength``.

    Every spelling of a setting (the CLI's string, a checkpoint's dict, the trainer's pair) is read
    by :meth:`from_value`; None stands for no tracking (one attractor per talker).
    """

    frames: int
    strength: float

    def to_dict(self) -> dict:
        return {"frames": int(self.frames), "strength": float(self.strength)}

    def __str__(self) -> str:
        return f"+-{self.frames} frames, strength {self.strength:g}"

    @classmethod
    def from_value(cls, value) -> "Tracking | None":
        """A checked Tracking, or None for no tracking, from any of its spellings:

        * None, ``"off"`` -> None;
        * ``"FRAMES:STRENGTH"`` such as ``"32:0.5"`` (``sepviz --tracking``, calibrate's grid): :meth:`parse`;
        * ``{"frames": 32, "strength": 0.5}`` (a checkpoint's ``attractor_tracking`` per talker count);
        * ``[frames, strength]`` (the trainer's ``tracked``);
        * a Tracking, as it is.

        Raises ValueError for anything else or a setting out of range."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, dict) and set(value) == {"frames", "strength"}:
            return cls.checked(value["frames"], value["strength"])
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return cls.checked(*value)
        raise ValueError(f"attractor tracking needs 'off', 'FRAMES:STRENGTH', [frames, strength] or "
                         f"{{'frames', 'strength'}}, got {value!r}")

    @classmethod
    def parse(cls, spec: str) -> "Tracking | None":
        """``"off"`` -> None; ``"FRAMES:STRENGTH"`` (e.g. ``"32:0.5"``) -> Tracking; else ValueError."""
        spec = str(spec).strip().lower()
        if spec in ("off", "0", "none"):
            return None
        frames, sep, strength = spec.partition(":")
        try:
            frames_n, strength_x = int(frames), float(strength) if sep else 0.5
        except ValueError:
            raise ValueError(f"a tracking setting is 'off' or FRAMES:STRENGTH such as 32:0.5, got {spec!r}") from None
        return cls.checked(frames_n, strength_x)

    @classmethod
    def checked(cls, frames, strength) -> "Tracking":
        """A Tracking, or ValueError when ``frames`` / ``strength`` are out of range: one check for
        the CLI, the trainer's tracked term and (per talker count) the checkpoint's setting."""
        if not _tracking_in_range({"frames": frames, "strength": strength}):
            raise ValueError(f"attractor tracking needs {_TRACKING_RANGES}, got frames={frames!r}, "
                             f"strength={strength!r}")
        return cls(int(frames), float(strength))


_TRACKING_RANGES = (f"'frames': integer in [{FRAMES_RANGE[0]}, {FRAMES_RANGE[1]}], "
                    f"'strength': number in [{STRENGTH_RANGE[0]:g}, {STRENGTH_RANGE[1]:g}]")


def _tracking_in_range(setting) -> bool:
    """Whether ``setting`` is exactly {frames, strength} with both in range (frames whole)."""
    return (isinstance(setting, dict) and set(setting) == {"frames", "strength"}
            and _number_in(setting["frames"], *FRAMES_RANGE, closed=True)
            and float(setting["frames"]) == int(setting["frames"])
            and _number_in(setting["strength"], *STRENGTH_RANGE, closed=True))


def check_tracking(settings) -> None:
    """Raise ValueError unless ``settings`` maps talker counts ("2", "3") to {frames, strength} in range."""
    ok = isinstance(settings, dict) and all(str(c).isdigit() and _tracking_in_range(s) for c, s in settings.items())
    if not ok:
        raise ValueError(f"attractor_tracking must map talker counts to {{{_TRACKING_RANGES}}}, got {settings!r}")


def tracking_summary(settings: dict) -> str:
    """"+-32 frames, strength 0.5 (2 talkers)": how cards and ``sepviz info`` show it."""
    return ", ".join(f"{Tracking.from_value(s)} ({c} talkers)" for c, s in sorted(settings.items()))


@dataclass
class Calibration:
    """The test-time settings a checkpoint stores (its config's keys of the same names)."""

    # Test-time mask temperature per talker count, e.g. {"2": 1.2, "3": 1.6}: masks are
    # softmax(similarity / T).  Training always uses 1 with the *ideal* attractors; the attractors a
    # clusterer finds are noisier, and softer masks then lose less on the bins it gets wrong.
    # Chosen on validation talkers by ``python -m training.calibrate``; absent = 1.  The oracle
    # clusterer's exact attractors keep T = 1 (sepviz.separate).
    mask_temperature: dict = field(default_factory=dict)
    # "auto" count: a third attractor this close (cosine) to another is one talker split in two.
    # None = MERGE_COSINE; ``training.calibrate --count`` sets it on validation talkers.
    merge_cosine: float | None = None
    # Two voices whose attractors are closer than this cosine are one talker split in two (the
    # "one talker" warning).  None = ONE_TALKER_COSINE (only near-identical attractors);
    # ``training.calibrate --one-talker`` sets it from validation mixtures and their single-talker sources.
    one_talker_cosine: float | None = None
    # Attractor tracking per talker count, e.g. {"2": {"frames": 32, "strength": 0.5}}: the
    # clusterer's attractors follow each talker through time (sepviz.tracking).  Absent = off.
    # Chosen on validation talkers by ``python -m training.calibrate --tracking-grid``.
    attractor_tracking: dict = field(default_factory=dict)

    def tracking(self, n_speakers: int) -> Tracking | None:
        """The attractor tracking for ``n_speakers`` talkers (None: one attractor per talker)."""
        return Tracking.from_value(self.attractor_tracking.get(str(int(n_speakers))) or None)

    def temperature(self, n_speakers: int) -> float:
        """The mask temperature for ``n_speakers`` talkers (1 when not calibrated)."""
        return float(self.mask_temperature.get(str(int(n_speakers)), 1.0))

    def check_calibration(self) -> None:
        """Raise ValueError naming the first setting out of range (a bad checkpoint fails on load)."""
        check_mask_temperature(self.mask_temperature)
        check_merge_cosine(self.merge_cosine)
        check_merge_cosine(self.one_talker_cosine, "one_talker_cosine")
        check_tracking(self.attractor_tracking)
