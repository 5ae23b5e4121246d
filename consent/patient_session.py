"""The patient's session: bound to one consent, started by the link plus date of birth.

Stored in Django's database-backed session, so it works across processes and app servers.
"""

import functools
import time

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render

from .contact import contact_for
from .informed import consent_add_step_time
from .models import Consent, PatientLink
from .services import LinkState, link_state

SESSION_KEY = "patient"


def start(request: HttpRequest, link: PatientLink) -> None:
    request.session.cycle_key()  # a new session id on sign-in: no fixation
    request.session[SESSION_KEY] = {
        "link": link.pk,
        "consent": link.consent_id,
        "seen": time.time(),
    }


def end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def current_link_id(request: HttpRequest) -> int | None:
    data = request.session.get(SESSION_KEY)
    if not data:
        return None
    idle_limit = settings.PATIENT_SESSION_IDLE_MINUTES * 60
    if time.time() - data.get("seen", 0) > idle_limit:
        end(request)
        return None
    return data["link"]


def track_step(request: HttpRequest, step: str) -> None:
    """Time on each step: the time since this session's last patient page counts to the step
    that page belonged to (capped when the patient walked away: STEP_IDLE_SECONDS)."""
    data = request.session[SESSION_KEY]
    now = time.time()
    last = data.get("step")
    if last and now > last[1]:
        consent_add_step_time(consent=request.consent, step=last[0], seconds=now - last[1])
    request.session[SESSION_KEY] = {**request.session[SESSION_KEY], "step": [step, now]}


def seconds_since(request: HttpRequest, key: str, *, reset: bool = True) -> float | None:
    """Seconds since the session noted `key` (None: never); noted again now if reset."""
    data = request.session[SESSION_KEY]
    now = time.time()
    then = data.get(key)
    if reset:
        request.session[SESSION_KEY] = {**data, key: now}
    return None if then is None else max(0.0, now - then)


# Time on screen (consent.informed.consent_add_reading_time): for each risk, the moment up to
# which its time has been counted (a float, as time.time(); keyed by the risk's id as text).
READING_KEY = "reading_counted"


def risks_page_shown(request: HttpRequest) -> None:
    """The risks page is shown: the time on screen of its risks counts from now (from the first
    time in this session, for a risk not yet reported)."""
    data = request.session[SESSION_KEY]
    now = time.time()
    request.session[SESSION_KEY] = {
        **data,
        "risks_shown": now,
        "risks_opened": data.get("risks_opened", now),
    }


def reading_elapsed(request: HttpRequest, item_ids) -> tuple[float, dict[int, float]]:
    """(now, for each risk the seconds a report of its time on screen may count): the time
    since the risk's time was counted up to (its last report, else the risks page first shown
    in this session, else nothing). Negative while the slack a report used is not yet made up
    by the time passed."""
    data = request.session[SESSION_KEY]
    now = time.time()
    counted = data.get(READING_KEY, {})
    opened = data.get("risks_opened", now)
    return now, {pk: now - counted.get(str(pk), opened) for pk in item_ids}


def reading_counted(request: HttpRequest, *, now: float, elapsed: dict, counted: dict) -> None:
    """Note the seconds a report counted for each risk: its time is used up to now, or beyond
    now by the slack the report used."""
    data = request.session[SESSION_KEY]
    until = dict(data.get(READING_KEY, {}))
    for pk, seconds in counted.items():
        until[str(pk)] = max(now, now - elapsed[pk] + seconds)
    request.session[SESSION_KEY] = {**data, READING_KEY: until}


def link_problem(request: HttpRequest, state: LinkState, consent: Consent | None = None):
    """Why the link cannot be used, and who to contact (the consent's team, when known)."""
    status = {LinkState.UNKNOWN: 404, LinkState.LOCKED: 403}.get(state, 410)
    return render(
        request,
        "consent/patient/link_problem.html",
        {"state": state.value, "contact": contact_for(consent)},
        status=status,
    )


def patient_required(view):
    """Load the session's consent into request.consent, or explain why that cannot be done."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        link_id = current_link_id(request)
        if link_id is None:
            return render(request, "consent/patient/session_ended.html", status=401)
        link = (
            PatientLink.objects.select_related("consent", "consent__patient")
            .filter(pk=link_id)
            .first()
        )
        state = link_state(link)
        if state != LinkState.OK:
            end(request)
            return link_problem(request, state, link.consent if link else None)
        request.session[SESSION_KEY] = {**request.session[SESSION_KEY], "seen": time.time()}
        request.patient_link = link
        request.consent = link.consent
        return view(request, *args, **kwargs)

    return wrapper
