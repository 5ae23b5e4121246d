"""Risks as pictures: an icon array of 100 or 1,000 people, those who get the risk coloured in.

Drawn on the server as SVG so it works without JavaScript and goes into the PDF as it is. The
markup is built from numbers and fixed words only, never from text anyone typed (the source
note is shown beside the picture by the template, escaped there). It stays small: one figure
is drawn once in each of two <pattern>s (coloured in, outlined) and four rectangles are
filled with them, so a picture of 1,000 people is under 1 KB whatever its numbers.

Works on any object with `one_in`, `per_1000` and `rate_source` (a library risk or a risk
frozen into a consent).
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.utils.safestring import SafeString, mark_safe

# Show 100 people when the count per 100 is a whole number or near one: within a quarter of a
# person, and within 5% of the smaller group (those coloured in or the others), so that 1 in 120
# (0.83 per 100) is not drawn as 1 in 100, nor 998 in 1,000 as everyone. Otherwise 1,000
# people, which is never more than half a person out.
NEAR_WHOLE = Fraction(1, 4)
NEAR_RELATIVE = Fraction(1, 20)


@dataclass(frozen=True)
class Grid:
    total: int
    columns: int

    @property
    def rows(self) -> int:
        return self.total // self.columns


GRIDS = {100: Grid(100, 10), 1000: Grid(1000, 40)}

# One figure's cell in SVG units: a head and shoulders, 7 wide and 10 tall, with room round it.
CELL_WIDTH = 10
CELL_HEIGHT = 12
FIGURE = '<circle cx="5" cy="2.5" r="2"/><path d="M1.5 11V8.5a3.5 3.5 0 0 1 7 0V11z"/>'
# WCAG 2.2 non-text contrast (1.4.11) on the picture's own white background: the coloured-in
# people 9.4:1, the outline of the others 4.7:1. Filled against outlined tells them apart
# without colour (1.4.1).
BACKGROUND = "#fff"
AFFECTED = "#084298"
UNAFFECTED = "#6c757d"
# Size on the page when no stylesheet sizes it, in CSS pixels per SVG unit.
SCALE = {100: 2, 1000: 1}


@dataclass(frozen=True)
class Picture:
    total: int  # 100 or 1,000 people
    highlighted: int  # how many of them are coloured in
    rare: bool  # fewer than 1 in 1,000: the picture shows more than the real number
    words: str  # the text alternative, grade 8 or lower
    svg: SafeString


def rate_per_1000(*, one_in: int | None = None, per_1000: Decimal | None = None) -> Fraction | None:
    """How many in 1,000 people, exactly; None when there is no number."""
    if one_in is not None:
        if one_in < 1:
            raise ValueError(f"1 in {one_in} is not a frequency")
        return Fraction(1000, one_in)
    if per_1000 is not None:
        rate = Fraction(Decimal(per_1000))
        if not 0 < rate <= 1000:
            raise ValueError(f"{per_1000} per 1,000 is not a frequency")
        return rate
    return None


def _round(value: Fraction) -> int:
    """Round half up (Python's round() rounds half to even: 0.5 would become 0)."""
    return math.floor(value + Fraction(1, 2))


def counts(rate: Fraction) -> tuple[int, int]:
    """(total, highlighted) for a rate per 1,000 people."""
    per_100 = rate / 10
    nearest = _round(per_100)
    off = abs(per_100 - nearest)
    smaller_group = min(nearest, 100 - nearest)
    if nearest >= 1 and off <= NEAR_WHOLE and off <= smaller_group * NEAR_RELATIVE:
        return 100, nearest
    return 1000, max(1, _round(rate))


def picture_for(item, *, number: int = 1) -> Picture | None:
    """The picture of a risk's number, or None when it has none."""
    return make_picture(one_in=item.one_in, per_1000=item.per_1000, number=number)


def make_picture(
    *, one_in: int | None = None, per_1000: Decimal | None = None, number: int = 1
) -> Picture | None:
    """The picture for "1 in N" or a number per 1,000 people; `number` tells this picture's
    ids from those of other pictures on the same page."""
    rate = rate_per_1000(one_in=one_in, per_1000=per_1000)
    if rate is None:
        return None
    total, highlighted = counts(rate)
    rare = rate < 1
    words = f"{_headline(rate, one_in, total, highlighted)} {_described(total, highlighted)}"
    if rare:
        words += " The real chance is smaller than the picture shows."
    return Picture(
        total=total,
        highlighted=highlighted,
        rare=rare,
        words=words,
        svg=_svg(total, highlighted, words, int(number)),
    )


# --- words ----------------------------------------------------------------------------------


def _headline(rate: Fraction, one_in: int | None, total: int, highlighted: int) -> str:
    """How often, in the words of the number given: "1 in N", or as the picture counts."""
    if highlighted == total:
        return "Almost everyone gets this."
    if rate < 1:
        return f"Fewer than 1 in 1,000 people get this (about 1 in {_round(1000 / rate):,})."
    if one_in is not None:
        return f"About 1 in {one_in:,} people get this."
    return f"About {highlighted:,} in {total:,} people get this."


def _described(total: int, highlighted: int) -> str:
    if highlighted == total:
        return f"Picture: all {total:,} people are coloured in (they get it)."
    rest = total - highlighted
    return (
        f"Picture: {highlighted:,} of {total:,} people {_verb(highlighted)} coloured in "
        f"(they get it), {rest:,} {_verb(rest)} not."
    )


def _verb(count: int) -> str:
    return "is" if count == 1 else "are"


# --- drawing --------------------------------------------------------------------------------


def _svg(total: int, highlighted: int, words: str, number: int) -> SafeString:
    """The icon array: people in rows, the first `highlighted` of them (reading across the
    rows) coloured in. Two patterns of one figure each fill four rectangles: the full rows
    coloured in, the start of the row that is partly coloured in, the rest of that row and
    the rows below."""
    grid = GRIDS[total]
    width, height = grid.columns * CELL_WIDTH, grid.rows * CELL_HEIGHT
    on, off = f"risk-picture-{number}-on", f"risk-picture-{number}-off"
    full_rows, rest = divmod(highlighted, grid.columns)
    split_x, split_y = rest * CELL_WIDTH, full_rows * CELL_HEIGHT
    areas = [
        (0, 0, width, split_y, on),
        (0, split_y, split_x, CELL_HEIGHT, on),
        (split_x, split_y, width - split_x, CELL_HEIGHT, off),
        (0, split_y + CELL_HEIGHT, width, height - split_y - CELL_HEIGHT, off),
    ]
    rects = "".join(
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="url(#{fill})"/>'
        for x, y, w, h, fill in areas
        if w > 0 and h > 0 and y < height  # none below a picture of everyone
    )
    scale = SCALE[total]
    pattern = (
        '<pattern id="{id}" width="{w}" height="{h}" patternUnits="userSpaceOnUse">'
        "<g {paint}>{figure}</g></pattern>"
    )
    return mark_safe(  # noqa: S308 - numbers and fixed words only (see the module docstring)
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width * scale}" height="{height * scale}" '
        'aria-hidden="true" focusable="false">'
        f"<title>{words}</title><defs>"
        + pattern.format(
            id=on, w=CELL_WIDTH, h=CELL_HEIGHT, paint=f'fill="{AFFECTED}"', figure=FIGURE
        )
        + pattern.format(
            id=off,
            w=CELL_WIDTH,
            h=CELL_HEIGHT,
            paint=f'fill="{BACKGROUND}" stroke="{UNAFFECTED}"',
            figure=FIGURE,
        )
        + f'</defs><rect width="{width}" height="{height}" fill="{BACKGROUND}"/>{rects}</svg>'
    )
