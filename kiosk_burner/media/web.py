"""The disc's readable part (IHE RAD TF-3 4.47.4.1.3 web content): ``README.TXT`` and
``INDEX.HTM`` at the root, and ``IHE_PDI/`` with the overview (patient, exams, report text,
a JPEG preview of each series). XHTML 1.0 Strict in UTF-8, no scripts, no styles from
anywhere but the page itself, every link relative and 8.3 so it resolves on the disc."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from kiosk_burner.contract import DiscExam, Manifest

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="zh-CN" xml:lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{title}</title>
<style type="text/css">
body {{ font-family: sans-serif; margin: 1em 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: 0.3em; }}
.series {{ display: inline-block; margin: 0.5em; text-align: center; }}
</style>
</head>
<body>
"""
TAIL = "</body>\n</html>\n"
SEX = {"M": "男 Male", "F": "女 Female", "O": "其他 Other"}


@dataclass
class SeriesPage:
    description: str
    modality: str
    images: int
    preview: str  # path relative to the disc root, "" when none could be made


@dataclass
class ExamPage:
    exam: DiscExam
    series: list[SeriesPage] = field(default_factory=list)
    report_pdf: str = ""  # path relative to the disc root


def _patient(manifest: Manifest) -> str:
    rows = [
        ("姓名 Name", f"{manifest.patient_name} ({manifest.patient_name_latin})"),
        ("患者号 Patient ID", manifest.patient_id),
        ("出生日期 Birth date", manifest.birth_date),
        ("性别 Sex", SEX.get(manifest.sex, "")),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>\n" for k, v in rows)
    return f"<table>\n{cells}</table>\n"


def _disc_line(number: int, of: int) -> str:
    return f"<p>光盘 Disc {number}/{of}</p>\n" if of > 1 else ""


def root_index(manifest: Manifest, exams: list[ExamPage], number: int, of: int, viewer: str) -> str:
    """``INDEX.HTM``: who, what, and links to the overview, the reports, README and viewer."""
    title = f"{manifest.hospital_name} {manifest.patient_name}"
    links = ['<li><a href="IHE_PDI/INDEX.HTM">影像与报告 Images and reports</a></li>']
    for page in exams:
        if page.report_pdf:
            name = escape(f"{page.exam.exam_date} {page.exam.procedure}")
            links.append(f'<li><a href="{page.report_pdf}">报告 PDF Report: {name}</a></li>')
    if viewer:
        links.append(f'<li><a href="{escape(viewer)}">影像浏览器 DICOM viewer (Windows)</a></li>')
    links.append('<li><a href="README.TXT">说明 README.TXT</a></li>')
    body = (
        f"<h1>{escape(manifest.hospital_name)}</h1>\n{_disc_line(number, of)}"
        f"{_patient(manifest)}<ul>\n" + "\n".join(links) + "\n</ul>\n"
    )
    return HEAD.format(title=escape(title)) + body + TAIL


def overview(manifest: Manifest, exams: list[ExamPage], number: int, of: int) -> str:
    """``IHE_PDI/INDEX.HTM``: each exam with its report text and its series' previews."""
    parts = [f"<h1>{escape(manifest.patient_name)}</h1>\n", _disc_line(number, of)]
    parts.append(_patient(manifest))
    parts.append('<p><a href="../INDEX.HTM">返回 Back</a></p>\n')
    for page in exams:
        exam = page.exam
        parts.append(
            f"<h2>{escape(exam.exam_date)} {escape(exam.procedure)}</h2>\n"
            f"<p>检查号 Accession {escape(exam.accession_number)} · {escape(exam.modality)}"
            f" · {exam.images} 幅 images</p>\n"
        )
        if exam.report_html:
            # The core sends the signed report as sanitised HTML (no scripts).
            parts.append(f'<div class="report">\n{exam.report_html}\n</div>\n')
        if page.report_pdf:
            parts.append(f'<p><a href="../{page.report_pdf}">报告 PDF Report</a></p>\n')
        for series in page.series:
            img = (
                f'<img src="../{series.preview}" alt="{escape(series.description)}" /><br />'
                if series.preview
                else ""
            )
            parts.append(
                f'<div class="series">{img}{escape(series.modality)} '
                f"{escape(series.description)} ({series.images})</div>\n"
            )
    return HEAD.format(title=escape(manifest.patient_name)) + "".join(parts) + TAIL


def readme(manifest: Manifest, number: int, of: int, viewer: str, contact: str) -> str:
    """``README.TXT`` (PDI: the creator, how to reach it, what is on the disc and how to
    read it). CRLF line ends for Windows Notepad."""
    lines = [
        f"{manifest.hospital_name}",
        contact,
        "",
        f"患者 Patient: {manifest.patient_name} ({manifest.patient_name_latin}), "
        f"ID {manifest.patient_id}",
        f"光盘 Disc {number}/{of}",
        "",
        "本光盘符合 IHE PDI (Portable Data for Imaging) 与 DICOM PS3.10/PS3.12 (STD-GEN-CD/DVD)。",
        "This disc follows IHE PDI and DICOM PS3.10 / PS3.12 (STD-GEN-CD / DVD).",
        "",
        "DICOMDIR     DICOM 目录 / the DICOM directory (for PACS import and DICOM viewers)",
        "DICOM/       DICOM 影像原件 / the original images, unchanged",
        "INDEX.HTM    用浏览器打开 / open in any web browser: patient, exams, reports, previews",
        "IHE_PDI/     网页内容 / the web pages and JPEG previews (not for diagnosis)",
        "REPORTS/     签名报告 PDF / the signed reports",
    ]
    if viewer:
        lines.append(
            f"{viewer:<12} Windows 影像浏览器，无需安装 / DICOM viewer, runs from the disc"
        )
    lines += [
        "",
        "预览图仅供参考，诊断请使用 DICOM 影像。 Previews are not for diagnosis.",
        "Created by kiosk_burner (imaging-appliance).",
    ]
    return "\r\n".join(lines) + "\r\n"
