"""{% risk_picture item %}: a risk's number as a picture of 100 or 1,000 people, with its words
(procedures/pictures.py draws it). Nothing when the risk has no number."""

from django import template

from procedures.pictures import picture_for

register = template.Library()

# The count of pictures drawn so far in this render, kept where every template of the render
# sees it: Django gives each {% include %}d template a render context of its own, and two
# pictures on one page must not share an id.
_COUNT = "procedures.pictures.count"


def _next_number(context) -> int:
    shared = context.render_context.dicts[0]
    shared[_COUNT] = shared.get(_COUNT, 0) + 1
    return shared[_COUNT]


@register.inclusion_tag("procedures/risk_picture.html", takes_context=True)
def risk_picture(context, item) -> dict:
    """Any object with one_in, per_1000 and rate_source: a library risk or a frozen one."""
    if item.one_in is None and item.per_1000 is None:
        return {"picture": None}
    return {
        "picture": picture_for(item, number=_next_number(context)),
        "source": item.rate_source,
    }
