from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from consent.forms import AdminLoginForm

admin.site.site_header = "Surgical Consent administration"
admin.site.site_title = "Surgical Consent admin"
# Checks the username before django-axes records the attempt (see consent/forms.py).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", include("consent.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

# Plain error pages that render without the request or the database (consent/views/errors.py);
# 403 and 404 are Django's own views with our templates.
handler400 = "consent.views.errors.bad_request"
handler500 = "consent.views.errors.server_error"
