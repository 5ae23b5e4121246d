"""A patient's new link, carried from the request that made it to the consent page that shows
it once, without the raw token ever resting in the session table.

The database keeps only the token's hash. Between the POST that makes a link and the page that
shows it (link, QR code, printable handout), the session holds the token encrypted (Fernet:
AES-128-CBC with HMAC-SHA-256) under a key derived from SECRET_KEY, which lives in the
environment, not the database. Someone who reads the sessions table (a backup, a replica, a
database user) learns nothing usable; the entry is refused after SHOW_SECONDS and is removed
when shown.
"""

import base64
import functools
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.http import HttpRequest

SESSION_KEY = "new_patient_link"
# Long enough for the redirect to the consent page, short enough not to linger.
SHOW_SECONDS = 10 * 60


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"consent: new patient link"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def keep(request: HttpRequest, *, consent_id: int, token: str) -> None:
    """Hold the new link's token, encrypted, until the consent page shows it."""
    plain = json.dumps({"consent": consent_id, "token": token}).encode()
    request.session[SESSION_KEY] = _fernet(settings.SECRET_KEY).encrypt(plain).decode()


def pop(request: HttpRequest, *, consent_id: int) -> str | None:
    """The token of a link made for this consent, once; None if there is none (or too late)."""
    sealed = request.session.get(SESSION_KEY)
    if not sealed:
        return None
    try:
        data = json.loads(_fernet(settings.SECRET_KEY).decrypt(sealed, ttl=SHOW_SECONDS))
    except (InvalidToken, ValueError):
        del request.session[SESSION_KEY]  # expired, or made under another SECRET_KEY
        return None
    if data.get("consent") != consent_id:
        return None  # made for another consent: that consent's page will show it
    del request.session[SESSION_KEY]
    return data["token"]
