"""Server-side checks of a drawn signature: PNG only, small, sane, really decodable, not blank."""

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 200 * 1024
MIN_SIZE = (50, 20)
MAX_SIZE = (4000, 2000)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URL_PREFIX = "data:image/png;base64,"


class SignatureImageError(ValueError):
    """Why a drawn signature was refused, in words for the patient."""


@dataclass(frozen=True)
class CheckedImage:
    png: bytes
    sha256: str


def from_data_url(data_url: str) -> bytes:
    if not data_url.startswith(DATA_URL_PREFIX):
        raise SignatureImageError("The drawn signature must be a PNG image.")
    encoded = data_url[len(DATA_URL_PREFIX) :]
    # Refuse before decoding anything that would be too big once decoded.
    if len(encoded) > (MAX_BYTES * 4) // 3 + 4:
        raise SignatureImageError("The drawn signature is too large (at most 200 KB).")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureImageError(
            "The drawn signature could not be read. Please clear it and sign again."
        ) from None


def check_png(data: bytes) -> CheckedImage:
    if len(data) > MAX_BYTES:
        raise SignatureImageError("The drawn signature is too large (at most 200 KB).")
    if not data.startswith(PNG_MAGIC):
        raise SignatureImageError("The drawn signature must be a PNG image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG":
                    raise SignatureImageError("The drawn signature must be a PNG image.")
                width, height = image.size
                if not (
                    MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]
                ):
                    raise SignatureImageError(
                        "The drawn signature has an unusual size. Please clear it and sign again."
                    )
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                alpha = image.convert("RGBA").getchannel("A")
                if alpha.getbbox() is None:
                    raise SignatureImageError(
                        "The signature box is empty. Please draw your signature."
                    )
    except SignatureImageError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise SignatureImageError(
            "The drawn signature could not be read. Please clear it and sign again."
        ) from None
    return CheckedImage(png=data, sha256=hashlib.sha256(data).hexdigest())
