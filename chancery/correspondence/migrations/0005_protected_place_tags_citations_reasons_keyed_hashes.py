"""Protected dispatches: place and tags move into `meta_ciphertext` (tags in `tag_index` as
keyed tokens), free-text citations into `Citation.external_ciphertext` (both AES-GCM under
the dispatch's data key, bound as `content.meta_aad` / `content.citation_aad`), grant and
marking-change reasons are sealed (`protected_text`), and attachment hashes become keyed
(HMAC of the SHA-256 under the "attachment" hash key). Existing rows are converted."""

import json

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

PROTECTED = Q(classification__gte=1) | Q(transmission="encrypted")


def _marking_text(level, codes):
    codes = sorted(codes)
    return f"{int(level)}:{','.join(codes)}" if codes else str(int(level))


def _aad(kind, dispatch_id, marking):
    from chancery.crypto import envelope

    return envelope.associated_data(f"dispatch.{kind}", dispatch_id, marking)


def _protected_dispatches(apps):
    Dispatch = apps.get_model("correspondence", "Dispatch")
    return list(Dispatch.objects.filter(PROTECTED, data_key__isnull=False).select_related("data_key").order_by("pk"))


def _seal_reasons(apps, kind, model, condition):
    from chancery.correspondence.protected_text import seal

    for row in list(model.objects.filter(condition, reason_ciphertext__isnull=True).exclude(reason="")):
        data_key, ciphertext = seal(row.reason, kind=kind, dispatch_id=row.dispatch_id)
        row.reason_key_id, row.reason_ciphertext, row.reason = data_key.pk, ciphertext, ""
        row.save(update_fields=["reason_key", "reason_ciphertext", "reason"])


def _unseal_reasons(apps, kind, model):
    from chancery.correspondence.protected_text import unseal

    DataKey = apps.get_model("crypto", "DataKey")
    for row in list(model.objects.filter(reason_ciphertext__isnull=False)):
        data_key = DataKey.objects.get(pk=row.reason_key_id)
        row.reason = unseal(row.reason_ciphertext, data_key, kind=kind, dispatch_id=row.dispatch_id)
        row.reason_ciphertext, row.reason_key_id = None, None
        row.save(update_fields=["reason_key", "reason_ciphertext", "reason"])


def encrypt_existing(apps, schema_editor):
    from chancery.crypto import envelope, keyed
    from chancery.crypto.services import unwrap

    Citation = apps.get_model("correspondence", "Citation")
    Attachment = apps.get_model("correspondence", "Attachment")
    tag_key = attachment_key = None
    # lists, not .iterator(): SQLite gives no isolation between a cursor and writes to its table
    for dispatch in _protected_dispatches(apps):
        key = unwrap(data_key=dispatch.data_key)
        marking = _marking_text(dispatch.classification, dispatch.compartments.values_list("code", flat=True))
        if dispatch.meta_ciphertext is None:
            tags = [str(t) for t in dispatch.tags or []]
            raw = json.dumps({"place": dispatch.place, "tags": tags}, ensure_ascii=False).encode("utf-8")
            dispatch.meta_ciphertext = envelope.encrypt(raw, key, _aad("meta", dispatch.pk, marking))
            if tags:
                tag_key = tag_key or keyed.hash_key("tag")
                tokens = keyed.seal_terms("tag", tags, tag_key)
                dispatch.tag_index = "|" + "|".join(tokens[t] for t in tags) + "|"
            else:
                dispatch.tag_index = ""
            dispatch.place, dispatch.tags = "", []
            dispatch.save(update_fields=["meta_ciphertext", "tag_index", "place", "tags"])
        for citation in list(Citation.objects.filter(citing=dispatch, cited__isnull=True, external_ciphertext__isnull=True)):
            citation.external_ciphertext = envelope.encrypt(
                citation.external_reference.encode(), key, _aad("citation", dispatch.pk, marking)
            )
            citation.external_reference = ""
            citation.save(update_fields=["external_ciphertext", "external_reference"])
        for attachment in list(Attachment.objects.filter(dispatch=dispatch, hash_keyed=False)):
            attachment_key = attachment_key or keyed.hash_key("attachment")
            attachment.sha256 = keyed.hex_digest(attachment_key, bytes.fromhex(attachment.sha256))
            attachment.hash_keyed = True
            attachment.save(update_fields=["sha256", "hash_keyed"])
    _seal_reasons(
        apps, "grant.reason", apps.get_model("correspondence", "DispatchGrant"),
        Q(dispatch__classification__gte=1) | Q(dispatch__transmission="encrypted"),
    )
    _seal_reasons(
        apps, "marking.reason", apps.get_model("correspondence", "MarkingChange"),
        Q(from_level__gte=1) | Q(to_level__gte=1) | Q(dispatch__transmission="encrypted"),
    )


def decrypt_existing(apps, schema_editor):
    """Back to clear columns; keyed attachment hashes cannot be undone without the files
    and are left keyed (the older code then reports them as not matching)."""
    from chancery.crypto import envelope
    from chancery.crypto.services import unwrap

    Citation = apps.get_model("correspondence", "Citation")
    for dispatch in _protected_dispatches(apps):
        key = unwrap(data_key=dispatch.data_key)
        marking = _marking_text(dispatch.classification, dispatch.compartments.values_list("code", flat=True))
        if dispatch.meta_ciphertext is not None:
            meta = json.loads(envelope.decrypt(bytes(dispatch.meta_ciphertext), key, _aad("meta", dispatch.pk, marking)))
            dispatch.place, dispatch.tags = meta["place"], meta["tags"]
            dispatch.tag_index = ("|" + "|".join(meta["tags"]) + "|") if meta["tags"] else ""
            dispatch.meta_ciphertext = None
            dispatch.save(update_fields=["meta_ciphertext", "tag_index", "place", "tags"])
        for citation in list(Citation.objects.filter(citing=dispatch, external_ciphertext__isnull=False)):
            citation.external_reference = envelope.decrypt(
                bytes(citation.external_ciphertext), key, _aad("citation", dispatch.pk, marking)
            ).decode()
            citation.external_ciphertext = None
            citation.save(update_fields=["external_ciphertext", "external_reference"])
    _unseal_reasons(apps, "grant.reason", apps.get_model("correspondence", "DispatchGrant"))
    _unseal_reasons(apps, "marking.reason", apps.get_model("correspondence", "MarkingChange"))


class Migration(migrations.Migration):

    dependencies = [
        ('correspondence', '0004_working_day'),
        ('crypto', '0002_keyed_hash_keys_and_sealed_terms'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='citation',
            name='corr_citation_target',
        ),
        migrations.AddField(
            model_name='attachment',
            name='hash_keyed',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='citation',
            name='external_ciphertext',
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dispatch',
            name='meta_ciphertext',
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dispatchgrant',
            name='reason_ciphertext',
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dispatchgrant',
            name='reason_key',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crypto.datakey'),
        ),
        migrations.AddField(
            model_name='markingchange',
            name='reason_ciphertext',
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='markingchange',
            name='reason_key',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crypto.datakey'),
        ),
        migrations.AlterField(
            model_name='dispatchgrant',
            name='reason',
            field=models.CharField(blank=True, max_length=500, verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='markingchange',
            name='reason',
            field=models.TextField(blank=True, verbose_name='reason'),
        ),
        migrations.AddConstraint(
            model_name='citation',
            constraint=models.CheckConstraint(condition=models.Q(('cited__isnull', False), models.Q(('external_reference', ''), _negated=True), ('external_ciphertext__isnull', False), _connector='OR'), name='corr_citation_target'),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
