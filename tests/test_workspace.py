import datetime
import re
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.models import Consent, ConsentStatus, Team
from consent.services import (
    ConsentError,
    consent_ask_question,
    consent_reissue_link,
    consent_revoke,
    consent_withdraw,
)

from .conftest import PASSWORD
from .helpers import (
    issue,
    issue_form_data,
    pass_checks,
    patient_actor,
    ready_to_sign,
    sign,
    surgeon_actor,
)

pytestmark = pytest.mark.usefixtures("library")


@pytest.fixture
def team(surgeon, colleague):
    team = Team.objects.create(name="Spine")
    team.members.add(surgeon, colleague)
    return team


def shared_consent(surgeon, team, **kwargs):
    from consent.services import consent_issue
    from procedures.models import Procedure

    from .helpers import DOB, PatientDetails

    return consent_issue(
        actor=surgeon_actor(surgeon),
        patient=PatientDetails(full_name=kwargs.get("name", "Shared Patient"), date_of_birth=DOB),
        procedure=Procedure.objects.get(slug="lumbar-rhizotomy"),
        planned_date=timezone.localdate() + datetime.timedelta(days=kwargs.get("days", 14)),
        team=team,
    )


class TestDashboard:
    def test_it_shows_my_consents_with_status_and_a_question_badge(self, client, surgeon):
        consent, _ = ready_to_sign(surgeon, full_name="Alan Turing")
        consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        issue(surgeon, full_name="Mary Seacole")
        client.force_login(surgeon)
        page = client.get(reverse("home")).text
        assert "Alan Turing" in page and "Mary Seacole" in page
        assert "1 unanswered" in page
        assert "1 waiting for your answer" in page
        assert "In review" in page and "Issued" in page

    def test_someone_elses_consents_are_not_listed(self, client, surgeon, outsider):
        issue(surgeon, full_name="Mine Patient")
        client.force_login(outsider)
        assert "Mine Patient" not in client.get(reverse("home")).text

    def test_a_team_colleague_sees_shared_consents(
        self, client, surgeon, colleague, outsider, team
    ):
        shared_consent(surgeon, team)
        issue(surgeon, full_name="Private Patient")
        client.force_login(colleague)
        page = client.get(reverse("home")).text
        assert "Shared Patient" in page and "Shared by" in page
        assert "Private Patient" not in page

    def test_staff_with_the_permission_see_everything(self, client, surgeon, plain_user):
        issue(surgeon, full_name="Anyone Patient")
        plain_user.user_permissions.add(Permission.objects.get(codename="view_all_consents"))
        client.force_login(plain_user)
        assert "Anyone Patient" in client.get(reverse("home")).text

    def test_signed_this_week_counts_only_consents_still_signed(self, client, surgeon):
        for name in ("Kept Patient", "Withdrawn Patient"):
            consent, _ = ready_to_sign(surgeon, full_name=name)
            sign(consent, name=name)
        consent_withdraw(consent=consent, reason="", actor=patient_actor())
        client.force_login(surgeon)
        assert "1 signed this week" in client.get(reverse("home")).text

    def test_signed_this_week_counts_only_the_last_seven_days(self, client, surgeon):
        start = timezone.now()
        old, _ = ready_to_sign(surgeon, full_name="Old Patient")
        sign(old, name="Old Patient")
        with time_machine.travel(start + datetime.timedelta(days=3)):
            recent, _ = ready_to_sign(surgeon, full_name="Recent Patient")
            sign(recent, name="Recent Patient")
        with time_machine.travel(start + datetime.timedelta(days=6)):
            client.force_login(surgeon)
            assert "2 signed this week" in client.get(reverse("home")).text
        # Eight days after the first signature and five after the second: only one is recent.
        with time_machine.travel(start + datetime.timedelta(days=8)):
            client.force_login(surgeon)
            assert "1 signed this week" in client.get(reverse("home")).text

    def test_filter_by_status_and_waiting(self, client, surgeon):
        revoked, _ = issue(surgeon, full_name="Revoked Patient")
        consent_revoke(consent=revoked, actor=surgeon_actor(surgeon), reason="x")
        waiting, _ = ready_to_sign(surgeon, full_name="Waiting Patient")
        consent_ask_question(
            consent=waiting, item_id=waiting.items.first().pk, text="?", actor=patient_actor()
        )
        issue(surgeon, full_name="Plain Patient")
        client.force_login(surgeon)
        page = client.get(reverse("home"), {"status": "revoked"}).text
        assert "Revoked Patient" in page and "Plain Patient" not in page
        page = client.get(reverse("home"), {"status": "waiting"}).text
        assert (
            "Waiting Patient" in page
            and "Plain Patient" not in page
            and "Revoked Patient" not in page
        )

    def test_search_by_name_or_hospital_number(self, client, surgeon):
        issue(surgeon, full_name="Grace Hopper")
        issue(surgeon, full_name="Ada Lovelace")
        client.force_login(surgeon)
        page = client.get(reverse("home"), {"q": "hopp"}).text
        assert "Grace Hopper" in page and "Ada Lovelace" not in page
        page = client.get(reverse("home"), {"q": "mrn123"}).text
        assert "Grace Hopper" in page and "Ada Lovelace" in page
        assert "No consents match" in client.get(reverse("home"), {"q": "nobody"}).text

    def test_sort_by_planned_date(self, client, surgeon):
        issue(surgeon, full_name="Later Patient", planned_in_days=30)
        issue(surgeon, full_name="Sooner Patient", planned_in_days=10)
        client.force_login(surgeon)
        page = client.get(reverse("home")).text
        assert page.index("Sooner Patient") < page.index("Later Patient")
        page = client.get(reverse("home"), {"sort": "-planned"}).text
        assert page.index("Later Patient") < page.index("Sooner Patient")

    def test_unsigned_consents_within_a_week_stand_out(self, client, surgeon):
        issue(surgeon, full_name="Soon Patient", planned_in_days=3)
        issue(surgeon, full_name="Far Patient", planned_in_days=30)
        client.force_login(surgeon)
        page = client.get(reverse("home")).text
        soon_row = page[page.index("Soon Patient") - 300 : page.index("Soon Patient")]
        far_row = page[page.index("Far Patient") - 300 : page.index("Far Patient")]
        assert "table-warning" in soon_row and "table-warning" not in far_row
        assert page.count("Soon, not signed") == 1

    def test_it_paginates(self, client, surgeon):
        for n in range(25):
            issue(surgeon, full_name=f"Patient {n:02d}", planned_in_days=10 + n)
        client.force_login(surgeon)
        first = client.get(reverse("home")).text
        second = client.get(reverse("home"), {"page": 2}).text
        assert "Patient 00" in first and "Patient 24" not in first
        assert "Patient 24" in second and "page 2 of 2" in second

    def test_a_bad_filter_value_falls_back_to_defaults(self, client, surgeon):
        issue(surgeon, full_name="Some Patient")
        client.force_login(surgeon)
        response = client.get(
            reverse("home"), {"sort": "drop table", "per_page": "9999", "page": "x"}
        )
        assert response.status_code == 200 and "Some Patient" in response.text

    def test_queries_do_not_grow_with_the_consents_on_the_page(self, client, surgeon):
        counts = {}
        for total in (20, 100):
            while Consent.objects.filter(surgeon=surgeon).count() < total:
                consent, _ = ready_to_sign(surgeon, full_name=f"P {Consent.objects.count()}")
                consent_ask_question(
                    consent=consent,
                    item_id=consent.items.first().pk,
                    text="?",
                    actor=patient_actor(),
                )
            client.force_login(surgeon)
            with CaptureQueriesContext(connection) as queries:
                page = client.get(reverse("home"), {"per_page": 100})
            assert page.text.count("1 unanswered") == total
            counts[total] = len(queries)
        assert counts[20] == counts[100], counts


class TestTeamsAndActions:
    def test_a_colleague_views_and_answers_but_cannot_revoke_or_reissue(
        self, client, surgeon, colleague, team
    ):
        consent, issued = shared_consent(surgeon, team)
        from consent.services import link_verify_identity

        from .helpers import DOB

        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        question = consent_ask_question(
            consent=consent,
            item_id=consent.items.first().pk,
            text="Will it hurt?",
            actor=patient_actor(),
        )
        client.force_login(colleague)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert page.status_code == 200
        assert "Revoke consent" not in page.text and "Make a new link" not in page.text
        assert "Only the issuing surgeon" in page.text
        response = client.post(
            reverse("question_answer", args=[consent.pk, question.pk]),
            {"answer": "A little."},
            follow=True,
        )
        assert "Your answer was saved" in response.text
        response = client.post(
            reverse("consent_revoke", args=[consent.pk]), {"reason": "No"}, follow=True
        )
        assert "Only the issuing surgeon can revoke it" in response.text
        response = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        )
        assert "Only the issuing surgeon can make a new link" in response.text
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW
        assert consent.links.filter(ended_at__isnull=True).get() == issued.link

    def test_a_colleague_can_download_a_shared_signed_pdf_but_an_outsider_cannot(
        self, client, surgeon, colleague, outsider, team
    ):
        consent, issued = shared_consent(surgeon, team)
        from consent.services import consent_acknowledge_item, link_verify_identity

        from .helpers import DOB

        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        for item in consent.items.all():
            consent_acknowledge_item(
                consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
            )
        pass_checks(consent)
        sign(consent, name="Shared Patient")
        client.force_login(colleague)
        assert client.get(reverse("consent_document", args=[consent.pk])).status_code == 200
        client.force_login(outsider)
        for url in (
            reverse("consent_detail", args=[consent.pk]),
            reverse("consent_document", args=[consent.pk]),
        ):
            assert client.get(url).status_code == 404

    def test_sharing_only_with_my_own_team(self, surgeon, outsider):
        other = Team.objects.create(name="Other")
        other.members.add(outsider)
        with pytest.raises(ConsentError, match="team you belong to"):
            shared_consent(surgeon, other)

    def test_revoking_a_signed_consent_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        with pytest.raises(ConsentError, match="signed consent cannot be revoked"):
            consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="x")

    def test_a_withdrawn_consent_gets_no_new_link(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        consent_withdraw(consent=consent, reason="", actor=patient_actor())
        with pytest.raises(ConsentError, match="withdrawn"):
            consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))

    def test_the_link_panel_offers_a_printable_handout(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        page = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        ).text
        assert "Print a handout for the patient" in page
        handout = page[page.index('<section class="handout"') :]
        assert "Enter your date of birth" in handout and "<svg" in handout and "/p/" in handout
        assert "Ada Lovelace" in handout


class TestEmail:
    def test_the_link_is_emailed_without_medical_details(
        self, client, surgeon, django_capture_on_commit_callbacks
    ):
        from procedures.models import Procedure

        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        client.force_login(surgeon)
        data = issue_form_data(
            procedure, email="grace@example.org", email_patient="on", **{"extra-TOTAL_FORMS": "0"}
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("consent_new_for", args=[procedure.slug]), data, follow=True
            )
        assert "The link was emailed to the patient" in response.text
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["grace@example.org"]
        assert "/p/" in message.body and "date of birth" in message.body
        for secret in ("rhizotomy", "Rhizotomy", "nerve", "Grace", "Hopper", "1956"):
            assert secret not in message.body + message.subject
        consent = Consent.objects.get()
        assert consent.audit_events.filter(action="link_emailed").exists()
        # The link works all through the planned day (it expires as the next day starts): the
        # email and the surgeon's page name that day, not the next.
        planned = f"{consent.planned_date:%-d %B %Y}"
        assert f"The link works until the end of {planned}." in " ".join(message.body.split())
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert f"works until the end of {consent.planned_date:%-d %b %Y}" in page

    def test_asking_for_email_needs_an_address(self, client, surgeon):
        from procedures.models import Procedure

        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        data = issue_form_data(procedure, email_patient="on", **{"extra-TOTAL_FORMS": "0"})
        page = client.post(reverse("consent_new_for", args=["lumbar-rhizotomy"]), data)
        assert page.status_code == 200
        assert "Give the patient&#x27;s email address" in page.text
        assert not Consent.objects.exists()
        # Nothing the surgeon typed is lost.
        assert 'value="H-77"' in page.text and 'value="1956-12-09"' in page.text
        assert re.search(r'name="email_patient"[^>]*checked', page.text)

    def test_the_surgeon_is_told_of_a_question_a_signature_and_a_withdrawal(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        consent, _ = ready_to_sign(surgeon)
        with django_capture_on_commit_callbacks(execute=True):
            q = consent_ask_question(
                consent=consent,
                item_id=consent.items.first().pk,
                text="Secret?",
                actor=patient_actor(),
            )
        from consent.services import consent_answer_question

        consent_answer_question(
            consent=consent, question_id=q.pk, text="Yes.", actor=surgeon_actor(surgeon)
        )
        with django_capture_on_commit_callbacks(execute=True):
            sign(consent)
        with django_capture_on_commit_callbacks(execute=True):
            consent_withdraw(consent=consent, reason="Private reason", actor=patient_actor())
        subjects = [m.subject for m in mail.outbox]
        assert [s.split(" · ")[0] for s in subjects] == [
            "A patient has asked a question",
            "A patient has signed a consent",
            "A patient has withdrawn a consent",
        ]
        for message in mail.outbox:
            assert message.to == ["owner@example.org"]
            assert f"/consents/{consent.pk}/" in message.body
            for secret in ("Secret?", "Private reason", "Ada", "rhizotomy"):
                assert secret not in message.body

    def test_the_surgeon_is_emailed_only_after_the_change_is_committed(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        consent, _ = ready_to_sign(surgeon)
        changes = [
            lambda: consent_ask_question(
                consent=consent, item_id=consent.items.first().pk, text="?", actor=patient_actor()
            ),
            lambda: consent_withdraw(consent=consent, reason="", actor=patient_actor()),
        ]
        for change in changes:
            with django_capture_on_commit_callbacks() as callbacks:
                change()
            assert mail.outbox == []  # nothing leaves while the transaction may still roll back
            assert len(callbacks) == 1
            callbacks[0]()
            assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@example.org"]
            mail.outbox.clear()

    def test_a_signature_is_emailed_only_after_it_is_committed(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        consent, _ = ready_to_sign(surgeon)
        with django_capture_on_commit_callbacks() as callbacks:
            sign(consent)
        assert mail.outbox == []
        for callback in callbacks:
            callback()
        assert [m.subject.split(" · ")[0] for m in mail.outbox] == [
            "A patient has signed a consent"
        ]

    @pytest.mark.django_db(transaction=True)
    def test_the_patients_link_is_emailed_only_after_the_consent_is_committed(
        self, client, surgeon, monkeypatch
    ):
        """Sent while the surgeon waits (so the page can say whether it went), but outside any
        transaction: the consent is committed first, and no lock is held while the mail server
        answers."""
        from django.db import connection

        from consent import notify
        from procedures.models import Procedure

        seen = []
        real = notify.patient_link

        def spy(consent, **kwargs):
            seen.append(
                (connection.in_atomic_block, Consent.objects.filter(pk=consent.pk).exists())
            )
            return real(consent, **kwargs)

        monkeypatch.setattr(notify, "patient_link", spy)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        client.force_login(surgeon)
        data = issue_form_data(
            procedure, email="grace@example.org", email_patient="on", **{"extra-TOTAL_FORMS": "0"}
        )
        client.post(reverse("consent_new_for", args=[procedure.slug]), data)
        assert seen == [(False, True)]
        assert [m.to for m in mail.outbox] == [["grace@example.org"]]

    def test_nothing_is_sent_when_the_change_is_rolled_back(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        from consent import documents

        consent, _ = ready_to_sign(surgeon)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            original = documents.seal_pdf
            documents.seal_pdf = lambda pdf: (_ for _ in ()).throw(documents.DocumentError("x"))
            try:
                with pytest.raises(ConsentError):
                    sign(consent)
            finally:
                documents.seal_pdf = original
        assert callbacks == [] and mail.outbox == []


class TestSignIn:
    def test_repeated_failures_lock_the_sign_in(self, client, surgeon, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("login"), {"username": "owner", "password": "wrong"})
        response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
        assert response.status_code in (403, 429)
        assert "Too many failed sign-ins" in response.text
        assert "_auth_user_id" not in client.session
        # The lock is in the database: another client from the same address is locked too.
        other = client.__class__()
        assert (
            "Too many failed sign-ins"
            in other.post(reverse("login"), {"username": "owner", "password": PASSWORD}).text
        )

    def test_a_success_before_the_limit_resets_the_count(self, client, surgeon, settings):
        def fail_all_but_one():
            for _ in range(settings.AXES_FAILURE_LIMIT - 1):
                response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
                assert response.status_code == 200  # the form again, not the lock-out page

        fail_all_but_one()
        assert (
            client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code
            == 302
        )
        client.logout()
        # Had the success not cleared the count, these failures would pass the limit and lock.
        fail_all_but_one()
        response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(surgeon.pk)

    def test_sessions_end_after_inactivity(self, client, surgeon, settings):
        client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
        assert client.get(reverse("home")).status_code == 200
        with time_machine.travel(
            timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
        ):
            response = client.get(reverse("home"))
        assert response.status_code == 302 and reverse("login") in response["Location"]

    def test_sign_out_everywhere_ends_every_session(self, client, surgeon):
        laptop, phone = client, client.__class__()
        for device in (laptop, phone):
            device.post(reverse("login"), {"username": "owner", "password": PASSWORD})
            assert device.get(reverse("home")).status_code == 200
        response = laptop.post(reverse("sign_out_everywhere"), follow=True)
        assert "signed out on every device" in response.text
        assert phone.get(reverse("home")).status_code == 302
        assert laptop.get(reverse("home")).status_code == 302


class TestSeedDemo:
    def test_it_creates_consents_in_every_state(self, settings, tmp_path):
        settings.DEBUG = True
        settings.BASE_DIR = tmp_path
        call_command("ensure_demo_surgeon", stdout=StringIO())
        out = StringIO()
        call_command("seed_demo", stdout=out)
        statuses = set(Consent.objects.values_list("status", flat=True))
        assert statuses == set(ConsentStatus.values)
        assert Consent.objects.filter(questions__answered_at__isnull=True).exists()
        signed = Consent.objects.filter(status=ConsentStatus.SIGNED, document__isnull=False)
        assert signed.exists()
        assert "Try the patient side" in out.getvalue()
        from consent.audit import audit_verify

        assert audit_verify().problem is None
        # The record of reading and understanding: one consent shows all three, one needed help.
        from consent.reading import check_results, reading_summary

        signed = list(signed)
        assert len(signed) == 2
        shows_all = [c for c in signed if hasattr(c, "priorities")]
        needed_help = [c for c in signed if any(r.needed_help for r in check_results(c))]
        assert len(shows_all) == 1 and shows_all[0].priorities.is_answered
        assert not reading_summary(shows_all[0]).read_quickly
        assert len(needed_help) == 1 and reading_summary(needed_help[0]).read_quickly
        assert all(r.check.passed_at for c in signed for r in check_results(c))
        assert Consent.objects.filter(priorities__responded_at__isnull=True).exists()
        call_command("seed_demo", stdout=out)
        assert "skipped" in out.getvalue()
        assert Consent.objects.count() == 9

    def test_it_refuses_without_debug(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG is off"):
            call_command("seed_demo")
