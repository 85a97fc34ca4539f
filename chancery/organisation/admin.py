from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chancery.organisation.models import Unit


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "country", "city", "is_active"]
    search_fields = ["code", "name", "city"]
    list_filter = ["kind", "is_active"]
    readonly_fields = ["path"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return Unit.objects.visible_to(request.user)
