"""Letter import screens: upload → preview (every field beside its source line) → confirm.

Registry agents only (`REGISTER_INCOMING`); an import is visible to the agent who made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chancery.accounts.access import agent
from chancery.accounts.roles import Capability
from chancery.core.access import require_capability
from chancery.core.classification import Marking
from chancery.core.gate import get_visible_or_404
from chancery.correspondence.models import Dispatch
from chancery.imports import services
from chancery.imports.forms import PreviewForm, UploadForm, field_rows, programme_fields, source_lines
from chancery.imports.matching import UnitDirectory
from chancery.imports.models import ImportStatus, LetterImport
from chancery.planning.services import can_view as can_view_programme

if TYPE_CHECKING:
    from chancery.accounts.models import User

RECENT = 20


def _volet_names(programme: Any, plan: Any) -> dict[str, Any]:
    """The extracted volets and candidate objectives, each with its volet's name in the reader's
    language (the extraction knows only keys such as `political`)."""
    from chancery.planning.models import AxisType

    names = {t.key: t.name for t in AxisType.objects.all()}
    return {
        "named_axes": [(axis, names.get(axis.key, axis.key)) for axis in programme.axes] if programme else [],
        "named_objectives": [(names.get(key, key), text) for key, text in plan.objectives] if plan else [],
    }


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    from chancery.correspondence import selectors as correspondence

    user = agent(request)
    return {"can_register": True, "can_draft": bool(correspondence.drafting_units(user)), **extra}


def _visible_dispatch(user: User, pk: int | None) -> Dispatch | None:
    if pk is None:
        return None
    return Dispatch.objects.visible_to(user).filter(pk=pk).first()


def _language() -> str:
    return (get_language() or "fr")[:2]


@require_http_methods(["GET", "POST"])
@require_capability(Capability.REGISTER_INCOMING)
def upload(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    units = services.registry_units(user)
    form = UploadForm(request.POST or None, request.FILES or None, units=units)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        try:
            if upload_file.size > services.MAX_LETTER_BYTES:
                raise services.ImportFailed("too_large", _("The file exceeds the maximum allowed size (%(limit)s).")
                                            % {"limit": f"{services.MAX_LETTER_BYTES // (1024 * 1024)} MB"})
            preview = services.preview_letter(
                actor=user, data=upload_file.read(), filename=upload_file.name, registry_unit=form.cleaned_data["unit"]
            )
        except services.ImportFailed as exc:
            form.add_error("file", exc.message)
        else:
            if preview.duplicate is not None:
                dispatch = _visible_dispatch(user, preview.duplicate.dispatch_id)
                if dispatch is not None:
                    messages.info(request, format_html(
                        _("This letter has already been imported: <a href=\"{}\">{}</a>."),
                        reverse("correspondence:detail", args=[dispatch.pk]), dispatch.reference,
                    ))
                else:
                    messages.info(request, _("This letter has already been imported."))
                return redirect("imports:upload")
            if preview.blocking:
                form.add_error("file", preview.blocking)
            else:
                assert preview.letter_import is not None
                return redirect("imports:preview", import_id=preview.letter_import.pk)
    recent = list(
        LetterImport.objects.visible_to(user).order_by("-created_at")[:RECENT]
    )
    return render(request, "imports/upload.html", _context(request, form=form, recent=recent))


@require_http_methods(["GET", "POST"])
@require_capability(Capability.REGISTER_INCOMING)
def preview(request: HttpRequest, import_id: int) -> HttpResponse:
    user = agent(request)
    letter_import = get_visible_or_404(LetterImport.objects.all(), user, pk=import_id)
    if letter_import.status == ImportStatus.IMPORTED:
        dispatch = _visible_dispatch(user, letter_import.dispatch_id)
        if dispatch is None:
            raise Http404("not found")
        return redirect("correspondence:detail", pk=dispatch.pk)
    if letter_import.status != ImportStatus.PREVIEWED:
        return render(request, "imports/failed.html", _context(request, letter_import=letter_import))
    try:
        current = services.load_preview(actor=user, letter_import=letter_import)
    except services.ImportFailed as exc:
        messages.error(request, exc.message)
        return redirect("imports:upload")
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    directory = UnitDirectory.load()
    form = PreviewForm(request.POST or None, preview=current, directory=directory)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.confirm_import(actor=user, letter_import=letter_import, corrections=form.corrections())
        except services.ImportFailed as exc:
            _apply_errors(form, exc)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        else:
            dispatch = result.dispatch
            messages.success(request, _("Registered under reference %(ref)s.") % {"ref": dispatch.reference})
            programme = result.programme
            if programme is not None and can_view_programme(agent(request), programme):
                messages.success(request, format_html(
                    _("Draft programme created: <a href=\"{}\">{}</a>."),
                    reverse("planning:programme_detail", args=[programme.pk]), programme.title,
                ))
            elif programme is not None:
                # The registry opened it on the mission's behalf; plans are read by the mission and its desk.
                messages.success(request, _(
                    "A draft programme for %(year)s was opened for %(mission)s: the mission and its headquarters "
                    "desk will find it among their programmes."
                ) % {"year": programme.year, "mission": programme.mission.code})
            for warning in result.warnings:
                messages.warning(request, warning)
            return redirect("correspondence:detail", pk=dispatch.pk)
    classification = form.cleaned_data.get("classification") if form.is_bound and form.is_valid() else None
    marking = Marking.of(classification if classification is not None else current.plan.classification)
    context = _context(
        request,
        form=form,
        preview=current,
        letter_import=letter_import,
        rows=field_rows(form, _language()),
        lines=source_lines(current.extraction),
        programme=current.extraction.programme,
        programme_fields=programme_fields(current.extraction),
        programme_plan=current.plan.programme,
        **_volet_names(current.extraction.programme, current.plan.programme),
        problems=[p.message(_language()) for p in current.extraction.problems if p.field.startswith("programme")
                  or p.field == "text"],
        marking=marking,
    )
    return render(request, "imports/preview.html", context)


def _apply_errors(form: PreviewForm, exc: services.ImportFailed) -> None:
    aliases = {"routings": None, "attribution": None, "information": None, "__all__": None, "attachments": None}
    if not exc.errors:
        form.add_error(None, exc.message)
        return
    for name, errors in exc.errors.items():
        target = aliases.get(name, name)
        if target is not None and target not in form.fields:
            target = None
        for error in errors:
            form.add_error(target, error)


@require_POST
@require_capability(Capability.REGISTER_INCOMING)
def discard(request: HttpRequest, import_id: int) -> HttpResponse:
    letter_import = get_visible_or_404(LetterImport.objects.all(), request.user, pk=import_id)
    if letter_import.status != ImportStatus.PREVIEWED:
        raise Http404("not found")
    services.discard_preview(actor=request.user, letter_import=letter_import)
    messages.info(request, _("The preview was discarded; nothing was saved."))
    return redirect("imports:upload")
