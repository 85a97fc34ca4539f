"""DOCX, ODT, PDF (made by the real LibreOffice), hand-built DOCX, e-mail and HTML letters."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from chancery.imports.extraction import ExtractionError, extract_letter, extract_letter_path

from .test_extraction_samples import SAMPLES_DIR, assert_matches, expected, sample_text

CONVERTED = ["fr-plan-2022-dakar", "es-plan-2024-lima", "en-cable-2023-ottawa"]


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.fail("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui")
    return found


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample letters converted by LibreOffice to DOCX, ODT and PDF (one private profile)."""
    soffice = _soffice()
    folder = tmp_path_factory.mktemp("office")
    for name in CONVERTED:
        shutil.copy(SAMPLES_DIR / f"{name}.txt", folder / f"{name}.txt")
    profile = (folder / "profile").as_uri()
    for target in ("docx", "odt", "pdf"):
        subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation={profile}",
                "--infilter=Text (encoded):UTF8,LF,,,",
                "--convert-to",
                target,
                "--outdir",
                str(folder),
                *(str(folder / f"{name}.txt") for name in CONVERTED),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    return folder


@pytest.mark.parametrize("target", ["docx", "odt", "pdf"])
@pytest.mark.parametrize("name", CONVERTED)
def test_libreoffice_documents(office_files: Path, name: str, target: str) -> None:
    path = office_files / f"{name}.{target}"
    assert path.is_file(), f"LibreOffice did not produce {path.name}"
    result = extract_letter(path.read_bytes(), path.name)
    assert result.source_format == target
    assert_matches(result, expected(name))


def test_pdf_spans_follow_wrapped_lines(office_files: Path) -> None:
    result = extract_letter_path(office_files / "fr-plan-2022-dakar.pdf")
    assert result.programme is not None
    target = result.programme.indicators[1]
    assert target.span.last_line > target.span.first_line  # the sentence wraps in the PDF layout
    assert "50 millions EUR" in " ".join(target.span.text.split())


def test_format_is_sniffed_not_taken_from_the_name(office_files: Path) -> None:
    data = (office_files / "fr-plan-2022-dakar.docx").read_bytes()
    assert extract_letter(data, "upload.bin").source_format == "docx"
    assert extract_letter(data, "").source_format == "docx"


# --- DOCX written by hand: tables, numbering, runs split by formatting --------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _run(text: str, superscript: bool = False) -> str:
    props = '<w:rPr><w:vertAlign w:val="superscript"/></w:rPr>' if superscript else ""
    return f'<w:r>{props}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def _para(*runs: str, numbered: bool = False) -> str:
    props = '<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>' if numbered else ""
    return f"<w:p>{props}{''.join(runs)}</w:p>"


def _row(*cells: str) -> str:
    return "<w:tr>" + "".join(f"<w:tc>{_para(_run(cell))}</w:tc>" for cell in cells) + "</w:tr>"


def make_docx(body: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>{body}'
            "</w:body></w:document>",
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_handmade_docx_with_header_table_and_numbered_volets() -> None:
    body = "".join(
        [
            _para(_run("Dakar, le 1"), _run("er", superscript=True), _run(" aout 2022")),
            "<w:tbl>",
            _row("Référence :", "DKR/2022/0456"),
            _row("Pour attribution :", "DAB/2"),
            _row("Pour information :", "DG3/1 ; DCP/5"),
            _row("Transmission :", "Cryptée"),
            _row("Diffusion :", "Confidentiel"),
            "</w:tbl>",
            _para(),
            _para('<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">Objet : </w:t></w:r>', _run("Programme ")),
            _para(_run("d'actions pour 2023")),
            _para(),
            _para(_run("J'ai l'honneur de vous transmettre le programme d'actions de cette Ambassade.")),
            _para(_run("Volet politique"), numbered=True),
            _para(_run("Deux visites ministérielles."), "<w:r><w:br/></w:r>", _run("Un dialogue stratégique.")),
            _para(_run("Volet économique"), numbered=True),
            _para(_run("Les exportations ont atteint 8 millions EUR en 2021 ; objectif : 10 millions EUR en 2023.")),
            _para(),
            _para(_run("PJ :"), "<w:r><w:tab/></w:r>", _run("Tableau des actions")),
        ]
    )
    result = extract_letter(make_docx(body), "lettre.docx")
    dispatch = result.dispatch
    assert (dispatch.place, str(dispatch.date)) == ("Dakar", "2022-08-01")
    assert dispatch.reference == "DKR/2022/0456"
    assert dispatch.information == ["DG3/1", "DCP/5"]
    assert (dispatch.transmission, dispatch.classification) == ("encrypted", "confidential")
    assert dispatch.subject == "Programme d'actions pour 2023"  # the subject wraps onto a second paragraph
    assert dispatch.attachments == ["Tableau des actions"]
    assert result.programme is not None
    assert result.programme.to_expected_dict() == {
        "year": 2023,
        "axes": ["political", "economic"],
        "indicators": [
            {"value": 8, "unit": "million EUR", "year": 2021, "role": "baseline"},
            {"value": 10, "unit": "million EUR", "year": 2023, "role": "target"},
        ],
    }
    assert "Un dialogue stratégique." in result.programme.axes[0].text


def test_handmade_docx_ignores_deleted_text_and_field_codes() -> None:
    body = _para(
        _run("Objet : Visite"),
        "<w:del><w:r><w:delText>SUPPRIMÉ</w:delText></w:r></w:del>",
        "<w:r><w:instrText> PAGE </w:instrText></w:r>",
        _run(" officielle"),
    ) + _para(_run("Ottawa, 3 March 2023"))
    result = extract_letter(make_docx(body), "x.docx")
    assert result.dispatch.subject == "Visite officielle"


# --- e-mail and HTML ---------------------------------------------------------------------------


def _mail(subject: str = "Fwd: lettre") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "mission@example.org"
    message["To"] = "desk@example.org"
    message["Subject"] = subject
    message["Date"] = "Tue, 14 Sep 2021 10:00:00 +0000"
    return message


def test_eml_plain_text_letter_wins_over_mail_headers() -> None:
    name = "fr-plan-2022-dakar"
    message = _mail("Re: autre sujet")
    message.set_content(sample_text(name), charset="utf-8")
    result = extract_letter(message.as_bytes(), "message.eml")
    assert result.source_format == "eml"
    assert_matches(result, expected(name))
    assert not any(problem.code == "from_email" for problem in result.problems)


def test_eml_latin1_quoted_printable() -> None:
    name = "fr-note-2022-nouakchott"
    message = _mail()
    message.set_content(sample_text(name), charset="iso-8859-1", cte="quoted-printable")
    assert_matches(extract_letter(message.as_bytes(), "message.eml"), expected(name))


def test_eml_html_only_and_alternative() -> None:
    name = "en-cable-2023-ottawa"
    html = (
        "<html><head><style>p{}</style></head><body>"
        + "".join(f"<p>{escape(line)}</p>" for line in sample_text(name).split("\n"))
        + "</body></html>"
    )
    html_only = _mail()
    html_only.set_content(html, subtype="html")
    assert_matches(extract_letter(html_only.as_bytes(), "a.eml"), expected(name))
    both = _mail()
    both.set_content(sample_text(name))
    both.add_alternative(html, subtype="html")
    assert_matches(extract_letter(both.as_bytes(), "b.eml"), expected(name))


def test_eml_headers_fill_gaps_only() -> None:
    message = _mail("Programme d'actions 2022")
    message.set_content("Pour attribution : DAB/2\nPour information : DG3/1\n\nJ'ai l'honneur de vous écrire.\n")
    result = extract_letter(message.as_bytes(), "mail.eml")
    assert result.dispatch.subject == "Programme d'actions 2022"
    assert str(result.dispatch.date) == "2021-09-14"
    assert {p.field for p in result.problems if p.code == "from_email"} == {"subject", "date"}
    assert result.programme is not None and result.programme.year == 2022


def test_eml_is_sniffed_without_extension() -> None:
    message = _mail()
    message["MIME-Version"] = "1.0"
    message.set_content(sample_text("es-plan-2024-lima"))
    assert extract_letter(message.as_bytes(), "upload").source_format == "eml"


def test_html_file() -> None:
    name = "fr-plan-2022-dakar"
    markup = (
        "<!DOCTYPE html><html><body>"
        + "".join(f"<div>{escape(line)}</div>" for line in sample_text(name).split("\n"))
        + "</body></html>"
    )
    result = extract_letter(markup.encode(), "lettre.html")
    assert result.source_format == "html"
    assert_matches(result, expected(name))


def test_eml_with_the_letter_attached() -> None:
    name = "es-plan-2024-lima"
    message = _mail("Plan de acción 2024")
    message.set_content("Buenos días,\n\nAdjunto la carta.\n")
    message.add_attachment(sample_text(name).encode("cp1252"), maintype="text", subtype="plain", filename="carta.txt")
    result = extract_letter(message.as_bytes(), "mail.eml")
    assert result.source_format == "eml/text"
    assert_matches(result, expected(name))


def test_eml_with_only_a_docx_attachment() -> None:
    message = _mail("Visite")
    message.add_attachment(
        make_docx(_para(_run("Objet : Visite du Ministre")) + _para(_run("Ottawa, 3 March 2023"))),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="letter.docx",
    )
    result = extract_letter(message.as_bytes(), "mail.eml")
    assert result.source_format == "eml/docx"
    assert result.dispatch.subject == "Visite du Ministre"
    assert str(result.dispatch.date) == "2023-03-03"


def test_eml_without_any_letter() -> None:
    message = _mail()
    message.set_content("Bonjour, à bientôt.\n")
    message.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="logo.png")
    with pytest.raises(ExtractionError) as caught:
        extract_letter(message.as_bytes(), "mail.eml")
    assert caught.value.code == "no_header"
