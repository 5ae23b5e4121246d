import re

import pytest
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
        form = client.get(url).context["adminform"].form
        items = list(procedure.items.all())
        data = {
            **{name: form[name].value() for name in form.fields if form[name].value() is not None},
            "is_active": "on",
            "needs_clinical_review": "on",
            "recovery": "Rest for a week, then walk every day.",
            "items-TOTAL_FORMS": str(len(items)),
            "items-INITIAL_FORMS": str(len(items)),
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
        }
        for i, item in enumerate(items):
            data.update(
                {
                    f"items-{i}-id": item.pk,
                    f"items-{i}-procedure": procedure.pk,
                    f"items-{i}-order": item.order,
                    f"items-{i}-title": item.title,
                    f"items-{i}-explanation": item.explanation,
                    f"items-{i}-severity": item.severity,
                    f"items-{i}-frequency": item.frequency,
                    f"items-{i}-required": "on",
                }
            )
        response = client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        procedure.refresh_from_db()
        assert procedure.recovery == "Rest for a week, then walk every day."
        assert procedure.revision == 2


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
