import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.actors import Actor
from consent.models import AuditEvent, ConsentStatus, PatientLink
from consent.services import (
    ConsentError,
    LinkState,
    consent_acknowledge_item,
    consent_expire,
    consent_reissue_link,
    consent_revoke,
    consent_set_acknowledgments,
    link_find,
    link_state,
    link_verify_identity,
    unacknowledged_items,
)
from procedures.models import Procedure

from .helpers import DOB, EXTRA, issue, patient_actor, surgeon_actor

pytestmark = pytest.mark.usefixtures("library")


def actions(consent) -> list[str]:
    return list(consent.audit_events.values_list("action", flat=True))


def open_consent(surgeon, **kwargs):
    consent, issued = issue(surgeon, **kwargs)
    link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
    consent.refresh_from_db()
    return consent, issued


class TestIssue:
    def test_it_freezes_the_procedure_wording_and_items(self, surgeon):
        consent, _issued = issue(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert consent.status == ConsentStatus.ISSUED
        assert consent.procedure_name == procedure.name
        assert consent.procedure_revision == procedure.revision
        assert consent.procedure_text["recovery"] == procedure.recovery
        assert [i.title for i in consent.items.all()] == [i.title for i in procedure.items.all()]
        assert consent.content_sha256 == consent.compute_content_sha256()
        assert actions(consent) == ["consent_issued", "link_issued"]

    def test_the_frozen_wording_survives_edits_to_the_procedure(self, surgeon):
        consent, _ = issue(surgeon)
        before = consent.compute_content_sha256()
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        procedure.recovery = "Completely different advice."
        procedure.save()
        item = procedure.items.first()
        item.title = "Renamed risk"
        item.save()
        consent.refresh_from_db()
        assert consent.procedure_text["recovery"] != "Completely different advice."
        assert consent.items.first().title == "Damage to other nerves"
        assert consent.compute_content_sha256() == before == consent.content_sha256

    def test_the_frozen_wording_survives_deleting_the_procedure(self, surgeon):
        consent, _ = issue(surgeon)
        Procedure.objects.get(slug="lumbar-rhizotomy").delete()
        consent.refresh_from_db()
        assert consent.procedure is None
        assert consent.items.count() == 6
        assert consent.compute_content_sha256() == consent.content_sha256

    def test_it_adds_patient_specific_risks_and_marks_not_applicable_ones(self, surgeon):
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        skipped = procedure.items.get(title="Risks of the anaesthetic")
        consent, _ = issue(
            surgeon, extra_risks=[EXTRA], not_applicable={skipped.pk: "Local anaesthetic only."}
        )
        items = list(consent.items.all())
        assert len(items) == 7
        assert items[-1].title == EXTRA.title and items[-1].origin == "patient"
        na = next(i for i in items if i.title == "Risks of the anaesthetic")
        assert na.not_applicable and na.not_applicable_reason == "Local anaesthetic only."
        assert na not in unacknowledged_items(consent)

    def test_it_refuses_a_not_applicable_risk_without_a_reason(self, surgeon):
        item = Procedure.objects.get(slug="lumbar-rhizotomy").items.first()
        with pytest.raises(ConsentError, match="reason"):
            issue(surgeon, not_applicable={item.pk: "  "})

    def test_it_refuses_a_risk_from_another_procedure(self, surgeon):
        other = Procedure.objects.get(slug="lumbar-fusion-l5-s1").items.first()
        with pytest.raises(ConsentError, match="not part of this procedure"):
            issue(surgeon, not_applicable={other.pk: "reason"})

    def test_it_refuses_a_planned_date_in_the_past(self, surgeon):
        with pytest.raises(ConsentError, match="in the past"):
            issue(surgeon, planned_in_days=-1)

    def test_it_refuses_an_inactive_procedure(self, surgeon):
        Procedure.objects.filter(slug="lumbar-rhizotomy").update(is_active=False)
        with pytest.raises(ConsentError, match="not active"):
            issue(surgeon)


def issue_with(surgeon, **overrides):
    """consent_issue straight from the service, with one thing changed."""
    from consent.services import PatientDetails, consent_issue

    arguments = dict(
        actor=surgeon_actor(surgeon),
        patient=PatientDetails(full_name="Ada Lovelace", date_of_birth=DOB, email=""),
        procedure=Procedure.objects.get(slug="lumbar-rhizotomy"),
        planned_date=timezone.localdate() + datetime.timedelta(days=14),
    )
    return consent_issue(**{**arguments, **overrides})


class TestIssueChecksInTheService:
    """The service refuses bad input itself, whatever the caller (view, command, admin)."""

    def patient(self, **fields):
        from consent.services import PatientDetails

        return PatientDetails(**{"full_name": "Ada Lovelace", "date_of_birth": DOB, **fields})

    def refusal(self, case: str, outsider) -> tuple[dict, str]:
        """The arguments that break one rule, and what the service says."""
        from consent.models import Team
        from consent.services import ExtraRisk

        today = timezone.localdate()
        if case == "team_not_mine":
            team = Team.objects.create(name="Theirs")
            team.members.add(outsider)
        return {
            "no_signed_in_surgeon": (
                {"actor": Actor.system()},
                "Only a signed-in surgeon can issue a consent.",
            ),
            "born_today": (
                {"patient": self.patient(date_of_birth=today)},
                "The date of birth must be in the past.",
            ),
            "born_tomorrow": (
                {"patient": self.patient(date_of_birth=today + datetime.timedelta(days=1))},
                "The date of birth must be in the past.",
            ),
            "email_without_address": (
                {"email_patient": True},
                "Give the patient's email address to send them the link.",
            ),
            "email_to_blank_address": (
                {"email_patient": True, "patient": self.patient(email="   ")},
                "Give the patient's email address to send them the link.",
            ),
            "risk_without_title": (
                {"extra_risks": [ExtraRisk(title=" ", explanation="Why.", severity="common")]},
                "Each patient-specific risk needs a title and an explanation.",
            ),
            "risk_without_explanation": (
                {"extra_risks": [ExtraRisk(title="Heart", explanation="", severity="common")]},
                "Each patient-specific risk needs a title and an explanation.",
            ),
            "risk_with_unknown_severity": (
                {"extra_risks": [ExtraRisk(title="Heart", explanation="Why.", severity="dire")]},
                '"dire" is not a severity.',
            ),
            "team_not_mine": (
                {"team": Team.objects.filter(name="Theirs").first()},
                "You can only share a consent with a team you belong to.",
            ),
        }[case]

    @pytest.mark.parametrize(
        "case",
        [
            "no_signed_in_surgeon",
            "born_today",
            "born_tomorrow",
            "email_without_address",
            "email_to_blank_address",
            "risk_without_title",
            "risk_without_explanation",
            "risk_with_unknown_severity",
            "team_not_mine",
        ],
    )
    def test_it_refuses_and_creates_nothing(self, surgeon, outsider, case):
        from consent.models import Consent, Patient

        overrides, message = self.refusal(case, outsider)
        with pytest.raises(ConsentError) as refused:
            issue_with(surgeon, **overrides)
        assert str(refused.value) == message
        assert not Consent.objects.exists() and not Patient.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_it_accepts_surgery_today_and_a_birth_yesterday(self, surgeon):
        today = timezone.localdate()
        consent, _ = issue_with(
            surgeon,
            planned_date=today,
            patient=self.patient(date_of_birth=today - datetime.timedelta(days=1)),
        )
        assert consent.status == ConsentStatus.ISSUED and consent.planned_date == today

    def test_it_shares_with_a_team_of_mine_and_emails_an_address_given(self, surgeon):
        from consent.models import Team

        team = Team.objects.create(name="Spine")
        team.members.add(surgeon)
        consent, _ = issue_with(
            surgeon,
            team=team,
            email_patient=True,
            patient=self.patient(email=" ada@example.org "),
        )
        assert consent.team == team and consent.email_patient
        assert consent.patient.email == "ada@example.org"


class TestLinks:
    def test_the_token_is_random_and_only_its_hash_is_stored(self, surgeon):
        _, one = issue(surgeon)
        _, two = issue(surgeon)
        assert len(one.token) >= 43  # 32 bytes, base64: 256 bits
        assert one.token != two.token
        assert PatientLink.objects.filter(token_hash=PatientLink.hash_token(one.token)).exists()
        assert not PatientLink.objects.filter(token_hash=one.token).exists()

    def test_it_expires_after_30_days_but_never_after_the_planned_date(self, surgeon):
        _, far = issue(surgeon, planned_in_days=90)
        _, near = issue(surgeon, planned_in_days=3)
        assert far.link.expires_at - far.link.created_at == datetime.timedelta(days=30)
        assert timezone.localtime(
            near.link.expires_at
        ).date() == timezone.localdate() + datetime.timedelta(days=4)
        assert timezone.localtime(near.link.expires_at).time() == datetime.time(0, 0)

    def test_an_expired_link_says_so(self, surgeon):
        _, issued = issue(surgeon, planned_in_days=90)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
            assert link_state(link_find(issued.token)) == LinkState.EXPIRED

    def test_reissuing_kills_the_old_link(self, surgeon):
        consent, old = issue(surgeon)
        new = consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))
        assert link_state(link_find(old.token)) == LinkState.REISSUED
        assert link_state(link_find(new.token)) == LinkState.OK
        assert consent.links.filter(ended_at__isnull=True).count() == 1
        assert actions(consent)[-1] == "link_issued"

    def test_the_database_allows_one_live_link_per_consent(self, surgeon):
        consent, issued = issue(surgeon)
        with pytest.raises(IntegrityError), transaction.atomic():
            PatientLink.objects.create(
                consent=consent, token_hash="x" * 64, expires_at=issued.link.expires_at
            )

    def test_an_unknown_token_is_unknown(self):
        assert link_state(link_find("not-a-token")) == LinkState.UNKNOWN


class TestIdentity:
    def test_the_right_date_of_birth_opens_the_consent(self, surgeon):
        consent, issued = issue(surgeon)
        result = link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        consent.refresh_from_db()
        assert result.confirmed
        assert consent.status == ConsentStatus.IN_REVIEW and consent.opened_at
        assert actions(consent)[-2:] == ["identity_confirmed", "consent_opened"]
        event = consent.audit_events.last()
        assert event.ip_address == "192.0.2.7" and event.user_agent == "pytest"

    def test_a_wrong_date_counts_down_then_locks_the_link(self, surgeon):
        consent, issued = issue(surgeon)
        wrong = datetime.date(1970, 1, 1)
        lefts = [
            link_verify_identity(link=issued.link, date_of_birth=wrong, actor=patient_actor())
            for _ in range(5)
        ]
        assert [r.attempts_left for r in lefts[:4]] == [4, 3, 2, 1]
        assert lefts[4].state == LinkState.LOCKED
        # Even the right answer is refused now, and the lock is in the database.
        assert not link_verify_identity(
            link=issued.link, date_of_birth=DOB, actor=patient_actor()
        ).confirmed
        assert link_state(link_find(issued.token)) == LinkState.LOCKED
        assert actions(consent).count("identity_failed") == 5
        assert "link_locked" in actions(consent)

    def test_a_right_answer_resets_the_count(self, surgeon):
        _, issued = issue(surgeon)
        link_verify_identity(
            link=issued.link, date_of_birth=datetime.date(1970, 1, 1), actor=patient_actor()
        )
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        issued.link.refresh_from_db()
        assert issued.link.failed_attempts == 0

    def test_a_passed_planned_date_expires_the_consent(self, surgeon):
        consent, issued = issue(surgeon, planned_in_days=1)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=2)):
            PatientLink.objects.filter(pk=issued.link.pk).update(
                expires_at=timezone.now() + datetime.timedelta(days=1)
            )
            result = link_verify_identity(
                link=issued.link, date_of_birth=DOB, actor=patient_actor()
            )
        consent.refresh_from_db()
        assert result.state == LinkState.CLOSED
        assert consent.status == ConsentStatus.EXPIRED


class TestAcknowledge:
    def test_it_records_the_time_of_each_tick(self, surgeon):
        consent, _ = open_consent(surgeon)
        item = consent.items.first()
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
        item.refresh_from_db()
        assert item.acknowledged_at is not None
        assert actions(consent)[-1] == "item_acknowledged"

    def test_ticking_twice_keeps_the_first_time_and_writes_one_event(self, surgeon):
        consent, _ = open_consent(surgeon)
        item = consent.items.first()
        first = consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
        again = consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
        assert again.acknowledged_at == first.acknowledged_at
        assert actions(consent).count("item_acknowledged") == 1

    def test_a_tick_can_be_taken_back(self, surgeon):
        consent, _ = open_consent(surgeon)
        item = consent.items.first()
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=False, actor=patient_actor()
        )
        item.refresh_from_db()
        assert item.acknowledged_at is None
        assert actions(consent)[-1] == "item_unacknowledged"

    def test_it_refuses_before_the_patient_has_opened_the_consent(self, surgeon):
        consent, _ = issue(surgeon)
        with pytest.raises(ConsentError, match="issued"):
            consent_acknowledge_item(
                consent=consent,
                item_id=consent.items.first().pk,
                acknowledged=True,
                actor=patient_actor(),
            )

    def test_it_refuses_an_item_of_another_consent(self, surgeon):
        consent, _ = open_consent(surgeon)
        other, _ = issue(surgeon)
        with pytest.raises(ConsentError, match="not part of this consent"):
            consent_acknowledge_item(
                consent=consent,
                item_id=other.items.first().pk,
                acknowledged=True,
                actor=patient_actor(),
            )

    def test_it_refuses_a_not_applicable_item(self, surgeon):
        item = Procedure.objects.get(slug="lumbar-rhizotomy").items.first()
        consent, _ = open_consent(surgeon, not_applicable={item.pk: "Does not apply."})
        na = consent.items.get(not_applicable=True)
        with pytest.raises(ConsentError, match="does not apply"):
            consent_acknowledge_item(
                consent=consent, item_id=na.pk, acknowledged=True, actor=patient_actor()
            )

    def test_a_whole_form_saves_only_the_ticks_that_changed(self, surgeon):
        consent, _ = open_consent(surgeon)
        other, _ = open_consent(surgeon)
        items = list(consent.items.all())
        consent_acknowledge_item(
            consent=consent, item_id=items[0].pk, acknowledged=True, actor=patient_actor()
        )
        first_time = consent.items.get(pk=items[0].pk).acknowledged_at
        before = consent.audit_events.count()
        consent_set_acknowledgments(
            consent=consent,
            ticks={
                items[0].pk: True,
                items[1].pk: True,
                items[2].pk: False,
                other.items.first().pk: True,
            },
            actor=patient_actor(),
        )
        assert consent.items.get(pk=items[0].pk).acknowledged_at == first_time
        assert consent.items.get(pk=items[1].pk).acknowledged_at is not None
        assert consent.items.get(pk=items[2].pk).acknowledged_at is None
        assert consent.audit_events.count() == before + 1
        assert not other.items.filter(acknowledged_at__isnull=False).exists()

    def test_it_lists_what_is_left(self, surgeon):
        consent, _ = open_consent(surgeon)
        items = list(consent.items.all())
        for item in items[:4]:
            consent_acknowledge_item(
                consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
            )
        assert unacknowledged_items(consent) == items[4:]


class TestRevokeAndExpire:
    def test_revoking_closes_the_consent_and_kills_the_link(self, surgeon):
        consent, issued = issue(surgeon)
        consent = consent_revoke(
            consent=consent, actor=surgeon_actor(surgeon), reason="Operation cancelled"
        )
        assert consent.status == ConsentStatus.REVOKED
        assert consent.close_reason == "Operation cancelled"
        assert link_state(link_find(issued.token)) == LinkState.REVOKED
        assert actions(consent)[-1] == "consent_revoked"

    def test_revoking_needs_a_reason(self, surgeon):
        consent, _ = issue(surgeon)
        with pytest.raises(ConsentError, match="reason"):
            consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason=" ")

    def test_revoking_twice_is_refused(self, surgeon):
        consent, _ = issue(surgeon)
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        with pytest.raises(ConsentError, match="revoked"):
            consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Again")

    def test_a_revoked_consent_gets_no_new_link(self, surgeon):
        consent, _ = issue(surgeon)
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        with pytest.raises(ConsentError, match="revoked"):
            consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))

    def test_ticks_are_refused_once_revoked(self, surgeon):
        consent, _ = open_consent(surgeon)
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        with pytest.raises(ConsentError, match="revoked"):
            consent_acknowledge_item(
                consent=consent,
                item_id=consent.items.first().pk,
                acknowledged=True,
                actor=patient_actor(),
            )

    def test_no_new_link_once_the_planned_date_has_passed(self, surgeon):
        consent, issued = issue(surgeon, planned_in_days=1)
        later = time_machine.travel(timezone.now() + datetime.timedelta(days=2))
        with later, pytest.raises(ConsentError, match="the planned date has passed"):
            consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))
        assert list(consent.links.all()) == [issued.link]
        assert issued.link.ended_at is None

    def test_expiry_waits_for_the_planned_date(self, surgeon):
        consent, _ = issue(surgeon, planned_in_days=1)
        with pytest.raises(ConsentError, match="not passed"):
            consent_expire(consent=consent)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=3)):
            consent = consent_expire(consent=consent)
        assert consent.status == ConsentStatus.EXPIRED
        assert AuditEvent.objects.filter(
            consent=consent, action="consent_expired", actor_type="system"
        ).exists()


class TestTransitionTable:
    """The table in services is the only way a status changes."""

    def test_it_names_a_service_for_every_move(self):
        from consent.services import TRANSITIONS

        assert set(TRANSITIONS.values()) == {
            "link_verify_identity",
            "consent_revoke",
            "consent_expire",
            "consent_sign",
            "consent_withdraw",
        }

    def test_closed_states_go_nowhere(self):
        from consent.models import ConsentStatus
        from consent.services import allowed_from

        for status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED, ConsentStatus.WITHDRAWN):
            assert allowed_from(status) == set()
        assert allowed_from(ConsentStatus.SIGNED) == {ConsentStatus.WITHDRAWN}

    def test_a_move_outside_the_table_is_refused(self, surgeon, library):
        from consent.models import ConsentStatus
        from consent.services import ConsentError, _set_status

        consent, _ = issue(surgeon)
        with pytest.raises(ConsentError, match="cannot go from issued to signed"):
            _set_status(consent, ConsentStatus.SIGNED)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.ISSUED
