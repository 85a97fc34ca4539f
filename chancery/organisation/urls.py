from django.urls import include, path

from chancery.organisation import views

app_name = "organisation"
urlpatterns = [
    path("", views.unit_tree, name="unit_tree"),
    path("keys/", views.unit_keys, name="unit_keys"),
    path("units/<path:code>/", views.unit_detail, name="unit_detail"),
    path("people/", views.people, name="people"),
    path("people/<str:username>/", views.person_detail, name="person_detail"),
    path("admin/", include("chancery.organisation.admin_urls")),
]
