"""The studio's words and page files, shipped beside its code as package data:
``texts/NAME.md`` (teaching and help texts, Markdown) and ``page/NAME`` (the page's CSS and JS)."""
from __future__ import annotations

import functools
from importlib.resources import files


@functools.cache
def text(name: str) -> str:
    """The Markdown of ``texts/NAME.md``, without the file's final newline."""
    return files(__package__).joinpath("texts", f"{name}.md").read_text(encoding="utf-8").removesuffix("\n")


@functools.cache
def page(name: str) -> str:
    """The page file ``page/NAME`` (``studio.css``, ``selection.js``) as it is."""
    return files(__package__).joinpath("page", name).read_text(encoding="utf-8")
