import datetime
import io
import secrets
from contextlib import contextmanager
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageDraw

from consent.actors import Actor
from consent.informed import (
    consent_add_reading_time,
    consent_add_step_time,
    consent_answer_check,
    consent_respond_to_priorities,
    consent_state_priorities,
)
from consent.models import ActorType, Consent, Team
from consent.reading import item_predicted_seconds
from consent.services import (
    ExtraRisk,
    PatientDetails,
    consent_acknowledge_item,
    consent_answer_question,
    consent_ask_question,
    consent_expire,
    consent_issue,
    consent_revoke,
    consent_sign,
    consent_withdraw,
    link_verify_identity,
)
from procedures.models import Procedure

from .createsurgeon import create_surgeon
from .ensure_demo_surgeon import DEMO_USERNAME

COLLEAGUE_USERNAME = "demo.colleague"
PATIENT = Actor(
    type=ActorType.PATIENT, label="patient", ip_address="127.0.0.1", user_agent="seed_demo"
)


def _surgeon_actor(user) -> Actor:
    return Actor(type=ActorType.SURGEON, label=user.username, user=user, ip_address="127.0.0.1")


@contextmanager
def _clock(days_ago: int):
    """Make the services believe it is `days_ago` days earlier (for a consent now expired)."""
    moment = timezone.now() - datetime.timedelta(days=days_ago)
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def _scribble() -> bytes:
    image = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    points = [(20, 120), (80, 40), (120, 130), (190, 50), (260, 120), (330, 60), (450, 90)]
    ImageDraw.Draw(image).line(points, fill=(0, 0, 0, 255), width=4, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Command(BaseCommand):
    help = (
        "Development only (DEBUG on): fill an empty database with demo patients and consents in "
        "every state, a colleague and a team, so a newcomer sees a living app. Does nothing if "
        "any consent exists."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Refusing to create demo data: DEBUG is off.")
        if Consent.objects.exists():
            if options["verbosity"] >= 1:
                self.stdout.write("Demo data skipped: the database already has consents.")
            return
        User = get_user_model()
        owner = User.objects.filter(username=DEMO_USERNAME).first()
        if owner is None:
            raise CommandError("Run `manage.py ensure_demo_surgeon` first.")
        if not Procedure.objects.exists():
            raise CommandError("Load the library first: `manage.py load_procedures`.")
        with transaction.atomic():
            links = self.seed(owner)
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS("Demo data created: 9 consents in every state."))
            site = settings.SITE_URL.rstrip("/")
            for name, dob, token in links:
                self.stdout.write(
                    f"  Try the patient side as {name}: {site}{reverse('patient_link', args=[token])}"
                    f"  (date of birth {dob:%-d %-m %Y})"
                )

    def seed(self, owner) -> list:
        colleague = get_user_model().objects.filter(username=COLLEAGUE_USERNAME).first()
        if colleague is None:
            colleague = create_surgeon(
                username=COLLEAGUE_USERNAME,
                email="demo.colleague@example.invalid",
                password=secrets.token_urlsafe(16),
                first_name="Demo",
                last_name="Colleague",
            )
        team, _ = Team.objects.get_or_create(name="Spine team")
        team.members.add(owner, colleague)
        me, peer = _surgeon_actor(owner), _surgeon_actor(colleague)

        def issue(actor, name, dob, slug, days, **kwargs):
            return consent_issue(
                actor=actor,
                patient=PatientDetails(
                    full_name=name,
                    date_of_birth=dob,
                    hospital_number=str(secrets.randbelow(900000) + 100000),
                    email=kwargs.pop("email", ""),
                ),
                procedure=Procedure.objects.get(slug=slug),
                planned_date=timezone.localdate() + datetime.timedelta(days=days),
                **kwargs,
            )

        def open_and_tick(consent, issued, dob, upto=None):
            link_verify_identity(link=issued.link, date_of_birth=dob, actor=PATIENT)
            items = list(consent.items.filter(not_applicable=False))
            for item in items[:upto]:
                consent_acknowledge_item(
                    consent=consent, item_id=item.pk, acknowledged=True, actor=PATIENT
                )
            return items

        def read(consent, pace=1.0):
            """Time on the operation's description and on each risk: pace 1 reads at 200 words
            a minute; below 0.5 the surgeon sees "Read quickly"."""
            words = sum(len(text.split()) for text in consent.procedure_text.values())
            consent_add_step_time(consent=consent, step="overview", seconds=words * 0.3 * pace)
            for item in consent.items.filter(not_applicable=False):
                seconds = round(item_predicted_seconds(item) * pace) + 1
                consent_add_reading_time(
                    consent=consent, seconds={item.pk: seconds}, elapsed=seconds
                )

        def answer_checks(consent, wrong_first=0):
            for n, check in enumerate(consent.checks.all()):
                for chosen in [check.options[1]] * (n < wrong_first) + [check.answer]:
                    consent_answer_check(
                        consent=consent, check_id=check.pk, chosen=chosen, shown=None, actor=PATIENT
                    )

        links = []
        # Issued, not opened yet: its link is printed so a newcomer can play the patient.
        dob = datetime.date(1985, 3, 10)
        _, issued = issue(
            me,
            "Mary Seacole",
            dob,
            "lumbar-fusion-l5-s1",
            12,
            email="mary@example.invalid",
            email_patient=True,
        )
        links.append(("Mary Seacole", dob, issued.token))

        # In review, planned within a week, with a question waiting for an answer.
        dob = datetime.date(1954, 6, 23)
        consent, issued = issue(me, "Alan Turing", dob, "lumbar-fusion-l4-l5-s1", 5, team=team)
        items = open_and_tick(consent, issued, dob, upto=7)
        consent_ask_question(
            consent=consent,
            item_id=items[2].pk,
            text="If the bones do not join, how soon would I know?",
            actor=PATIENT,
        )
        links.append(("Alan Turing", dob, issued.token))

        # In review, soon, half-way through the risks.
        dob = datetime.date(1977, 4, 9)
        consent, issued = issue(me, "Isambard Brunel", dob, "lumbar-rhizotomy", 3)
        open_and_tick(consent, issued, dob, upto=3)
        consent_state_priorities(
            consent=consent,
            chosen=["work", "sleep"],
            own_words="I drive a bus for a living and need to sit for long shifts.",
            actor=PATIENT,
        )

        # Signed, with its sealed PDF, after a question was answered.
        dob = datetime.date(1962, 7, 25)
        rhizotomy = Procedure.objects.get(slug="lumbar-rhizotomy")
        consent, issued = issue(
            me,
            "Rosalind Franklin",
            dob,
            "lumbar-rhizotomy",
            20,
            not_applicable={
                rhizotomy.items.get(title="Risks of the anaesthetic").pk: (
                    "Done with a local numbing injection; you stay awake."
                )
            },
            extra_risks=[
                ExtraRisk(
                    title="Slower healing because of your diabetes",
                    explanation="Diabetes can make the wound heal more slowly. Keep your blood sugar steady.",
                    severity="uncommon",
                )
            ],
        )
        items = open_and_tick(consent, issued, dob)
        consent_state_priorities(
            consent=consent,
            chosen=["walking", "no_more_surgery"],
            own_words="Walking my grandchildren to school again.",
            actor=PATIENT,
        )
        read(consent)
        answer_checks(consent)
        consent_respond_to_priorities(
            consent=consent,
            text=(
                "Most people walk further once the nerve pain eases. The risk that bears most on "
                "it is that the pain may come back: then the treatment can often be repeated "
                "without an open operation."
            ),
            actor=me,
        )
        question = consent_ask_question(
            consent=consent, item_id=items[0].pk, text="Can I drive home afterwards?", actor=PATIENT
        )
        consent_answer_question(
            consent=consent,
            question_id=question.pk,
            text="No. Please have someone drive you home and stay with you that night.",
            actor=me,
        )
        consent_sign(
            consent=consent,
            typed_name="Rosalind Franklin",
            statement_accepted=True,
            drawn_png=_scribble(),
            actor=PATIENT,
        )

        # Signed after reading quickly and needing help with two questions of the check.
        dob = datetime.date(1910, 5, 12)
        consent, issued = issue(me, "Dorothy Hodgkin", dob, "lumbar-fusion-l5-s1", 16, team=team)
        read(consent, pace=0.3)
        open_and_tick(consent, issued, dob)
        answer_checks(consent, wrong_first=2)
        consent_sign(
            consent=consent,
            typed_name="Dorothy Hodgkin",
            statement_accepted=True,
            drawn_png=None,
            actor=PATIENT,
        )

        # Signed, then withdrawn by the patient.
        dob = datetime.date(1950, 5, 12)
        consent, issued = issue(
            me, "Florence Nightingale", dob, "low-back-fusion", 25, levels="L4-L5"
        )
        read(consent)
        open_and_tick(consent, issued, dob)
        answer_checks(consent)
        consent_sign(
            consent=consent,
            typed_name="Florence Nightingale",
            statement_accepted=True,
            drawn_png=None,
            actor=PATIENT,
        )
        consent_withdraw(
            consent=consent, reason="I would like to try physical therapy first.", actor=PATIENT
        )

        # Revoked by the surgeon.
        consent, _ = issue(
            me, "Charles Babbage", datetime.date(1958, 12, 26), "lumbar-fusion-l3-s1", 30
        )
        consent_revoke(
            consent=consent, actor=me, reason="Surgery postponed: new scan needed first."
        )

        # Expired: issued two weeks ago for a date that has passed, never signed.
        with _clock(days_ago=14):
            consent, _ = issue(
                me, "Ada Byron", datetime.date(1968, 12, 10), "lumbar-fusion-l5-s1", 4
            )
        consent_expire(consent=consent)

        # A colleague's consent, shared with the team.
        dob = datetime.date(1967, 11, 7)
        consent, issued = issue(peer, "Marie Curie", dob, "lumbar-fusion-l4-l5-s1", 9, team=team)
        open_and_tick(consent, issued, dob, upto=2)
        return links
