"""What a user is told: errors in words (never a traceback), pop-up notices, progress."""
from __future__ import annotations

import functools
import logging

import gradio as gr

from sepviz.errors import SepvizError

log = logging.getLogger("sepviz.app")

NOTICE_SECONDS = 8

# One answer for every file a client names instead of uploading, whether it exists or not, so
# the refusal tells nothing about the server's files.
REFUSAL = ("The studio reads only audio uploaded with the request or a bundled example: send the file "
           "itself (gradio_client's handle_file uploads it) or pick an example by name.")


def user_message(err: BaseException) -> str:
    """What a user reads about ``err``: a library or Gradio message as it is; anything else,
    logged here, as a short line (never a traceback)."""
    if isinstance(err, gr.Error):
        return str(err.message)
    if isinstance(err, SepvizError):
        return str(err)
    log.error("unexpected error", exc_info=err)
    return f"Something went wrong ({err.__class__.__name__}: {str(err)[:200]})."


def api_handler(fn):
    """Wrap an API handler: errors become a user message (gr.Error), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - every error reaches the client as words
            raise gr.Error(user_message(err), print_exception=False) from None

    return wrapper


def notice(err: BaseException) -> str:
    """Say once, in a pop-up that goes away, why an action failed; returns the message for the
    status line.  UI handlers return their cleared panels instead of raising: a raised error
    would badge every output "Error" and leave the previous results on screen."""
    message = user_message(err)
    gr.Warning(message, duration=NOTICE_SECONDS)
    return message


def progress_step(progress, frac: float, desc: str) -> None:
    """Move Gradio's progress bar, where there is one."""
    try:
        if progress is not None:
            progress(frac, desc=desc)
    except Exception:  # noqa: BLE001 - outside a Gradio request the tracker may be unavailable
        pass
