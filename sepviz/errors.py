"""User-facing errors: every bad input ends in one of these, with a message a person can act on."""


class SepvizError(Exception):
    """Base class; the CLI and the app print ``str(err)`` instead of a traceback."""


class SepvizInputError(SepvizError, ValueError):
    """The audio or the request cannot be separated (empty, silent, too long, not audio, ...)."""


class CheckpointError(SepvizError):
    """A checkpoint file is missing, corrupt, or does not match this version of the code."""
