"""Ordinary administration pages (units, agents, memberships, clearances)."""

from django.urls import path

from chancery.organisation import admin_views

urlpatterns = [
    path("", admin_views.admin_home, name="admin_home"),
    path("units/", admin_views.admin_units, name="admin_units"),
    path("units/new/", admin_views.admin_unit_create, name="admin_unit_create"),
    path("units/<path:code>/edit/", admin_views.admin_unit_edit, name="admin_unit_edit"),
    path("agents/", admin_views.admin_agents, name="admin_agents"),
    # Not under agents/<username>/: any user name stays reachable.
    path("new-agent/", admin_views.admin_agent_create, name="admin_agent_create"),
    path("agents/<str:username>/", admin_views.admin_agent, name="admin_agent"),
    path("agents/<str:username>/edit/", admin_views.admin_agent_edit, name="admin_agent_edit"),
    path("agents/<str:username>/active/", admin_views.admin_agent_set_active, name="admin_agent_set_active"),
    path("agents/<str:username>/clearance/", admin_views.admin_agent_clearance, name="admin_agent_clearance"),
    path(
        "agents/<str:username>/second-factor/reset/",
        admin_views.admin_agent_reset_second_factor,
        name="admin_agent_reset_second_factor",
    ),
    path("agents/<str:username>/memberships/", admin_views.admin_membership_add, name="admin_membership_add"),
    path(
        "agents/<str:username>/memberships/<int:membership_id>/end/",
        admin_views.admin_membership_end,
        name="admin_membership_end",
    ),
]
