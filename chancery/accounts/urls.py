from django.urls import path

from chancery.accounts import absence_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/second-factor/", views.second_factor_view, name="second_factor"),
    path("second-factor/enrol/", views.enrol_view, name="enrol"),
    path("second-factor/recovery-codes/", views.recovery_codes_view, name="recovery_codes"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("absences/", absence_views.absences, name="absences"),
    path("absences/<int:absence_id>/cancel/", absence_views.cancel, name="cancel_absence"),
]
