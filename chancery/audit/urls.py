from django.urls import path

from chancery.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("export.csv", views.event_export, name="event_export"),
]
