"""The signed PDF: render once at signing, seal with the hospital's certificate, verify later.

Rendering uses one font configuration and one parsed stylesheet per process, and a URL
fetcher that may load only the app's own static files and data: URLs. Nothing a patient or
surgeon typed is ever fetched (and all of it is escaped by the template anyway).
"""

import asyncio
import base64
import datetime
import functools
import hashlib
import importlib
import io
import logging
import mimetypes
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import segno
from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .audit import Checkpoint, DocumentAnchor
from .models import Consent, Priorities, Signature, SignedDocument
from .reading import check_results, item_predicted_seconds, reading_summary

logger = logging.getLogger(__name__)

STYLESHEET = Path(settings.BASE_DIR) / "static" / "pdf" / "consent.css"
SEAL_FIELD = "ConsentSeal"
SEAL_REASON = "Patient informed consent"
# The document information key (WeasyPrint lower-cases the <meta> name) holding the checkpoint.
CHECKPOINT_KEY = "/auditcheckpoint"
# No 0/O or 1/I: codes are read off paper and typed in by people.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# The audit events summarised on the PDF. The signature is its last line, taken from the
# signature itself: its event is written with it, after the PDF is sealed.
SUMMARY_ACTIONS = [
    "consent_issued",
    "link_issued",
    "identity_confirmed",
    "consent_opened",
]


class DocumentError(Exception):
    """The document could not be made (the signing is rolled back with it)."""


# --- fetching: the app's static files and data: URLs, nothing else -------------------------


class RefusedURL(ValueError):
    pass


class RestrictedURLFetcher(URLFetcher):
    """Loads data: URLs and files under the static root; refuses everything else."""

    def __init__(self, allowed_roots: list[Path]):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, timeout=1)
        self.allowed_roots = [root.resolve() for root in allowed_roots]
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if any(path.is_relative_to(root) for root in self.allowed_roots) and path.is_file():
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    url, body=path.read_bytes(), headers={"Content-Type": content_type}
                )
        self.refused.append(url)
        logger.warning("PDF rendering refused to fetch %s", url[:200])
        raise RefusedURL(f"refused: {url[:200]}")


@functools.cache
def _font_config() -> FontConfiguration:
    return FontConfiguration()


@functools.cache
def _stylesheet() -> CSS:
    return CSS(filename=str(STYLESHEET), font_config=_font_config())


def _static_roots() -> list[Path]:
    return [Path(settings.BASE_DIR) / "static"]


# --- rendering ------------------------------------------------------------------------------


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _data_url(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def document_context(
    consent: Consent,
    *,
    signature: Signature,
    verification_code: str,
    verify_url: str,
    checkpoint: Checkpoint,
) -> dict:
    """What the PDF shows. The signature is passed in (it is written to the database only
    after the PDF is sealed, with it) so the PDF shows exactly the signature that is stored."""
    items = list(consent.items.prefetch_related("questions__answered_by"))
    for item in items:
        item.predicted_seconds = item_predicted_seconds(item)
    events = list(consent.audit_events.filter(action__in=SUMMARY_ACTIONS))
    results = check_results(consent)
    code = "-".join(verification_code[i : i + 4] for i in range(0, len(verification_code), 4))
    qr = segno.make(f"{verify_url}?code={verification_code}", error="m")
    return {
        "consent": consent,
        "patient": consent.patient,
        "items": [i for i in items if not i.not_applicable],
        "not_applicable": [i for i in items if i.not_applicable],
        "questions": [q for item in items for q in item.questions.all()],
        "signature": signature,
        "signature_image": (
            _data_url("image/png", bytes(signature.image_png)) if signature.image_png else None
        ),
        "events": events,
        "reading": reading_summary(consent, items),
        "check_results": results,
        "needed_help": [r for r in results if r.needed_help],
        "priorities": Priorities.objects.filter(consent=consent)
        .select_related("responded_by")
        .first(),
        "hospital_name": settings.HOSPITAL_NAME,
        "verification_code": code,
        "verify_url": verify_url,
        "qr_code": _data_url("image/svg+xml", qr.svg_inline(scale=3).encode()),
        "checkpoint": checkpoint,
        "time_zone": timezone.get_current_timezone_name(),
        "generated_at": timezone.now(),
    }


def render_html(consent: Consent, **kwargs) -> str:
    return render_to_string("consent/pdf/consent.html", document_context(consent, **kwargs))


def html_to_pdf(html: str, *, fetcher: RestrictedURLFetcher | None = None) -> bytes:
    """The PDF of a page: PDF/A-2u (archival) and PDF/UA-1 (accessible) at once.

    WeasyPrint makes one variant at a time: it makes PDF/A-2u, tagged, and _finish_pdf adds
    what PDF/UA-1 asks for on top (see there). seal_pdf keeps both when it seals.
    """
    fetcher = fetcher or RestrictedURLFetcher(_static_roots())
    document = HTML(string=html, base_url=str(_static_roots()[0]) + "/", url_fetcher=fetcher)
    return document.write_pdf(
        stylesheets=[_stylesheet()],
        font_config=_font_config(),
        # PDF/A-2u: PDF 1.7, a file identifier, WeasyPrint's own sRGB output intent (shipped
        # in the package: nothing is fetched), every font embedded.
        pdf_variant=PDF_A_VARIANT,
        pdf_tags=True,
        presentational_hints=False,
        attachments=[],
        # The <meta name="AuditCheckpoint"> goes into the PDF's document information, where
        # verify_audit reads it back from the sealed file.
        custom_metadata=True,
        finisher=_finish_pdf,
    )


# PDF/A-2 level u (Unicode text), with WeasyPrint's arguments for it.
PDF_A_VARIANT, PDF_A_PART, PDF_A_CONFORMANCE = "pdf/a-2a", 2, "A"
PDF_UA_PART = 1
# PDF/A allows only the XMP properties it knows or that the file declares: the PDF/UA
# identification (pdfuaid:part) is declared by this extension schema (ISO 14289-1, 5).
_PDF_UA_XMP = f"""<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">
<pdfuaid:part>{PDF_UA_PART}</pdfuaid:part>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" \
xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" \
xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name>
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>Part of ISO 14289 the file conforms to</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
""".encode()


def _finish_pdf(document, pdf) -> None:
    """What WeasyPrint 70 leaves out of a PDF that is PDF/A-2u and PDF/UA-1 at once, added
    to its objects just before it writes the file."""
    _scope_table_headers(document)
    _no_image_interpolation(pdf)
    _archival_metadata(document, pdf)
    _unambiguous_stream_ends(pdf)


# Between a stream's data and `endstream` both writers (pydyf for WeasyPrint, pyHanko) put one
# LF, which is not part of the data (ISO 32000-1, 7.3.8.1). When the data itself ends with a
# CR, as compressed data does one time in 256, the file reads "CR LF endstream": and a CR
# followed by an LF is one end-of-line marker (7.2.2), so PDF/A-2, which counts /Length up to
# the end-of-line marker before `endstream` (ISO 19005-2, 6.1.7.1), finds the data one byte
# short of its /Length. Writing CR LF there instead ("CR CR LF endstream") leaves one reading.
_ENDSTREAM = b"\nendstream"
_CR_ENDED = b"\r" + _ENDSTREAM


def _unambiguous_stream_ends(pdf) -> None:
    """Have pydyf write CR LF before `endstream` after data that ends in a CR.

    pydyf writes each object, the object and cross-reference streams it makes as it writes
    included, as one line (write_line, which also counts the offsets): the line of a stream
    object ends with its data, LF, `endstream`, LF, `endobj`.
    """
    write_line = pdf.write_line
    cr_ended = _CR_ENDED + b"\nendobj"

    def unambiguous_write_line(content, output):
        if content.endswith(cr_ended):
            content = content[: -len(cr_ended)] + b"\r" + cr_ended
        write_line(content, output)

    pdf.write_line = unambiguous_write_line


class _UnambiguousStreamEnds(io.BytesIO):
    """The output pyHanko seals into, writing CR LF before `endstream` after data that ends
    in a CR (see _unambiguous_stream_ends). pyHanko writes the data, then LF `endstream` in a
    call of its own; its offsets are read from this file as written, so they stay right."""

    _last = b""

    def write(self, data) -> int:
        data = bytes(data)
        if data == _ENDSTREAM and self._last == b"\r":
            data = b"\r" + data
        if data:
            self._last = data[-1:]
        return super().write(data)


def _scope_table_headers(document) -> None:
    """PDF/UA asks header cells (TH) for a /Scope: WeasyPrint links each data cell to its
    headers (/Headers) but writes no /Scope. It is taken from the <th scope> of the page."""
    for page in document.pages:
        for box in page._page_box.descendants():
            element = getattr(box, "mark", None)  # the TH structure element WeasyPrint made
            if box.element_tag == "th" and element is not None:
                scope = "/Row" if box.element.get("scope") == "row" else "/Column"
                element["A"]["Scope"] = scope


def _no_image_interpolation(pdf) -> None:
    """PDF/A forbids /Interpolate true on images (the drawn signature and its mask)."""
    for pdf_object in pdf.objects:
        extra = getattr(pdf_object, "extra", None)
        if extra is not None and extra.get("Subtype") == "/Image":
            extra["Interpolate"] = "false"


def _archival_metadata(document, pdf) -> None:
    """Replace the XMP metadata with WeasyPrint's PDF/A one plus the PDF/UA identification,
    uncompressed (PDF/A-2 forbids a /Filter on the metadata stream)."""
    rdf = document.metadata.generate_rdf_metadata("a", PDF_A_PART, PDF_A_CONFORMANCE)
    end = b"</rdf:RDF>"
    if not rdf.endswith(end):  # pragma: no cover - WeasyPrint's own serialisation
        raise DocumentError("unexpected XMP metadata from WeasyPrint")
    packet = b"".join(
        (
            b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n',
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n',
            rdf[: -len(end)],
            _PDF_UA_XMP,
            end,
            b'\n</x:xmpmeta>\n<?xpacket end="r"?>',
        )
    )
    stream = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
    stream.stream = [packet]
    stream.compress = False
    stream.extra.pop("Filter", None)


# --- sealing and validation -----------------------------------------------------------------


@functools.cache
def _signer(cert: Path, key: Path, chain: tuple[Path, ...], passphrase: str):
    from pyhanko.sign import signers

    try:
        return signers.SimpleSigner.load(
            str(key),
            str(cert),
            ca_chain_files=tuple(str(p) for p in chain),
            key_passphrase=passphrase.encode() if passphrase else None,
        )
    except (OSError, ValueError) as exc:
        raise DocumentError(f"The sealing certificate or key cannot be loaded: {exc}") from exc


def _configured_signer():
    if not settings.PDF_SIGNING_CERT.exists() or not settings.PDF_SIGNING_KEY.exists():
        raise DocumentError(
            "No sealing certificate is configured (PDF_SIGNING_CERT, PDF_SIGNING_KEY). "
            "For development run `manage.py ensure_dev_certificate`."
        )
    signer = _signer(
        settings.PDF_SIGNING_CERT,
        settings.PDF_SIGNING_KEY,
        tuple(settings.PDF_SIGNING_CHAIN) or tuple(settings.PDF_TRUST_ROOTS),
        settings.PDF_SIGNING_KEY_PASSPHRASE,
    )
    if signer is None:
        raise DocumentError("The sealing key could not be loaded (wrong passphrase?).")
    return signer


def _outside_event_loop(function, *args):
    """pyHanko's synchronous API runs its own event loop, which cannot start inside a running
    one (an async caller, a browser-test driver): then run it on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def seal_pdf(pdf: bytes) -> bytes:
    """Add a PAdES signature with the hospital's certificate over the whole file."""
    return _outside_event_loop(_seal, pdf)


def _seal(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _keep_archival_xmp(writer)
    # An invisible field (a zero-sized widget, printable as PDF/A wants, so no appearance is
    # needed) with a name read out to screen-reader users, tagged as a form control on the
    # last page, where the page says how to verify the document (PDF/UA-1, 7.18).
    fields.append_signature_field(
        writer,
        fields.SigFieldSpec(
            sig_field_name=SEAL_FIELD,
            on_page=-1,
            readable_field_name=f"Digital seal of {settings.HOSPITAL_NAME}",
        ),
    )
    _tag_seal_widget(writer)
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        reason=SEAL_REASON,
        location=settings.HOSPITAL_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    # One incremental update holds the field, its tag and the signature: the seal covers
    # the whole file, and the rendered revision is left as it was.
    return signers.sign_pdf(
        writer, metadata, signer=_configured_signer(), output=_UnambiguousStreamEnds()
    ).getvalue()


def _tag_seal_widget(writer) -> None:
    """Put the seal's widget in the structure tree: a /Form element at the end of the
    document holding a reference to the widget, and the widget's /StructParent entry in
    the parent tree (WeasyPrint writes it flat, as /Nums)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.fields import enumerate_sig_fields

    name = generic.NameObject
    widget_ref = next(ref for field, _, ref in enumerate_sig_fields(writer) if field == SEAL_FIELD)
    widget = widget_ref.get_object()
    # raw_get: the references themselves (indexing would copy the objects in).
    page_ref = widget.raw_get("/P")
    tree_root = writer.root["/StructTreeRoot"]
    document_ref = tree_root["/K"].raw_get(0)
    document = document_ref.get_object()
    parent_tree = tree_root["/ParentTree"]
    nums = parent_tree["/Nums"]
    key = max(int(nums[i]) for i in range(0, len(nums), 2)) + 1

    form = generic.DictionaryObject(
        {
            name("/Type"): name("/StructElem"),
            name("/S"): name("/Form"),
            name("/P"): document_ref,
            name("/Pg"): page_ref,
            name("/K"): generic.DictionaryObject(
                {name("/Type"): name("/OBJR"), name("/Obj"): widget_ref, name("/Pg"): page_ref}
            ),
        }
    )
    form_ref = writer.add_object(form)
    document["/K"].append(form_ref)
    writer.update_container(document["/K"])
    nums.extend([generic.NumberObject(key), form_ref])
    writer.update_container(nums)
    tree_root[name("/ParentTreeNextKey")] = generic.NumberObject(key + 1)
    writer.update_container(tree_root)
    widget[name("/StructParent")] = generic.NumberObject(key)
    writer.update_container(widget)


def _keep_archival_xmp(writer) -> None:
    """Keep the rendered XMP metadata through the seal, changing only its producer.

    pyHanko rewrites a file's XMP when it signs, in a form PDF/A validators refuse (it turns
    the PDF/UA extension schema's namespace URI into a resource and its fields into
    attributes), and it adds itself to the producer in the document information, which
    PDF/A wants equal to the XMP's pdf:Producer. So the XMP is replaced, in the seal's own
    revision, by the rendered packet with that one value made equal again.
    """
    from xml.sax.saxutils import escape

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

    def producer_attribute(producer: str) -> bytes:
        return f'pdf:Producer="{escape(producer, {chr(34): "&quot;"})}"'.encode()

    try:
        rendered_producer = str(writer.trailer_view["/Info"]["/Producer"])
        packet = writer.root["/Metadata"].data
    except KeyError:
        rendered_producer, packet = "", b""
    # The attribute inside a tag: "<" is always escaped in XML text, so a title or name that
    # reads 'pdf:Producer="..."' is never taken for it.
    in_a_tag = re.compile(rb"(<[^<>]*\s)" + re.escape(producer_attribute(rendered_producer)))
    if len(in_a_tag.findall(packet)) != 1:
        raise DocumentError("The PDF to seal does not carry the XMP metadata it was made with.")

    class SealedXmp(MetadataStream):
        def update_xmp_with_meta(self, meta) -> None:
            # Called by pyHanko as it writes, after it updated the document information.
            producer = str(writer.trailer_view["/Info"]["/Producer"])
            self._data = in_a_tag.sub(
                lambda match: match[1] + producer_attribute(producer), packet, count=1
            )
            self._encoded_data = None

    writer.root[generic.NameObject("/Metadata")] = writer.add_object(SealedXmp(stream_data=packet))
    writer.update_root()


@dataclass(frozen=True)
class SealCheck:
    valid: bool
    reason: str = ""


def check_seal(pdf: bytes, *, sealed_at: datetime.datetime | None = None) -> SealCheck:
    """Is this PDF sealed, unmodified since, by a certificate chaining to our trust roots?"""
    return _outside_event_loop(_check_seal, pdf, sealed_at)


def _check_seal(pdf: bytes, sealed_at: datetime.datetime | None) -> SealCheck:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError) as exc:
        # The reason is shown on the public /verify/ page: plain words; the detail goes to the log.
        logger.info("A PDF could not be read for its seal: %s: %s", type(exc).__name__, exc)
        return SealCheck(False, "the file cannot be read as a PDF: it may be incomplete or damaged")
    if len(signatures) != 1:
        return SealCheck(False, f"expected one seal, found {len(signatures)}")
    roots = [load_cert_from_pemder(str(path)) for path in settings.PDF_TRUST_ROOTS]
    try:
        # A document we issued is checked as of when we sealed it (recorded in our database,
        # not taken from the file), so it stays verifiable after the certificate expires.
        context = ValidationContext(trust_roots=roots, moment=sealed_at)
        status = validate_pdf_signature(signatures[0], context)
    except Exception as exc:
        logger.warning("A seal could not be validated: %s: %s", type(exc).__name__, exc)
        return SealCheck(False, "the seal on it cannot be checked")
    if not status.intact or not status.valid:
        return SealCheck(False, "the document was changed after it was sealed")
    if not status.trusted:
        return SealCheck(False, "the seal is not from this hospital's certificate")
    if status.coverage is None or status.coverage.name != "ENTIRE_FILE":
        return SealCheck(False, "the seal does not cover the whole document")
    return SealCheck(True)


PYHANKO_MODULES = [
    "pyhanko.pdf_utils.incremental_writer",
    "pyhanko.pdf_utils.reader",
    "pyhanko.sign.signers",
    "pyhanko.sign.validation",
    "pyhanko_certvalidator",
]


def warm_up() -> None:
    """Do once per process, at start-up, what the first signature would otherwise pay for:
    import pyHanko and its validation stack, load the sealing key, parse the stylesheet.

    Called from config/wsgi.py, so every app-server worker is warm before its first request.
    A missing certificate is not an error here: signing reports it with a plain message.
    """
    for module in PYHANKO_MODULES:
        importlib.import_module(module)
    _stylesheet()
    try:
        _configured_signer()
    except DocumentError as exc:
        logger.warning("Sealing is not ready: %s", exc)


# --- making and storing the document --------------------------------------------------------


def verify_url() -> str:
    return settings.SITE_URL.rstrip("/") + "/verify/"


def unused_verification_code() -> str:
    """A fresh code. The unique constraint is the backstop against a (1 in 32^12) collision."""
    code = new_verification_code()
    while SignedDocument.objects.filter(verification_code=code).exists():
        code = new_verification_code()
    return code


def render_sealed(
    consent: Consent, *, signature: Signature, verification_code: str, checkpoint: Checkpoint
) -> bytes:
    """Render and seal the PDF of a consent being signed. Slow (a few hundred milliseconds):
    the caller holds no lock and no transaction while this runs."""
    html = render_html(
        consent,
        signature=signature,
        verification_code=verification_code,
        verify_url=verify_url(),
        checkpoint=checkpoint,
    )
    return seal_pdf(html_to_pdf(html))


def store_file(consent: Consent, sealed: bytes) -> str:
    """Write the sealed bytes to storage; returns the stored name. Nothing points at the file
    until its SignedDocument row is committed; a caller that gives up deletes it."""
    digest = hashlib.sha256(sealed).hexdigest()
    field = SignedDocument._meta.get_field("file")
    name = field.generate_filename(None, f"consent-{consent.pk}-{digest[:12]}.pdf")
    try:
        return field.storage.save(name, ContentFile(sealed))
    except OSError as exc:
        raise DocumentError(f"The signed document could not be stored: {exc}") from exc


def delete_file(name: str) -> None:
    try:
        SignedDocument._meta.get_field("file").storage.delete(name)
    except OSError:
        logger.exception("Could not delete the unused file %s", name)


def read_document(document: SignedDocument) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


# --- anchors of the audit chain -------------------------------------------------------------


def read_checkpoint(pdf: bytes) -> Checkpoint | None:
    """The audit checkpoint embedded in a sealed PDF's document information, if any."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        # Indexing (not .get) dereferences pyHanko's indirect objects; a missing key raises.
        value = PdfFileReader(io.BytesIO(pdf), strict=False).trailer_view["/Info"][CHECKPOINT_KEY]
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError):
        return None
    try:
        return Checkpoint.parse(str(value))
    except ValueError:
        return None


def document_anchors(*, seals: bool = True):
    """For each stored document: the checkpoint its sealed file carries, or what is wrong.

    The file, not the database row, is the anchor: someone who rewrites the database cannot
    change a sealed file without breaking its seal (seals=True validates every seal too).
    """
    for document in SignedDocument.objects.order_by("pk").iterator(chunk_size=200):
        of = f"(consent {document.consent_id}): "
        try:
            data = read_document(document)
        except OSError as exc:
            yield DocumentAnchor(document.pk, None, f"{of}its file cannot be read ({exc})")
            continue
        if hashlib.sha256(data).hexdigest() != document.sha256:
            yield DocumentAnchor(
                document.pk, None, f"{of}its file does not match its recorded hash"
            )
            continue
        if seals and not (seal := check_seal(data, sealed_at=document.created_at)).valid:
            yield DocumentAnchor(document.pk, None, f"{of}its seal is not valid: {seal.reason}")
            continue
        checkpoint = read_checkpoint(data)
        if checkpoint is None:
            if document.checkpoint_hash:
                yield DocumentAnchor(document.pk, None, f"{of}its file carries no audit checkpoint")
            else:  # sealed before documents carried checkpoints
                yield DocumentAnchor(document.pk, None)
            continue
        if (document.checkpoint_sequence, document.checkpoint_hash) != (
            checkpoint.sequence,
            checkpoint.hash,
        ):
            yield DocumentAnchor(
                document.pk, None, f"{of}the checkpoint recorded for it differs from its file's"
            )
            continue
        yield DocumentAnchor(document.pk, checkpoint)


@dataclass(frozen=True)
class Verification:
    authentic: bool
    reason: str = ""
    document: SignedDocument | None = None
    # Checked by verification code: what was checked is our stored copy, not the reader's.
    by_code: bool = False
    code_unknown: bool = False

    @property
    def patient_initials(self) -> str:
        names = self.document.consent.patient.full_name.split() if self.document else []
        return "".join(f"{name[0].upper()}." for name in names)


def verify_bytes(pdf: bytes) -> Verification:
    """Authentic = we issued exactly these bytes, and the seal validates against our root.

    The hash is looked up first: the seal (slow to validate) is checked only for a document we
    issued, so that uploads of anything else cost a hash and one query.
    """
    if not pdf.startswith(b"%PDF-"):
        return Verification(False, "this file is not a PDF")
    digest = hashlib.sha256(pdf).hexdigest()
    document = (
        SignedDocument.objects.select_related("consent__patient").filter(sha256=digest).first()
    )
    if document is None:
        return Verification(False, "it is not a document we issued, or it was changed since")
    seal = check_seal(pdf, sealed_at=document.created_at)
    if not seal.valid:
        return Verification(False, seal.reason)
    return Verification(True, document=document)


def verify_code(code: str) -> Verification:
    """Look a code up and check that the stored document is still the one we sealed."""
    document = (
        SignedDocument.objects.select_related("consent__patient")
        .filter(verification_code=normalise_code(code))
        .first()
    )
    if document is None:
        return Verification(False, "no document has this verification code", code_unknown=True)
    stored = read_document(document)
    if hashlib.sha256(stored).hexdigest() != document.sha256:
        return Verification(
            False, "the stored document was changed after it was sealed", by_code=True
        )
    seal = check_seal(stored, sealed_at=document.created_at)
    if not seal.valid:
        return Verification(False, seal.reason, by_code=True)
    return Verification(True, document=document, by_code=True)
