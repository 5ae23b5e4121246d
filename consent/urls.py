from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("library/", views.library, name="library"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("consents/new/", views.consent_new, name="consent_new"),
    path("consents/new/<slug:slug>/", views.consent_new, name="consent_new_for"),
    path("consents/<int:pk>/", views.consent_detail, name="consent_detail"),
    path("consents/<int:pk>/reissue/", views.consent_reissue, name="consent_reissue"),
    path("consents/<int:pk>/revoke/", views.consent_revoke_view, name="consent_revoke"),
    path("consents/<int:pk>/document.pdf", views.consent_document, name="consent_document"),
    path("verify/", views.verify, name="verify"),
    path(
        "consents/<int:pk>/questions/<int:question_id>/answer/",
        views.question_answer,
        name="question_answer",
    ),
    # The patient's private link, and the pages behind it (no token in those URLs).
    path("p/<str:token>/", views.patient_link, name="patient_link"),
    path("patient/", views.patient_start, name="patient_start"),
    path("patient/risks/", views.patient_risks, name="patient_risks"),
    path("patient/risks/<int:item_id>/", views.patient_acknowledge, name="patient_acknowledge"),
    path("patient/risks/<int:item_id>/question/", views.patient_question, name="patient_question"),
    path("patient/review/", views.patient_review, name="patient_review"),
    path("patient/sign/", views.patient_sign, name="patient_sign"),
    path("patient/withdraw/", views.patient_withdraw, name="patient_withdraw"),
    path("patient/done/", views.patient_done, name="patient_done"),
    path("patient/document.pdf", views.patient_document, name="patient_document"),
    path("patient/sign-out/", views.patient_sign_out, name="patient_sign_out"),
]
