"""Template filters for the reading record."""

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds in words: "45 seconds", "3 min 5 s", "1 hour 2 min"."""
    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hour{'' if hours == 1 else 's'} {minutes} min"
