"""sepviz studio: the Gradio app to hear and see speech separation (``python app.py`` starts it).

    settings   the choices and limits, and their parsing
    models     Checkpoints: the folder of models, their labels and cards
    pipeline   Pipeline(Checkpoints): the cached embeddings, separations, figures' data and files
    report     a separation in words (API report, status line, metrics table)
    handlers   Studio(Pipeline): one handler per user action and API call
    layout     the page (Blocks), its wiring, the API endpoints, launch settings
    feedback   errors in words, notices, progress;  resources: texts/*.md and page/* files
"""
from .handlers import Studio
from .layout import build_demo, launch_kwargs

__all__ = ["Studio", "build_demo", "launch_kwargs"]
