import base64
import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consent.models import Consent, ConsentStatus, Question, Signature
from consent.services import consent_ask_question

from .helpers import issue, patient_actor, png_signature, ready_to_sign
from .test_patient_views import error_summary, sign_in, visible

pytestmark = pytest.mark.usefixtures("library")

STATEMENT = "on"


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def patient_client(client, surgeon, **kwargs):
    consent, issued = ready_to_sign(surgeon, **kwargs)
    sign_in(client, issued)
    return consent


class TestQuestionsInTheBrowser:
    def test_the_patient_asks_and_sees_that_signing_waits(self, client, surgeon):
        consent = patient_client(client, surgeon)
        item = consent.items.first()
        response = client.post(
            reverse("patient_question", args=[item.pk]),
            {"question": "How long will I stay?"},
            follow=True,
        )
        assert "Your question was sent" in response.text
        assert "How long will I stay?" in response.text
        assert "You can sign once they have answered" in response.text
        review = client.get(reverse("patient_review"))
        assert "Waiting for your surgeon's team" in review.text
        assert 'action="/patient/sign/"' not in review.text

    def test_the_risks_form_sends_its_ticks_with_the_question(self, client, surgeon):
        """The page without JavaScript: "Send my question" posts the whole risks form, so the
        ticks made on the page and not yet saved are saved with the question, not lost."""
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        first, second, *_ = consent.items.all()
        page = client.get(reverse("patient_risks")).text
        assert f'name="question-{second.pk}"' in page
        assert f'formaction="{reverse("patient_question", args=[second.pk])}"' in page
        response = client.post(
            reverse("patient_question", args=[second.pk]),
            {
                "shown": [first.pk, second.pk],
                "acknowledged": [first.pk],
                f"question-{first.pk}": "",
                f"question-{second.pk}": "Will I need a brace?",
            },
            follow=True,
        )
        assert "Your question was sent" in response.text
        assert consent.questions.get().item == second
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.acknowledged_at and not second.acknowledged_at
        # An empty question still keeps the ticks, and says what to put right.
        response = client.post(
            reverse("patient_question", args=[second.pk]),
            {"shown": [second.pk], "acknowledged": [second.pk], f"question-{second.pk}": " "},
        )
        assert response.status_code == 400 and "Please write your question." in response.text
        second.refresh_from_db()
        assert second.acknowledged_at

    def test_a_question_with_html_and_script_is_escaped_everywhere(self, client, surgeon):
        consent = patient_client(client, surgeon)
        item = consent.items.first()
        nasty = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        client.post(reverse("patient_question", args=[item.pk]), {"question": nasty})
        patient_page = client.get(reverse("patient_risks")).text
        surgeon_client = client.__class__()
        surgeon_client.force_login(surgeon)
        surgeon_page = surgeon_client.get(reverse("consent_detail", args=[consent.pk])).text
        for page in (patient_page, surgeon_page):
            assert "<script>alert" not in page
            assert "<img src=x" not in page
            assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    def test_a_too_long_question_says_so_and_keeps_the_text(self, client, surgeon):
        consent = patient_client(client, surgeon)
        item = consent.items.first()
        text = "Why? " * 250
        response = client.post(reverse("patient_question", args=[item.pk]), {"question": text})
        assert response.status_code == 400
        assert "Please keep it under 1000" in response.text
        assert text.strip() in response.text  # nothing the patient wrote is lost
        assert not Question.objects.exists()
        [(message, target)] = error_summary(response)
        assert "Please keep it under 1000" in message and target == f"question-{item.pk}"
        assert f'aria-describedby="question-{item.pk}-error"' in response.text

    def test_a_question_about_a_risk_not_on_the_page_is_listed_without_a_link(
        self, client, surgeon
    ):
        patient_client(client, surgeon)
        response = client.post(reverse("patient_question", args=[999_999]), {"question": "Hm?"})
        assert response.status_code == 400
        assert error_summary(response) == [("That risk is not part of this consent.", "")]

    def test_the_surgeon_answers_and_the_patient_sees_the_answer(self, client, surgeon):
        consent = patient_client(client, surgeon)
        item = consent.items.first()
        question = consent_ask_question(
            consent=consent, item_id=item.pk, text="Will it hurt?", actor=patient_actor()
        )
        surgeon_client = client.__class__()
        surgeon_client.force_login(surgeon)
        page = surgeon_client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Will it hurt?" in page.text and "Send answer" in page.text
        response = surgeon_client.post(
            reverse("question_answer", args=[consent.pk, question.pk]),
            {"answer": "A little, and we will give you <b>medicine</b>."},
            follow=True,
        )
        assert "Your answer was saved" in response.text
        risks = client.get(reverse("patient_risks")).text
        assert "A little, and we will give you &lt;b&gt;medicine&lt;/b&gt;." in risks

    def test_an_empty_answer_is_explained_and_saves_nothing(self, client, surgeon):
        consent = patient_client(client, surgeon)
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        client.force_login(surgeon)
        response = client.post(
            reverse("question_answer", args=[consent.pk, question.pk]), {"answer": ""}, follow=True
        )
        assert "Please write your answer." in response.text
        question.refresh_from_db()
        assert not question.is_answered

    def test_a_second_answer_from_another_tab_is_refused(self, client, surgeon, colleague):
        from consent.models import Team

        team = Team.objects.create(name="Spine")
        team.members.add(surgeon, colleague)
        consent = patient_client(client, surgeon)
        Consent.objects.filter(pk=consent.pk).update(team=team)
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        url = reverse("question_answer", args=[consent.pk, question.pk])
        colleague_client = client.__class__()
        colleague_client.force_login(colleague)
        colleague_client.post(url, {"answer": "The colleague's answer."})
        client.force_login(surgeon)
        response = client.post(url, {"answer": "The owner's answer."}, follow=True)
        assert "That question has already been answered." in response.text
        question.refresh_from_db()
        assert question.answer == "The colleague's answer." and question.answered_by == colleague

    def test_an_outsider_cannot_answer(self, client, surgeon, outsider):
        consent = patient_client(client, surgeon)
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        client.force_login(outsider)
        response = client.post(
            reverse("question_answer", args=[consent.pk, question.pk]), {"answer": "Hi"}
        )
        assert response.status_code == 404
        question.refresh_from_db()
        assert not question.is_answered


class TestSigningInTheBrowser:
    def test_the_review_shows_the_statement_and_the_signature_pad(self, client, surgeon):
        consent = patient_client(client, surgeon)
        page = client.get(reverse("patient_review"))
        assert (
            f"I consent to {consent.procedure_name}. I have read and understood the risks"
            in page.text
        )
        assert "<canvas" in page.text and "Clear the drawing" in page.text
        assert "vendor/signature_pad/signature_pad.umd.min.js" in page.text

    def test_signing_with_a_drawn_signature(self, client, surgeon):
        consent = patient_client(client, surgeon)
        response = client.post(
            reverse("patient_sign"),
            {
                "typed_name": "ada lovelace",
                "statement": STATEMENT,
                "signature": data_url(png_signature()),
            },
            follow=True,
        )
        assert "Your consent is signed" in response.text
        signature = Signature.objects.get(consent=consent)
        assert signature.method == "drawn"

    def test_signing_with_the_typed_name_only(self, client, surgeon):
        consent = patient_client(client, surgeon)
        client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT})
        assert Signature.objects.get(consent=consent).method == "typed"

    def test_a_bad_image_is_refused_and_ticks_stay(self, client, surgeon):
        consent = patient_client(client, surgeon)
        ticks = list(consent.items.values_list("acknowledged_at", flat=True))
        response = client.post(
            reverse("patient_sign"),
            {
                "typed_name": "Ada Lovelace",
                "statement": STATEMENT,
                "signature": "data:image/png;base64,!!!",
            },
        )
        assert response.status_code == 400
        assert "could not be read" in response.text
        assert 'value="Ada Lovelace"' in response.text  # the typed name is kept
        assert list(consent.items.values_list("acknowledged_at", flat=True)) == ticks
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW

    def test_a_jpeg_is_refused(self, client, surgeon):
        patient_client(client, surgeon)
        jpeg = "data:image/jpeg;base64," + base64.b64encode(png_signature(fmt="JPEG")).decode()
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT, "signature": jpeg},
        )
        assert "must be a PNG" in response.text

    def test_an_oversized_upload_is_refused(self, client, surgeon):
        patient_client(client, surgeon)
        huge = "data:image/png;base64," + "A" * 300_000
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT, "signature": huge},
        )
        assert response.status_code == 400
        assert "too large" in response.text

    def test_a_mismatched_name_is_explained(self, client, surgeon):
        patient_client(client, surgeon)
        response = client.post(
            reverse("patient_sign"), {"typed_name": "Someone", "statement": STATEMENT}
        )
        assert "does not match the name on this consent" in response.text

    def test_the_statement_box_is_required(self, client, surgeon):
        patient_client(client, surgeon)
        response = client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace"})
        assert "Please tick the box to confirm that you consent" in response.text

    def test_a_refused_sign_lists_each_problem_at_the_top_linked_to_its_field(
        self, client, surgeon
    ):
        patient_client(client, surgeon)
        response = client.post(reverse("patient_sign"), {"typed_name": "Someone"})
        assert response.status_code == 400
        assert error_summary(response) == [
            (
                "The name you typed does not match the name on this consent. "
                "Type your first and last name as they are shown at the top of this page. You "
                "can leave out middle names. If the name shown is wrong, ask your surgeon&#x27;s "
                "team to correct it.",
                "id_typed_name",
            ),
            ("Please tick the box to confirm that you consent.", "id_statement"),
        ]
        # Each field says what is wrong with it, and points to its message.
        assert re.search(
            r'<input[^>]*aria-describedby="[^"]*id_typed_name_error"[^>]*id="id_typed_name"',
            response.text,
        )
        assert 'id="id_typed_name_error"' in response.text
        assert re.search(
            r'id="id_statement"[^>]*aria-describedby="id_statement_error"', response.text
        )
        assert 'id="id_statement_error"' in response.text

    def test_a_refused_sign_keeps_the_drawing(self, client, surgeon):
        consent = patient_client(client, surgeon)
        drawn = data_url(png_signature())
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "signature": drawn},  # the box not ticked
        )
        assert response.status_code == 400
        assert f'name="signature" id="id_signature" value="{drawn}"' in response.text
        assert "The signature you drew before is kept" in response.text
        # Sent again as the page's script sends it, unchanged: signed with that drawing.
        client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT, "signature": drawn},
        )
        signature = Signature.objects.get(consent=consent)
        assert signature.method == "drawn"
        assert bytes(signature.image_png) == png_signature()

    @pytest.mark.parametrize(
        ("drawn", "message"),
        [
            pytest.param(
                data_url(png_signature(blank=True)), "The signature box is empty", id="blank"
            ),
            pytest.param(
                "data:image/png;base64,<b>not an image</b>", "could not be read", id="not-base64"
            ),
            pytest.param("data:image/png;base64," + "A" * 300_000, "too large", id="too-large"),
        ],
    )
    def test_a_drawing_that_fails_the_checks_is_not_sent_back(
        self, client, surgeon, drawn, message
    ):
        patient_client(client, surgeon)
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT, "signature": drawn},
        )
        assert response.status_code == 400
        assert 'name="signature" id="id_signature" value=""' in response.text
        assert drawn[30:60] not in response.text
        [(text, target)] = error_summary(response)
        assert message in text and target == "signature-pad"
        assert "Your drawing was not kept." in response.text
        assert 'aria-describedby="pad-help signature-error"' in response.text

    def test_a_refusal_by_the_service_is_listed_at_the_top_without_a_link(
        self, client, surgeon, monkeypatch
    ):
        patient_client(client, surgeon)
        from consent.services import ConsentError
        from consent.views import patient as patient_views

        def refused(**kwargs):
            raise ConsentError("Something changed while your signature was being saved.")

        monkeypatch.setattr(patient_views, "consent_sign", refused)
        drawn = data_url(png_signature())
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT, "signature": drawn},
        )
        assert error_summary(response) == [
            ("Something changed while your signature was being saved.", "")
        ]
        assert f'value="{drawn}"' in response.text  # the drawing is kept for the next try

    def test_opening_the_sign_address_shows_the_review(self, client, surgeon):
        patient_client(client, surgeon)
        response = client.get(reverse("patient_sign"))
        assert response.status_code == 302
        assert response["Location"] == reverse("patient_review")
        assert client.put(reverse("patient_sign")).status_code == 405

    def test_opening_the_sign_address_without_a_session_asks_to_open_the_link(self, client):
        response = client.get(reverse("patient_sign"))
        assert response.status_code == 401

    def test_a_second_submission_lands_on_the_confirmation(self, client, surgeon):
        consent = patient_client(client, surgeon)
        client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT})
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "Ada Lovelace", "statement": STATEMENT},
            follow=True,
        )
        assert "Your consent is signed" in response.text
        assert Signature.objects.filter(consent=consent).count() == 1

    def test_a_sign_that_loses_to_another_tab_lands_on_the_confirmation(
        self, client, surgeon, monkeypatch
    ):
        consent = patient_client(client, surgeon)
        from consent.views import patient as patient_views

        real_sign = patient_views.consent_sign

        def another_tab_signs_first(**kwargs):
            # The other tab's request is served after this one loaded the consent as unsigned.
            real_sign(**{**kwargs, "typed_name": "Ada Lovelace", "drawn_png": None})
            return real_sign(**kwargs)

        monkeypatch.setattr(patient_views, "consent_sign", another_tab_signs_first)
        response = client.post(
            reverse("patient_sign"),
            {"typed_name": "ada lovelace", "statement": STATEMENT, "signature": ""},
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("patient_done")
        page = client.get(response["Location"])
        assert "This consent has already been signed." in page.text
        assert "Your consent is signed" in page.text
        signature = Signature.objects.get(consent=consent)
        assert signature.typed_name == "Ada Lovelace"  # the other tab's, kept as it was

    def test_signing_after_the_planned_date_is_refused(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon, planned_in_days=1)
        late_evening = timezone.make_aware(
            datetime.datetime.combine(consent.planned_date, datetime.time(23, 50))
        )
        with time_machine.travel(late_evening) as clock:
            sign_in(client, issued)
            assert client.get(reverse("patient_review")).status_code == 200
            clock.shift(datetime.timedelta(minutes=20))  # past midnight, the page still open
            response = client.post(
                reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT}
            )
        assert response.status_code == 410
        assert "Your consent is signed" not in response.text
        consent.refresh_from_db()
        assert consent.status != ConsentStatus.SIGNED
        assert not Signature.objects.filter(consent=consent).exists()

    def test_signing_on_the_planned_date_works(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon, planned_in_days=1)
        morning = timezone.make_aware(
            datetime.datetime.combine(consent.planned_date, datetime.time(7, 30))
        )
        with time_machine.travel(morning):
            sign_in(client, issued)
            response = client.post(
                reverse("patient_sign"),
                {"typed_name": "Ada Lovelace", "statement": STATEMENT},
                follow=True,
            )
        assert "Your consent is signed" in response.text
        assert Signature.objects.filter(consent=consent).exists()

    def test_after_signing_the_patient_pages_cannot_change_anything(self, client, surgeon):
        consent = patient_client(client, surgeon)
        client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT})
        item = consent.items.first()
        before = list(consent.items.values_list("pk", "acknowledged_at"))
        client.post(reverse("patient_acknowledge", args=[item.pk]), {"acknowledged": "0"})
        client.post(reverse("patient_risks"), {"shown": [item.pk], "action": "save"})
        client.post(reverse("patient_question", args=[item.pk]), {"question": "Late?"})
        assert list(consent.items.values_list("pk", "acknowledged_at")) == before
        assert not Question.objects.exists()
        assert client.get(reverse("patient_risks"))["Location"] == reverse("patient_done")


class TestWithdrawal:
    def test_the_patient_withdraws_after_signing_and_the_surgeon_sees_it(self, client, surgeon):
        consent = patient_client(client, surgeon)
        client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT})
        done = client.get(reverse("patient_done"))
        assert "withdraw your consent" in done.text
        response = client.post(
            reverse("patient_withdraw"), {"reason": "I need more time"}, follow=True
        )
        assert "You have withdrawn your consent" in response.text
        assert "Your earlier signature is kept on record" in response.text
        surgeon_client = client.__class__()
        surgeon_client.force_login(surgeon)
        page = surgeon_client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Withdrawn by the patient" in page.text and "I need more time" in page.text
        assert "Signed by" in page.text

    def test_a_too_long_reason_is_explained_and_kept(self, client, surgeon):
        consent = patient_client(client, surgeon)
        reason = "I am not sure. " * 70
        response = client.post(reverse("patient_withdraw"), {"reason": reason})
        assert response.status_code == 400
        assert "keep this to 1000 characters or fewer" in visible(response)
        assert reason.strip() in response.text  # nothing the patient wrote is lost
        [(text, target)] = error_summary(response)
        assert "keep this to 1000 characters or fewer" in text and target == "id_reason"
        assert re.search(r'aria-describedby="id_reason_error"[^>]*id="id_reason"', response.text)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW

    def test_withdrawing_after_the_planned_date_is_refused(self, client, surgeon, settings):
        settings.SESSION_COOKIE_AGE = 7 * 24 * 3600  # a session kept alive across the date
        consent, issued = ready_to_sign(surgeon, planned_in_days=1)
        sign_in(client, issued)
        client.post(reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": STATEMENT})
        later = timezone.now() + datetime.timedelta(days=3)
        with time_machine.travel(later):
            from consent.models import PatientLink

            PatientLink.objects.update(expires_at=later + datetime.timedelta(days=1))
            session = client.session
            session["patient"]["seen"] = later.timestamp()
            session.save()
            page = client.get(reverse("patient_withdraw"))
            assert "can no longer be withdrawn here" in page.text
            response = client.post(reverse("patient_withdraw"), {"reason": ""})
        assert response.status_code == 400
        assert "has passed" in visible(response)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED


class TestAdminCannotChangeAConsent:
    def test_the_admin_shows_consents_read_only(self, client, surgeon, admin_user):
        consent, _ = ready_to_sign(surgeon)
        client.force_login(admin_user)
        url = reverse("admin:consent_consent_change", args=[consent.pk])
        page = client.get(url)
        assert page.status_code == 200
        assert "Save" not in re.findall(r'<input type="submit"[^>]*value="([^"]+)"', page.text)
        response = client.post(url, {"status": "signed", "planned_date": "2099-01-01"})
        assert response.status_code == 403
        assert (
            client.post(
                reverse("admin:consent_consent_delete", args=[consent.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW

    def test_an_outsider_surgeon_does_not_see_it_in_the_admin(self, client, surgeon, outsider):
        consent, _ = issue(surgeon)
        change = reverse("admin:consent_consent_change", args=[consent.pk])
        changelist = reverse("admin:consent_consent_changelist")
        client.force_login(surgeon)  # the owner, with the same permissions, does see it
        assert client.get(change).status_code == 200
        assert "Ada Lovelace" in client.get(changelist).text
        client.force_login(outsider)
        response = client.get(change, follow=True)
        assert "doesn\u2019t exist" in response.text and "Ada Lovelace" not in response.text
        listing = client.get(changelist)
        assert listing.status_code == 200 and "Ada Lovelace" not in listing.text
        assert "0 consents" in listing.text

    def test_patients_and_audit_events_in_the_admin_are_only_those_of_visible_consents(
        self, client, surgeon, outsider
    ):
        from django.contrib.auth.models import Permission

        issue(surgeon, full_name="Hidden Patient")
        issue(outsider, full_name="Visible Patient")
        outsider.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_patient", "view_auditevent"])
        )
        client.force_login(outsider)
        patients = client.get(reverse("admin:consent_patient_changelist")).text
        assert "Visible Patient" in patients and "Hidden Patient" not in patients
        events = client.get(reverse("admin:consent_auditevent_changelist")).text
        mine, theirs = (
            Consent.objects.get(patient__full_name=name)
            for name in ("Visible Patient", "Hidden Patient")
        )
        assert f">{mine}<" in events and f">{theirs}<" not in events
