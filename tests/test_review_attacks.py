"""Review of issue 10 ("Every patient"): attacks on the name correction, the recorded
withdrawal, the new-link confirmation, the kept signature, the levels, the emails and the
PDF/A output. Each test here failed on a problem found in review, and passes since it was fixed."""

import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from consent.audit import audit_verify
from consent.models import AuditEvent, Consent, ConsentStatus, Patient
from consent.services import ConsentError, consent_correct_patient_name

from .helpers import DOB, issue, ready_to_sign, sign, surgeon_actor

pytestmark = pytest.mark.usefixtures("library")


def correct(consent, user, name):
    return consent_correct_patient_name(consent=consent, full_name=name, actor=surgeon_actor(user))


class TestCorrectionLaundersTampering:
    """A correction must not make a change made in the database behind the app's back the
    trusted record: the service refuses, and verify_audit takes only the name from it."""

    def test_a_date_of_birth_changed_in_the_database_then_a_correction_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name="Ada Lovelace")
        Patient.objects.filter(pk=consent.patient_id).update(
            date_of_birth=DOB - datetime.timedelta(days=1)
        )
        with pytest.raises(ConsentError, match="changed after it was issued"):
            sign(consent)  # without a correction the tampering is caught
        with pytest.raises(ConsentError, match="changed after it was issued"):
            correct(consent, surgeon, "Ada King Lovelace")
        consent.refresh_from_db()
        assert consent.patient.full_name == "Ada Lovelace"
        with pytest.raises(ConsentError, match="changed after it was issued"):
            sign(consent, name="Ada Lovelace")

    def test_a_correction_logged_with_other_changes_still_shows_in_verify_audit(self, surgeon):
        """Even a correction event whose record carries another change (written by an older
        version, or by anyone with the key) changes only the name verify_audit expects."""
        from consent.audit import audit_append, issued_record

        consent, _ = ready_to_sign(surgeon, full_name="Ada Lovelace")
        assert audit_verify().intact
        Consent.objects.filter(pk=consent.pk).update(
            planned_date=consent.planned_date + datetime.timedelta(days=30)
        )
        assert not audit_verify().intact  # caught before the correction
        consent.refresh_from_db()
        audit_append(
            actor=surgeon_actor(surgeon),
            action="patient_name_corrected",
            consent=consent,
            details={
                "old": "Ada Lovelace",
                "new": "Ada Lovelace",
                "record": issued_record(consent),
            },
        )
        assert not audit_verify().intact, "a correction made the changed planned date trusted"

    def test_a_correction_then_a_signature_verifies(self, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name="Ada Lovelace")
        correct(consent, surgeon, "Ada King Lovelace")
        consent.refresh_from_db()
        sign(consent, name="Ada Lovelace")
        assert audit_verify().intact


def _xmp_of_signed(consent) -> bytes:
    import io

    import pikepdf

    from consent.documents import read_document

    consent.refresh_from_db()
    with pikepdf.open(io.BytesIO(read_document(consent.document))) as pdf:
        return pdf.Root.Metadata.read_bytes()


def _tick_everything_and_sign(consent, typed_name, date_of_birth):
    from consent.services import consent_acknowledge_item, link_verify_identity

    from .helpers import patient_actor

    link = consent.links.get(ended_at__isnull=True)
    link_verify_identity(link=link, date_of_birth=date_of_birth, actor=patient_actor())
    for item in consent.items.filter(not_applicable=False):
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
    consent.refresh_from_db()
    sign(consent, name=typed_name)


class TestNamesThatBreakThePdfA:
    """The patient's name goes into the PDF's XMP (dc:title) as it is: a control character or
    a Unicode non-character, pasted from another system, makes the XMP ill-formed XML (and
    WeasyPrint draws a .notdef glyph for it), so the sealed file is not the PDF/A it claims."""

    def test_the_issue_form_refuses_a_control_character_or_the_xmp_stays_well_formed(
        self, client, surgeon
    ):
        from xml.dom import minidom

        from procedures.models import Procedure

        from .helpers import issue_form_data

        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        client.force_login(surgeon)
        response = client.post(
            reverse("consent_new_for", args=[procedure.slug]),
            issue_form_data(procedure, full_name="Grace\x01 Hopper"),
        )
        if response.status_code != 302:
            return  # refused with a message: fine
        consent = Consent.objects.get()
        _tick_everything_and_sign(consent, "Grace Hopper", datetime.date(1956, 12, 9))
        minidom.parseString(_xmp_of_signed(consent))  # noqa: S318 (our own file). ExpatError

    def test_a_corrected_name_with_a_non_character_keeps_the_xmp_well_formed(self, surgeon):
        from xml.dom import minidom

        consent, _ = ready_to_sign(surgeon, full_name="Ada Lovelase")
        try:
            correct(consent, surgeon, "Ada Lovelace\ufffe")
        except ConsentError:
            return  # refused: fine
        consent.refresh_from_db()
        sign(consent, name="Ada Lovelace")
        minidom.parseString(_xmp_of_signed(consent))  # noqa: S318 (our own file)


class TestCorrectedNameThatCanNeverBeSigned:
    @pytest.mark.parametrize("name", ["-", "\u200b", "..."])
    def test_a_name_with_no_letter_or_digit_is_refused(self, client, surgeon, name):
        """names_match never matches a name without a letter or digit: the patient could
        then never sign, and is told to type the name 'as shown'."""
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        client.post(reverse("consent_correct_name", args=[consent.pk]), {"full_name": name})
        consent.refresh_from_db()
        assert consent.patient.full_name == "Ada Lovelace"
        assert not AuditEvent.objects.filter(action="patient_name_corrected").exists()


class TestAnswerEmailIsWhatTheFormSays:
    def test_the_issue_form_says_the_email_tells_the_patient_of_answers(self, client, surgeon):
        """The patient is emailed when an answer is ready if they gave an address (the issue
        asks for that), whether or not the link was emailed: the form must say so."""
        from django.urls import reverse

        client.force_login(surgeon)
        page = client.get(reverse("consent_new_for", args=["lumbar-rhizotomy"]))
        assert "to tell the patient when a question they asked is answered" in page.text
        assert "Only used to send the link" not in page.text


class TestRecordedWithdrawalService:
    def test_the_service_refuses_a_colleague_recording_a_withdrawal(self, surgeon, colleague):
        """Revoke, reissue and name corrections check the issuing surgeon in the service
        (_require_manager); a withdrawal recorded by the team relies on the view alone."""
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        from consent.services import consent_withdraw

        with pytest.raises(ConsentError, match="Only the issuing surgeon"):
            consent_withdraw(
                consent=consent,
                reason="Phoned the clinic",
                actor=surgeon_actor(colleague),
                recorded_by_team=True,
            )
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED


class TestSealingATitleThatNamesTheProducer:
    def test_a_name_that_contains_the_producer_attribute_can_still_be_signed(self, surgeon):
        """_keep_archival_xmp counts the bytes pdf:Producer="WeasyPrint ..." in the whole
        packet; the patient's name in dc:title (text, where ElementTree leaves quotes as
        they are) can add a second one, and sealing then fails for this patient, always."""
        from weasyprint import __version__

        name = f'Ada pdf:Producer="WeasyPrint {__version__}" Lovelace'
        consent, _ = ready_to_sign(surgeon, full_name=name)
        sign(consent, name="Ada Lovelace")
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED
        call_command("verify_audit", "--no-seals", verbosity=0)
