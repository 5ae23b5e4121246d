"""Levels and side: asked at issue when the library says so, frozen into the consent's site,
read by the patient and printed in the sealed PDF."""

import html

import pytest
import yaml
from django.urls import reverse

from consent.models import Consent
from consent.services import ConsentError
from procedures.library import LibraryError, export_library, load_library, parse_library
from procedures.models import AsksFor, Procedure
from procedures.sites import LevelsError, clean_levels, consent_site

from .helpers import issue, issue_form_data, make_procedure, ready_to_sign, sign
from .test_documents import pdf_text
from .test_load_procedures import bundled
from .test_patient_views import sign_in, visible


class TestLevels:
    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("L4-L5", "L4-L5"),
            ("l4-s1", "L4-S1"),
            (" L4 - S1 ", "L4-S1"),
            ("L4\u2013S1", "L4-S1"),  # an en dash
            ("C5-C6", "C5-C6"),
            ("T12-L1", "T12-L1"),
            ("L4-L5-S1", "L4-L5-S1"),
            ("C1-S5", "C1-S5"),
        ],
    )
    def test_it_accepts_levels_from_top_to_bottom(self, typed, stored):
        assert clean_levels(typed) == stored

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "L4",  # one vertebra is not a level
            "L5-L4",  # upside down
            "L4-L4",
            "L4-L5-L5",
            "L6-S1",
            "C8-T1",
            "T13-L1",
            "S6-S7",
            "X1-X2",
            "L4--L5",
            "L4 L5",
            "L4-L5,",
            "L4-" + "L5-" * 20 + "S1",
            "L4-L5\x00",
            "\u0661-\u0662",
        ],
    )
    def test_it_refuses_anything_else_with_an_example(self, typed):
        with pytest.raises(LevelsError, match="for example L4-L5"):
            clean_levels(typed)

    def test_the_site_names_the_levels_and_the_side(self):
        assert consent_site("Lumbar spine") == "Lumbar spine"
        assert consent_site("Lumbar spine", levels="L4-S1") == "Lumbar spine, levels L4-S1"
        assert consent_site("Hip", levels="L4-L5", side="both") == "Hip, levels L4-L5, both sides"
        assert consent_site("Knee", side="left") == "Knee, left side"


class TestLibraryFormat:
    def text(self, **fields) -> str:
        data = bundled()
        data["procedures"] = [{**data["procedures"][0], **fields}]
        return yaml.safe_dump(data)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, AsksFor.NOTHING),
            ([], AsksFor.NOTHING),
            ("levels", AsksFor.LEVELS),
            (["side"], AsksFor.SIDE),
            (["side", "levels"], AsksFor.LEVELS_AND_SIDE),
        ],
    )
    def test_asks_for_reads_a_list_or_one_word(self, value, expected):
        assert parse_library(self.text(asks_for=value))[0].asks_for == expected

    @pytest.mark.parametrize("value", ["level", ["levels", "levels"], [1], {"levels": True}, 3])
    def test_anything_else_is_refused_by_name(self, value):
        with pytest.raises(LibraryError, match='field "asks_for"'):
            parse_library(self.text(asks_for=value))

    @pytest.mark.django_db
    def test_it_loads_and_exports_asks_for(self):
        load_library(parse_library(self.text(asks_for=["levels", "side"])))
        procedure = Procedure.objects.get()
        assert procedure.asks_for == AsksFor.LEVELS_AND_SIDE
        exported = yaml.safe_load(export_library())["procedures"][0]
        assert exported["asks_for"] == ["levels", "side"]
        again = load_library(parse_library(export_library()))
        assert again.unchanged == [procedure.slug]
        changed = load_library(parse_library(self.text(asks_for=None)))
        assert changed.updated == [procedure.slug]
        procedure.refresh_from_db()
        assert procedure.asks_for == AsksFor.NOTHING
        assert "asks_for" not in yaml.safe_load(export_library())["procedures"][0]

    def test_the_starter_library_asks_where_the_site_is_not_fixed(self):
        asks = {p["slug"]: p.get("asks_for") for p in bundled()["procedures"]}
        # The three fusions name their levels; the low back fusion leaves them to the surgeon.
        assert asks == {
            "lumbar-fusion-l5-s1": None,
            "lumbar-fusion-l4-l5-s1": None,
            "lumbar-fusion-l3-s1": None,
            "low-back-fusion": ["levels"],
            "lumbar-rhizotomy": None,
        }
        sites = " ".join(p["site"] for p in bundled()["procedures"])
        assert "set by your surgeon" not in sites


@pytest.mark.usefixtures("library")
class TestIssuing:
    def test_the_levels_are_frozen_into_the_site_and_logged(self, surgeon):
        consent, _ = issue(surgeon, "low-back-fusion", levels="l4-s1")
        assert consent.procedure_site == "Lumbar spine, levels L4-S1"
        assert consent.audit_events.get(action="consent_issued").details["site"] == (
            "Lumbar spine, levels L4-S1"
        )

    @pytest.mark.parametrize("levels", ["", "L5-L4"])
    def test_a_procedure_that_asks_needs_good_levels(self, surgeon, levels):
        with pytest.raises(ConsentError, match="for example L4-L5"):
            issue(surgeon, "low-back-fusion", levels=levels)
        assert not Consent.objects.exists()

    def test_a_fixed_site_takes_no_levels_or_side(self, surgeon):
        with pytest.raises(ConsentError, match="does not ask for levels"):
            issue(surgeon, "lumbar-fusion-l5-s1", levels="L4-L5")
        with pytest.raises(ConsentError, match="does not ask for a side"):
            issue(surgeon, "lumbar-fusion-l5-s1", side="left")
        consent, _ = issue(surgeon, "lumbar-fusion-l5-s1")
        assert consent.procedure_site == "L5-S1"

    def test_a_side_is_one_of_three(self, surgeon):
        make_procedure("knee", name="Knee replacement", site="Knee", asks_for=AsksFor.SIDE)
        for side in ("", "middle"):
            with pytest.raises(ConsentError, match="choose the side"):
                issue(surgeon, "knee", side=side)
        consent, _ = issue(surgeon, "knee", side="right")
        assert consent.procedure_site == "Knee, right side"

    def test_a_site_too_long_for_the_consent_is_refused(self, surgeon):
        make_procedure("long", site="S" * 95, asks_for=AsksFor.LEVELS)
        with pytest.raises(ConsentError, match="too long"):
            issue(surgeon, "long", levels="L4-L5")


@pytest.mark.usefixtures("library")
class TestIssueForm:
    def post(self, client, procedure, **overrides):
        url = reverse("consent_new_for", args=[procedure.slug])
        severities = {"extra-0-severity": "uncommon", "extra-1-severity": "uncommon"}
        return client.post(url, issue_form_data(procedure, **severities, **overrides))

    def test_the_form_asks_for_levels_only_when_the_procedure_does(self, client, surgeon):
        client.force_login(surgeon)
        asks = client.get(reverse("consent_new_for", args=["low-back-fusion"]))
        assert "Spinal levels" in asks.text and 'name="levels"' in asks.text
        assert 'name="side"' not in asks.text
        fixed = client.get(reverse("consent_new_for", args=["lumbar-fusion-l5-s1"]))
        assert 'name="levels"' not in fixed.text and "Spinal levels" not in fixed.text

    def test_the_levels_reach_the_consent(self, client, surgeon):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="low-back-fusion")
        response = self.post(client, procedure, levels="L3 - L5")
        assert response.status_code == 302
        consent = Consent.objects.get()
        assert consent.procedure_site == "Lumbar spine, levels L3-L5"
        page = client.get(response["Location"])
        assert "Lumbar spine, levels L3-L5" in page.text

    @pytest.mark.parametrize(
        ("levels", "message"),
        [("", "Enter the spinal levels, for example L4-L5."), ("L5-L3", "from top to bottom")],
    )
    def test_missing_or_wrong_levels_are_explained_and_kept(self, client, surgeon, levels, message):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="low-back-fusion")
        response = self.post(client, procedure, levels=levels)
        assert response.status_code == 200
        assert message in html.unescape(visible(response))
        assert f'value="{levels}"' in response.text or not levels
        assert 'value="  Grace   Hopper "' in response.text  # nothing typed is lost
        assert not Consent.objects.exists()

    def test_a_side_is_asked_and_checked(self, client, surgeon):
        make_procedure("hip", name="Hip replacement", site="Hip", asks_for=AsksFor.SIDE)
        procedure = Procedure.objects.get(slug="hip")
        client.force_login(surgeon)
        page = client.get(reverse("consent_new_for", args=["hip"]))
        assert 'name="side"' in page.text and 'name="levels"' not in page.text
        response = self.post(client, procedure, side="middle")
        assert "Choose the side: left, right or both." in visible(response)
        response = self.post(client, procedure, side="")
        assert "Choose the side: left, right or both." in visible(response)
        response = self.post(client, procedure, side="both")
        assert response.status_code == 302
        assert Consent.objects.get().procedure_site == "Hip, both sides"


@pytest.mark.usefixtures("library")
class TestThePatientReadsTheLevels:
    def test_overview_review_and_pdf_state_the_levels(self, client, surgeon):
        consent, issued = ready_to_sign(
            surgeon, slug="low-back-fusion", full_name="Ada Lovelace", levels="L4-S1"
        )
        sign_in(client, issued)
        assert "Where: Lumbar spine, levels L4-S1" in visible(client.get(reverse("patient_start")))
        assert "(Lumbar spine, levels L4-S1)" in visible(client.get(reverse("patient_review")))
        sign(consent)
        consent.refresh_from_db()
        with consent.document.file.open("rb") as f:
            text = " ".join(pdf_text(f.read()))
        assert "Low back (lumbar) fusion (Lumbar spine, levels L4-S1)" in text
        assert "set by your surgeon" not in text
