"""Does the name a patient typed match the name on their consent?

The typed name is not what proves who the patient is: the date of birth did that, before the
consent was opened. The name is what the patient attests to when signing, so it must not be a
spelling test. A phone types a curly apostrophe, a keyboard may have no á, and a surgeon may enter a middle
name that the patient leaves out (or leave out one the patient types).

The rule (docs/architecture.md, "Names"):

1. Both names are reduced to a key: Unicode compatibility decomposition (NFKD), accents and
   other combining marks dropped, case folded, a few letters that do not decompose spelled
   plainly (ø -> o, ł -> l, æ -> ae, ß -> ss...), and every character that is not a letter or
   a digit (spaces, hyphens, apostrophes and quotes of every kind, dots, control characters)
   left out of each word. Words are what spaces separate.
2. The names match if their keys, with the spaces taken out, are equal: "O'Neill" (straight or
   curly) = "ONeill" = "O Neill", "Mary-Jane" = "Mary Jane", "Siobhan" = "Siobhán".
3. Or if one name is the other with some of its middle words left out: the first and the last
   word must always be there, in place, and no word may be added or changed. "Ada Lovelace"
   matches "Ada King Lovelace" (either way round), but "Ada Byron" does not, nor does "Ada"
   alone, nor "Ada Mary Lovelace" against "Ada King Lovelace".

A name with no letters or digits at all never matches.
"""

import unicodedata

# Letters that NFKD leaves whole, written as a patient without them on the keyboard would.
PLAIN_LETTERS = str.maketrans(
    {
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "\u0131": "i",  # dotless i
        "ł": "l",
        "ŧ": "t",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "ŀ": "l",
    }
)
# Apostrophes that Unicode counts as letters (modifier letters, the saltillo): left out like '.
APOSTROPHE_LETTERS = frozenset(
    "\u02b9\u02ba\u02bb\u02bc\u02bd\u02be\u02bf\u02c8\u02ca\u02cb\u02ee\ua78b\ua78c"
)
# Longer than any name a form accepts: a bound on the work done for a hostile caller.
MAX_NAME_LENGTH = 1000


def name_words(name: str) -> list[str]:
    """The name's words as keys (see rule 1); empty words (a lone hyphen) are left out."""
    text = unicodedata.normalize("NFKD", str(name)).casefold().translate(PLAIN_LETTERS)
    # NFKD has split each accent off its letter; like every mark, space, hyphen, quote or
    # control character, it is not alphanumeric, so only the letters and digits are kept.
    words = (
        "".join(ch for ch in word if ch.isalnum() and ch not in APOSTROPHE_LETTERS)
        for word in text.split()
    )
    return [word for word in words if word]


def names_match(typed: str, expected: str) -> bool:
    """Does `typed` name the same person as `expected`, by the rule in this module's docstring?"""
    if len(str(typed)) > MAX_NAME_LENGTH or len(str(expected)) > MAX_NAME_LENGTH:
        return False
    typed_words, expected_words = name_words(typed), name_words(expected)
    if not typed_words or not expected_words:
        return False
    if "".join(typed_words) == "".join(expected_words):
        return True
    return _shortened(typed_words, expected_words) or _shortened(expected_words, typed_words)


def _shortened(short: list[str], full: list[str]) -> bool:
    """Is `short` (spaces aside) `full` with some of its middle words left out?

    The first and last words of `full` must be there. Walks the joined short name once per word
    of `full`, keeping every place in it that the words kept so far can reach.
    """
    if len(full) < 3:
        return False  # no middle word to leave out: rule 2 already compared them
    text = "".join(short)
    first, *middle, last = full
    if not text.startswith(first):
        return False
    reached = {len(first)}
    for word in middle:
        reached |= {at + len(word) for at in reached if text.startswith(word, at)}
    return any(at + len(last) == len(text) and text.endswith(last) for at in reached)


def name_problem(name: str) -> str | None:
    """What is wrong with a name as a surgeon types it, in plain words; None if nothing.

    Control characters, unassigned code points, surrogates and Unicode non-characters (pasted
    from other systems) are refused: they cannot be printed and would break the PDF's XML
    metadata. A name must have a letter or digit, or no patient could ever match it.
    """
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") or _non_character(char):
            return (
                "The name contains a character that cannot be printed (often copied with the "
                "name from another system). Type the name again."
            )
    if not name_words(name):
        return "The name must have at least one letter."
    return None


def printable_text(text: str) -> str:
    """Free text (a question, an answer, what matters to the patient) without the characters
    that cannot be printed: control characters but tab and line breaks, unassigned code
    points, private-use characters, surrogates and non-characters. The sealed PDF would draw
    each as a missing glyph, which PDF/A and PDF/UA refuse (the log drops control characters
    too)."""
    return "".join(
        char
        for char in text
        if char in "\t\n\r"
        or not (unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") or _non_character(char))
    )


def _non_character(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE
