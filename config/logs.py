"""Keep patients' link tokens out of every log.

A patient's private link is /p/<token>/: whoever holds the token can try dates of birth
against it, so it must not be copied into access logs, Django's request warnings or
tracebacks, which are kept longer and read by more people than the database. `redact` blanks
the token wherever it appears: in a path, a full URL (the Referer), or percent-encoded in a
query string (?next=%2Fp%2F<token>%2F).
"""

import logging
import re

REDACTED = "[redacted]"
# "/p/" (or "%2Fp%2F", or with the p itself encoded: "/%70/", which Django also serves) and
# everything after it up to the next separator or encoded slash.
_PATIENT_TOKEN = re.compile(r"(?i)((?:/|%2F)(?:p|%70)(?:/|%2F))(?:(?!%2F)[^/?#&;\s\"'<>\\])+")


def redact(text: str) -> str:
    return _PATIENT_TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactPatientTokens(logging.Filter):
    """A logging filter (on handlers or loggers) that redacts tokens in the formatted message
    and the traceback text; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
