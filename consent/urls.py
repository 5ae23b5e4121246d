from django.urls import path

from .views import patient, public, surgeon

urlpatterns = [
    path("", surgeon.home, name="home"),
    path("library/", surgeon.library, name="library"),
    path("accounts/login/", surgeon.LoginView.as_view(), name="login"),
    path("accounts/sign-out-everywhere/", surgeon.sign_out_everywhere, name="sign_out_everywhere"),
    path("consents/new/", surgeon.consent_new, name="consent_new"),
    path("consents/new/<slug:slug>/", surgeon.consent_new, name="consent_new_for"),
    path("consents/<int:pk>/", surgeon.consent_detail, name="consent_detail"),
    path("consents/<int:pk>/reissue/", surgeon.consent_reissue, name="consent_reissue"),
    path("consents/<int:pk>/revoke/", surgeon.consent_revoke_view, name="consent_revoke"),
    path(
        "consents/<int:pk>/withdrawal/",
        surgeon.consent_record_withdrawal,
        name="consent_record_withdrawal",
    ),
    path(
        "consents/<int:pk>/patient-name/", surgeon.consent_correct_name, name="consent_correct_name"
    ),
    path(
        "consents/<int:pk>/what-matters/respond/",
        surgeon.priorities_respond,
        name="priorities_respond",
    ),
    path("consents/<int:pk>/document.pdf", surgeon.consent_document, name="consent_document"),
    path("verify/", public.verify, name="verify"),
    path(
        "consents/<int:pk>/questions/<int:question_id>/answer/",
        surgeon.question_answer,
        name="question_answer",
    ),
    # The patient's private link, and the pages behind it (no token in those URLs).
    path("p/<str:token>/", patient.patient_link, name="patient_link"),
    path("patient/", patient.patient_start, name="patient_start"),
    path("patient/what-matters/", patient.patient_priorities, name="patient_priorities"),
    path("patient/risks/", patient.patient_risks, name="patient_risks"),
    path("patient/reading/", patient.patient_reading, name="patient_reading"),
    path("patient/check/", patient.patient_check, name="patient_check"),
    path("patient/risks/<int:item_id>/", patient.patient_acknowledge, name="patient_acknowledge"),
    path(
        "patient/risks/<int:item_id>/question/", patient.patient_question, name="patient_question"
    ),
    path("patient/review/", patient.patient_review, name="patient_review"),
    path("patient/sign/", patient.patient_sign, name="patient_sign"),
    path("patient/withdraw/", patient.patient_withdraw, name="patient_withdraw"),
    path("patient/done/", patient.patient_done, name="patient_done"),
    path("patient/document.pdf", patient.patient_document, name="patient_document"),
    path("patient/sign-out/", patient.patient_sign_out, name="patient_sign_out"),
]
