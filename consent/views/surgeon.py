"""The signed-in surgeon's pages: dashboard, issuing, a consent's page, answers, downloads."""

import datetime

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from procedures.models import Procedure

from .. import new_link
from ..actors import Actor
from ..contact import contact_for
from ..forms import (
    AnswerForm,
    ConsentIssueForm,
    DashboardForm,
    ExtraRiskFormSet,
    LoginForm,
    PatientNameForm,
    PrioritiesResponseForm,
    RecordWithdrawalForm,
    ReissueForm,
    RevokeForm,
)
from ..informed import consent_respond_to_priorities
from ..models import OPEN_STATES, Consent, ConsentStatus
from ..reading import check_results, item_predicted_seconds, reading_summary
from ..services import (
    ConsentError,
    EmailOutcome,
    IssuedLink,
    consent_answer_question,
    consent_correct_patient_name,
    consent_email_link,
    consent_issue,
    consent_reissue_link,
    consent_revoke,
    consent_withdraw,
    link_email_failed,
    reissue_refusal,
    unacknowledged_items,
    user_end_sessions,
)
from .common import pdf_response

EMAIL_FAILED_MESSAGE = (
    "The link could not be emailed to the patient. Give them the link or the printed handout "
    "below, or try emailing again from this page."
)
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
    consents = (
        visible.select_related("patient", "surgeon")
        .with_open_question_count()
        .with_link_locked()
        .with_informed()
    )
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
    """Django's sign-in, with a form that checks the username before django-axes records it."""

    form_class = LoginForm


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this user, on every device and app server, however it was opened."""
    user_end_sessions(actor=Actor.surgeon(request))
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
                **form.site_details(),
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            emailed = _hand_out_link(request, consent, issued)
            messages.success(
                request,
                f"Consent issued for {consent.patient.full_name}."
                + (" The link was emailed to the patient." if emailed == EmailOutcome.SENT else ""),
            )
            if emailed == EmailOutcome.FAILED:
                messages.error(request, EMAIL_FAILED_MESSAGE)
            return redirect("consent_detail", pk=consent.pk)
    return render(
        request,
        "consent/consent_new.html",
        {"procedure": procedure, "form": form, "extras": extras},
    )


def _hand_out_link(request: HttpRequest, consent: Consent, issued: IssuedLink) -> EmailOutcome:
    """Show a new link once on the consent page, and email it if the consent asks for that.

    The raw token exists only here and, encrypted, in a one-time session entry (the database
    keeps its hash); the consent page pops the entry, so the link is shown once.
    """
    new_link.keep(request, consent_id=consent.pk, token=issued.token)
    return consent_email_link(
        consent=consent,
        issued=issued,
        url=request.build_absolute_uri(reverse("patient_link", args=[issued.token])),
        actor=Actor.surgeon(request),
    )


def _pop_new_link(request: HttpRequest, consent: Consent) -> dict | None:
    token = new_link.pop(request, consent_id=consent.pk)
    if token is None:
        return None
    url = request.build_absolute_uri(reverse("patient_link", args=[token]))
    qr_svg = segno.make(url, error="m").svg_inline(scale=4, title="QR code of the patient's link")
    return {"url": url, "qr_svg": qr_svg, "contact": contact_for(consent)}


@never_cache
@login_required
def consent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_consent_for_user(request, pk))


def _render_detail(
    request: HttpRequest,
    consent: Consent,
    *,
    answer_error: tuple[int, str, str] | None = None,
    revoke_form: RevokeForm | None = None,
    withdrawal_form: RecordWithdrawalForm | None = None,
    name_form: PatientNameForm | None = None,
    response_form: PrioritiesResponseForm | None = None,
) -> HttpResponse:
    """A consent's page. answer_error: (question id, message, the text the surgeon wrote);
    revoke_form, withdrawal_form, name_form: a refused form, shown again with what was typed."""
    items = list(consent.items.prefetch_related("questions__answered_by"))
    for item in items:
        item.predicted_seconds = item_predicted_seconds(item)
    events = list(consent.audit_events.all())
    results = check_results(consent)
    reading = reading_summary(consent, items)
    live_link = consent.links.filter(ended_at__isnull=True).first()
    can_reissue = reissue_refusal(consent) is None and consent.can_manage(request.user)
    return render(
        request,
        "consent/consent_detail.html",
        {
            "consent": consent,
            "items": items,
            "questions": [q for item in items for q in item.questions.all()],
            "answer_form": AnswerForm(),
            "answer_error": answer_error,
            "signature": consent.signatures.defer("image_png").first(),
            "document": getattr(consent, "document", None),
            "new_link": _pop_new_link(request, consent),
            "live_link": live_link,
            "link_locked": bool(live_link and live_link.locked_at and consent.is_open),
            "email_failed": link_email_failed(consent, live_link, events),
            "events": events,
            "revoke_form": revoke_form or RevokeForm(),
            "can_manage": consent.can_manage(request.user),
            "can_revoke": consent.is_open and consent.can_manage(request.user),
            "can_reissue": can_reissue,
            "withdrawal_form": withdrawal_form or RecordWithdrawalForm(),
            # A signed patient who tells the team they withdraw (their link may be gone).
            "can_record_withdrawal": consent.status == ConsentStatus.SIGNED
            and consent.planned_date >= timezone.localdate()
            and consent.can_manage(request.user),
            "name_form": name_form
            or PatientNameForm(initial={"full_name": consent.patient.full_name}),
            "can_correct_name": consent.is_open and consent.can_manage(request.user),
            "reading": reading,
            # Flagged once the patient has read everything (every risk ticked) or left.
            "fast_flag": reading.read_quickly
            and (not consent.is_open or not unacknowledged_items(consent, items)),
            "check_results": results,
            "needed_help": [r for r in results if r.needed_help],
            "priorities": getattr(consent, "priorities", None),
            "response_form": response_form or PrioritiesResponseForm(),
        },
        status=400
        if answer_error or revoke_form or withdrawal_form or name_form or response_form
        else 200,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def consent_reissue(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a new link, once the surgeon has confirmed that the current one stops working."""
    consent = _get_consent_for_user(request, pk)
    form = ReissueForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        refusal = reissue_refusal(consent)
        if refusal is None and not consent.can_manage(request.user):
            refusal = "Only the issuing surgeon can make a new link."
        return render(
            request,
            "consent/consent_reissue.html",
            {
                "consent": consent,
                "form": form,
                "refusal": refusal,
                "live_link": consent.links.filter(ended_at__isnull=True).first(),
            },
            status=400 if form.errors else 200,
        )
    try:
        issued = consent_reissue_link(consent=consent, actor=Actor.surgeon(request))
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        emailed = _hand_out_link(request, consent, issued)
        messages.success(
            request,
            "A new link was made. The old link no longer works."
            + (" The new link was emailed to the patient." if emailed == EmailOutcome.SENT else ""),
        )
        if emailed == EmailOutcome.FAILED:
            messages.error(request, EMAIL_FAILED_MESSAGE)
    return redirect("consent_detail", pk=consent.pk)


def _consent_form_post(request, pk, form_class, refused_as, act, done):
    """A small form on a consent's page: refused input is shown again on the page (under the
    keyword refused_as of _render_detail); a valid one runs the service act(consent, data,
    actor), whose refusal or success is a message on the consent's page."""
    consent = _get_consent_for_user(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _render_detail(request, consent, **{refused_as: form})
    try:
        act(consent, form.cleaned_data, Actor.surgeon(request))
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("consent_detail", pk=consent.pk)


@login_required
@require_POST
def consent_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _consent_form_post(
        request,
        pk,
        RevokeForm,
        "revoke_form",
        lambda consent, data, actor: consent_revoke(
            consent=consent, actor=actor, reason=data["reason"]
        ),
        "The consent was revoked. The patient's link no longer works.",
    )


@login_required
@require_POST
def consent_record_withdrawal(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient told the team they withdraw a signed consent: the issuing surgeon records it
    (the service refuses anyone else)."""
    return _consent_form_post(
        request,
        pk,
        RecordWithdrawalForm,
        "withdrawal_form",
        lambda consent, data, actor: consent_withdraw(
            consent=consent, actor=actor, reason=data["reason"], recorded_by_team=True
        ),
        "The patient's withdrawal is recorded. The consent is withdrawn.",
    )


@login_required
@require_POST
def consent_correct_name(request: HttpRequest, pk: int) -> HttpResponse:
    """The issuing surgeon corrects the patient's name before the patient signs."""
    return _consent_form_post(
        request,
        pk,
        PatientNameForm,
        "name_form",
        lambda consent, data, actor: consent_correct_patient_name(
            consent=consent, full_name=data["full_name"], actor=actor
        ),
        "The patient's name was corrected. The patient signs with the new name.",
    )


@login_required
@require_POST
def question_answer(request: HttpRequest, pk: int, question_id: int) -> HttpResponse:
    consent = _get_consent_for_user(request, pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        typed = form.data.get("answer", "")
        return _render_detail(
            request, consent, answer_error=(question_id, form.first_error(), typed)
        )
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


@never_cache
@login_required
@require_POST
def priorities_respond(request: HttpRequest, pk: int) -> HttpResponse:
    """The surgeon's team responds to what matters to the patient."""
    consent = _get_consent_for_user(request, pk)
    form = PrioritiesResponseForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, consent, response_form=form)
    try:
        consent_respond_to_priorities(
            consent=consent,
            text=form.cleaned_data["response"],
            actor=Actor.surgeon(request),
            stated_at=form.cleaned_data["stated"] or None,
        )
    except ConsentError as exc:
        form.add_error(None, str(exc))
        return _render_detail(request, consent, response_form=form)
    messages.success(request, "Your response was saved. The patient sees it before signing.")
    return redirect("consent_detail", pk=consent.pk)


@login_required
def consent_document(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored, sealed PDF: never rendered again."""
    consent = _get_consent_for_user(request, pk)
    return pdf_response(consent, Actor.surgeon(request))
