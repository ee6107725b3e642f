"""Synthetic department extracts with ground truth, driven by the source registry.

``generate(out, scale, seed)`` builds a true world (``scale`` persons in households, scale/10 legal
persons, their address points), writes every registry source's extract under
``out/landing/<source_id>/`` exactly as that department would send it (its headers, encoding,
delimiter, date formats, and a controlled amount of mess), and the ground truth under
``out/truth/``. Same seed, same bytes. See :mod:`synthetic.generator` for the layout and
:mod:`synthetic.extracts` for the kinds of mess.
"""

from synthetic.generator import generate

__all__ = ["generate"]
