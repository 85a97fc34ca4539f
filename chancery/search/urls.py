from django.urls import path

from chancery.search import views

app_name = "search"

urlpatterns = [
    path("", views.search_page, name="search"),
    path("suggest/", views.suggestions, name="suggest"),
    path("saved-searches/", views.saved_list, name="saved_list"),
    path("saved-searches/<int:pk>/", views.saved_run, name="saved_run"),
    path("saved-searches/<int:pk>/delete/", views.saved_delete, name="saved_delete"),
]
