"""The patient's pages: the private link and identity check, then (in a session bound to
that link, with no token in the URL) the overview, the risks, review and signing, withdrawal
and their copy of the signed PDF."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import patient_session
from ..actors import Actor
from ..forms import (
    UNEXPECTED_MESSAGE,
    AcknowledgeForm,
    CheckAnswerForm,
    DateOfBirthForm,
    PrioritiesForm,
    QuestionForm,
    ReadingForm,
    SignForm,
    TicksForm,
    WithdrawForm,
)
from ..informed import (
    check_passage,
    consent_add_reading_time,
    consent_answer_check,
    consent_state_priorities,
    next_check,
    share_page_time,
    shuffled_options,
)
from ..models import Consent, ConsentStatus, PatientStep
from ..patient_session import patient_required
from ..ratelimit import limit_by_address
from ..services import (
    QUESTION_MAX_LENGTH,
    ConsentError,
    LinkState,
    consent_acknowledge_item,
    consent_ask_question,
    consent_expire,
    consent_set_acknowledgments,
    consent_sign,
    consent_statement,
    consent_withdraw,
    link_find,
    link_state,
    link_verify_identity,
    unacknowledged_items,
)
from .common import pdf_response

# The patient's steps, in order; the check of understanding only when the consent has one.
PATIENT_STEPS = [
    (PatientStep.OVERVIEW, "About your operation"),
    (PatientStep.PRIORITIES, "What matters to you"),
    (PatientStep.RISKS, "Risks"),
    (PatientStep.CHECK, "Check your understanding"),
    (PatientStep.REVIEW, "Review and sign"),
]


def _step(request: HttpRequest, consent: Consent, key: str) -> dict:
    """The step's place in the progress bar; also counts the time on the previous page."""
    patient_session.track_step(request, key)
    has_checks = consent.checks.exists()
    steps = [(k, title) for k, title in PATIENT_STEPS if k != PatientStep.CHECK or has_checks]
    number = next(n for n, (k, _) in enumerate(steps, start=1) if k == key)
    return {"step": number, "steps": len(steps), "step_title": steps[number - 1][1]}


@never_cache
def patient_link(request: HttpRequest, token: str) -> HttpResponse:
    """The private link: check the date of birth, then continue without the token in the URL."""
    # Per client address, before anything else: opening links and trying dates of birth
    # (each link also locks itself after IDENTITY_MAX_ATTEMPTS wrong dates).
    if refused := limit_by_address(
        request, scope="patient_link", rate=settings.PATIENT_LINK_RATE_LIMIT
    ):
        return refused
    link = link_find(token)
    state = link_state(link)
    if state != LinkState.OK:
        return patient_session.link_problem(request, state, link.consent if link else None)
    if patient_session.current_link_id(request) == link.pk:
        return _resume(request, link.consent)  # this browser already proved who it is

    form = DateOfBirthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = link_verify_identity(
            link=link,
            date_of_birth=form.cleaned_data["date_of_birth"],
            actor=Actor.patient(request),
        )
        if result.confirmed:
            patient_session.start(request, link)
            return _resume(request, link.consent)
        if result.state != LinkState.OK:
            return patient_session.link_problem(request, result.state, link.consent)
        left = result.attempts_left
        form.add_error(
            None,
            "That date of birth does not match our records. "
            f"You have {left} {'try' if left == 1 else 'tries'} left.",
        )
    return render(
        request,
        "consent/patient/identity.html",
        {"form": form, "procedure_name": link.consent.procedure_name},
        status=400 if form.errors else 200,
    )


def _resume(request: HttpRequest, consent: Consent) -> HttpResponse:
    """Where a patient who opens their link again expects to be: where they left off.
    Nothing done yet: the start. Risks left to tick: the first of them. Every risk ticked: the
    review, where they sign (or see that a question still waits for an answer)."""
    if not consent.is_open:
        return redirect("patient_start")  # which says what happened to the consent
    items = list(consent.items.all())
    started = (
        any(i.acknowledged_at for i in items)
        or consent.questions.exists()
        or hasattr(consent, "priorities")
    )
    if not started:
        return redirect("patient_start")
    messages.info(request, "Welcome back. You are where you left off. Everything you did is saved.")
    if missing := unacknowledged_items(consent, items):
        return redirect(f"{reverse('patient_risks')}#item-{missing[0].pk}")
    return redirect(_after_risks(consent))


def _after_risks(consent: Consent) -> str:
    """Where every risk ticked leads: the check of understanding, until it is passed."""
    return "patient_check" if next_check(consent) else "patient_review"


def _closed_response(request: HttpRequest, consent: Consent) -> HttpResponse | None:
    """Send the patient to the right place when the consent is no longer open for review."""
    if consent.is_open and consent.planned_date < timezone.localdate():
        consent_expire(consent=consent, actor=Actor.system())
        patient_session.end(request)
        return patient_session.link_problem(request, LinkState.CLOSED, consent)
    if consent.status in (ConsentStatus.SIGNED, ConsentStatus.WITHDRAWN):
        return redirect("patient_done")
    return None


@never_cache
@patient_required
def patient_start(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    return render(
        request,
        "consent/patient/overview.html",
        {"consent": consent, **_step(request, consent, PatientStep.OVERVIEW)},
    )


@never_cache
@patient_required
def patient_priorities(request: HttpRequest) -> HttpResponse:
    """What matters most to the patient: optional, before the risks. If they say, the surgeon
    responds before they sign."""
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    current = getattr(consent, "priorities", None)
    initial = {"chosen": current.chosen, "own_words": current.own_words} if current else None
    form = PrioritiesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        skipping = request.POST.get("action") == "skip" and current is None
        try:
            if not skipping:
                consent_state_priorities(
                    consent=consent,
                    chosen=form.cleaned_data["chosen"],
                    own_words=form.cleaned_data["own_words"],
                    actor=Actor.patient(request),
                )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("patient_risks")
    return render(
        request,
        "consent/patient/priorities.html",
        {
            "consent": consent,
            "form": form,
            "priorities": current,
            **_step(request, consent, PatientStep.PRIORITIES),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@patient_required
def patient_risks(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    missing = []
    if request.method == "POST":
        form = TicksForm(request.POST, item_ids=consent.items.values_list("pk", flat=True))
        if not form.is_valid():
            messages.error(request, form.first_error())
            return _render_risks(request, consent, ticked=form.ticked_as_sent(), status=400)
        try:
            _save_ticks(request, consent, form)
        except ConsentError as exc:
            messages.error(request, str(exc))
            return redirect("patient_risks")
        if form.cleaned_data["action"] == "continue":
            missing = unacknowledged_items(consent)
            if not missing:
                return redirect(_after_risks(consent))
        else:
            messages.success(request, "Your progress is saved.")
            return redirect("patient_risks")
    return _render_risks(request, consent, missing=missing)


def _save_ticks(request: HttpRequest, consent: Consent, form: TicksForm) -> None:
    """Save the ticks of the whole risks page, with the time each risk was read: as the page's
    script measured it, or without the script the page's time shared among the new ticks."""
    before = set(consent.items.filter(acknowledged_at__isnull=False).values_list("pk", flat=True))
    ticks = form.ticks()
    consent_set_acknowledgments(consent=consent, ticks=ticks, actor=Actor.patient(request))
    if ReadingForm.sent(request.POST):
        _save_reading(request, consent)
        return
    newly = [pk for pk, on in ticks.items() if on and pk not in before]
    seconds = patient_session.seconds_since(request, "risks_shown")
    if seconds is not None:
        share_page_time(consent=consent, item_ids=newly, seconds=seconds)


def _save_reading(request: HttpRequest, consent: Consent) -> bool:
    """Time on screen sent by the risks page's script; False if it made no sense."""
    item_ids = list(consent.items.values_list("pk", flat=True))
    form = ReadingForm(request.POST, item_ids=item_ids)
    if not form.is_valid():
        return False
    now, elapsed = patient_session.reading_elapsed(request, item_ids)
    counted = consent_add_reading_time(consent=consent, seconds=form.seconds(), elapsed=elapsed)
    patient_session.reading_counted(request, now=now, elapsed=elapsed, counted=counted)
    return True


@never_cache
@require_POST
@patient_required
def patient_reading(request: HttpRequest) -> HttpResponse:
    """Time on screen, sent by the risks page's script when the page is hidden or left."""
    if not _save_reading(request, request.consent):
        return JsonResponse({"error": UNEXPECTED_MESSAGE}, status=400)
    return HttpResponse(status=204)


def _render_risks(
    request, consent, *, missing=(), question_error=None, ticked=None, status=None
) -> HttpResponse:
    """The risks page. question_error: (item id, message, the text the patient wrote);
    ticked: the ticks to show instead of the saved ones (a refused form, shown again)."""
    items = list(consent.items.prefetch_related("questions"))
    patient_session.risks_page_shown(request)
    if ticked is not None:
        for item in items:
            item.shown_ticked = item.pk in ticked
    question_summary = []
    if question_error:
        item_id, message, _typed = question_error
        shown = any(i.pk == item_id and not i.not_applicable for i in items)
        question_summary = [(message, f"question-{item_id}" if shown else "")]
    return render(
        request,
        "consent/patient/risks.html",
        {
            "consent": consent,
            "items": [i for i in items if not i.not_applicable],
            "not_applicable": [i for i in items if i.not_applicable],
            "missing": missing,
            "done": sum(1 for i in items if i.needs_acknowledgment and i.acknowledged_at),
            "total": sum(1 for i in items if i.needs_acknowledgment),
            "question_error": question_error,
            "question_summary": question_summary,
            "question_max_length": QUESTION_MAX_LENGTH,
            "ticks_as_sent": ticked is not None,
            **_step(request, consent, PatientStep.RISKS),
        },
        status=status or (400 if missing or question_error else 200),
    )


@never_cache
@require_POST
@patient_required
def patient_acknowledge(request: HttpRequest, item_id: int) -> HttpResponse:
    """Save one tick at once (called by the page's script; works as a plain form post too)."""
    wants_json = request.headers.get("Accept") == "application/json"
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"error": form.first_error()}, status=400)
        messages.error(request, form.first_error())
        return redirect("patient_risks")
    try:
        if ReadingForm.sent(request.POST):
            _save_reading(request, request.consent)  # the time read so far, with the tick
        item = consent_acknowledge_item(
            consent=request.consent,
            item_id=item_id,
            acknowledged=form.cleaned_data["acknowledged"],
            actor=Actor.patient(request),
        )
    except ConsentError as exc:
        if wants_json:
            return JsonResponse({"error": str(exc)}, status=409)
        messages.error(request, str(exc))
        return redirect("patient_risks")
    if wants_json:
        at = item.acknowledged_at
        return JsonResponse(
            {
                "item": item.pk,
                "acknowledged": at is not None,
                "acknowledged_at": at and at.isoformat(),
            }
        )
    return redirect(f"{reverse('patient_risks')}#item-{item.pk}")


@never_cache
@require_POST
@patient_required
def patient_question(request: HttpRequest, item_id: int) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    # The question box is part of the risks form, so its button sends the ticks on the page
    # too: saved first, so that asking a question never loses a tick made without JavaScript.
    if "shown" in request.POST:
        ticks = TicksForm(request.POST, item_ids=consent.items.values_list("pk", flat=True))
        if not ticks.is_valid():
            messages.error(request, ticks.first_error())
            return redirect("patient_risks")
        try:
            _save_ticks(request, consent, ticks)
        except ConsentError as exc:
            messages.error(request, str(exc))
            return redirect("patient_risks")
    # The box named after its risk (the risks page), or plain "question".
    form = QuestionForm({"question": request.POST.get(f"question-{item_id}", "")})
    if "question" in request.POST and f"question-{item_id}" not in request.POST:
        form = QuestionForm(request.POST)
    typed = form.data.get("question", "")
    if not form.is_valid():
        return _render_risks(request, consent, question_error=(item_id, form.first_error(), typed))
    try:
        consent_ask_question(
            consent=consent,
            item_id=item_id,
            text=form.cleaned_data["question"],
            actor=Actor.patient(request),
        )
    except ConsentError as exc:
        return _render_risks(request, consent, question_error=(item_id, str(exc), typed))
    messages.success(
        request,
        "Your question was sent. The surgeon's team will answer it here, beside the risk."
        + (
            " We will email you when there is an answer."
            if consent.patient.email
            else " Open your link again later to see the answer."
        ),
    )
    return redirect(f"{reverse('patient_risks')}#item-{item_id}")


@never_cache
@patient_required
def patient_review(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    items = list(consent.items.prefetch_related("questions"))
    if unacknowledged_items(consent, items):
        messages.error(request, "Please tick every risk before you go on.")
        return redirect("patient_risks")
    if next_check(consent):
        messages.error(request, "Please answer the questions that check your understanding.")
        return redirect("patient_check")
    return _render_review(request, consent, items, _sign_form(consent))


def _render_review(request, consent, items, form, status=200) -> HttpResponse:
    open_questions = [q for item in items for q in item.questions.all() if not q.is_answered]
    priorities = getattr(consent, "priorities", None)
    return render(
        request,
        "consent/patient/review.html",
        {
            "consent": consent,
            "items": items,
            "open_questions": open_questions,
            "priorities": priorities,
            "waiting": bool(open_questions) or (priorities and not priorities.is_answered),
            "form": form,
            **_step(request, consent, PatientStep.REVIEW),
        },
        status=status,
    )


@never_cache
@patient_required
def patient_check(request: HttpRequest) -> HttpResponse:
    """The check of understanding: one question at a time. A wrong answer shows the passage
    it is about again and asks again, the answers in a new order; signing needs them all."""
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    if unacknowledged_items(consent):
        messages.error(request, "Please tick every risk before you go on.")
        return redirect("patient_risks")
    check = next_check(consent)
    if check is None:
        return redirect("patient_review")
    form, wrong = CheckAnswerForm(options=check.options), None
    if request.method == "POST" and request.POST.get("check", str(check.pk)) != str(check.pk):
        # An answer to a question shown earlier, in another tab, and answered there since:
        # never recorded against the question that comes next, which it was not about.
        messages.info(
            request,
            "You had already answered that question (in another window or tab). "
            "Here is the next one.",
        )
        return redirect("patient_check")
    if request.method == "POST":
        form = CheckAnswerForm(request.POST, options=check.options)
        if form.is_valid():
            shown = request.session.get(SHOWN_KEY, {}).get(str(check.pk))
            try:
                attempt = consent_answer_check(
                    consent=consent,
                    check_id=check.pk,
                    chosen=form.cleaned_data["answer"],
                    shown=shown,
                    actor=Actor.patient(request),
                )
            except ConsentError as exc:
                messages.error(request, str(exc))
                return redirect("patient_check")
            if attempt.correct:
                messages.success(request, f"That is right. {check.explanation}")
                return redirect("patient_check")
            wrong = attempt
            form = CheckAnswerForm(options=check.options)  # asked again, nothing chosen
    options = shuffled_options(check)
    request.session[SHOWN_KEY] = {
        **request.session.get(SHOWN_KEY, {}),
        str(check.pk): options,
    }
    passage = check_passage(check, consent) if wrong else None
    total = consent.checks.count()
    return render(
        request,
        "consent/patient/check.html",
        {
            "consent": consent,
            "check": check,
            "options": options,
            "form": form,
            "wrong": wrong,
            "passage": passage,
            "number": check.order,
            "total": total,
            **_step(request, consent, PatientStep.CHECK),
        },
        status=400 if form.errors else 200,
    )


# The order the options of each check were last shown in, kept with the answer's attempt.
SHOWN_KEY = "check_shown"


def _sign_form(consent: Consent, data=None) -> SignForm:
    return SignForm(
        data,
        statement=consent_statement(consent),
        expected_name=consent.patient.full_name,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@patient_required
def patient_sign(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if request.method == "GET":  # a reload or a bookmark of the page a refused Sign showed
        return redirect("patient_review")
    if closed := _closed_response(request, consent):
        return closed
    patient_session.track_step(request, PatientStep.REVIEW)  # the time on the review, so far
    form = _sign_form(consent, request.POST)
    if form.is_valid():
        try:
            consent_sign(
                consent=consent,
                typed_name=form.cleaned_data["typed_name"],
                statement_accepted=form.cleaned_data["statement"],
                drawn_png=form.cleaned_data["signature"],
                actor=Actor.patient(request),
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("patient_done")
    consent.refresh_from_db()
    if consent.status == ConsentStatus.SIGNED:  # signed meanwhile, in another tab
        messages.info(request, "This consent has already been signed.")
        return redirect("patient_done")
    items = list(consent.items.prefetch_related("questions"))
    return _render_review(request, consent, items, form, status=400)


def _can_withdraw(consent: Consent) -> bool:
    return (
        consent.status in (ConsentStatus.IN_REVIEW, ConsentStatus.SIGNED)
        and consent.planned_date >= timezone.localdate()
    )


@never_cache
@patient_required
def patient_done(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if consent.is_open:
        return redirect("patient_start")
    return render(
        request,
        "consent/patient/done.html",
        {
            "consent": consent,
            "signature": consent.signatures.defer("image_png").first(),
            "has_document": hasattr(consent, "document"),
            "can_withdraw": _can_withdraw(consent),
        },
    )


@never_cache
@patient_required
def patient_withdraw(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            consent_withdraw(
                consent=consent, reason=form.cleaned_data["reason"], actor=Actor.patient(request)
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("patient_done")
    return render(
        request,
        "consent/patient/withdraw.html",
        {"consent": consent, "form": form, "can_withdraw": _can_withdraw(consent)},
        status=400 if form.errors else 200,
    )


@patient_required
def patient_document(request: HttpRequest) -> HttpResponse:
    """The patient's own copy of the signed PDF."""
    return pdf_response(request.consent, Actor.patient(request))


@never_cache
@require_http_methods(["GET", "POST"])
def patient_sign_out(request: HttpRequest) -> HttpResponse:
    """Leave: by POST only, so that no other page or link can sign a patient out. A GET (an
    old bookmark) shows the button."""
    if request.method == "POST":
        patient_session.end(request)
        return render(request, "consent/patient/signed_out.html")
    return render(request, "consent/patient/sign_out.html")
