"""A fuzzer for every endpoint: random and malformed requests from four kinds of visitor.

Hypothesis draws each request: a visitor (anonymous, a signed-in surgeon, a patient in their
session, an administrator), a method, a path built from the URL conf (with real and random
ids), a query string, a body (form fields, files, JSON, raw bytes) full of NUL characters,
digits of other scripts, huge and out-of-range values, and odd headers. Requests go through
Django's test client with raise_request_exception=False, so a server error comes back as a
500 (with its exception kept) and is counted instead of stopping the run.

Used by tests/test_fuzz.py (a few hundred requests in `make test`) and bench/fuzz.py (10,000,
with counts per status and per endpoint).
"""

import datetime
import functools
import json
import re
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import import_module
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

PERSONAS = ("anonymous", "surgeon", "patient", "admin")
PASSWORD = "correct horse battery"
FUZZ_ADMIN = "fuzz-admin"

# --- the endpoints ---------------------------------------------------------------------------

GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")


@dataclass(frozen=True)
class Endpoint:
    name: str
    regex: str  # the whole path pattern, without anchors
    ours: bool  # a view of this project (not the admin's or Django's)
    persona: str | None = None  # the visitor the page is for


def _persona_for(name: str) -> str | None:
    if name.startswith("admin:"):
        return "admin"
    if name.startswith("patient"):
        return "patient"
    if name in ("static", "verify", "login", "patient_link"):
        return None
    return "surgeon"


def endpoints(urlconf: str | None = None) -> list[Endpoint]:
    """Every URL pattern of the URL conf, plus the static files."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            part = pattern.pattern.regex.pattern.removeprefix("^")
            part = part.removesuffix(r"\Z").removesuffix("$")
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + part)
            else:
                module = pattern.callback.__module__
                ours = not module.startswith("django.")
                name = f"{'' if ours else 'admin:'}{pattern.name or f'({prefix + part})'}"
                yield Endpoint(name, prefix + part, ours, _persona_for(name))

    found = list(walk(get_resolver(urlconf).url_patterns))
    found.append(Endpoint(name="static", regex=r"static/(?P<static>.*)", ours=True))
    return found


# --- the world the requests land in ----------------------------------------------------------


@dataclass
class World:
    """Users, consents in several states and a client per visitor."""

    surgeon: object
    admin: object
    clients: dict = field(default_factory=dict)
    patient_consent: object = None
    patient_link: object = None
    signed_link: object = None
    patient_requests: int = 0
    ids: dict = field(default_factory=dict)
    tokens: list = field(default_factory=list)
    codes: list = field(default_factory=list)

    @classmethod
    def build(cls) -> "World":
        from consent.management.commands.createsurgeon import create_surgeon
        from consent.services import consent_ask_question, consent_revoke
        from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file
        from procedures.models import Procedure
        from tests.helpers import patient_actor, ready_to_sign, sign, surgeon_actor

        if not Procedure.objects.exists():
            load_library(read_library_file(BUNDLED_LIBRARY))
        user_model = get_user_model()
        surgeon = create_surgeon(
            username="fuzz-surgeon", email="s@example.org", password=PASSWORD, last_name="Fuzz"
        )
        outsider = create_surgeon(
            username="fuzz-outsider", email="o@example.org", password=PASSWORD, last_name="Out"
        )
        admin = user_model.objects.create_superuser(FUZZ_ADMIN, "a@example.org", PASSWORD)
        world = cls(surgeon=surgeon, admin=admin)
        # A consent in each state: signed (with its PDF), in review with a question, issued,
        # revoked, and one of another surgeon's.
        signed, issued = ready_to_sign(surgeon, full_name="Signed Patient")
        sign(signed, name="Signed Patient")
        world.tokens.append(issued.token)
        world.signed_link = issued.link
        world.codes.append(signed.document.display_code)
        world.new_patient_consent()
        consent_ask_question(
            consent=world.patient_consent,
            item_id=world.patient_consent.items.first().pk,
            text="Will it hurt?",
            actor=patient_actor(),
        )
        revoked, issued = world.issue(surgeon, "Revoked Patient")
        consent_revoke(consent=revoked, actor=surgeon_actor(surgeon), reason="Moved away")
        world.issue(surgeon, "Issued Patient")
        world.issue(outsider, "Outsiders Patient")
        world.refresh_ids()
        for persona in PERSONAS:
            world.clients[persona] = Client(raise_request_exception=False)
        return world

    def issue(self, surgeon, name):
        from tests.helpers import issue

        consent, issued = issue(surgeon, full_name=name)
        self.tokens.append(issued.token)
        return consent, issued

    def new_patient_consent(self):
        from consent.services import link_verify_identity
        from tests.helpers import DOB, patient_actor

        consent, issued = self.issue(self.surgeon, "Fuzz Patient")
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        self.patient_consent = consent
        self.patient_link = issued.link

    def patient_item_ids(self) -> list[int]:
        return list(self.patient_consent.items.values_list("pk", flat=True))

    def refresh_ids(self):
        from consent.models import AuditEvent, Consent, ConsentItemSnapshot, Patient, Question
        from procedures.models import Procedure

        def pks(model):
            return list(model.objects.order_by("pk").values_list("pk", flat=True)[:50])

        self.ids = {
            "consent": pks(Consent),
            "item": pks(ConsentItemSnapshot),
            "question": pks(Question),
            "procedure": pks(Procedure),
            "patient": pks(Patient),
            "audit": pks(AuditEvent),
            "user": pks(get_user_model()),
            "content_type": pks(ContentType),
        }
        self.slugs = list(Procedure.objects.values_list("slug", flat=True))
        self.any_ids = sorted({pk for values in self.ids.values() for pk in values})

    def client_for(self, persona: str) -> Client:
        """The visitor's client, signed in (again) as that visitor if a request ended it."""
        from consent import patient_session
        from consent.models import ConsentStatus
        from consent.services import LinkState, link_state

        client = self.clients[persona]
        if persona == "surgeon":
            self._restore(self.surgeon, superuser=False)
            client.force_login(self.surgeon)
        elif persona == "admin":
            if not self._restore(self.admin, superuser=True):  # deleted by a fuzzed request
                self.admin = get_user_model().objects.create_superuser(
                    f"{FUZZ_ADMIN}-{time.monotonic_ns()}", "a@example.org", PASSWORD
                )
            client.force_login(self.admin)
        elif persona == "patient":
            self.patient_requests += 1
            link, consent = self.patient_link, self.patient_consent
            link.refresh_from_db()
            consent.refresh_from_db()
            if self.patient_requests % 10 == 0 and link_state(self.signed_link) == LinkState.OK:
                # Now and then, the patient of the signed consent: done page, PDF, withdrawal.
                link, consent = self.signed_link, self.signed_link.consent
            elif link_state(link) != LinkState.OK or consent.status != ConsentStatus.IN_REVIEW:
                self.new_patient_consent()
                self.refresh_ids()
                link, consent = self.patient_link, self.patient_consent
            store = import_module(settings.SESSION_ENGINE).SessionStore
            cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
            key = cookie.value if cookie is not None else None
            session = store(key if key and store().exists(key) else None)
            session[patient_session.SESSION_KEY] = {
                "link": link.pk,
                "consent": consent.pk,
                "seen": time.time(),
            }
            session.save()
            client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
        return client

    @staticmethod
    def _restore(user, *, superuser: bool) -> bool:
        """Switch the user back on if a fuzzed admin request switched it off."""
        return bool(
            get_user_model()
            .objects.filter(pk=user.pk)
            .update(is_active=True, is_staff=True, is_superuser=superuser)
        )


# --- the requests ----------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "①",
    "\u0661\u0669\u0666\u0664",  # 1964 in Arabic-Indic digits
    "\uff11\uff12",  # fullwidth 12
    "-1",
    "0",
    "9" * 25,
    "1e309",
    "NaN",
    "9999-12-31",
    "0001-01-01",
    "1899-12-31",
    "2024-02-30",
    "31/02/1964",
    "null",
    "[]",
    '{"a": 1}',
    "<script>alert(1)</script>",
    "'; drop table consent_consent; --",
    "../../etc/passwd",
    "%00",
    "\u202egnp.exe",
    "\U0001f600",  # an emoji
    "\r\nSet-Cookie: x=1",
    "\t\x1b[31m\x7f",
]


# For fields that hold a number or an id: digits of other scripts (int() reads some of them,
# str.isdigit() accepts "²" and "①" that int() refuses), huge, negative, not a number.
NASTY_NUMBERS = [
    "²", "①", "\u0661\u0662", "\uff11", "٣", "-1", "0", "9" * 25, "9" * 5000, "1.5", "1e3",
    " 1", "1\x00", "", "0x10", "+1", "1_000",
]  # fmt: skip
NUMBER_FIELDS = {
    "shown", "acknowledged", "day", "month", "year", "per_page", "page", "team", "p", "o", "e",
    "extra-TOTAL_FORMS", "extra-INITIAL_FORMS", "extra-MIN_NUM_FORMS", "extra-MAX_NUM_FORMS",
    "items-TOTAL_FORMS", "items-INITIAL_FORMS", "index", "_selected_action", "seconds-1",
    "seconds-2", "check",
}  # fmt: skip


@functools.cache  # strategies are built once: building them is most of the cost
def nasty_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Text that breaks naive code: NUL, other scripts' digits, control characters, huge."""
    curated = st.sampled_from(NASTY_TEXT)
    return st.one_of(
        curated,
        curated,
        curated,
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=max_size),
        st.builds(
            lambda c, n: c * n,
            st.sampled_from(["x", "9", "\x00", "é", " "]),
            st.sampled_from([255, 256, 1001, 2001, 5000, 100_000]),
        ),
    )


@functools.cache
def header_text() -> st.SearchStrategy[str]:
    """Header values arrive from the WSGI server decoded as latin-1."""
    return st.one_of(
        st.sampled_from(["", "\x00", "x" * 5000, "\x01\x1f\x7f", "ÿþ", "a\tb"]),
        st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
    )


def plausible(world: World, today: datetime.date) -> dict:
    """Values that get past the first checks, so that fuzzing reaches deeper code."""
    item = world.ids["item"] or [1]
    return {
        "username": ["fuzz-surgeon", FUZZ_ADMIN, "nobody"],
        "password": [PASSWORD, "wrong"],
        "day": ["27"],
        "month": ["3"],
        "year": ["1964"],
        "shown": item,
        "acknowledged": [*item, "1", "on", "0"],
        "action": ["continue", "save"],
        "question": ["Will it hurt?"],
        "chosen": ["walking", "work", "sleep"],
        "own_words": ["My daughter's wedding"],
        "response": ["Nerve damage bears on walking."],
        "answer": ["A little."],
        "reason": ["Moved away"],
        "typed_name": ["Fuzz Patient"],
        "statement": ["on"],
        "signature": ["data:image/png;base64,iVBORw0KGgo=", "data:text/html,<b>"],
        "code": world.codes,
        "full_name": ["Grace Hopper"],
        "date_of_birth": ["1956-12-09"],
        "hospital_number": ["H-77"],
        "email": ["grace@example.org"],
        "planned_date": [(today + datetime.timedelta(days=10)).isoformat()],
        "email_patient": ["on"],
        "team": ["1"],
        "extra-TOTAL_FORMS": ["2", "1001"],
        "extra-INITIAL_FORMS": ["0"],
        "extra-MIN_NUM_FORMS": ["0"],
        "extra-MAX_NUM_FORMS": ["20"],
        "extra-0-title": ["Heart"],
        "extra-0-explanation": ["Your heart."],
        "extra-0-severity": ["uncommon", "rare"],
        "levels": ["L4-L5", "L5-L4", "T12-L1"],
        "side": ["left", "both", "middle"],
        "q": ["Patient"],
        "status": ["signed", "waiting", "in_review"],
        "sort": ["-planned", "planned"],
        "per_page": ["50"],
        "page": ["2", "last"],
        "next": ["/", "https://evil.example/"],
        "o": ["1", "-2.3"],
        "p": ["1"],
        "post": ["yes"],
        "_save": ["Save"],
        "_selected_action": [str(pk) for pk in world.any_ids[:3]],
        "index": ["0"],
        "name": ["Fuzz"],
        "slug": ["fuzz"],
    }


FIELD_NAMES = [
    "username", "password", "day", "month", "year", "shown", "acknowledged", "action",
    "question", "answer", "reason", "typed_name", "statement", "signature", "code", "document",
    "full_name", "date_of_birth", "hospital_number", "email", "planned_date", "email_patient",
    "team", "extra-TOTAL_FORMS", "extra-INITIAL_FORMS", "extra-MIN_NUM_FORMS",
    "extra-MAX_NUM_FORMS", "extra-0-title", "extra-0-explanation", "extra-0-severity",
    "csrfmiddlewaretoken", "q", "status", "sort", "per_page", "page", "next", "o", "p", "e",
    "post", "_save", "_selected_action", "select_across", "index", "name", "slug", "site",
    "is_active", "items-TOTAL_FORMS", "_changelist_filters", "_popup", "_to_field",
    "status__exact", "procedure_name__exact", "action__exact", "actor_type__exact",
    "is_active__exact", "needs_clinical_review__exact", "items__severity__exact",
    "app_label", "model_name", "field_name", "term",
]  # fmt: skip


@dataclass(frozen=True)
class FuzzRequest:
    persona: str
    method: str
    endpoint: str
    path: str
    body: bytes | None
    content_type: str
    meta: dict

    def __repr__(self) -> str:
        body = self.body[:300] if self.body else self.body
        return (
            f"{self.persona} {self.method} {self.path[:300]} ({self.endpoint}) "
            f"content_type={self.content_type!r} body={body!r} meta={self.meta!r}"
        )


def _current(world: World, name: str) -> list:
    """The world's real ids, tokens or slugs for a path parameter: read at each draw, as
    fuzzed requests create and delete things."""
    return {
        "pk": world.ids["consent"],
        "item_id": world.ids["item"],
        "question_id": world.ids["question"],
        "object_id": world.any_ids,
        "id": world.ids["user"],
        "content_type_id": world.ids["content_type"],
        "slug": world.slugs,
        "token": world.tokens,
        "static": ["css/app.css", "js/acknowledge.js", "vendor/bootstrap/css/bootstrap.min.css"],
    }.get(name, [])


def _pick(values: list, index: int):
    return values[index % len(values)] if values else 0


def _path_value(world: World, name: str, body: str) -> st.SearchStrategy[str]:
    if _current(world, name):
        # An index, not sampled_from(the list): the lists grow during a run, and Hypothesis
        # wants the same choices to mean the same draws.
        real = st.integers(min_value=0, max_value=1000).map(
            lambda i: str(_pick(_current(world, name), i))
        )
    else:
        real = st.from_regex(body or ".*", fullmatch=True).filter(lambda v: "/" not in v)
    odd = st.one_of(
        st.sampled_from(["0", "9" * 25, "²", "x", "..", "%00", "a/b", "1.0"]),
        nasty_text(40),
    )
    return st.one_of(real, real, odd).map(lambda v: quote(v, safe=""))


def _path(world: World, endpoint: Endpoint) -> st.SearchStrategy[str]:
    pieces = GROUP.split(endpoint.regex)
    # re.split with two groups: literal, name, body, literal, name, body, ..., literal
    strategies = []
    for index in range(0, len(pieces), 3):
        literal = re.sub(r"\\(.)", r"\1", pieces[index])
        strategies.append(st.just(literal))
        if index + 2 < len(pieces):
            strategies.append(_path_value(world, pieces[index + 1], pieces[index + 2]))
    return st.tuples(*strategies).map(lambda parts: "/" + "".join(parts))


# The fields each page reads, so that most requests look like its own form with a few values
# broken, and get past the first checks to the code behind them.
ADMIN_LIST = [
    "q",
    "o",
    "p",
    "e",
    "status__exact",
    "procedure_name__exact",
    "action__exact",
    "actor_type__exact",
    "is_active__exact",
    "needs_clinical_review__exact",
    "items__severity__exact",
    "_changelist_filters",
    "_popup",
    "_to_field",
]
ADMIN_EDIT = [
    "name",
    "slug",
    "site",
    "summary",
    "is_active",
    "_save",
    "items-TOTAL_FORMS",
    "items-INITIAL_FORMS",
    "username",
    "password1",
    "password2",
    "_changelist_filters",
]
FORM_FIELDS = {
    "login": ["username", "password", "next"],
    "admin:login": ["username", "password", "next"],
    "patient_link": ["day", "month", "year"],
    "patient_risks": ["shown", "shown", "acknowledged", "acknowledged", "action"],
    "patient_acknowledge": ["acknowledged"],
    "patient_question": ["question", "shown", "acknowledged"],
    "patient_priorities": ["chosen", "chosen", "own_words", "action"],
    "patient_reading": ["seconds-1", "seconds-2"],
    "patient_check": ["answer", "check"],
    "priorities_respond": ["response", "stated"],
    "patient_sign": ["typed_name", "statement", "signature"],
    "patient_withdraw": ["reason"],
    "verify": ["code"],
    "consent_new_for": [
        "full_name", "date_of_birth", "hospital_number", "email", "planned_date",
        "email_patient", "team", "extra-TOTAL_FORMS", "extra-INITIAL_FORMS",
        "extra-MIN_NUM_FORMS", "extra-MAX_NUM_FORMS", "extra-0-title", "extra-0-explanation",
        "extra-0-severity", "extra-1-severity", "levels", "side",
    ],
    "question_answer": ["answer"],
    "consent_revoke": ["reason"],
    "consent_correct_name": ["full_name"],
    "home": ["q", "status", "sort", "per_page", "page"],
}  # fmt: skip


def form_fields(endpoint: str) -> list[str]:
    if endpoint in FORM_FIELDS:
        return FORM_FIELDS[endpoint]
    if endpoint.startswith("admin:"):
        return ADMIN_LIST if endpoint.endswith(("changelist", "index")) else [*ADMIN_EDIT, "post"]
    return []


def _value(world, plausible_values, name) -> st.SearchStrategy[str]:
    """A value that passes (often) or one that breaks things."""
    if name in ("shown", "acknowledged"):
        # The risks of the patient's consent of the moment (an index: see _path_value).
        good = st.integers(min_value=0, max_value=100).map(
            lambda i: str(_pick(world.patient_item_ids(), i))
        )
    elif plausible_values.get(name):
        good = st.sampled_from([str(v) for v in plausible_values[name]])
    else:
        good = st.just("1")
    if name in NUMBER_FIELDS:
        return st.one_of(good, good, st.sampled_from(NASTY_NUMBERS), nasty_text())
    return st.one_of(good, good, nasty_text())


def _fields(world, plausible_values, names) -> st.SearchStrategy[list[tuple[str, str]]]:
    def pair(name):
        return st.tuples(st.just(name), _value(world, plausible_values, name))

    anything = st.one_of(
        st.sampled_from(FIELD_NAMES).flatmap(pair),
        st.tuples(nasty_text(12), nasty_text()),
    )
    own = st.one_of(*(pair(name) for name in names)) if names else anything
    whole_form = st.tuples(
        st.tuples(*(pair(name) for name in names)).map(list), st.lists(anything, max_size=2)
    ).map(lambda parts: parts[0] + parts[1])
    return st.one_of(
        # Mostly the page's own form, every field there, some values broken, maybe extras.
        whole_form,
        whole_form,
        whole_form,
        st.lists(own, min_size=1, max_size=6),
        st.lists(anything, max_size=10),
    )


def _query(world, plausible_values, names) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        _fields(world, plausible_values, names).map(urlencode),
        st.sampled_from(["%", "%zz", "a=%ff%fe", "&&&==", "a=1&a=2&a=", "q=%00", ";;", "x" * 3000]),
    )


def _files():
    """(field name, file name, content, content type): names as a client may send them."""
    return st.tuples(
        st.sampled_from(["document", "signature", "question"]),
        st.one_of(
            st.sampled_from(["consent.pdf", "a\x00.pdf", "../../x", "", "é" * 300]), nasty_text(20)
        ),
        st.one_of(
            st.sampled_from([b"%PDF-1.7\n%%EOF", b"%PDF-", b"", b"\x00" * 100]),
            st.binary(max_size=2000),
        ),
        st.sampled_from(["application/pdf", "text/plain", "", "image/png"]),
    )


def encode_parts(parts) -> bytes:
    """A multipart/form-data body; a part with four values is a file. Written out by hand:
    Django's encoder refuses the odd file names we want to send."""
    out = []
    for part in parts:
        out.append(f"--{BOUNDARY}".encode())
        if len(part) == 4:
            name, filename, content, content_type = part
            out.append(
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'.encode()
            )
            out.append(f"Content-Type: {content_type}".encode())
        else:
            name, content = part
            out.append(f'Content-Disposition: form-data; name="{name}"'.encode())
        out.append(b"")
        out.append(content if isinstance(content, bytes) else str(content).encode())
    out.append(f"--{BOUNDARY}--".encode())
    out.append(b"")
    return b"\r\n".join(out)


def _too_many_fields() -> tuple[bytes, str]:
    return "&".join(f"f{n}=1" for n in range(1100)).encode(), "application/x-www-form-urlencoded"


def _too_large() -> tuple[bytes, str]:
    return b"a=" + b"x" * (3 * 1024 * 1024), "application/x-www-form-urlencoded"


def _body(world, plausible_values, names) -> st.SearchStrategy[tuple[bytes | None, str]]:
    def form(pairs):
        return urlencode(
            [(k, str(v)) for k, v in pairs]
        ).encode(), "application/x-www-form-urlencoded"

    def multipart(pairs):
        return encode_parts(pairs), MULTIPART_CONTENT

    fields = _fields(world, plausible_values, names)
    return st.one_of(
        fields.map(form),
        fields.map(form),
        fields.map(form),
        fields.map(multipart),
        st.just((None, "")),
        st.tuples(fields, st.lists(_files(), max_size=2)).map(lambda fs: multipart(fs[0] + fs[1])),
        fields.map(multipart),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | nasty_text(),
            lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text(8), children, max_size=3),
            max_leaves=8,
        ).map(lambda obj: (json.dumps(obj).encode(), "application/json")),
        st.tuples(
            st.binary(max_size=500),
            st.sampled_from([
                "application/x-www-form-urlencoded", MULTIPART_CONTENT,
                "multipart/form-data; boundary=", "multipart/form-data", "text/plain",
                "application/json", "application/octet-stream", "\x00", "x/y; charset=klingon",
                "application/x-www-form-urlencoded; charset=utf-16",
            ]),
        ),
        st.builds(_too_many_fields),
        st.builds(_too_large),
    )  # fmt: skip


def _meta() -> st.SearchStrategy[dict]:
    common = {
        "HTTP_USER_AGENT": header_text(),
        "HTTP_X_FORWARDED_FOR": st.one_of(
            header_text(),
            st.sampled_from(["203.0.113.5", "fe80::1%eth0", "1.2.3.4, 999.9.9.9", "::1, x"]),
        ),
        "HTTP_ACCEPT": st.sampled_from(["application/json", "text/html", "*/*", "\x01"]),
        "HTTP_REFERER": header_text(),
        "HTTP_ACCEPT_LANGUAGE": header_text(),
        "HTTP_X_CSRFTOKEN": header_text(),
        "HTTP_ORIGIN": st.sampled_from(["null", "http://evil.example", "http://testserver"]),
        "REMOTE_ADDR": st.sampled_from(["", "203.0.113.7", "::1"]),
    }
    # These replace the visitor's session cookie or get a 400 for the host: less often.
    rare = {
        "HTTP_COOKIE": st.sampled_from(
            ["sessionid=garbage", "sessionid=" + "x" * 5000, "csrftoken=\x00", "a=b; ; =;"]
        ),
        "HTTP_HOST": st.sampled_from(["testserver", "evil.example", "", "testserver:99999"]),
    }
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries({}, optional=common),
        st.fixed_dictionaries({}, optional=common),
        st.fixed_dictionaries({}, optional={**common, **rare}),
    )


def fuzz_requests(
    world: World, urlconf: str | None = None, only: Endpoint | None = None
) -> st.SearchStrategy[FuzzRequest]:
    """Requests to any endpoint (forms and our pages more often), or to `only` one."""
    everything = endpoints(urlconf)
    ours = [e for e in everything if e.ours]
    plausible_values = plausible(world, timezone.localdate())
    any_method = st.sampled_from(
        ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FUZZ"]
    )
    # A page with a form is mostly posted to; the others mostly read.
    form_methods = st.one_of(st.just("POST"), st.just("POST"), st.just("GET"), any_method)
    read_methods = st.one_of(st.just("GET"), st.just("POST"), any_method)
    with_forms = [e for e in everything if e.name in FORM_FIELDS]
    endpoint = st.one_of(
        st.sampled_from(with_forms), st.sampled_from(ours), st.sampled_from(everything)
    )
    if only is not None:
        endpoint = st.just(only)
    queries, bodies, paths = {}, {}, {}
    for e in [only] if only else everything:
        paths[e.name] = _path(world, e)
        names = form_fields(e.name)
        queries[e.name] = _query(world, plausible_values, names)
        bodies[e.name] = _body(world, plausible_values, names)
    meta = _meta()

    @st.composite
    def one(draw) -> FuzzRequest:
        # Drawn one by one (not st.builds) so Hypothesis never prints megabyte-long values.
        chosen = draw(endpoint)
        method = draw(form_methods if form_fields(chosen.name) else read_methods)
        query_string = draw(queries[chosen.name])
        content, content_type = draw(bodies[chosen.name])
        # Mostly the visitor each page is for: so that fuzzing gets past the sign-in.
        persona = st.sampled_from(PERSONAS)
        if chosen.persona:
            persona = st.one_of(st.just(chosen.persona), st.just(chosen.persona), persona)
        return FuzzRequest(
            persona=draw(persona),
            method=method,
            endpoint=chosen.name,
            path=draw(paths[chosen.name]) + (f"?{query_string}" if query_string else ""),
            body=content if method not in ("GET", "HEAD") else None,
            content_type=content_type,
            meta=draw(meta),
        )

    return one()


def send(world: World, request: FuzzRequest):
    client = world.client_for(request.persona)
    kwargs = dict(request.meta)
    if request.body is not None:
        kwargs.update(
            data=request.body, content_type=request.content_type or "application/octet-stream"
        )
    return client.generic(request.method, request.path, **kwargs)


# --- a run -----------------------------------------------------------------------------------


@dataclass
class Report:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_endpoint: dict = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list = field(default_factory=list)  # (request, status, exception text)

    def add(self, request: FuzzRequest, response) -> None:
        self.sent += 1
        self.statuses[response.status_code] += 1
        self.by_endpoint[request.endpoint][response.status_code] += 1
        if response.status_code >= 500:
            exc_info = getattr(response, "exc_info", None)
            detail = "".join(traceback.format_exception(*exc_info)) if exc_info else ""
            self.server_errors.append((request, response.status_code, detail))

    def causes(self) -> Counter:
        """Server errors by their exception's last line."""
        return Counter(
            (detail.strip().splitlines() or ["(no exception)"])[-1][:200]
            for _, _, detail in self.server_errors
        )


def run(
    world: World,
    *,
    requests: int,
    seed_value: int,
    urlconf: str | None = None,
    report: Report | None = None,
    only: Endpoint | None = None,
) -> Report:
    """Send `requests` fuzzed requests (deterministic for a seed); count, never stop."""
    report = report or Report()

    @seed(seed_value)
    @hypothesis_settings(
        max_examples=requests,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(fuzz_requests(world, urlconf, only))
    def one(request: FuzzRequest) -> None:
        response = send(world, request)
        try:
            report.add(request, response)
        finally:
            response.close()  # static files are streamed from open files

    one()
    return report


def sweep(world: World, *, per_endpoint: int, seed_value: int) -> Report:
    """`per_endpoint` fuzzed requests to each endpoint in turn: every one is reached."""
    report = Report()
    for endpoint in endpoints():
        run(world, requests=per_endpoint, seed_value=seed_value, report=report, only=endpoint)
    return report
