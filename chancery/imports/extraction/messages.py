"""User-facing messages in the four interface languages.

Kept free of gettext so the package stays usable without Django; the keys are stable, the
texts may be reworded.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "ar")

FIELD_LABELS: dict[str, dict[str, str]] = {
    "place": {"fr": "Lieu", "en": "Place", "es": "Lugar", "ar": "المكان"},
    "date": {"fr": "Date", "en": "Date", "es": "Fecha", "ar": "التاريخ"},
    "reference": {"fr": "Référence", "en": "Reference", "es": "Referencia", "ar": "المرجع"},
    "attribution": {"fr": "Pour attribution", "en": "For action", "es": "Para acción", "ar": "للإجراء"},
    "information": {"fr": "Pour information", "en": "For information", "es": "Para información", "ar": "للعلم"},
    "transmission": {"fr": "Transmission", "en": "Transmission", "es": "Transmisión", "ar": "طريقة الإرسال"},
    "classification": {"fr": "Diffusion", "en": "Classification", "es": "Clasificación", "ar": "درجة السرية"},
    "cites": {"fr": "Réf.", "en": "Ref.", "es": "Ref.", "ar": "المراسلات المشار إليها"},
    "subject": {"fr": "Objet", "en": "Subject", "es": "Asunto", "ar": "الموضوع"},
    "attachments": {"fr": "PJ", "en": "Attachments", "es": "Anexos", "ar": "المرفقات"},
    "programme.year": {
        "fr": "Année du programme",
        "en": "Programme year",
        "es": "Año del programa",
        "ar": "سنة البرنامج",
    },
    "programme.axes": {"fr": "Volets", "en": "Axes", "es": "Ejes", "ar": "المحاور"},
    "text": {"fr": "Texte", "en": "Text", "es": "Texto", "ar": "النص"},
}

_CATALOGUE: dict[str, dict[str, str]] = {
    "error.empty": {
        "fr": "Le fichier est vide.",
        "en": "The file is empty.",
        "es": "El archivo está vacío.",
        "ar": "الملف فارغ.",
    },
    "error.too_large": {
        "fr": "Le fichier dépasse la taille maximale autorisée ({limit}).",
        "en": "The file exceeds the maximum allowed size ({limit}).",
        "es": "El archivo supera el tamaño máximo permitido ({limit}).",
        "ar": "يتجاوز الملف الحجم الأقصى المسموح به ({limit}).",
    },
    "error.binary": {
        "fr": "Le fichier ne contient pas de texte lisible (contenu binaire ou encodage inconnu).",
        "en": "The file does not contain readable text (binary content or unknown encoding).",
        "es": "El archivo no contiene texto legible (contenido binario o codificación desconocida).",
        "ar": "لا يحتوي الملف على نص مقروء (محتوى ثنائي أو ترميز غير معروف).",
    },
    "error.unsupported_format": {
        "fr": "Format de fichier non pris en charge. Formats acceptés : TXT, Markdown, DOCX, ODT, PDF, EML, HTML.",
        "en": "Unsupported file format. Accepted formats: TXT, Markdown, DOCX, ODT, PDF, EML, HTML.",
        "es": "Formato de archivo no admitido. Formatos aceptados: TXT, Markdown, DOCX, ODT, PDF, EML, HTML.",
        "ar": "تنسيق الملف غير مدعوم. التنسيقات المقبولة: TXT وMarkdown وDOCX وODT وPDF وEML وHTML.",
    },
    "error.zip_bomb": {
        "fr": "Le document compressé est anormal (taille décompressée ou taux de compression excessifs) "
        "et a été refusé.",
        "en": "The compressed document looks abnormal (excessive uncompressed size or compression ratio) "
        "and was refused.",
        "es": "El documento comprimido es anómalo (tamaño descomprimido o tasa de compresión excesivos) "
        "y ha sido rechazado.",
        "ar": "المستند المضغوط غير طبيعي (حجم فك الضغط أو نسبة الضغط مفرطة) وقد تم رفضه.",
    },
    "error.corrupt": {
        "fr": "Le fichier est endommagé ou illisible.",
        "en": "The file is damaged or unreadable.",
        "es": "El archivo está dañado o es ilegible.",
        "ar": "الملف تالف أو غير قابل للقراءة.",
    },
    "error.no_header": {
        "fr": "Aucun en-tête de lettre reconnaissable (date, référence, objet, destinataires) n'a été trouvé.",
        "en": "No recognisable letter header (date, reference, subject, recipients) was found.",
        "es": "No se encontró ningún encabezado de carta reconocible (fecha, referencia, asunto, destinatarios).",
        "ar": "لم يتم العثور على ترويسة رسالة يمكن التعرف عليها (التاريخ، المرجع، الموضوع، الجهات المعنية).",
    },
    "error.no_text_layer": {
        "fr": "Le PDF ne contient pas de couche texte (document numérisé ?) : une reconnaissance de "
        "caractères (OCR) est nécessaire.",
        "en": "The PDF has no text layer (scanned document?): optical character recognition (OCR) is needed.",
        "es": "El PDF no tiene capa de texto (¿documento escaneado?): se necesita reconocimiento óptico "
        "de caracteres (OCR).",
        "ar": "لا يحتوي ملف PDF على طبقة نصية (مستند ممسوح ضوئيًا؟): يلزم التعرف الضوئي على الحروف.",
    },
    "error.tool_missing": {
        "fr": "L'outil « {tool} » est introuvable sur le serveur ; installez le paquet {package} pour lire ce format.",
        "en": "The tool '{tool}' is not available on the server; install the {package} package to read this format.",
        "es": "La herramienta «{tool}» no está disponible en el servidor; instale el paquete {package} "
        "para leer este formato.",
        "ar": "الأداة «{tool}» غير متوفرة على الخادم؛ ثبّت الحزمة {package} لقراءة هذا التنسيق.",
    },
    "problem.missing": {
        "fr": "{label} : introuvable dans la lettre.",
        "en": "{label}: not found in the letter.",
        "es": "{label}: no figura en la carta.",
        "ar": "{label}: غير موجود في الرسالة.",
    },
    "problem.unreadable": {
        "fr": "{label} : valeur « {value} » non reconnue.",
        "en": "{label}: value '{value}' not recognised.",
        "es": "{label}: valor «{value}» no reconocido.",
        "ar": "{label}: القيمة «{value}» غير معروفة.",
    },
    "problem.incomplete": {
        "fr": "{label} : « {value} » semble incomplet.",
        "en": "{label}: '{value}' looks incomplete.",
        "es": "{label}: «{value}» parece incompleto.",
        "ar": "{label}: «{value}» يبدو غير مكتمل.",
    },
    "problem.duplicate": {
        "fr": "{label} : indiqué plusieurs fois ; la première valeur a été retenue.",
        "en": "{label}: given more than once; the first value was kept.",
        "es": "{label}: indicado varias veces; se ha conservado el primer valor.",
        "ar": "{label}: ورد أكثر من مرة؛ تم اعتماد القيمة الأولى.",
    },
    "problem.from_email": {
        "fr": "{label} : absent de la lettre, repris de l'en-tête du courriel.",
        "en": "{label}: not in the letter, taken from the e-mail header.",
        "es": "{label}: ausente en la carta, tomado del encabezado del correo.",
        "ar": "{label}: غير موجود في الرسالة، أُخذ من ترويسة البريد الإلكتروني.",
    },
    "problem.encoding_guess": {
        "fr": "Encodage du fichier deviné ({value}) : vérifiez les caractères accentués.",
        "en": "File encoding guessed ({value}): check accented characters.",
        "es": "Codificación del archivo deducida ({value}): compruebe los caracteres acentuados.",
        "ar": "تم تخمين ترميز الملف ({value}): تحقق من الأحرف ذات العلامات.",
    },
}


class _Params(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(key: str, **params: str) -> dict[str, str]:
    """The message `key` in every language; `field` (if given) also fills `{label}`."""
    templates = _CATALOGUE[key]
    out: dict[str, str] = {}
    for language in LANGUAGES:
        values = _Params(params)
        if "field" in params:
            values["label"] = FIELD_LABELS.get(params["field"], {}).get(language, params["field"])
        out[language] = templates[language].format_map(values)
    return out
