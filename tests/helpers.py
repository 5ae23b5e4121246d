import datetime

from django.utils import timezone

from consent.actors import Actor
from consent.services import ExtraRisk, PatientDetails, consent_issue
from procedures.models import ConsentItem, Procedure, Severity

DOB = datetime.date(1964, 3, 27)


def surgeon_actor(user) -> Actor:
    return Actor(type="surgeon", label=user.get_username(), user=user, ip_address="10.0.0.1")


def patient_actor() -> Actor:
    return Actor(type="patient", label="patient", ip_address="192.0.2.7", user_agent="pytest")


def issue(
    surgeon,
    slug="lumbar-rhizotomy",
    *,
    planned_in_days=14,
    full_name="Ada Lovelace",
    extra_risks=(),
    not_applicable=None,
    **site,
):
    """Issue a consent through the service; site: the levels and side, if the procedure asks."""
    return consent_issue(
        actor=surgeon_actor(surgeon),
        patient=PatientDetails(full_name=full_name, date_of_birth=DOB, hospital_number="MRN123"),
        procedure=Procedure.objects.get(slug=slug),
        planned_date=timezone.localdate() + datetime.timedelta(days=planned_in_days),
        extra_risks=list(extra_risks),
        not_applicable=not_applicable,
        **site,
    )


def make_procedure(slug="demo", **fields) -> Procedure:
    defaults = dict(
        name="Demo operation",
        site="L4-L5",
        summary="A demo.",
        what_happens="Things happen.",
        benefits="Less pain.",
        alternatives="Physical therapy.",
        no_surgery="Pain may stay.",
        recovery="Rest.",
    )
    return Procedure.objects.create(slug=slug, **{**defaults, **fields})


def procedure_with_risks(count: int, slug: str | None = None) -> Procedure:
    procedure = make_procedure(slug or f"many-risks-{count}", name=f"Operation with {count} risks")
    ConsentItem.objects.bulk_create(
        ConsentItem(
            procedure=procedure,
            order=n,
            title=f"Risk {n}",
            explanation=f"Explanation {n}.",
            severity=Severity.UNCOMMON,
        )
        for n in range(1, count + 1)
    )
    return procedure


def issue_form_data(procedure: Procedure, **overrides) -> dict:
    """What the surgeon's issue form posts: patient, date, no risk marked not applicable."""
    data = {
        "full_name": "  Grace   Hopper ",
        "date_of_birth": "1956-12-09",
        "hospital_number": "H-77",
        "email": "",
        "planned_date": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        "extra-TOTAL_FORMS": "2",
        "extra-INITIAL_FORMS": "0",
        "extra-MIN_NUM_FORMS": "0",
        "extra-MAX_NUM_FORMS": "20",
    }
    for item in procedure.items.all():
        data[f"na_reason_{item.pk}"] = ""
    if procedure.asks_for_levels:
        data["levels"] = "L4-L5"
    if procedure.asks_for_side:
        data["side"] = "left"
    return {**data, **overrides}


EXTRA = ExtraRisk(
    title="Your heart condition",
    explanation="Your heart problem makes the anaesthetic a little riskier.",
    severity=Severity.UNCOMMON,
    frequency="about 1 in 50",
)


def png_signature(width=400, height=150, blank=False, fmt="PNG") -> bytes:
    """A drawn-looking signature: a black scribble on a transparent background."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line(
            [(10, height - 20), (width // 3, 20), (width // 2, height - 30), (width - 10, 30)],
            fill=(0, 0, 0, 255),
            width=4,
        )
    out = io.BytesIO()
    image.convert("RGB").save(out, fmt) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()


def at_the_check(surgeon, **kwargs):
    """A consent opened by the patient with every risk ticked: next, the check of
    understanding (if the procedure has one)."""
    from consent.services import consent_acknowledge_item, link_verify_identity

    consent, issued = issue(surgeon, **kwargs)
    link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
    for item in consent.items.filter(not_applicable=False):
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
        )
    consent.refresh_from_db()
    return consent, issued


def pass_checks(consent, *, wrong_first: int = 0):
    """The patient answers every check of understanding right; the first `wrong_first` of
    them wrong once first."""
    from consent.informed import consent_answer_check

    for n, check in enumerate(consent.checks.filter(passed_at__isnull=True)):
        answers = [check.options[1], check.answer] if n < wrong_first else [check.answer]
        for chosen in answers:
            consent_answer_check(
                consent=consent, check_id=check.pk, chosen=chosen, shown=None, actor=patient_actor()
            )
    consent.refresh_from_db()


def ready_to_sign(surgeon, **kwargs):
    """A consent opened by the patient with every risk ticked and the check of understanding
    passed."""
    consent, issued = at_the_check(surgeon, **kwargs)
    pass_checks(consent)
    return consent, issued


def sign(consent, name="Ada Lovelace", png=None, accepted=True):
    """The patient signs (typed name, or with a drawn PNG), through the service."""
    from consent.services import consent_sign

    return consent_sign(
        consent=consent,
        typed_name=name,
        statement_accepted=accepted,
        drawn_png=png,
        actor=patient_actor(),
    )


def run_concurrently(work, threads: int) -> list:
    """Run work() in several threads released at the same moment, each with its own database
    connection (as separate requests or app servers would). Returns each thread's result, or
    the exception it raised."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(threads)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:
            results.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results
