"""The patient's name: what the identity page keeps private, what signing accepts, and the
issuing surgeon's audited correction before signing."""

import html

import pytest
from django.core.management import call_command
from django.urls import reverse

from consent.audit import audit_verify
from consent.models import AuditEvent, ConsentStatus, Patient, Team
from consent.services import (
    ConsentError,
    consent_correct_patient_name,
    consent_revoke,
    consent_withdraw,
)

from .helpers import issue, patient_actor, ready_to_sign, sign, surgeon_actor
from .test_patient_views import WRONG, link_url, sign_in, visible


def text(response) -> str:
    """The page's words, with entities such as &#x27; read as the characters they are."""
    return html.unescape(visible(response))


pytestmark = pytest.mark.usefixtures("library")

NAME = "Siobhán O'Neill"


def correct(consent, user, name="Siobhán Mary O'Neill"):
    return consent_correct_patient_name(consent=consent, full_name=name, actor=surgeon_actor(user))


class TestIdentityPage:
    def test_it_never_shows_the_name_to_whoever_holds_the_link(self, client, surgeon):
        _, issued = issue(surgeon, full_name=NAME)
        for response in (client.get(link_url(issued)), client.post(link_url(issued), WRONG)):
            text = visible(response)
            assert "Siobh" not in text and "Neill" not in text
            assert "Date of birth" in text


class TestSigningWithTheName:
    @pytest.mark.parametrize("typed", ["Siobhan O\u2019Neill", "siobhan oneill", "Siobhán O'Neill"])
    def test_the_patient_signs_with_the_name_as_a_phone_types_it(self, client, surgeon, typed):
        consent, issued = ready_to_sign(surgeon, full_name="Siobhán Mary O'Neill")
        sign_in(client, issued)
        response = client.post(reverse("patient_sign"), {"typed_name": typed, "statement": "on"})
        assert response["Location"] == reverse("patient_done")
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED
        assert consent.signatures.get().typed_name == " ".join(typed.split())

    def test_a_wrong_surname_is_refused_with_what_to_type(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon, full_name=NAME)
        sign_in(client, issued)
        response = client.post(
            reverse("patient_sign"), {"typed_name": "Siobhán Murphy", "statement": "on"}
        )
        assert response.status_code == 400
        words = text(response)
        assert "does not match the name on this consent" in words
        assert "first and last name as they are shown at the top of this page" in words
        assert "ask your surgeon's team to correct it" in words
        assert "Siobhán Murphy" in response.text  # what was typed is kept
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW

    def test_the_sign_form_says_middle_names_may_be_left_out(self, client, surgeon):
        _, issued = ready_to_sign(surgeon, full_name=NAME)
        sign_in(client, issued)
        assert "You can leave out middle names" in client.get(reverse("patient_review")).text


class TestCorrectionService:
    def test_it_corrects_the_name_and_logs_old_and_new(self, surgeon):
        consent, _ = issue(surgeon, full_name="Siobhan ONeil")
        correct(consent, surgeon, name="  Siobhán   O'Neill ")
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME
        event = AuditEvent.objects.filter(consent=consent).last()
        assert event.action == "patient_name_corrected"
        assert event.details["old"] == "Siobhan ONeil"
        assert event.details["new"] == NAME
        assert event.details["record"]["patient_name"] == NAME
        assert event.actor_user == surgeon
        assert event.label == "Patient's name corrected by the surgeon"

    def test_the_patient_then_signs_and_the_log_still_verifies(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name="Siobhan ONeil")
        with pytest.raises(ConsentError, match="does not match"):
            sign(consent, name=NAME)
        correct(consent, surgeon, name=NAME)
        correct(consent, surgeon, name="Siobhán Mary O'Neill")  # twice: the latest counts
        sign(consent, name="Siobhan O\u2019Neill")
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED
        report = audit_verify()
        assert report.intact, report.problems
        call_command("verify_audit", "--no-seals", verbosity=0)

    def test_a_name_changed_outside_the_app_still_blocks_signing(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name=NAME)
        correct(consent, surgeon)
        Patient.objects.filter(pk=consent.patient_id).update(full_name="Someone Else")
        with pytest.raises(ConsentError, match="changed after it was issued"):
            sign(consent, name="Someone Else")
        assert any("patient or details differ" in p for p in audit_verify().problems)

    def test_it_stops_a_signature_being_made(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name=NAME)
        before = consent.updated_at
        correct(consent, surgeon)
        consent.refresh_from_db()
        assert consent.updated_at > before

    def test_only_the_issuing_surgeon_can_correct(self, surgeon, colleague):
        team = Team.objects.create(name="Spine")
        team.members.add(surgeon, colleague)
        consent, _ = issue(surgeon, full_name=NAME)
        with pytest.raises(ConsentError, match="Only the issuing surgeon"):
            correct(consent, colleague)
        with pytest.raises(ConsentError, match="Only the issuing surgeon"):
            consent_correct_patient_name(consent=consent, full_name="X Y", actor=patient_actor())
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME

    def test_a_signed_consent_keeps_its_name(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name=NAME)
        sign(consent, name=NAME)
        with pytest.raises(ConsentError, match="has signed"):
            correct(consent, surgeon)
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME

    def test_a_closed_consent_keeps_its_name(self, surgeon):
        revoked, _ = issue(surgeon, full_name=NAME)
        consent_revoke(consent=revoked, actor=surgeon_actor(surgeon), reason="Moved away")
        withdrawn, _ = ready_to_sign(surgeon, full_name=NAME)
        consent_withdraw(consent=withdrawn, reason="", actor=patient_actor())
        for consent, status in ((revoked, "revoked"), (withdrawn, "withdrawn")):
            with pytest.raises(ConsentError, match=f"this consent is {status}"):
                correct(consent, surgeon)
            consent.refresh_from_db()
            assert consent.patient.full_name == NAME

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("   ", "Enter the patient's full name"),
            ("\x00\x01", "Enter the patient's full name"),
            ("A" * 201, "at most 200 characters"),
            (NAME, "already the patient's name"),
        ],
    )
    def test_a_bad_name_is_refused(self, surgeon, name, message):
        consent, _ = issue(surgeon, full_name=NAME)
        with pytest.raises(ConsentError, match=message):
            correct(consent, surgeon, name=name)
        assert not AuditEvent.objects.filter(action="patient_name_corrected").exists()

    def test_a_patient_row_shared_by_two_consents_is_left_alone(self, surgeon):
        first, _ = issue(surgeon, full_name=NAME)
        second, _ = issue(surgeon, full_name=NAME)
        second.patient_id = first.patient_id
        second.save(update_fields=["patient"])
        with pytest.raises(ConsentError, match="more than one consent"):
            correct(first, surgeon)


class TestCorrectionPage:
    def url(self, consent):
        return reverse("consent_correct_name", args=[consent.pk])

    def test_the_surgeon_corrects_the_name_and_the_patient_gets_in(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon, full_name="Shiobhan O'Neil")
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Correct the patient's name" in text(page)
        response = client.post(self.url(consent), {"full_name": NAME}, follow=True)
        assert "The patient's name was corrected" in text(response)
        assert "Patient's name corrected by the surgeon" in text(response)
        client.logout()
        sign_in(client, issued)
        assert NAME in text(client.get(reverse("patient_review")))
        response = client.post(
            reverse("patient_sign"), {"typed_name": "siobhan o\u2019neill", "statement": "on"}
        )
        assert response["Location"] == reverse("patient_done")

    def test_a_blank_name_is_explained_and_nothing_changes(self, client, surgeon):
        consent, _ = issue(surgeon, full_name=NAME)
        client.force_login(surgeon)
        response = client.post(self.url(consent), {"full_name": "  "})
        assert response.status_code == 400
        assert "Enter the patient's full name." in text(response)
        assert '<details class="mb-3" open>' in response.text
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME

    def test_a_colleague_sees_no_form_and_is_refused(self, client, surgeon, colleague):
        team = Team.objects.create(name="Spine")
        team.members.add(surgeon, colleague)
        consent, _ = issue(surgeon, full_name=NAME)
        consent.team = team
        consent.save(update_fields=["team"])
        client.force_login(colleague)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert page.status_code == 200 and "Correct the patient's name" not in text(page)
        response = client.post(self.url(consent), {"full_name": "X Y"}, follow=True)
        assert "Only the issuing surgeon can correct the patient" in text(response)
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME

    def test_someone_elses_consent_is_a_404(self, client, surgeon, outsider):
        consent, _ = issue(surgeon, full_name=NAME)
        client.force_login(outsider)
        assert client.post(self.url(consent), {"full_name": "X Y"}).status_code == 404
        consent.refresh_from_db()
        assert consent.patient.full_name == NAME

    def test_it_needs_a_signed_in_surgeon_and_a_post(self, client, surgeon):
        consent, _ = issue(surgeon, full_name=NAME)
        response = client.post(self.url(consent), {"full_name": "X Y"})
        assert response.status_code == 302 and "login" in response["Location"]
        client.force_login(surgeon)
        assert client.get(self.url(consent)).status_code == 405

    def test_a_signed_consent_shows_no_form_and_refuses(self, client, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name=NAME)
        sign(consent, name=NAME)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Correct the patient's name" not in text(page)
        response = client.post(self.url(consent), {"full_name": "X Y"}, follow=True)
        assert "has signed this consent" in response.text
