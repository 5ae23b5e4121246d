import html
import re
from decimal import Decimal

import pytest
from django import forms as django_forms
from django.urls import reverse

from procedures.models import Procedure

from .conftest import PASSWORD


@pytest.mark.usefixtures("library")
class TestProcedureAdmin:
    def test_it_lists_the_library_for_a_surgeon(self, client, surgeon):
        client.force_login(surgeon)
        response = client.get(reverse("admin:procedures_procedure_changelist"))
        assert response.status_code == 200
        for procedure in Procedure.objects.all():
            assert procedure.name in response.text

    def test_it_shows_a_procedure_with_its_risks_and_reading_grades(self, client, surgeon):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        response = client.get(reverse("admin:procedures_procedure_change", args=[procedure.pk]))
        assert response.status_code == 200
        assert "Damage to other nerves" in response.text
        assert "Reading grade of each passage" in response.text

    def test_it_searches_and_filters(self, client, surgeon):
        client.force_login(surgeon)
        url = reverse("admin:procedures_procedure_changelist")
        response = client.get(url, {"q": "rhizotomy"})
        assert "Lumbar rhizotomy" in response.text
        assert "Lumbar fusion at L5-S1" not in response.text
        response = client.get(url, {"needs_clinical_review__exact": "0"})
        assert "Lumbar rhizotomy" not in response.text

    def test_it_sends_anonymous_visitors_to_the_login(self, client):
        response = client.get(reverse("admin:procedures_procedure_changelist"))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]

    def test_it_refuses_a_signed_in_user_who_is_not_staff(self, client, plain_user):
        client.force_login(plain_user)
        response = client.get(reverse("admin:procedures_procedure_changelist"))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]

    def test_editing_in_the_admin_bumps_the_revision(self, client, admin_user):
        client.force_login(admin_user)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        url = reverse("admin:procedures_procedure_change", args=[procedure.pk])
        data = change_form_data(client.get(url))
        data["recovery"] = "Rest for a week, then walk every day."
        response = client.post(url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.recovery == "Rest for a week, then walk every day."
        assert procedure.revision == 2

    def test_saving_the_form_unchanged_keeps_the_revision(self, client, admin_user):
        client.force_login(admin_user)
        procedure = Procedure.objects.get(slug="low-back-fusion")
        url = reverse("admin:procedures_procedure_change", args=[procedure.pk])
        response = client.post(url, change_form_data(client.get(url)))
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 1
        assert procedure.understanding_checks.count() == 4


def change_form_data(page) -> dict:
    """What the procedure's change form posts if nothing is changed: its own fields and every
    inline's, with the management forms."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field, django_forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value
    return data


def form_errors(response) -> list:
    """Every error on the change form, to show why a save was refused."""
    if response.status_code != 200:
        return [response.status_code]
    formsets = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return [
        response.context["adminform"].form.errors,
        *[(fs.prefix, fs.errors, fs.non_form_errors()) for fs in formsets],
    ]


def inline_index(data: dict, prefix: str, **match) -> int:
    """The number of the inline form whose fields hold these values."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    for number in range(total):
        if all(str(data.get(f"{prefix}-{number}-{k}")) == str(v) for k, v in match.items()):
            return number
    raise LookupError(match)


@pytest.mark.usefixtures("library")
class TestUnderstandingChecksInTheAdmin:
    @pytest.fixture
    def page(self, client, admin_user):
        client.force_login(admin_user)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        url = reverse("admin:procedures_procedure_change", args=[procedure.pk])
        return procedure, url, change_form_data(client.get(url))

    def save(self, client, url, data):
        return client.post(url, data)

    def test_the_change_page_shows_the_checks_and_their_grades(self, client, page):
        procedure, url, _ = page
        response = client.get(url)
        assert "Checks of understanding (asked after the risks)" in response.text
        check = procedure.understanding_checks.first()
        assert html.escape(check.question) in response.text
        assert f"check 1: {html.escape(check.question)}: " in response.text
        assert "rate_source" in response.text  # the number fields on the risks

    def test_editing_a_check_bumps_the_revision(self, client, page):
        procedure, url, data = page
        data["understanding_checks-1-answer"] = "Not always: the pain can stay or come back"
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 2
        assert procedure.understanding_checks.get(order=2).answer.startswith("Not always:")

    def test_adding_and_deleting_checks_bumps_the_revision(self, client, page):
        procedure, url, data = page
        data.update(
            {
                "understanding_checks-TOTAL_FORMS": "5",
                "understanding_checks-4-order": "5",
                "understanding_checks-4-question": "What can a blood bruise near the spine do?",
                "understanding_checks-4-risk_title": "Bleeding and a blood bruise near the spine",
                "understanding_checks-4-section": "",
                "understanding_checks-4-answer": "Press on nerves and cause pain",
                "understanding_checks-4-wrong_answers": "Nothing at all\nMake you taller",
                "understanding_checks-4-explanation": "Blood can pool and press on nerves.",
                "understanding_checks-0-DELETE": "on",
            }
        )
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 2
        assert [c.order for c in procedure.understanding_checks.all()] == [2, 3, 4, 5]
        assert procedure.understanding_checks.get(order=5).wrong_answer_list == [
            "Nothing at all",
            "Make you taller",
        ]

    def test_checks_and_risks_can_swap_places(self, client, page):
        procedure, url, data = page
        first, second = procedure.understanding_checks.all()[:2]
        data["understanding_checks-0-order"], data["understanding_checks-1-order"] = "2", "1"
        data["items-0-order"], data["items-1-order"] = "2", "1"
        # And one more check takes the place of one deleted.
        data["understanding_checks-3-DELETE"] = "on"
        data["understanding_checks-2-order"] = "4"
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 2
        assert [c.pk for c in procedure.understanding_checks.all()][:2] == [second.pk, first.pk]
        assert [c.order for c in procedure.understanding_checks.all()] == [1, 2, 4]
        assert procedure.items.get(order=1).title == "Infection"

    def test_a_check_may_follow_a_risk_renamed_in_the_same_save(self, client, page):
        procedure, url, data = page
        risk = inline_index(data, "items", title="Damage to other nerves")
        check = inline_index(data, "understanding_checks", risk_title="Damage to other nerves")
        data[f"items-{risk}-title"] = "Harm to nearby nerves"
        data[f"understanding_checks-{check}-risk_title"] = "Harm to nearby nerves"
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 2
        assert procedure.understanding_checks.filter(risk_title="Harm to nearby nerves").exists()

    def test_a_check_may_name_a_risk_added_in_the_same_save(self, client, page):
        procedure, url, data = page
        data.update(
            {
                "items-TOTAL_FORMS": "7",
                "items-6-order": "7",
                "items-6-title": "A headache",
                "items-6-explanation": "Your head may ache for a day.",
                "items-6-severity": "common",
                "items-6-required": "on",
                "understanding_checks-0-risk_title": "A headache",
            }
        )
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        assert procedure.understanding_checks.get(order=1).risk_title == "A headache"

    def test_renaming_a_risk_a_check_names_is_refused(self, client, page):
        procedure, url, data = page
        risk = inline_index(data, "items", title="Damage to other nerves")
        data[f"items-{risk}-title"] = "Harm to nearby nerves"
        response = self.save(client, url, data)
        assert response.status_code == 200
        assert "No risk of this procedure has this title." in response.text
        procedure.refresh_from_db()
        assert procedure.revision == 1

    def test_deleting_a_risk_a_check_names_is_refused(self, client, page):
        procedure, url, data = page
        risk = inline_index(data, "items", title="Damage to other nerves")
        data[f"items-{risk}-DELETE"] = "on"
        response = self.save(client, url, data)
        assert response.status_code == 200
        assert "No risk of this procedure has this title." in response.text
        assert procedure.items.filter(title="Damage to other nerves").exists()

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"risk_title": "Stroke"}, "No risk of this procedure has this title."),
            ({"section": "summary"}, "Choose either the risk it checks or the section"),
            ({"risk_title": ""}, "Choose either the risk it checks or the section"),
            ({"wrong_answers": "One\nTwo\nThree\nFour\nFive"}, "Give between 1 and 4"),
            ({"wrong_answers": "Same\nSame"}, "Every answer must be different."),
            ({"answer": ""}, "This field is required."),
        ],
    )
    def test_a_bad_check_shows_why(self, client, page, fields, message):
        procedure, url, data = page
        for field, value in fields.items():
            data[f"understanding_checks-0-{field}"] = value
        response = self.save(client, url, data)
        assert response.status_code == 200
        assert message in response.text
        assert "violated" not in response.text  # the clean message, not the constraint's
        procedure.refresh_from_db()
        assert procedure.revision == 1

    def test_a_number_on_a_risk_bumps_the_revision(self, client, page):
        procedure, url, data = page
        risk = inline_index(data, "items", title="Infection")
        data[f"items-{risk}-per_1000"] = "12.5"
        data[f"items-{risk}-rate_source"] = "Our unit's audit"
        response = self.save(client, url, data)
        assert response.status_code == 302, form_errors(response)
        procedure.refresh_from_db()
        assert procedure.revision == 2
        item = procedure.items.get(title="Infection")
        assert (item.per_1000, item.rate_source) == (Decimal("12.5"), "Our unit's audit")

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"one_in": "20", "per_1000": "50"}, "not both"),
            ({"one_in": "0"}, "Ensure this value is greater than or equal to 1."),
            ({"per_1000": "1001"}, "Ensure this value is less than or equal to 1000."),
            ({"per_1000": "0.0001"}, "Ensure that there are no more than 3 decimal places."),
        ],
    )
    def test_a_bad_number_shows_why(self, client, page, fields, message):
        procedure, url, data = page
        risk = inline_index(data, "items", title="Infection")
        for field, value in fields.items():
            data[f"items-{risk}-{field}"] = value
        response = self.save(client, url, data)
        assert response.status_code == 200
        assert message in response.text
        assert "violated" not in response.text  # the clean message, not the constraint's
        procedure.refresh_from_db()
        assert procedure.revision == 1


@pytest.mark.django_db
class TestLogin:
    def test_the_home_page_asks_anonymous_visitors_to_sign_in(self, client):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_a_surgeon_signs_in_and_sees_the_library(self, client, surgeon, library):
        response = client.post(
            reverse("login"), {"username": "owner", "password": PASSWORD}, follow=True
        )
        assert response.status_code == 200
        assert "Your consents" in response.text
        page = client.get(reverse("library"))
        assert "Lumbar rhizotomy" in page.text
        assert "Starter content: needs clinical review" in page.text

    def test_the_login_page_uses_the_base_template(self, client):
        response = client.get(reverse("login"))
        assert 'href="#main"' in response.text  # skip link
        assert "Example Hospital" in response.text
        assert re.search(r'<label\s+for="id_username"', response.text)

    def test_a_wrong_password_says_so(self, client, surgeon):
        response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text

    def test_sign_out_is_a_post(self, client, surgeon):
        client.force_login(surgeon)
        response = client.post(reverse("logout"))
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session
