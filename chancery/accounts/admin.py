"""Django admin for super-administrators; ordinary administration has its own pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from chancery.accounts.models import Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["unit"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "clearance_level", "is_active"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Chancery", {"fields": ("clearance_level", "clearance_compartments", "preferred_language")}),
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        return User.objects.visible_to(request.user)
