"""sepviz: see and hear single-channel speech separation with the Deep Attractor Network family."""
__version__ = "0.1.0"

from .errors import CheckpointError, SepvizError, SepvizInputError  # noqa: E402

__all__ = ["__version__", "SepvizError", "SepvizInputError", "CheckpointError"]
