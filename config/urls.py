from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "Surgical Consent administration"
admin.site.site_title = "Surgical Consent admin"

urlpatterns = [
    path("", include("consent.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
