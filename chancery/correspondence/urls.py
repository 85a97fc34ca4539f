from django.urls import path

from chancery.correspondence import views, workday_views

app_name = "correspondence"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("drafts/", views.drafts, name="drafts"),
    path("sent/", views.sent, name="sent"),
    path("new/", views.draft_create, name="new"),
    path("incoming/new/", views.register_incoming, name="register_incoming"),
    path("references/", views.reference_suggestions, name="reference_suggestions"),
    path("dispatches/<int:pk>/", views.detail, name="detail"),
    path("dispatches/<int:pk>/edit/", views.draft_edit, name="edit"),
    path("dispatches/<int:pk>/validate/", views.validate, name="validate"),
    path("dispatches/<int:pk>/send/", views.send, name="send"),
    path("dispatches/<int:pk>/reply/", views.reply, name="reply"),
    path("dispatches/<int:pk>/marking/", views.change_marking, name="change_marking"),
    path("dispatches/<int:pk>/grant/", views.grant, name="grant"),
    path("dispatches/<int:pk>/attachments/<int:position>/", views.download_attachment, name="attachment"),
    path(
        "dispatches/<int:pk>/attachments/<int:position>/remove/",
        views.remove_attachment,
        name="remove_attachment",
    ),
    path("dispatches/<int:pk>/routings/<int:routing_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("dispatches/<int:pk>/routings/<int:routing_id>/assign/", views.assign, name="assign"),
    path("dispatches/<int:pk>/routings/<int:routing_id>/close/", views.close, name="close"),
    path("dispatches/<int:pk>/routings/<int:routing_id>/read/", views.mark_read, name="mark_read"),
    # The registry's working day (circuits, notes, signature, package, review, templates).
    path("dispatches/<int:pk>/submit/", workday_views.submit, name="submit"),
    path("dispatches/<int:pk>/approve/", workday_views.approve, name="approve"),
    path("dispatches/<int:pk>/return/", workday_views.return_draft, name="return"),
    path("dispatches/<int:pk>/opinion/", workday_views.give_opinion, name="opinion"),
    path("dispatches/<int:pk>/withdraw/", workday_views.withdraw, name="withdraw"),
    path("dispatches/<int:pk>/notes/", workday_views.add_note, name="add_note"),
    path("dispatches/<int:pk>/signature/", workday_views.verify_signature, name="verify_signature"),
    path("dispatches/<int:pk>/package/", workday_views.download_package, name="package"),
    path("dispatches/<int:pk>/review/", workday_views.review_decide, name="review_decide"),
    path("review/", workday_views.review_queue, name="review_queue"),
    path("awaiting/", workday_views.awaiting, name="awaiting"),
    path("workflow/", workday_views.unit_workflow, name="unit_workflow"),
    path("reply-templates/", workday_views.reply_templates, name="reply_templates"),
    path("reply-templates/<int:template_id>/delete/", workday_views.delete_reply_template,
         name="delete_reply_template"),
]
