import datetime

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.sessions.models import Session
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from procedures.models import Procedure

from . import patient_session
from .documents import verify_bytes, verify_code
from .forms import (
    AnswerForm,
    ConsentIssueForm,
    DashboardForm,
    DateOfBirthForm,
    ExtraRiskFormSet,
    RevokeForm,
    SignForm,
    VerifyForm,
    WithdrawForm,
)
from .models import (
    OPEN_STATES,
    REISSUABLE_STATES,
    Consent,
    ConsentStatus,
    SurgeonSession,
)
from .patient_session import patient_required
from .services import (
    QUESTION_MAX_LENGTH,
    Actor,
    ConsentError,
    IssuedLink,
    LinkState,
    audit_append,
    consent_acknowledge_item,
    consent_answer_question,
    consent_ask_question,
    consent_email_link,
    consent_expire,
    consent_issue,
    consent_reissue_link,
    consent_revoke,
    consent_set_acknowledgments,
    consent_sign,
    consent_statement,
    consent_withdraw,
    document_download,
    link_find,
    link_state,
    link_verify_identity,
    unacknowledged_items,
)
from .signature_image import SignatureImageError, from_data_url

NEW_LINK_SESSION_KEY = "new_patient_link"
# Unsigned consents planned within this many days stand out on the dashboard.
SOON_DAYS = 7


# --- surgeon side ---------------------------------------------------------------------------


def _get_consent_for_user(request: HttpRequest, pk: int) -> Consent:
    """The consent if this user may see it; 404 for anyone else's, never 403."""
    return get_object_or_404(
        Consent.objects.for_surgeon(request.user).select_related("patient", "surgeon"), pk=pk
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The surgeon's dashboard: their consents, pending work first."""
    form = DashboardForm(request.GET or None)
    options = form.values()
    visible = Consent.objects.for_surgeon(request.user)
    consents = visible.select_related("patient", "surgeon").with_open_question_count()
    if options["status"] == DashboardForm.WAITING:
        consents = consents.waiting_for_answer()
    elif options["status"]:
        consents = consents.filter(status=options["status"])
    if options["q"]:
        consents = consents.search(options["q"])
    page = Paginator(consents.order_by(options["order_by"], "pk"), options["per_page"]).get_page(
        request.GET.get("page")
    )
    counts = visible.status_counts()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "consent/dashboard.html",
        {
            "form": form,
            "page": page,
            "counts": counts,
            "statuses": [(s.value, s.label, counts[s.value]) for s in ConsentStatus],
            "soon": timezone.localdate() + datetime.timedelta(days=SOON_DAYS),
            "open_states": [s.value for s in OPEN_STATES],
            "query": query.urlencode(),
            "filtered": any(options[k] for k in ("status", "q")),
        },
    )


@login_required
def library(request: HttpRequest) -> HttpResponse:
    procedures = Procedure.objects.active().prefetch_related("items")
    return render(request, "consent/library.html", {"procedures": procedures})


class LoginView(auth_views.LoginView):
    """Django's login, remembering the session so that 'sign out everywhere' can end it."""

    def form_valid(self, form):
        response = super().form_valid(form)
        SurgeonSession.objects.get_or_create(
            session_key=self.request.session.session_key, defaults={"user": form.get_user()}
        )
        return response


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this user, on every device and app server."""
    user = request.user
    keys = list(user.consent_sessions.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=[*keys, request.session.session_key]).delete()
    user.consent_sessions.all().delete()
    audit_append(actor=Actor.surgeon(request), action="signed_out_everywhere")
    logout(request)
    messages.success(request, "You are signed out on every device.")
    return redirect("login")


@login_required
@permission_required("consent.add_consent", raise_exception=True)
def consent_new(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    if slug is None:
        procedures = Procedure.objects.active()
        return render(request, "consent/consent_choose_procedure.html", {"procedures": procedures})
    procedure = get_object_or_404(Procedure.objects.active().prefetch_related("items"), slug=slug)
    form = ConsentIssueForm(request.POST or None, procedure=procedure, user=request.user)
    extras = ExtraRiskFormSet(request.POST or None, prefix="extra")
    if request.method == "POST" and form.is_valid() and extras.is_valid():
        try:
            consent, issued = consent_issue(
                actor=Actor.surgeon(request),
                patient=form.patient_details(),
                procedure=procedure,
                planned_date=form.cleaned_data["planned_date"],
                extra_risks=[risk for f in extras if (risk := f.risk())],
                not_applicable=form.not_applicable(),
                team=form.cleaned_data["team"],
                email_patient=form.cleaned_data["email_patient"],
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            emailed = _hand_out_link(request, consent, issued)
            messages.success(
                request,
                f"Consent issued for {consent.patient.full_name}."
                + (" The link was emailed to the patient." if emailed else ""),
            )
            return redirect("consent_detail", pk=consent.pk)
    return render(
        request,
        "consent/consent_new.html",
        {"procedure": procedure, "form": form, "extras": extras},
    )


def _hand_out_link(request: HttpRequest, consent: Consent, issued: IssuedLink) -> bool:
    """Show a new link once on the consent page, and email it if the consent asks for that.

    The raw token exists only here and in a one-time session entry (the database keeps its
    hash); the consent page pops the entry, so the link is shown once. Returns True if emailed.
    """
    request.session[NEW_LINK_SESSION_KEY] = {"consent": consent.pk, "token": issued.token}
    return consent_email_link(
        consent=consent,
        issued=issued,
        url=request.build_absolute_uri(reverse("patient_link", args=[issued.token])),
        actor=Actor.surgeon(request),
    )


def _pop_new_link(request: HttpRequest, consent: Consent) -> dict | None:
    data = request.session.get(NEW_LINK_SESSION_KEY)
    if not data or data["consent"] != consent.pk:
        return None
    del request.session[NEW_LINK_SESSION_KEY]
    url = request.build_absolute_uri(reverse("patient_link", args=[data["token"]]))
    qr_svg = segno.make(url, error="m").svg_inline(scale=4, title="QR code of the patient's link")
    return {"url": url, "qr_svg": qr_svg}


@never_cache
@login_required
def consent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consent = _get_consent_for_user(request, pk)
    items = list(consent.items.prefetch_related("questions__answered_by"))
    return render(
        request,
        "consent/consent_detail.html",
        {
            "consent": consent,
            "items": items,
            "questions": [q for item in items for q in item.questions.all()],
            "answer_form": AnswerForm(),
            "signature": consent.signatures.defer("image_png").first(),
            "document": getattr(consent, "document", None),
            "new_link": _pop_new_link(request, consent),
            "live_link": consent.links.filter(ended_at__isnull=True).first(),
            "events": consent.audit_events.all(),
            "revoke_form": RevokeForm(),
            "can_manage": consent.can_manage(request.user),
            "can_revoke": consent.is_open and consent.can_manage(request.user),
            "can_reissue": consent.status in REISSUABLE_STATES and consent.can_manage(request.user),
        },
    )


@login_required
@require_POST
def consent_reissue(request: HttpRequest, pk: int) -> HttpResponse:
    consent = _get_consent_for_user(request, pk)
    try:
        issued = consent_reissue_link(consent=consent, actor=Actor.surgeon(request))
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        emailed = _hand_out_link(request, consent, issued)
        messages.success(
            request,
            "A new link was made. The old link no longer works."
            + (" The new link was emailed to the patient." if emailed else ""),
        )
    return redirect("consent_detail", pk=consent.pk)


@login_required
@require_POST
def consent_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    consent = _get_consent_for_user(request, pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for revoking this consent.")
        return redirect("consent_detail", pk=consent.pk)
    try:
        consent_revoke(
            consent=consent, actor=Actor.surgeon(request), reason=form.cleaned_data["reason"]
        )
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The consent was revoked. The patient's link no longer works.")
    return redirect("consent_detail", pk=consent.pk)


@login_required
@require_POST
def question_answer(request: HttpRequest, pk: int, question_id: int) -> HttpResponse:
    consent = _get_consent_for_user(request, pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["answer"]))
        return redirect("consent_detail", pk=consent.pk)
    try:
        consent_answer_question(
            consent=consent,
            question_id=question_id,
            text=form.cleaned_data["answer"],
            actor=Actor.surgeon(request),
        )
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your answer was saved. The patient sees it beside the risk.")
    return redirect("consent_detail", pk=consent.pk)


def _pdf_response(consent: Consent, actor: Actor) -> HttpResponse:
    try:
        data, filename = document_download(consent=consent, actor=actor)
    except ConsentError:
        raise Http404("No signed document") from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def consent_document(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored, sealed PDF: never rendered again."""
    consent = _get_consent_for_user(request, pk)
    return _pdf_response(consent, Actor.surgeon(request))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Public: is this an authentic, unmodified document issued by this hospital?"""
    data = (
        request.POST
        if request.method == "POST"
        else (request.GET if "code" in request.GET else None)
    )
    form = VerifyForm(data, request.FILES or None, max_bytes=settings.VERIFY_UPLOAD_MAX_BYTES)
    result = None
    if data is not None and form.is_valid():
        if form.cleaned_data.get("document"):
            result = verify_bytes(form.cleaned_data["document"])
        else:
            result = verify_code(form.cleaned_data["code"])
    return render(
        request,
        "consent/verify.html",
        {"form": form, "result": result},
        status=400 if form.errors else 200,
    )


# --- patient side ---------------------------------------------------------------------------

PATIENT_STEPS = ["About your operation", "Risks", "Review and sign"]


def _step(number: int) -> dict:
    return {"step": number, "steps": len(PATIENT_STEPS), "step_title": PATIENT_STEPS[number - 1]}


@never_cache
def patient_link(request: HttpRequest, token: str) -> HttpResponse:
    """The private link: check the date of birth, then continue without the token in the URL."""
    link = link_find(token)
    state = link_state(link)
    if state != LinkState.OK:
        return patient_session.link_problem(request, state)
    if patient_session.current_link_id(request) == link.pk:
        return redirect("patient_start")  # this browser already proved who it is

    form = DateOfBirthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = link_verify_identity(
            link=link,
            date_of_birth=form.cleaned_data["date_of_birth"],
            actor=Actor.patient(request),
        )
        if result.confirmed:
            patient_session.start(request, link)
            return redirect("patient_start")
        if result.state != LinkState.OK:
            return patient_session.link_problem(request, result.state)
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


def _closed_response(request: HttpRequest, consent: Consent) -> HttpResponse | None:
    """Send the patient to the right place when the consent is no longer open for review."""
    if consent.is_open and consent.planned_date < timezone.localdate():
        consent_expire(consent=consent, actor=Actor.system())
        patient_session.end(request)
        return patient_session.link_problem(request, LinkState.CLOSED)
    if consent.status in (ConsentStatus.SIGNED, ConsentStatus.WITHDRAWN):
        return redirect("patient_done")
    return None


@never_cache
@patient_required
def patient_start(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    return render(request, "consent/patient/overview.html", {"consent": consent, **_step(1)})


@never_cache
@patient_required
def patient_risks(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    missing = []
    if request.method == "POST":
        shown = {int(pk) for pk in request.POST.getlist("shown") if pk.isdigit()}
        ticked = {int(pk) for pk in request.POST.getlist("acknowledged") if pk.isdigit()}
        try:
            consent_set_acknowledgments(
                consent=consent,
                ticks={pk: pk in ticked for pk in shown},
                actor=Actor.patient(request),
            )
        except ConsentError as exc:
            messages.error(request, str(exc))
            return redirect("patient_risks")
        if request.POST.get("action") == "continue":
            missing = unacknowledged_items(consent)
            if not missing:
                return redirect("patient_review")
        else:
            messages.success(request, "Your progress is saved.")
            return redirect("patient_risks")
    return _render_risks(request, consent, missing=missing)


def _render_risks(request, consent, *, missing=(), question_error=None) -> HttpResponse:
    """The risks page. question_error: (item id, message, the text the patient wrote)."""
    items = list(consent.items.prefetch_related("questions"))
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
            "question_max_length": QUESTION_MAX_LENGTH,
            **_step(2),
        },
        status=400 if missing or question_error else 200,
    )


@never_cache
@require_POST
@patient_required
def patient_acknowledge(request: HttpRequest, item_id: int) -> HttpResponse:
    """Save one tick at once (called by the page's script; works as a plain form post too)."""
    wants_json = request.headers.get("Accept") == "application/json"
    acknowledged = request.POST.get("acknowledged") in {"1", "true", "on"}
    try:
        item = consent_acknowledge_item(
            consent=request.consent,
            item_id=item_id,
            acknowledged=acknowledged,
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
    text = request.POST.get("question", "")
    try:
        consent_ask_question(
            consent=consent, item_id=item_id, text=text, actor=Actor.patient(request)
        )
    except ConsentError as exc:
        return _render_risks(request, consent, question_error=(item_id, str(exc), text))
    messages.success(
        request, "Your question was sent. The surgeon's team will answer it here, beside the risk."
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
    return _render_review(request, consent, items, SignForm(statement=consent_statement(consent)))


def _render_review(request, consent, items, form, status=200) -> HttpResponse:
    open_questions = [q for item in items for q in item.questions.all() if not q.is_answered]
    return render(
        request,
        "consent/patient/review.html",
        {
            "consent": consent,
            "items": items,
            "open_questions": open_questions,
            "form": form,
            **_step(3),
        },
        status=status,
    )


@never_cache
@require_POST
@patient_required
def patient_sign(request: HttpRequest) -> HttpResponse:
    consent = request.consent
    if closed := _closed_response(request, consent):
        return closed
    form = SignForm(request.POST, statement=consent_statement(consent))
    if form.is_valid():
        drawn = form.cleaned_data["signature"]
        try:
            consent_sign(
                consent=consent,
                typed_name=form.cleaned_data["typed_name"],
                statement_accepted=form.cleaned_data["statement"],
                drawn_png=from_data_url(drawn) if drawn else None,
                actor=Actor.patient(request),
            )
        except (ConsentError, SignatureImageError) as exc:
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
    return _pdf_response(request.consent, Actor.patient(request))


def patient_sign_out(request: HttpRequest) -> HttpResponse:
    patient_session.end(request)
    return render(request, "consent/patient/signed_out.html")
