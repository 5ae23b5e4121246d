"""Risks as pictures (procedures/pictures.py): how many people are drawn and coloured in, the
words that say it, the SVG (valid, small, from numbers only, every figure counted), and the
picture on the patient's risks page, the surgeon's consent page and the sealed PDF."""

import gzip
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template import Context, Engine, Template
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from consent.documents import read_document
from procedures import pictures
from procedures.models import Procedure
from procedures.pictures import make_picture

from .helpers import issue, ready_to_sign, sign
from .test_pdf_conformance import PROFILES, page_failures, pdfua_check  # noqa: F401 - fixture

SVG = "{http://www.w3.org/2000/svg}"
RIGHT = {"day": "27", "month": "3", "year": "1964"}
FUSION = "lumbar-fusion-l4-l5-s1"
# The starter numbers (1 in N) and the picture each gets: (total, coloured in).
STARTER = {20: (100, 5), 50: (100, 2), 60: (1000, 17), 6: (1000, 167), 100: (100, 1)}
SOURCE = "published patient information from a UK spinal surgeon"


def risk(one_in=None, per_1000=None, rate_source=""):
    """Anything with the three attributes will do: a library risk, a frozen one, or this."""
    return SimpleNamespace(one_in=one_in, per_1000=per_1000, rate_source=rate_source)


# --- how many -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("one_in", "expected"), STARTER.items())
def test_it_draws_the_starter_numbers(one_in, expected):
    picture = make_picture(one_in=one_in)
    assert (picture.total, picture.highlighted) == expected
    assert not picture.rare


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"one_in": 1}, (100, 100)),
        ({"per_1000": Decimal("1000")}, (100, 100)),
        ({"per_1000": Decimal("50")}, (100, 5)),
        ({"per_1000": Decimal("166.667")}, (1000, 167)),
        ({"per_1000": Decimal("0.5")}, (1000, 1)),  # rarer than the picture can show
        ({"per_1000": Decimal("0.001")}, (1000, 1)),
        ({"one_in": 1000}, (1000, 1)),
        ({"one_in": 2000}, (1000, 1)),
        ({"one_in": 21}, (100, 5)),  # 4.76 in 100: near enough
        ({"one_in": 99}, (100, 1)),
        ({"one_in": 120}, (1000, 8)),  # 0.83 in 100: 1 of 100 would be 20% out
        ({"one_in": 200}, (1000, 5)),  # 0.5 in 100
        ({"one_in": 40}, (1000, 25)),  # 2.5 in 100
        ({"per_1000": Decimal("995")}, (1000, 995)),
        ({"per_1000": Decimal("998")}, (1000, 998)),  # 2 of 1,000 not: not none of 100
        ({"per_1000": Decimal("960")}, (100, 96)),
    ],
)
def test_it_draws_100_people_only_when_the_count_is_near_a_whole_number(given, expected):
    picture = make_picture(**given)
    assert (picture.total, picture.highlighted) == expected


def test_a_risk_rarer_than_1_in_1000_is_drawn_as_1_and_the_words_say_so():
    picture = make_picture(per_1000=Decimal("0.5"))
    assert picture.rare
    assert picture.words == (
        "Fewer than 1 in 1,000 people get this (about 1 in 2,000). Picture: 1 of 1,000 people "
        "is coloured in (they get it), 999 are not. The real chance is smaller than the "
        "picture shows."
    )
    assert make_picture(one_in=1000).words.startswith("About 1 in 1,000 people get this.")
    assert make_picture(one_in=1001).rare


def test_nothing_is_drawn_without_a_number():
    assert make_picture() is None
    assert pictures.picture_for(risk(rate_source="A source but no number")) is None


@pytest.mark.parametrize(
    "given", [{"one_in": 0}, {"per_1000": Decimal("0")}, {"per_1000": Decimal("1000.5")}]
)
def test_it_refuses_what_is_not_a_frequency(given):
    with pytest.raises(ValueError, match="not a frequency"):
        make_picture(**given)


# --- the words ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (
            {"one_in": 20},
            "About 1 in 20 people get this. Picture: 5 of 100 people are coloured in "
            "(they get it), 95 are not.",
        ),
        (
            {"one_in": 100},
            "About 1 in 100 people get this. Picture: 1 of 100 people is coloured in "
            "(they get it), 99 are not.",
        ),
        (
            {"one_in": 6},
            "About 1 in 6 people get this. Picture: 167 of 1,000 people are coloured in "
            "(they get it), 833 are not.",
        ),
        (
            {"per_1000": Decimal("166.667")},
            "About 167 in 1,000 people get this. Picture: 167 of 1,000 people are coloured in "
            "(they get it), 833 are not.",
        ),
        (
            {"per_1000": Decimal("999")},
            "About 999 in 1,000 people get this. Picture: 999 of 1,000 people are coloured in "
            "(they get it), 1 is not.",
        ),
        (
            {"one_in": 1},
            "Almost everyone gets this. Picture: all 100 people are coloured in (they get it).",
        ),
    ],
)
def test_the_words_say_how_often_and_what_the_picture_shows(given, words):
    assert make_picture(**given).words == words


# --- the drawing --------------------------------------------------------------------------------


def coloured_in(svg: str) -> tuple[int, int]:
    """(people coloured in, people drawn), counted one by one: each person's cell in the grid
    (10 or 40 to a row) is found in the rectangle that covers its middle, and that rectangle's
    pattern says whether the person is coloured in. Every cell must be covered exactly once."""
    root = ET.fromstring(svg)  # noqa: S314 (our own markup)
    width, height = (int(n) for n in root.get("viewBox").split()[2:])
    columns = width // pictures.CELL_WIDTH
    rows = height // pictures.CELL_HEIGHT
    patterns = {p.get("id"): p for p in root.iter(f"{SVG}pattern")}
    fills = {}
    for pattern_id, pattern in patterns.items():
        (paint,) = pattern
        fills[pattern_id] = "on" if paint.get("fill") == pictures.AFFECTED else "off"
    areas = [
        (
            *(float(r.get(name)) for name in ("x", "y", "width", "height")),
            fills[r.get("fill")[5:-1]],
        )
        for r in root.iter(f"{SVG}rect")
        if r.get("fill", "").startswith("url(#")
    ]
    for x, y, w, h, _ in areas:  # all of each rectangle is people
        assert 0 <= x < x + w <= width and 0 <= y < y + h <= height, (x, y, w, h)
    count = 0
    for row in range(rows):
        for column in range(columns):
            x = (column + 0.5) * pictures.CELL_WIDTH
            y = (row + 0.5) * pictures.CELL_HEIGHT
            covering = [a for a in areas if a[0] < x < a[0] + a[2] and a[1] < y < a[1] + a[3]]
            assert len(covering) == 1, (row, column, covering)
            count += covering[0][4] == "on"
    return count, rows * columns


@pytest.mark.parametrize(
    "given",
    [{"one_in": n} for n in (*STARTER, 1, 3, 7, 40, 1000, 1001)]
    + [{"per_1000": Decimal(v)} for v in ("0.5", "166.667", "995", "999", "1000")],
)
def test_the_svg_is_valid_and_colours_in_the_right_number_of_people(given):
    picture = make_picture(**given)
    assert coloured_in(picture.svg) == (picture.highlighted, picture.total)
    root = ET.fromstring(picture.svg)  # noqa: S314 (our own markup)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == picture.words  # the PDF's /Alt
    assert root.get("aria-hidden") == "true"  # the page's <figcaption> says it in words


def test_the_svg_has_no_script_no_style_and_no_outside_reference():
    svg = str(make_picture(one_in=6, number=3).svg)
    root = ET.fromstring(svg)  # noqa: S314 (our own markup)
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "title", "defs", "pattern", "g", "circle", "path", "rect"}
    attributes = {name for element in root.iter() for name in element.attrib}
    assert not {a for a in attributes if a.startswith("on") or "href" in a or a == "style"}
    references = re.findall(r"url\(([^)]*)\)", svg)
    assert references and all(re.fullmatch(r"#risk-picture-3-o(n|ff)", r) for r in references)


def test_a_picture_of_1000_people_stays_under_a_kilobyte_and_a_half():
    sizes = [len(make_picture(one_in=n).svg.encode()) for n in (6, 60, 3, 7, 1001)]
    assert max(sizes) < 1500
    five = "".join(make_picture(one_in=n, number=i).svg for i, n in enumerate(STARTER, 1))
    assert len(gzip.compress(five.encode())) < 2000


def test_the_colours_meet_wcag_non_text_contrast():
    def luminance(colour: str) -> float:
        colour = colour.lstrip("#")
        if len(colour) == 3:
            colour = "".join(c * 2 for c in colour)
        channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a: str, b: str) -> float:
        light, dark = sorted((luminance(a), luminance(b)), reverse=True)
        return (light + 0.05) / (dark + 0.05)

    assert contrast(pictures.AFFECTED, pictures.BACKGROUND) >= 3
    assert contrast(pictures.UNAFFECTED, pictures.BACKGROUND) >= 3


# --- the template tag ---------------------------------------------------------------------------


class Ids(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.ids: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id"]


def test_two_pictures_on_one_page_share_no_id_even_from_included_templates():
    """Django gives an included template a render context of its own: the count of pictures
    must go on across it."""
    engine = Engine(
        dirs=[settings.BASE_DIR / "templates"],
        loaders=[
            (
                "django.template.loaders.locmem.Loader",
                {"one_picture.html": "{% load pictures %}{% risk_picture item %}"},
            ),
            "django.template.loaders.filesystem.Loader",
        ],
        libraries={"pictures": "procedures.templatetags.pictures"},
    )
    page = engine.from_string(
        "{% load pictures %}{% for item in items %}{% risk_picture item %}{% endfor %}"
        "{% for item in items %}{% include 'one_picture.html' %}{% endfor %}"
    )
    html = page.render(Context({"items": [risk(one_in=20), risk(one_in=6)]}))
    ids = Ids(html).ids
    assert len(ids) == 8  # two patterns in each of four pictures
    assert not [i for i, n in Counter(ids).items() if n > 1]


def test_the_tag_escapes_the_source_and_draws_nothing_without_a_number():
    page = Template("{% load pictures %}{% risk_picture item %}")
    html = page.render(Context({"item": risk(one_in=20, rate_source="<script>x()</script> & co")}))
    assert "<script>" not in html
    assert "Source: &lt;script&gt;x()&lt;/script&gt; &amp; co" in html
    assert page.render(Context({"item": risk(rate_source="Only a source")})).strip() == ""


# --- on the pages and in the PDF ---------------------------------------------------------------


@pytest.fixture
def numbered(library):
    """The five starter numbers on the first five risks of lumbar fusion, set in the library
    before a consent is issued: they are frozen into it with the wording (and changing a
    frozen risk afterwards makes the consent refuse to be signed)."""
    procedure = Procedure.objects.get(slug=FUSION)
    procedure.items.update(one_in=None, per_1000=None, rate_source="")  # only these five
    items = list(procedure.items.order_by("order"))
    for item, one_in in zip(items, STARTER, strict=False):
        item.one_in = one_in
        item.rate_source = SOURCE
        item.save(update_fields=["one_in", "rate_source"])
    return [item.title for item in items[: len(STARTER)]]


def patient_client(issued) -> Client:
    client = Client()
    assert client.post(reverse("patient_link", args=[issued.token]), RIGHT).status_code == 302
    return client


def figures(html: str) -> list[str]:
    return re.findall(r'<figure class="risk-picture.*?</figure>', html, flags=re.S)


def test_the_risks_page_shows_each_picture_in_its_risks_card_without_javascript(surgeon, numbered):
    consent, issued = issue(surgeon, FUSION)
    html = patient_client(issued).get(reverse("patient_risks")).text
    assert len(figures(html)) == len(STARTER)
    for item in consent.items.all():
        card = html.split(f'id="item-{item.pk}"')[1].split("</section>")[0]
        if item.one_in is None:
            assert "risk-picture" not in card
            continue
        picture = make_picture(one_in=item.one_in)
        assert picture.words in card  # in the <figcaption>, as text
        assert f"Source: {SOURCE}" in card
        # After the explanation, before the tick box.
        assert card.index(item.explanation) < card.index("<figure") < card.index("checkbox")
    assert not [i for i, n in Counter(Ids(html).ids).items() if n > 1]


def test_the_risks_page_with_five_pictures_stays_small(surgeon, numbered):
    _, issued = issue(surgeon, FUSION)
    page = patient_client(issued).get(reverse("patient_risks"), HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert len(page.content) < 10_000  # as tests/test_static_assets.py asks of it without


def test_the_source_is_escaped_on_the_page(surgeon, library):
    procedure = Procedure.objects.get(slug=FUSION)
    procedure.items.filter(order=1).update(one_in=20, rate_source="<script>alert(1)</script>")
    _, issued = issue(surgeon, FUSION)
    html = patient_client(issued).get(reverse("patient_risks")).text
    assert "<script>alert(1)" not in html
    assert "Source: &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_surgeons_consent_page_shows_the_pictures(client, surgeon, numbered):
    consent, _ = issue(surgeon, FUSION)
    client.force_login(surgeon)
    html = client.get(reverse("consent_detail", args=[consent.pk])).text
    assert len(figures(html)) == len(STARTER)
    assert make_picture(one_in=6).words in html


def test_the_sealed_pdf_carries_the_pictures_and_passes_both_checkers(
    surgeon,
    numbered,
    pdfua_check,  # noqa: F811 - the fixture imported above
):
    import pikepdf

    consent, _ = ready_to_sign(surgeon, slug=FUSION)
    sign(consent)
    consent.refresh_from_db()
    data = read_document(consent.document)
    text = " ".join(
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages
    )
    words = [make_picture(one_in=n).words for n in STARTER]
    for expected in words:
        assert expected in text
    assert text.count(f"Source: {SOURCE}") == len(STARTER)
    for profile in PROFILES:
        assert page_failures(data, profile) == [], profile
    assert pdfua_check(data) == ([], [])
    # Each picture is a tagged figure whose alternative text is its words.
    alts = []
    with pikepdf.open(io.BytesIO(data)) as pdf:

        def walk(element):
            if not isinstance(element, pikepdf.Dictionary):
                return
            if element.get("/S") == "/Figure":
                alts.append(str(element.get("/Alt", "")))
            kids = element.get("/K")
            for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
                walk(kid)

        walk(pdf.Root.StructTreeRoot.K[0])
    assert [alt for alt in alts if alt in words] == words
