"""The predicted reading time of a consent's frozen wording, at 200 words a minute."""

import math

WORDS_PER_MINUTE = 200


def word_count(text: str) -> int:
    return len(text.split())


def predicted_seconds(procedure_text: dict, items) -> int:
    """Reading the frozen wording at 200 words a minute: the procedure's sections and each
    risk that applies (title and explanation)."""
    words = sum(word_count(text or "") for text in procedure_text.values())
    words += sum(item_words(item) for item in items if not item.not_applicable)
    return math.ceil(words * 60 / WORDS_PER_MINUTE)


def item_words(item) -> int:
    return word_count(item.title) + word_count(item.explanation)


def item_predicted_seconds(item) -> int:
    return math.ceil(item_words(item) * 60 / WORDS_PER_MINUTE)
