"""Sessions: every session knows its user, so "sign out everywhere" ends them all however they
were opened; the patient's new link never rests in the session table in the clear; patients
sign out by POST only."""

import datetime
import json
import re

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import AuditEvent, Consent, PatientLink, UserSession
from consent.new_link import SHOW_SECONDS
from consent.sessions import SessionStore

from .conftest import PASSWORD
from .helpers import issue, issue_form_data

pytestmark = pytest.mark.usefixtures("library")

RIGHT = {"day": "27", "month": "3", "year": "1964"}


def session_rows() -> list[tuple[str, str, int | None]]:
    """The session table as it is stored: key, raw session_data, user id."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT session_key, session_data, user_id FROM {UserSession._meta.db_table}"  # noqa: S608
        )
        return list(cursor.fetchall())


def decoded_sessions() -> str:
    """Everything the session table holds, decoded, as one text to search."""
    rows = session_rows()
    return "\n".join(raw + json.dumps(SessionStore().decode(raw)) for _, raw, _ in rows)


def signed_in(username="owner", url=None) -> Client:
    client = Client()
    response = client.post(url or reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


class TestSessionsKnowTheirUser:
    def test_a_sign_in_records_the_user_beside_the_session(self, surgeon):
        client = signed_in()
        key = client.cookies["sessionid"].value
        assert (key, surgeon.pk) in [(k, user) for k, _, user in session_rows()]

    def test_a_session_opened_at_the_admin_login_knows_its_user_too(self, surgeon):
        client = signed_in(url=reverse("admin:login"))
        assert client.session[SESSION_KEY] == str(surgeon.pk)
        assert UserSession.objects.get(session_key=client.session.session_key).user_id == (
            surgeon.pk
        )

    def test_a_patients_session_has_no_user(self, surgeon):
        _, issued = issue(surgeon)
        patient = Client()
        patient.post(reverse("patient_link", args=[issued.token]), RIGHT)
        assert UserSession.objects.get(session_key=patient.session.session_key).user_id is None


class TestSignOutEverywhere:
    def test_it_ends_every_session_of_the_user_however_it_was_opened(
        self, surgeon, colleague, plain_user
    ):
        laptop = signed_in()
        admin_tab = signed_in(url=reverse("admin:login"))
        phone = Client()
        phone.force_login(surgeon)
        colleagues = signed_in("colleague")
        _, issued = issue(surgeon)
        patient = Client()
        patient.post(reverse("patient_link", args=[issued.token]), RIGHT)
        for client in (laptop, admin_tab, phone):
            assert client.get(reverse("home")).status_code == 200

        response = laptop.post(reverse("sign_out_everywhere"), follow=True)
        assert "You are signed out on every device" in response.text

        for client in (laptop, phone):
            assert client.get(reverse("home")).status_code == 302
        assert admin_tab.get(reverse("admin:index")).status_code == 302
        assert not UserSession.objects.filter(user_id=surgeon.pk).exists()
        # Nobody else is signed out: not a colleague, not a patient.
        assert colleagues.get(reverse("home")).status_code == 200
        assert patient.get(reverse("patient_start")).status_code == 200

    def test_it_is_audited_with_the_number_of_sessions_ended(self, surgeon):
        laptop, _ = signed_in(), signed_in(url=reverse("admin:login"))
        laptop.post(reverse("sign_out_everywhere"))
        event = AuditEvent.objects.get(action="signed_out_everywhere")
        assert event.actor_user == surgeon and event.details == {"sessions": 2}

    def test_it_is_a_post(self, surgeon):
        client = signed_in()
        assert client.get(reverse("sign_out_everywhere")).status_code == 405
        assert client.get(reverse("home")).status_code == 200


class TestNewLinkNeverInTheSessionTable:
    def issue_through_the_form(self, client):
        from procedures.models import Procedure

        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        data = issue_form_data(procedure, **{"extra-TOTAL_FORMS": "0"})
        response = client.post(reverse("consent_new_for", args=[procedure.slug]), data)
        assert response.status_code == 302
        return Consent.objects.get(patient__full_name="Grace Hopper")

    def test_the_raw_token_is_never_stored_and_the_link_is_shown_once(self, surgeon):
        client = signed_in()
        consent = self.issue_through_the_form(client)
        stored_between = decoded_sessions()  # as it rests, between the POST and the page

        page = client.get(reverse("consent_detail", args=[consent.pk]))
        token = re.search(
            r'id="patient-link" type="text" readonly value="[^"]*/p/([^/"]+)/"', page.text
        )
        assert token, "the link is shown on the consent page"
        token = token[1]
        assert PatientLink.objects.get(consent=consent).token_hash == PatientLink.hash_token(token)
        assert "new_patient_link" in stored_between  # it was there, encrypted
        assert token not in stored_between
        assert token not in decoded_sessions()

        again = client.get(reverse("consent_detail", args=[consent.pk]))
        assert token not in again.text and "shown only now" not in again.text

    def test_a_reissued_link_is_kept_out_of_the_table_too(self, surgeon):
        consent, _ = issue(surgeon)
        client = signed_in()
        client.post(reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"})
        stored_between = decoded_sessions()
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        token = re.search(r"/p/([A-Za-z0-9_-]{40,})/", page)[1]
        assert token not in stored_between

    def test_a_link_not_shown_within_minutes_is_not_shown_later(self, surgeon):
        client = signed_in()
        consent = self.issue_through_the_form(client)
        later = timezone.now() + datetime.timedelta(seconds=SHOW_SECONDS + 1)
        with time_machine.travel(later):
            page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "shown only now" not in page.text
        assert "new_patient_link" not in decoded_sessions()

    def test_it_is_not_shown_on_another_consents_page(self, surgeon):
        other, _ = issue(surgeon, full_name="Someone Else")
        client = signed_in()
        consent = self.issue_through_the_form(client)
        assert "shown only now" not in client.get(reverse("consent_detail", args=[other.pk])).text
        assert "shown only now" in client.get(reverse("consent_detail", args=[consent.pk])).text


class TestPatientSignOut:
    def patient(self, surgeon) -> Client:
        _, issued = issue(surgeon)
        client = Client(enforce_csrf_checks=True)
        client.get(reverse("patient_link", args=[issued.token]))
        token = client.cookies["csrftoken"].value
        client.post(
            reverse("patient_link", args=[issued.token]),
            {**RIGHT, "csrfmiddlewaretoken": token},
        )
        assert client.get(reverse("patient_start")).status_code == 200
        return client

    def test_a_get_only_asks_and_signs_nobody_out(self, surgeon):
        client = self.patient(surgeon)
        response = client.get(reverse("patient_sign_out"))
        assert response.status_code == 200
        assert "Leave your consent form?" in response.text
        assert 'method="post"' in response.text
        assert client.get(reverse("patient_start")).status_code == 200

    def test_the_button_signs_the_patient_out(self, surgeon):
        client = self.patient(surgeon)
        response = client.post(
            reverse("patient_sign_out"), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}
        )
        assert "You have left your consent form" in response.text
        assert client.get(reverse("patient_start")).status_code == 401

    def test_another_site_cannot_sign_a_patient_out(self, surgeon):
        client = self.patient(surgeon)
        assert client.post(reverse("patient_sign_out")).status_code == 403  # no CSRF token
        assert client.get(reverse("patient_start")).status_code == 200

    def test_the_pages_offer_a_button_not_a_link(self, surgeon):
        client = self.patient(surgeon)
        page = client.get(reverse("patient_start")).text
        assert f'action="{reverse("patient_sign_out")}"' in page
        assert f'href="{reverse("patient_sign_out")}"' not in page
