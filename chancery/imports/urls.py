from django.urls import path

from chancery.imports import views

app_name = "imports"
urlpatterns = [
    path("letters/", views.upload, name="upload"),
    path("letters/<int:import_id>/", views.preview, name="preview"),
    path("letters/<int:import_id>/discard/", views.discard, name="discard"),
]
