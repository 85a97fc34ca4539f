"""Ordinary administration pages (units, agents, memberships, clearances)."""

from django.urls import path

from chancery.organisation import admin_views

urlpatterns = [
    path("", admin_views.admin_home, name="admin_home"),
]
