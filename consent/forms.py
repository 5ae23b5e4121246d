import datetime

from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone

from procedures.models import Procedure, Severity

from .models import ConsentStatus, Team
from .services import ANSWER_MAX_LENGTH, QUESTION_MAX_LENGTH, ExtraRisk, PatientDetails
from .signature_image import MAX_BYTES


class DateInput(forms.DateInput):
    input_type = "date"


class ConsentIssueForm(forms.Form):
    """Patient details, planned date and the risks that do not apply, for one procedure."""

    full_name = forms.CharField(label="Patient's full name", max_length=200)
    date_of_birth = forms.DateField(label="Date of birth", widget=DateInput)
    hospital_number = forms.CharField(label="Hospital number (MRN)", max_length=50, required=False)
    email = forms.EmailField(
        label="Patient's email (optional)",
        required=False,
        help_text="Only used to send the link, never medical details.",
    )
    planned_date = forms.DateField(label="Planned date of surgery", widget=DateInput)
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
        self.library_items = list(procedure.items.all())
        for item in self.library_items:
            self.fields[f"na_{item.pk}"] = forms.BooleanField(
                label=f"Does not apply to this patient: {item.title}", required=False
            )
            self.fields[f"na_reason_{item.pk}"] = forms.CharField(
                label=f"Why it does not apply: {item.title}", required=False, max_length=500
            )
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_full_name(self) -> str:
        return " ".join(self.cleaned_data["full_name"].split())

    def clean_date_of_birth(self) -> datetime.date:
        value = self.cleaned_data["date_of_birth"]
        if value >= timezone.localdate():
            raise forms.ValidationError("The date of birth must be in the past.")
        return value

    def clean_planned_date(self) -> datetime.date:
        value = self.cleaned_data["planned_date"]
        if value < timezone.localdate():
            raise forms.ValidationError("The planned date of surgery cannot be in the past.")
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

    def not_applicable(self) -> dict[int, str]:
        return {
            item.pk: self.cleaned_data[f"na_reason_{item.pk}"].strip()
            for item in self.library_items
            if self.cleaned_data.get(f"na_{item.pk}")
        }


class ExtraRiskForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    explanation = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.UNCOMMON)
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


ExtraRiskFormSet = forms.formset_factory(ExtraRiskForm, extra=2, max_num=20)


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label="Reason for revoking", widget=forms.Textarea(attrs={"rows": 2}), max_length=1000
    )


class DateOfBirthForm(forms.Form):
    """Day, month and year as three boxes: easier than a date picker for a birth date."""

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
        try:
            day, month, year = (int(cleaned[k].strip()) for k in ("day", "month", "year"))
        except ValueError:
            raise forms.ValidationError(
                "Enter your date of birth in numbers, for example 27 3 1964."
            ) from None
        if year < 1000:
            raise forms.ValidationError("Enter the year in full, for example 1964.")
        try:
            value = datetime.date(year, month, day)
        except ValueError:
            raise forms.ValidationError(
                "That is not a real date. Check the day and month, for example 27 3 1964."
            ) from None
        if value >= timezone.localdate():
            raise forms.ValidationError("Your date of birth must be in the past.")
        cleaned["date_of_birth"] = value
        return cleaned


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": ANSWER_MAX_LENGTH}),
        max_length=ANSWER_MAX_LENGTH,
    )


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "form-control-lg"}),
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

    def __init__(self, *args, statement: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["statement"].label = statement
        self.fields["signature"].error_messages["max_length"] = (
            "The drawn signature is too large (at most 200 KB). Please clear it and sign again."
        )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why are you withdrawing? (optional)",
        required=False,
        max_length=QUESTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": QUESTION_MAX_LENGTH}),
    )


class VerifyForm(forms.Form):
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


class DashboardForm(forms.Form):
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
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "status": data.get("status") or "",
            "q": (data.get("q") or "").strip(),
            "order_by": self.SORTS[data.get("sort") or "planned"],
            "per_page": data.get("per_page") or self.PAGE_SIZES[0],
        }
