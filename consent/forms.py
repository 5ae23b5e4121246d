"""Every input the app reads goes through one of these forms.

Bad input gets a plain message that says how to put it right, and the form keeps what the
person typed: NUL characters, overlong values, digits that are not 0-9 where a number is
wanted and dates out of range are refused here, before anything reaches a service, the
database or django-axes.
"""

import datetime
import re

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import Procedure, Severity
from procedures.sites import LEVELS_MAX_LENGTH, LevelsError, Side, clean_levels

from .models import PRIORITY_CHOICES, PRIORITY_OWN_WORDS_MAX, ConsentStatus, Team
from .names import name_problem
from .services import (
    ANSWER_MAX_LENGTH,
    EARLIEST_DATE_OF_BIRTH,
    MAX_AGE_YEARS,
    NAME_MISMATCH_MESSAGE,
    QUESTION_MAX_LENGTH,
    ExtraRisk,
    PatientDetails,
    earliest_date_of_birth,
    latest_planned_date,
    names_match,
)
from .signature_image import MAX_BYTES, SignatureImageError, check_png, from_data_url

NUL_MESSAGE = (
    "This contains an invisible character that we cannot store (a null character). "
    "Please retype it and try again."
)
MAX_LENGTH_MESSAGE = (
    "Please keep this to %(limit_value)d characters or fewer (it has %(show_value)d)."
)
# Messages every field of our forms uses unless it says something more specific.
PLAIN_MESSAGES = {
    "null_characters_not_allowed": NUL_MESSAGE,
    "max_length": MAX_LENGTH_MESSAGE,
}
# Form values that can only be something we put on the page (ticks, buttons): a different
# value means a stale page or a tampered request, never a typing mistake.
UNEXPECTED_MESSAGE = (
    "The form sent something we did not expect, so nothing was saved. "
    "Please reload the page and try again."
)


def plain_messages(fields) -> None:
    for field in fields.values():
        for code, message in PLAIN_MESSAGES.items():
            field.error_messages.setdefault(code, message)


class PlainForm(forms.Form):
    """A form whose refusals are plain words (see PLAIN_MESSAGES)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        plain_messages(self.fields)

    # Where a problem with the whole form (not one field) sends the patient: the id of the
    # first thing to put right. Forms shown with an error summary set it.
    summary_target = ""
    # A field whose input is not what the patient sees (a hidden value drawn by a script):
    # its errors link to this id instead.
    summary_targets: dict[str, str] = {}

    def first_error(self) -> str:
        """The first message of a refused form, for a page that shows one message."""
        return next(message for errors in self.errors.values() for message in errors)

    def error_summary(self) -> list[tuple[str, str]]:
        """Every problem as (message, id of the field to put it right), for the summary at
        the top of the page: the whole form's problems first, then each field's in order."""
        summary = [(str(message), self.summary_target) for message in self.non_field_errors()]
        for field in self:
            target = self.summary_targets.get(field.name, field.id_for_label)
            summary += [(str(message), target) for message in field.errors]
        return summary


def is_ascii_number(text: str) -> bool:
    """Digits 0-9 only. str.isdigit() is true for "²" and "①" (which int() then refuses),
    and int() reads the digits of other scripts (Arabic-Indic, Devanagari, fullwidth)."""
    return re.fullmatch(r"[0-9]+", text) is not None


class DateInput(forms.DateInput):
    input_type = "date"


class DateField(forms.DateField):
    """A date typed with the digits 0 to 9 (Python's date parsing also reads other scripts)."""

    widget = DateInput
    default_error_messages = {"invalid": "Enter a real date, for example 27/03/1964."}

    def to_python(self, value):
        if isinstance(value, str) and (not value.isascii() or len(value) > 30):
            raise forms.ValidationError(
                "Enter the date with the digits 0 to 9, for example 27/03/1964.", code="invalid"
            )
        return super().to_python(value)


def _long_date(day: datetime.date) -> str:
    return date_format(day, "j F Y")


def check_date_of_birth(value: datetime.date, *, you: bool = False) -> None:
    whose = "Your" if you else "The"
    if value >= timezone.localdate():
        raise forms.ValidationError(f"{whose} date of birth must be in the past.")
    if value < EARLIEST_DATE_OF_BIRTH:
        raise forms.ValidationError(
            f"{whose} date of birth must be on or after {_long_date(EARLIEST_DATE_OF_BIRTH)}. "
            "Check the year."
        )


class ConsentIssueForm(PlainForm):
    """Patient details, planned date and the risks that do not apply, for one procedure."""

    full_name = forms.CharField(label="Patient's full name", max_length=200)
    date_of_birth = DateField(label="Date of birth")
    hospital_number = forms.CharField(label="Hospital number (MRN)", max_length=50, required=False)
    email = forms.EmailField(
        label="Patient's email (optional)",
        required=False,
        max_length=254,
        help_text=(
            "Used to send the link (if you tick the box below) and to tell the patient when "
            "a question they asked is answered. Never medical details."
        ),
    )
    planned_date = DateField(label="Planned date of surgery")
    email_patient = forms.BooleanField(
        label="Email the link to the patient",
        required=False,
        help_text="The email says only that they have a consent to review, with the link.",
    )
    team = forms.ModelChoiceField(
        label="Share with my team (optional)",
        queryset=Team.objects.none(),
        required=False,
        help_text="Colleagues in the team can see this consent and answer questions.",
    )

    def __init__(self, *args, procedure: Procedure, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(members=user)
        self.procedure = procedure
        if procedure.asks_for_levels:
            self.fields["levels"] = forms.CharField(
                label="Spinal levels",
                max_length=LEVELS_MAX_LENGTH,
                help_text="From top to bottom, for example L4-L5, L4-S1 or C5-C6. "
                "The patient reads them and the signed PDF states them.",
                error_messages={"required": "Enter the spinal levels, for example L4-L5."},
            )
        if procedure.asks_for_side:
            self.fields["side"] = forms.ChoiceField(
                label="Side",
                choices=[("", "Choose the side"), *Side.choices],
                error_messages={
                    "required": "Choose the side: left, right or both.",
                    "invalid_choice": "Choose the side: left, right or both.",
                },
            )
        self.library_items = list(procedure.items.all())
        for item in self.library_items:
            self.fields[f"na_{item.pk}"] = forms.BooleanField(
                label=f"Does not apply to this patient: {item.title}", required=False
            )
            self.fields[f"na_reason_{item.pk}"] = forms.CharField(
                label=f"Why it does not apply: {item.title}", required=False, max_length=500
            )
        plain_messages(self.fields)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if problem := name_problem(name):
            raise forms.ValidationError(problem)
        return name

    def clean_date_of_birth(self) -> datetime.date:
        value = self.cleaned_data["date_of_birth"]
        check_date_of_birth(value)
        earliest = earliest_date_of_birth(timezone.localdate())
        if value < earliest:
            raise forms.ValidationError(
                f"The patient would be over {MAX_AGE_YEARS} years old. Check the year: the date "
                f"of birth must be on or after {_long_date(earliest)}."
            )
        return value

    def clean_levels(self) -> str:
        try:
            return clean_levels(self.cleaned_data["levels"])
        except LevelsError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_planned_date(self) -> datetime.date:
        value = self.cleaned_data["planned_date"]
        today = timezone.localdate()
        if value < today:
            raise forms.ValidationError("The planned date of surgery cannot be in the past.")
        if value > latest_planned_date(today):
            raise forms.ValidationError(
                "The planned date of surgery must be within one year from today "
                f"(on or before {_long_date(latest_planned_date(today))})."
            )
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("email_patient") and not cleaned.get("email"):
            self.add_error("email", "Give the patient's email address to send them the link.")
        for item in self.library_items:
            if cleaned.get(f"na_{item.pk}") and not cleaned.get(f"na_reason_{item.pk}", "").strip():
                self.add_error(
                    f"na_reason_{item.pk}", "Give a reason why this risk does not apply."
                )
        return cleaned

    def item_rows(self):
        """(item, checkbox field, reason field) for the template."""
        return [
            (item, self[f"na_{item.pk}"], self[f"na_reason_{item.pk}"])
            for item in self.library_items
        ]

    def patient_details(self) -> PatientDetails:
        data = self.cleaned_data
        return PatientDetails(
            full_name=data["full_name"],
            date_of_birth=data["date_of_birth"],
            hospital_number=data["hospital_number"],
            email=data["email"],
        )

    def site_details(self) -> dict[str, str]:
        """The levels and side for consent_issue: only those the procedure asks for."""
        return {key: self.cleaned_data[key] for key in ("levels", "side") if key in self.fields}

    def not_applicable(self) -> dict[int, str]:
        return {
            item.pk: self.cleaned_data[f"na_reason_{item.pk}"].strip()
            for item in self.library_items
            if self.cleaned_data.get(f"na_{item.pk}")
        }


class ExtraRiskForm(PlainForm):
    title = forms.CharField(max_length=200, required=False)
    explanation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
    # Not marked required: the whole block is optional. Needed once a title or explanation
    # is given (clean below), so the surgeon chooses it rather than accepting a default.
    severity = forms.ChoiceField(
        choices=[("", "Choose how serious it is"), *Severity.choices],
        required=False,
        help_text="Needed if you add this risk.",
    )
    frequency = forms.CharField(
        max_length=100, required=False, help_text='In words, for example "about 1 in 50".'
    )

    def clean(self):
        cleaned = super().clean()
        title, explanation = (
            cleaned.get("title", "").strip(),
            cleaned.get("explanation", "").strip(),
        )
        if bool(title) != bool(explanation):
            raise forms.ValidationError(
                "A patient-specific risk needs both a title and an explanation."
            )
        if (title or explanation) and not cleaned.get("severity"):
            self.add_error("severity", "Choose how serious this risk is.")
        return cleaned

    def risk(self) -> ExtraRisk | None:
        data = self.cleaned_data
        if not data.get("title", "").strip():
            return None
        return ExtraRisk(
            title=data["title"],
            explanation=data["explanation"],
            severity=data["severity"],
            frequency=data.get("frequency", ""),
        )


class BaseExtraRiskFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": "Add 20 patient-specific risks or fewer to one consent.",
    }


ExtraRiskFormSet = forms.formset_factory(
    ExtraRiskForm,
    formset=BaseExtraRiskFormSet,
    extra=2,
    max_num=20,
    validate_max=True,
    absolute_max=20,
)


class RevokeForm(PlainForm):
    reason = forms.CharField(
        label="Reason for revoking",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        error_messages={"required": "Give a reason for revoking this consent."},
    )


class ReissueForm(PlainForm):
    confirm = forms.BooleanField(
        label="I understand that the patient's current link will stop working at once.",
        error_messages={
            "required": "Tick the box to confirm that the current link may stop working."
        },
    )


class PatientNameForm(PlainForm):
    """The surgeon's correction of the patient's name, before the patient signs."""

    full_name = forms.CharField(
        label="Patient's full name",
        max_length=200,
        error_messages={"required": "Enter the patient's full name."},
    )

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if problem := name_problem(name):
            raise forms.ValidationError(problem)
        return name


class DateOfBirthForm(PlainForm):
    """Day, month and year as three boxes: easier than a date picker for a birth date."""

    summary_target = "id_day"

    day = forms.CharField(label="Day", max_length=2)
    month = forms.CharField(label="Month", max_length=2)
    year = forms.CharField(label="Year", max_length=4)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, autocomplete in (
            ("day", "bday-day"),
            ("month", "bday-month"),
            ("year", "bday-year"),
        ):
            self.fields[name].widget.attrs.update(
                {"inputmode": "numeric", "autocomplete": autocomplete, "pattern": "[0-9]*"}
            )
        self.fields["day"].error_messages["required"] = "Enter the day you were born."
        self.fields["month"].error_messages["required"] = "Enter the month you were born."
        self.fields["year"].error_messages["required"] = "Enter the year you were born."

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        parts = [cleaned[k].strip() for k in ("day", "month", "year")]
        if not all(is_ascii_number(part) for part in parts):
            raise forms.ValidationError(
                "Enter your date of birth in numbers (0 to 9), for example 27 3 1964."
            )
        day, month, year = (int(part) for part in parts)
        if year < 1000:
            raise forms.ValidationError("Enter the year in full, for example 1964.")
        try:
            value = datetime.date(year, month, day)
        except ValueError:
            raise forms.ValidationError(
                "That is not a real date. Check the day and month, for example 27 3 1964."
            ) from None
        check_date_of_birth(value, you=True)
        cleaned["date_of_birth"] = value
        return cleaned


class AnswerForm(PlainForm):
    answer = forms.CharField(
        label="Your answer",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": ANSWER_MAX_LENGTH}),
        max_length=ANSWER_MAX_LENGTH,
        error_messages={
            "required": "Please write your answer.",
            "max_length": "Your answer is %(show_value)d characters long. "
            "Please keep it under %(limit_value)d.",
        },
    )


class SignForm(PlainForm):
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=200,
        help_text="As shown at the top of this page. You can leave out middle names.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "form-control-lg"}),
        error_messages={"required": "Type your name to sign."},
    )
    statement = forms.BooleanField(
        required=True,
        error_messages={"required": "Please tick the box to confirm that you consent."},
    )
    # The drawn signature as a PNG data URL, filled in by the page's script. Optional: a
    # patient who cannot draw (keyboard only, no JavaScript) signs with the typed name.
    signature = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=(MAX_BYTES * 4) // 3 + 100
    )

    summary_targets = {"signature": "signature-pad"}

    def __init__(self, *args, statement: str, expected_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["statement"].label = statement
        self.fields["signature"].error_messages["max_length"] = (
            "The drawn signature is too large (at most 200 KB). Please clear it and sign again."
        )
        self.expected_name = expected_name

    def clean_typed_name(self) -> str:
        # consent_sign checks it too; here the message goes beside the field.
        typed = self.cleaned_data["typed_name"]
        if not names_match(typed, self.expected_name):
            raise forms.ValidationError(NAME_MISMATCH_MESSAGE)
        return typed

    def clean_signature(self) -> bytes | None:
        """The drawn signature as PNG bytes (None if the patient did not draw), checked as
        consent_sign checks it, so that a refused form can safely show it again."""
        data_url = self.cleaned_data["signature"]
        if not data_url:
            return None
        try:
            png = from_data_url(data_url)
            check_png(png)
        except SignatureImageError as exc:
            raise forms.ValidationError(str(exc)) from None
        return png

    def kept_signature(self) -> str:
        """The drawn signature to put back on the pad of a refused form: only one that passed
        the checks above, never whatever was posted."""
        if getattr(self, "cleaned_data", {}).get("signature"):
            return self.data["signature"]
        return ""


class WithdrawForm(PlainForm):
    reason = forms.CharField(
        label="Why are you withdrawing? (optional)",
        required=False,
        max_length=QUESTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": QUESTION_MAX_LENGTH}),
    )


class RecordWithdrawalForm(PlainForm):
    reason = forms.CharField(
        label="How did the patient tell you, and why are they withdrawing?",
        max_length=QUESTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": QUESTION_MAX_LENGTH}),
        error_messages={"required": "Say how the patient told you, and why they are withdrawing."},
    )


class VerifyForm(PlainForm):
    code = forms.CharField(
        label="Verification code",
        required=False,
        max_length=30,
        help_text="Printed at the end of the document, for example BND3-7CQY-EEGJ.",
    )
    document = forms.FileField(
        label="Or upload the PDF",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
    )

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        if upload is None:
            return None
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is too large to check here (at most {self.max_bytes // (1024 * 1024)} MB)."
            )
        data = upload.read()
        if not data.startswith(b"%PDF-"):
            raise forms.ValidationError("This file is not a PDF. Upload the consent PDF itself.")
        return data

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("code", "").strip() and not cleaned.get("document"):
            raise forms.ValidationError("Enter the verification code, or upload the PDF.")
        return cleaned


class DashboardForm(PlainForm):
    """Filters of the surgeon's dashboard; every value has a safe default."""

    WAITING = "waiting"
    SORTS = {"planned": "planned_date", "-planned": "-planned_date", "-activity": "-updated_at"}
    PAGE_SIZES = (20, 50, 100)

    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "All"), (WAITING, "Waiting for your answer"), *ConsentStatus.choices],
    )
    q = forms.CharField(label="Patient name or hospital number", required=False, max_length=100)
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[
            ("planned", "Planned date, soonest first"),
            ("-planned", "Planned date, latest first"),
            ("-activity", "Latest activity first"),
        ],
    )
    per_page = forms.TypedChoiceField(
        label="Per page", required=False, coerce=int, choices=[(n, n) for n in PAGE_SIZES]
    )

    def values(self) -> dict:
        # A bad value falls back to its default; the other filters still apply.
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "status": data.get("status") or "",
            "q": (data.get("q") or "").strip(),
            "order_by": self.SORTS[data.get("sort") or "planned"],
            "per_page": data.get("per_page") or self.PAGE_SIZES[0],
        }


class TicksForm(PlainForm):
    """The risks page without JavaScript: the risks that were on the page, and those ticked."""

    shown = forms.TypedMultipleChoiceField(coerce=int, required=False)
    acknowledged = forms.TypedMultipleChoiceField(coerce=int, required=False)
    action = forms.ChoiceField(
        choices=[("save", "Save my progress"), ("continue", "Continue")], required=False
    )

    def __init__(self, *args, item_ids, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(pk), str(pk)) for pk in item_ids]
        for name in ("shown", "acknowledged"):
            self.fields[name].choices = choices
        for field in self.fields.values():
            field.error_messages["invalid_choice"] = UNEXPECTED_MESSAGE

    def ticks(self) -> dict[int, bool]:
        ticked = set(self.cleaned_data["acknowledged"])
        return {pk: pk in ticked for pk in self.cleaned_data["shown"]}

    def ticked_as_sent(self) -> set[int]:
        """The ticks the patient sent that are this consent's risks (to show them again)."""
        valid = {value for value, _ in self.fields["acknowledged"].choices}
        return {int(v) for v in self.data.getlist("acknowledged") if v in valid}


class AcknowledgeForm(PlainForm):
    """One tick, saved at once by the page's script: on ("1") or off ("0")."""

    ON = ("1", "true", "on")
    acknowledged = forms.TypedChoiceField(
        choices=[(value, value) for value in (*ON, "0", "false", "off")],
        coerce=lambda value: value in AcknowledgeForm.ON,
        empty_value=False,
        required=False,
        error_messages={"invalid_choice": UNEXPECTED_MESSAGE},
    )


class ReadingForm(PlainForm):
    """The seconds each risk was on screen since the page's last report, as the risks page's
    script measured them: fields seconds-<risk id>, added by the script (absent without it)."""

    MAX_SECONDS = 3600

    def __init__(self, data, *, item_ids):
        super().__init__(data)
        for pk in item_ids:
            self.fields[f"seconds-{pk}"] = forms.IntegerField(
                min_value=0, max_value=self.MAX_SECONDS, required=False
            )

    @staticmethod
    def sent(data) -> bool:
        return any(key.startswith("seconds-") for key in data)

    def seconds(self) -> dict[int, int]:
        return {
            int(name.removeprefix("seconds-")): value
            for name, value in self.cleaned_data.items()
            if value
        }


class PrioritiesForm(PlainForm):
    """What matters most to the patient: tick boxes and their own words (all optional)."""

    chosen = forms.MultipleChoiceField(
        label="What matters most to you?",
        choices=PRIORITY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        error_messages={"invalid_choice": UNEXPECTED_MESSAGE},
    )
    own_words = forms.CharField(
        label="Anything else that matters to you (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=PRIORITY_OWN_WORDS_MAX,
        required=False,
        help_text=(
            "For example a wedding, a holiday or a job you want to get back to. "
            "Your surgeon will read this and reply before you sign."
        ),
        error_messages={
            "max_length": "What you wrote is %(show_value)d characters long. "
            "Please keep it under %(limit_value)d."
        },
    )


class PrioritiesResponseForm(PlainForm):
    summary_target = "id_response"

    response = forms.CharField(
        label="Your response to what matters to the patient",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "For example which risks bear on it, and what recovery looks like for it. "
            "The patient reads this before signing."
        ),
        error_messages={
            "required": "Please write your response.",
            "max_length": "Your response is %(show_value)d characters long. "
            "Please keep it under %(limit_value)d.",
        },
    )
    # When the patient said what the page shows (Priorities.stated_at, ISO 8601): a response
    # is refused if they have changed it since.
    stated = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)


class CheckAnswerForm(PlainForm):
    """One answer to a check of understanding: the text of the chosen option, and the order
    the options were shown in (to keep with the attempt)."""

    summary_target = "answer-0"

    answer = forms.CharField(
        max_length=300,
        error_messages={"required": "Please choose an answer."},
    )

    def __init__(self, data=None, *, options):
        super().__init__(data)
        self.options = options

    def clean_answer(self):
        answer = self.cleaned_data["answer"]
        if answer not in self.options:
            raise forms.ValidationError(UNEXPECTED_MESSAGE)
        return answer


class QuestionForm(PlainForm):
    question = forms.CharField(
        max_length=QUESTION_MAX_LENGTH,
        widget=forms.Textarea,
        error_messages={
            "required": "Please write your question.",
            "max_length": "Your question is %(show_value)d characters long. "
            "Please keep it under %(limit_value)d.",
        },
    )


def _check_username_first(form) -> None:
    """Refuse a username that cannot exist (too long, NUL) as a form error, before the form
    calls authenticate(): django-axes records every failed attempt, and a 300-character
    username does not fit its column (a DataError on PostgreSQL). Django's form sets the
    username's max_length only as an HTML attribute, without a validator."""
    username = form.fields["username"]
    username.validators.append(MaxLengthValidator(username.max_length))
    username.error_messages["max_length"] = (
        "Usernames have at most %(limit_value)d characters. Check your username and try again."
    )
    plain_messages(form.fields)


class LoginForm(AuthenticationForm):
    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        _check_username_first(self)


class AdminLoginForm(AdminAuthenticationForm):
    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        _check_username_first(self)
