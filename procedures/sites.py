"""Where the operation is done, when the library leaves it to the surgeon at issue.

A procedure may ask for the spinal levels, the side, or both (Procedure.asks_for). The surgeon
types them on the issue form; they are checked here and written into the consent's frozen
site, which the patient reads and the sealed PDF prints.
"""

import re
from itertools import pairwise

from django.db import models

# The vertebrae a level may name, top to bottom, with how many each region has.
REGIONS = (("C", 7), ("T", 12), ("L", 5), ("S", 5))
_RANK = {
    f"{letter}{number}": rank
    for rank, (letter, number) in enumerate(
        (letter, number) for letter, count in REGIONS for number in range(1, count + 1)
    )
}
_DASHES = re.compile(r"\s*[-\u2010-\u2015\u2212]\s*")
LEVELS_MAX_LENGTH = 40
LEVELS_MESSAGE = (
    "Enter the levels from top to bottom, joined by a hyphen, for example L4-L5, L4-S1, "
    "C5-C6 or T12-L1."
)


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BOTH = "both", "Both sides"


class LevelsError(ValueError):
    """Levels that are not in the form L4-L5; the message says how to write them."""


def clean_levels(text: str) -> str:
    """Levels as written on the consent ("l4 - s1" or with a dash -> "L4-S1"), or LevelsError.

    At least two vertebrae (C1-C7, T1-T12, L1-L5, S1-S5), from the top down: "L4-S1" is a
    range, "L4-L5-S1" names each one.
    """
    text = str(text).strip()
    if not text or len(text) > LEVELS_MAX_LENGTH:
        raise LevelsError(LEVELS_MESSAGE)
    parts = _DASHES.split(text.upper())
    if len(parts) < 2 or any(part not in _RANK for part in parts):
        raise LevelsError(LEVELS_MESSAGE)
    ranks = [_RANK[part] for part in parts]
    if any(upper >= lower for upper, lower in pairwise(ranks)):
        raise LevelsError(LEVELS_MESSAGE)
    return "-".join(parts)


def side_phrase(side: str) -> str:
    return {Side.LEFT: "left side", Side.RIGHT: "right side", Side.BOTH: "both sides"}[side]


def consent_site(site: str, *, levels: str = "", side: str = "") -> str:
    """The site a consent states: the library's site, then the levels and the side if any."""
    parts = [site]
    if levels:
        parts.append(f"levels {levels}")
    if side:
        parts.append(side_phrase(side))
    return ", ".join(parts)
