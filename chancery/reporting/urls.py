from django.urls import path

from chancery.reporting import views

app_name = "reporting"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("correspondence/", views.correspondence, name="correspondence"),
    path("records/actions/", views.records, {"kind": "actions"}, name="records_actions"),
    path("records/indicators/", views.records, {"kind": "indicators"}, name="records_indicators"),
    path("records/achievements/", views.records, {"kind": "achievements"}, name="records_achievements"),
    path("programmes/<int:programme_id>/", views.mission, name="mission"),
    path("programmes/<int:programme_id>/synthesis/", views.synthesis, name="synthesis"),
    path("programmes/<int:programme_id>/synthesis/freeze/", views.synthesis_freeze, name="synthesis_freeze"),
    path("programmes/<int:programme_id>/synthesis/send/", views.synthesis_send, name="synthesis_send"),
    path(
        "programmes/<int:programme_id>/synthesis.pdf",
        views.synthesis_download,
        {"output_format": "pdf"},
        name="synthesis_pdf",
    ),
    path(
        "programmes/<int:programme_id>/synthesis.docx",
        views.synthesis_download,
        {"output_format": "docx"},
        name="synthesis_docx",
    ),
    path(
        "programmes/<int:programme_id>/synthesis.xlsx",
        views.synthesis_download,
        {"output_format": "xlsx"},
        name="synthesis_xlsx",
    ),
    path("compile/", views.compile_view, name="compile"),
    path("jobs/<int:job_id>/", views.job, name="job"),
    path("jobs/<int:job_id>/download/", views.job_download, name="job_download"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job_retry"),
]
