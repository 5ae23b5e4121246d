"""Review of issue 11 ("Provably informed"): attacks by a patient who wants to look informed,
by an insider with the database, by races and by garbage. Each test here failed on a problem
found in review, and passes since it was fixed (or says why it is left as it is)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from .helpers import issue
from .test_patient_views import sign_in

pytestmark = pytest.mark.usefixtures("library")


def later(seconds: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(seconds=seconds), tick=False)


# --- a patient who wants to look informed ----------------------------------------------------


class TestInflatedReadingTime:
    def test_a_burst_of_reports_cannot_claim_more_than_the_time_that_passed(self, client, surgeon):
        """Each report may claim the time since the last one plus a few seconds of slack. The
        slack must not be renewed by every report: 100 reports sent at once claimed 100 times
        the slack for every risk (500 seconds each, in under a second)."""
        consent, issued = issue(surgeon)
        items = list(consent.items.filter(not_applicable=False))
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
            for _ in range(100):
                client.post(reverse("patient_reading"), {f"seconds-{i.pk}": "60" for i in items})
        for item in consent.items.filter(not_applicable=False):
            assert item.seconds_on_screen <= 30 + 5, item.seconds_on_screen

    def test_a_report_with_nothing_shown_in_this_session_counts_no_more_than_the_slack(
        self, client, surgeon
    ):
        """A session that never showed the risks page has no time to measure against: its
        first report was capped at 10 minutes for every risk, so each new sign-in could add
        10 minutes to each risk with one request."""
        consent, issued = issue(surgeon)
        items = list(consent.items.filter(not_applicable=False))
        sign_in(client, issued)
        client.post(reverse("patient_reading"), {f"seconds-{i.pk}": "3600" for i in items})
        for item in consent.items.filter(not_applicable=False):
            assert item.seconds_on_screen <= 5, item.seconds_on_screen

    def test_two_risks_on_screen_together_each_keep_their_time(self, client, surgeon):
        """The cap is per risk: ticking one risk (which reports its own seconds) does not cut
        the time of another that was on screen with it and is reported later."""
        consent, issued = issue(surgeon)
        first, second = consent.items.filter(not_applicable=False)[:2]
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=40), tick=False):
            client.post(
                reverse("patient_acknowledge", args=[first.pk]),
                {"acknowledged": "1", f"seconds-{first.pk}": "40"},
            )
        with time_machine.travel(start + datetime.timedelta(seconds=50), tick=False):
            client.post(reverse("patient_reading"), {f"seconds-{second.pk}": "50"})
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.seconds_on_screen, second.seconds_on_screen) == (40, 50)
