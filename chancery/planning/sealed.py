"""Words of protected programmes at rest: sealed under the programme's data key.

Every planning model that carries free text mixes in `SealedTexts` and names its texts in
`sealed_fields` (e.g. an action's title, description and risk note). While the programme is
marked at least *Diffusion restreinte*, a save writes those columns blank (`""`, `{}` for a
JSON snapshot) and the texts, as one JSON object, into the row's `sealed_texts` column,
encrypted with AES-256-GCM (`chancery.crypto.envelope`) under the programme's data key
(`Programme.data_key`, the key of its encrypted evidence files, so `chancery rotate-keys`
re-wraps it and never touches the rows).

Associated data: ("chancery/planning-texts/v1", model label, row id, programme id), not the
programme's marking — for the reason `planning.storage` gives for files: a ciphertext cannot
move to another row, model or programme, and a change of marking re-encrypts nothing.

Reading is transparent: each sealed field's attribute is a `SealedText` descriptor that
opens the row's `sealed_texts` on first access (all its texts at once) and returns the clear
text, so templates, the API, exports, search adapters and reporting read `action.title` as
before. Keys are unwrapped once per programme and per request (`key_scope`, opened by
`SealedTextsMiddleware`), and a queryset of sealed rows fetches the keys it lacks in one query
and opens its rows at once (`SealedQuerySetMixin`), so a list costs no query per row, inside
a request or not (indexing, exports, reports).

What SQL can no longer do on sealed rows — match a word, sort by a title — is done on the
texts the reader's session decrypts (`text_filter`, or sorting in Python); never on ciphertext.

Raising a programme's marking to a protected level seals its rows in the same transaction
(`seal_programme`). Lowering it leaves the rows sealed (like its files); a row saved after
the marking went down is written in clear again, as every row of an unprotected programme.
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import reduce
from operator import or_
from typing import Any, ClassVar

from django.db import models, transaction
from django.db.models import Q

from chancery.core.classification import Level
from chancery.core.scopes import ScopeMiddleware, memory
from chancery.crypto import envelope

SEALED_COLUMN = "sealed_texts"
_CLEAR = "_sealed_clear"  # instance.__dict__ key: the clear texts once opened or assigned
_RAW = "_sealed_raw"  # instance.__dict__ flag: attribute reads return the stored column

_keys: ContextVar[dict[int, bytes] | None] = ContextVar("planning_text_keys", default=None)


# --------------------------------------------------------------------------- keys


def key_scope() -> contextlib.AbstractContextManager[None]:
    """Unwrap each programme's key at most once inside the block (a request, a command)."""
    return memory(_keys)


class SealedTextsMiddleware(ScopeMiddleware):
    """One key scope per request: keys unwrapped for a page are forgotten when it is sent."""

    scope = staticmethod(key_scope)


def _remember(programme_id: int, key: bytes) -> None:
    cache = _keys.get()
    if cache is not None:
        cache[int(programme_id)] = key


def load_keys(programme_ids: Iterable[int], *, loaded: Mapping[int, Any] | None = None) -> dict[int, bytes]:
    """The clear data keys of these programmes (one query for those not in the scope yet, nor in
    `loaded`: data keys already read with their programme, by programme id)."""
    from chancery.crypto.models import DataKey
    from chancery.crypto.services import unwrap
    from chancery.planning.models import Programme

    cache = _keys.get()
    wanted = {int(pk) for pk in programme_ids}
    found = {pk: cache[pk] for pk in wanted if cache is not None and pk in cache}
    for pk, data_key in (loaded or {}).items():
        if pk in wanted and pk not in found:
            found[pk] = unwrap(data_key=data_key)
            _remember(pk, found[pk])
    missing = sorted(wanted - set(found))
    if missing:
        rows = (
            Programme.objects.unrestricted("data keys of programmes whose rows were read through the gate")
            .filter(pk__in=missing, data_key__isnull=False)
            .values_list("pk", "data_key__kek_id", "data_key__wrapped_key")
        )
        for pk, kek_id, wrapped in rows:
            found[pk] = unwrap(data_key=DataKey(kek_id=kek_id, wrapped_key=bytes(wrapped)))
            _remember(pk, found[pk])
    return found


def _key_for_writing(programme: Any) -> bytes:
    from chancery.planning import storage

    cache = _keys.get()
    if cache is not None and programme.pk in cache:
        return cache[programme.pk]
    key = storage.programme_key(programme)  # created on first need
    _remember(programme.pk, key)
    return key


# --------------------------------------------------------------------------- the envelope


def texts_aad(label: str, pk: int, programme_id: int) -> bytes:
    return envelope.encode_fields("chancery/planning-texts/v1", label, str(int(pk)), str(int(programme_id)))


def seal(texts: dict[str, Any], *, key: bytes, label: str, pk: int, programme_id: int) -> bytes:
    payload = json.dumps(texts, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return envelope.encrypt(payload, key, texts_aad(label, pk, programme_id))


def unseal(blob: bytes, *, key: bytes, label: str, pk: int, programme_id: int) -> dict[str, Any]:
    texts: dict[str, Any] = json.loads(envelope.decrypt(bytes(blob), key, texts_aad(label, pk, programme_id)))
    return texts


def blank_for(field: Any) -> Any:
    """What a sealed row stores in the clear column of a sealed text."""
    return {} if isinstance(field, models.JSONField) else ""


def is_protected(programme: Any) -> bool:
    return int(programme.classification) >= Level.RESTRICTED


# --------------------------------------------------------------------------- the descriptor


class SealedText:
    """Attribute of a sealed field: the clear text, whether the row is sealed or not."""

    def __init__(self, field: models.Field[Any, Any]) -> None:
        self.field = field

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        data = instance.__dict__
        name = self.field.attname
        if data.get(_RAW):
            return data.get(name)
        clear = data.get(_CLEAR)
        if clear is not None and name in clear:
            return clear[name]
        if name not in data:  # deferred column
            instance.refresh_from_db(fields=[name])
            clear = data.get(_CLEAR)
            if clear is not None and name in clear:
                return clear[name]
        if SEALED_COLUMN not in data:
            instance.refresh_from_db(fields=[SEALED_COLUMN])
        if data.get(SEALED_COLUMN):
            instance.open_texts()
            return data[_CLEAR][name]
        return data[name]

    def __set__(self, instance: Any, value: Any) -> None:
        data = instance.__dict__
        data[self.field.attname] = value
        if not data.get(_RAW):
            data.setdefault(_CLEAR, {})[self.field.attname] = value


def _stored_value(field: Any, instance: Any, add: bool) -> Any:
    return instance.__dict__.get(field.attname)


class SealedTexts(models.Model):
    """Mixin of a planning model whose `sealed_fields` are sealed for protected programmes.

    `programme_path`: attributes leading from the row to its programme ("" for the programme
    itself, "axis.programme" for an objective).
    """

    sealed_fields: ClassVar[tuple[str, ...]] = ()
    programme_path: ClassVar[str] = "programme"

    sealed_texts = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from django.db.models.signals import class_prepared

        def install(sender: Any, **_kwargs: Any) -> None:
            if sender is cls and not cls._meta.abstract:
                for name in cls.sealed_fields:
                    field = cls._meta.get_field(name)
                    setattr(cls, name, SealedText(field))
                    # What an INSERT or UPDATE writes: the stored column, never the clear text.
                    field.pre_save = types.MethodType(_stored_value, field)

        class_prepared.connect(install, weak=False)

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not set(update_fields) & {*self.sealed_fields, SEALED_COLUMN}:
            super().save(*args, **kwargs)
            return
        texts, programme = self._prepare_write()
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, *self.sealed_fields, SEALED_COLUMN}
        inserting = self.pk is None
        try:
            with transaction.atomic():
                if programme is not None and not inserting:
                    self.__dict__[SEALED_COLUMN] = self._sealed_blob(texts, programme)
                super().save(*args, **kwargs)
                if programme is not None and inserting:
                    # The id is bound into the ciphertext: known only after the insert.
                    self.__dict__[SEALED_COLUMN] = self._sealed_blob(texts, programme)
                    type(self)._base_manager.filter(pk=self.pk).update(sealed_texts=self.__dict__[SEALED_COLUMN])
        finally:
            self.__dict__[_CLEAR] = dict(texts)

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Any:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance.__dict__.pop(_CLEAR, None)  # what was set came from the columns, not a writer
        return instance

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("fields") or (args[1] if len(args) > 1 else None)
        if fields is None or SEALED_COLUMN in fields:
            self.__dict__.pop(_CLEAR, None)
        super().refresh_from_db(*args, **kwargs)

    # -- the programme

    def _programme_parent(self, *, lazy: bool) -> Any:
        """The object holding `programme_id` (None when reaching it would cost a query)."""
        obj: Any = self
        hops = [hop for hop in self.programme_path.split(".") if hop][:-1]
        for hop in hops:
            if not lazy and not type(obj)._meta.get_field(hop).is_cached(obj):
                return None
            obj = getattr(obj, hop)
        return obj

    def sealed_programme_id(self, *, lazy: bool = True) -> int | None:
        if not self.programme_path:
            return int(self.pk)
        parent = self._programme_parent(lazy=lazy)
        return None if parent is None else int(parent.programme_id)

    def sealed_programme(self) -> Any:
        obj: Any = self
        for hop in (hop for hop in self.programme_path.split(".") if hop):
            obj = getattr(obj, hop)
        return obj

    # -- reading

    def open_texts(self, key: bytes | None = None) -> None:
        data = self.__dict__
        programme_id = self.sealed_programme_id()
        assert programme_id is not None
        if key is None:
            key = load_keys([programme_id])[programme_id]
        texts = unseal(
            data[SEALED_COLUMN], key=key, label=self._meta.label_lower, pk=self.pk, programme_id=programme_id
        )
        clear = data.setdefault(_CLEAR, {})
        for name in self.sealed_fields:
            clear.setdefault(name, texts.get(name, blank_for(self._meta.get_field(name))))

    def clear_texts(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.sealed_fields}

    # -- writing

    @contextlib.contextmanager
    def _raw(self) -> Iterator[None]:
        self.__dict__[_RAW] = True
        try:
            yield
        finally:
            self.__dict__.pop(_RAW, None)

    def _prepare_write(self) -> tuple[dict[str, Any], Any]:
        """Clear texts, and the programme when the row must be sealed (columns blanked)."""
        texts = self.clear_texts()
        programme = self.sealed_programme() if self.programme_path else self
        protected = is_protected(programme)
        for name in self.sealed_fields:
            field: Any = self._meta.get_field(name)
            self.__dict__[field.attname] = blank_for(field) if protected else texts[name]
        self.__dict__[SEALED_COLUMN] = None
        return texts, programme if protected else None

    def _sealed_blob(self, texts: dict[str, Any], programme: Any) -> bytes:
        return seal(
            texts, key=_key_for_writing(programme), label=self._meta.label_lower, pk=self.pk, programme_id=programme.pk
        )

class SealedQuerySetMixin:
    """Querysets of sealed models: fetch the keys a result lacks in one query, and seal rows
    created in bulk."""

    _result_cache: list[Any] | None
    model: Any

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()  # type: ignore[misc]
        if fresh and self._result_cache:
            prime(self._result_cache)

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        if not issubclass(self.model, SealedTexts) or not objs:
            return super().bulk_create(objs, *args, **kwargs)  # type: ignore[misc]
        plans = [(obj, *obj._prepare_write()) for obj in objs]
        try:
            with transaction.atomic():
                created: list[Any] = super().bulk_create(objs, *args, **kwargs)  # type: ignore[misc]
                sealed = [(obj, texts, programme) for obj, texts, programme in plans if programme is not None]
                for obj, texts, programme in sealed:
                    obj.__dict__[SEALED_COLUMN] = obj._sealed_blob(texts, programme)
                if sealed:
                    self.model._base_manager.bulk_update([obj for obj, *_rest in sealed], [SEALED_COLUMN])
        finally:
            for obj, texts, _programme in plans:
                obj.__dict__[_CLEAR] = dict(texts)
        return created


def prime(rows: Iterable[Any]) -> None:
    """Open the sealed texts of freshly fetched rows, with the keys of their programmes loaded
    in one query (those already in the key scope cost none). A row whose programme is only
    reachable through a query (an objective through its axis) opens on first access."""
    related = _with_related(rows)
    sealed = [row for row in related if row.__dict__.get(SEALED_COLUMN)]
    if not sealed:
        return
    by_programme = [(row, row.sealed_programme_id(lazy=False)) for row in sealed]
    # Programmes read with `select_related("data_key")` bring their key: no query for those.
    loaded = {
        row.pk: row._state.fields_cache["data_key"]
        for row in related
        if row._meta.label_lower == "planning.programme" and row._state.fields_cache.get("data_key") is not None
    }
    keys = load_keys({pid for _row, pid in by_programme if pid is not None}, loaded=loaded)
    for row, pid in by_programme:
        if pid is not None and pid in keys and not (row.__dict__.get(_CLEAR) or {}).keys() >= set(row.sealed_fields):
            row.open_texts(keys[pid])


def _with_related(rows: Iterable[Any], depth: int = 3) -> list[SealedTexts]:
    """The sealed rows among `rows` and the objects `select_related` attached to them."""
    found: dict[tuple[str, Any], SealedTexts] = {}
    level = [row for row in rows if isinstance(row, models.Model)]
    for _ in range(depth):
        following = []
        for row in level:
            if isinstance(row, SealedTexts):
                found.setdefault((row._meta.label_lower, id(row)), row)
            following += [obj for obj in row._state.fields_cache.values() if isinstance(obj, models.Model)]
        level = following
    return list(found.values())


# --------------------------------------------------------------------------- lists


def text_filter(qs: Any, text: str, fields: tuple[str, ...], also: Q | None = None) -> Any:
    """`qs` narrowed to rows where `text` occurs in one of `fields` (case-insensitive): SQL for
    the rows in clear, the reader's decrypted texts for sealed rows (few: the reader's own)."""
    clear = reduce(or_, (Q(**{f"{name}__icontains": text}) for name in fields))
    if also is not None:
        clear |= also
    needle = text.casefold()
    matched = [
        row.pk
        for row in qs.filter(**{f"{SEALED_COLUMN}__isnull": False})
        if any(needle in str(getattr(row, name) or "").casefold() for name in fields)
    ]
    return qs.filter(clear | Q(pk__in=matched))


# --------------------------------------------------------------------------- marking changes


def sealed_models() -> list[Any]:
    from django.apps import apps

    return [m for m in apps.get_app_config("planning").get_models() if issubclass(m, SealedTexts)]


def _path_lookup(model: Any) -> str:
    return model.programme_path.replace(".", "__")


def seal_rows(model: Any, rows: Iterable[Any], *, names: Iterable[str], programme_id: int, key: bytes) -> int:
    """Seal rows still in clear: reads and writes the columns only, so the data migration
    uses it on historical models too."""
    fields: list[Any] = [model._meta.get_field(name) for name in names]
    count = 0
    for row in rows:
        raw = row._raw() if isinstance(row, SealedTexts) else contextlib.nullcontext()
        with raw:
            texts = {field.name: getattr(row, field.attname) for field in fields}
        blob = seal(texts, key=key, label=model._meta.label_lower, pk=row.pk, programme_id=programme_id)
        blanks = {field.attname: blank_for(field) for field in fields}
        count += model._base_manager.filter(pk=row.pk, **{f"{SEALED_COLUMN}__isnull": True}).update(
            **blanks, **{SEALED_COLUMN: blob}
        )
    return count


def seal_programme(programme: Any) -> int:
    """Seal every text of a protected programme still stored in clear (after its marking
    was raised; call inside the transaction that raised it). Returns the rows sealed."""
    if not is_protected(programme):
        return 0
    key = _key_for_writing(programme)
    count = 0
    for model in sealed_models():
        if not model.programme_path:
            rows = model._base_manager.filter(pk=programme.pk, **{f"{SEALED_COLUMN}__isnull": True})
        else:
            rows = model._base_manager.filter(
                **{_path_lookup(model): programme.pk, f"{SEALED_COLUMN}__isnull": True}
            )
        count += seal_rows(model, list(rows), names=model.sealed_fields, programme_id=programme.pk, key=key)
    return count
