from django.urls import path

from chancery.planning import views

app_name = "planning"
urlpatterns = [
    path("", views.programme_list, name="programme_list"),
    path("new/", views.programme_create, name="programme_create"),
    path("calendar/", views.calendar_view, name="calendar"),
    path("calendar.ics", views.calendar_ics, name="calendar_ics"),
    path("template.xlsx", views.blank_template, name="blank_template"),
    path("<int:programme_id>/", views.programme_detail, name="programme_detail"),
    path("<int:programme_id>/submit/", views.programme_submit, name="programme_submit"),
    path("<int:programme_id>/approve/", views.programme_approve, name="programme_approve"),
    path("<int:programme_id>/start/", views.programme_start, name="programme_start"),
    path("<int:programme_id>/revise/", views.programme_revise, name="programme_revise"),
    path(
        "<int:programme_id>/revision/approve/", views.programme_approve_revision, name="programme_approve_revision"
    ),
    path("<int:programme_id>/revision/return/", views.programme_return_revision, name="programme_return_revision"),
    path("<int:programme_id>/close/", views.programme_close, name="programme_close"),
    path("<int:programme_id>/return/", views.programme_return, name="programme_return"),
    path("<int:programme_id>/comments/", views.comment_create, name="comment_create"),
    path("<int:programme_id>/axes/<int:axis_id>/", views.axis_edit, name="axis_edit"),
    path("<int:programme_id>/actions/", views.actions_table, name="actions_table"),
    path("<int:programme_id>/actions/new/", views.action_create, name="action_create"),
    path("<int:programme_id>/actions/<int:action_id>/edit/", views.action_edit, name="action_edit"),
    path("<int:programme_id>/timeline/", views.timeline, name="timeline"),
    path("<int:programme_id>/indicators/new/", views.indicator_create, name="indicator_create"),
    path("<int:programme_id>/indicators/<int:indicator_id>/edit/", views.indicator_edit, name="indicator_edit"),
    path(
        "<int:programme_id>/indicators/<int:indicator_id>/measurements/",
        views.measurement_create,
        name="measurement_create",
    ),
    path(
        "<int:programme_id>/indicators/<int:indicator_id>/measurements/<int:measurement_id>/",
        views.measurement_edit,
        name="measurement_edit",
    ),
    path(
        "<int:programme_id>/indicators/<int:indicator_id>/measurements/<int:measurement_id>/delete/",
        views.measurement_delete,
        name="measurement_delete",
    ),
    path("<int:programme_id>/achievements/new/", views.achievement_create, name="achievement_create"),
    path("<int:programme_id>/achievements/<int:achievement_id>/edit/", views.achievement_edit, name="achievement_edit"),
    path("<int:programme_id>/evidence/<int:evidence_id>/", views.evidence_download, name="evidence_download"),
    path("<int:programme_id>/files/<int:file_id>/", views.evidence_file_download, name="evidence_file_download"),
    path("<int:programme_id>/updates/", views.period_list, name="period_list"),
    path("<int:programme_id>/updates/<int:period_id>/", views.progress_update, name="progress_update"),
    path("<int:programme_id>/versions/", views.version_compare, name="version_compare"),
    path("<int:programme_id>/baseline/", views.baseline, name="baseline"),
    path("<int:programme_id>/export.xlsx", views.export_xlsx, name="export_xlsx"),
    path("<int:programme_id>/import/", views.import_upload, name="import_upload"),
    path("<int:programme_id>/import/preview/", views.import_preview, name="import_preview"),
]
