"""API: letter imports — preview an uploaded letter, then confirm it with corrections.

`POST /api/v1/imports/letters` (multipart `file`, optional `unit`) answers the extracted record
(`record`, the shape of `samples/letters/*.expected.json`), the details (`details`: sources,
axes, objectives, problems), the unit matches and the import's id; nothing but the encrypted
pending file is saved. `POST /api/v1/imports/letters/{import_id}/confirm` with corrections
(any of the preview's fields) saves everything in one transaction. Registry agents only
(REGISTER_INCOMING); another agent's import answers 404.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from chancery.accounts.roles import Capability
from chancery.core.gate import get_visible_or_404
from chancery.imports import services
from chancery.imports.models import ImportStatus, LetterImport

if TYPE_CHECKING:
    from chancery.accounts.models import User

router = Router(tags=["imports"])


class PreviewOut(Schema):
    import_id: int | None
    sha256: str
    duplicate_of: str | None = Field(None, description="reference of the dispatch this file already became")
    blocking: str | None = None
    programme_obstacle: str | None = None
    record: dict[str, Any]
    fields: dict[str, Any] = Field(
        description="per field of the record: value, confidence (0-1, null when not found), check (read with low "
        "confidence: to be checked), line and source (the line it was read from)"
    )
    details: dict[str, Any]
    routing: list[dict[str, Any]]
    mission: dict[str, Any]


class CorrectionsIn(Schema):
    subject: str | None = None
    body: str | None = None
    place: str | None = None
    dated: date | None = None
    external_reference: str | None = None
    sender_name: str | None = None
    mission: str | None = Field(None, description="code of the sending mission ('' for none)")
    kind: str | None = None
    classification: int | str | None = None
    transmission: str | None = None
    attribution: list[str] | None = Field(None, description="unit codes for action (replaces the matched ones)")
    information: list[str] | None = None
    cites: list[str] | None = None
    attachments: list[str] | None = None
    create_programme: bool | None = None
    programme_year: int | None = None
    programme_end_year: int | None = None


class ImportedOut(Schema):
    import_id: int
    dispatch_id: int
    reference: str
    programme_id: int | None
    warnings: list[str]


def _registry_agent(request: HttpRequest) -> Any:
    user = request.user
    if not user.has_capability(Capability.REGISTER_INCOMING):  # type: ignore[union-attr]
        raise Http404("not found")
    return user


def _failure(request: HttpRequest, exc: services.ImportFailed) -> HttpResponse:
    """The error as JSON, its `code` the stable one of the import (`empty`, `zip_bomb`, `duplicate`…)."""
    from chancery.api import error_response

    status = {"duplicate": 409, "already_confirmed": 409, "too_large": 413, "not_allowed": 403}.get(exc.code, 422)
    return error_response(request, status, exc.code, exc.message)


@router.post("/imports/letters", response={201: PreviewOut})
def preview_letter(
    request: HttpRequest, file: File[UploadedFile], unit: Form[str] = ""
) -> Any:
    """Read an uploaded letter (multipart field `file`; `unit`: the registering unit's code)."""
    user = _registry_agent(request)
    try:
        registry_unit = services.registry_unit_for(user, unit or None)
        if (file.size or 0) > services.MAX_LETTER_BYTES:
            raise services.ImportFailed("too_large", "The file exceeds the maximum allowed size.")
        preview = services.preview_letter(
            actor=user, data=file.read(), filename=file.name or "letter", registry_unit=registry_unit
        )
    except services.ImportFailed as exc:
        return _failure(request, exc)
    details = preview.extraction.to_dict()
    details.pop("text", None)
    duplicate = preview.duplicate.dispatch if preview.duplicate is not None else None
    return Status(201, {
        "import_id": preview.letter_import.pk if preview.letter_import else None,
        "sha256": preview.content_hash,
        "duplicate_of": getattr(duplicate, "reference", None) if duplicate is not None
        and _can_read(user, duplicate) else None,
        "blocking": preview.blocking,
        "programme_obstacle": preview.programme_obstacle,
        "record": preview.extraction.to_expected_dict(),
        "fields": details.pop("fields"),
        "details": details,
        "routing": [{"kind": line.kind, **line.match.to_dict()} for line in preview.routing],
        "mission": preview.mission.to_dict(),
    })


def _can_read(user: User, dispatch: Any) -> bool:
    from chancery.correspondence.models import Dispatch

    return Dispatch.objects.visible_to(user).filter(pk=dispatch.pk).exists()


@router.post("/imports/letters/{import_id}/confirm", response={201: ImportedOut}, openapi_extra={
    "requestBody": {"content": {"application/json": {"schema": CorrectionsIn.model_json_schema()}}}
})
def confirm_letter(request: HttpRequest, import_id: int) -> Any:
    """Save a previewed letter with corrections: a JSON object with any of the fields of
    `CorrectionsIn` (fields left out keep the extracted values; an empty body confirms as read)."""
    user = _registry_agent(request)
    row = get_visible_or_404(LetterImport.objects.all(), user, pk=import_id)
    if row.status != ImportStatus.PREVIEWED:
        raise HttpError(409, "This letter has already been imported.")
    try:
        raw = json.loads(request.body or b"{}")
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        values = CorrectionsIn(**raw).dict(exclude_unset=True)
    except (ValueError, PydanticValidationError) as exc:
        from chancery.api import error_response

        return error_response(request, 422, "invalid", "The corrections are not a valid JSON object.",
                              errors={"__all__": [str(exc)[:500]]})
    try:
        result = services.confirm_import(actor=user, letter_import=row, corrections=values)
    except services.ImportFailed as exc:
        if exc.errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(exc.errors) from exc
        return _failure(request, exc)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    return Status(201, {
        "import_id": row.pk,
        "dispatch_id": result.dispatch.pk,
        "reference": result.dispatch.reference,
        "programme_id": getattr(result.programme, "pk", None),
        "warnings": result.warnings,
    })
