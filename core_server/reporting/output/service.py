"""Report output: signed reports archived as DICOM (SR and encapsulated PDF, :mod:`.archiving`),
printing with its log and reprint permission (:mod:`.printing`), and the rendering of a signed
report as the PDF both use (here).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.auth import get_user
from core_server.reporting.output import images, rendering, source
from core_server.reporting.output.archiving import Archiving
from core_server.reporting.output.models import NOT_PICTURES, PHOTO_MODALITIES
from core_server.reporting.output.printing import Printing
from core_server.ris import Ris

log = logging.getLogger(__name__)


class ReportOutput(Archiving, Printing):
    def __init__(
        self,
        engine: Engine,
        archive: Archive,
        ris: Ris | None,
        *,
        hospital: str,
        public_url: str = "",
        fallback_url: str = "",
        site_dir: Path | None = None,
        ae_title: str = "PACS",
    ) -> None:
        self.engine = engine
        self.archive = archive
        self.ris = ris
        self.hospital = hospital
        self.public_url = public_url.rstrip("/")
        self.fallback_url = fallback_url.rstrip("/")
        self.site_dir = site_dir
        self.ae_title = ae_title
        self._init_archiving()

    def display_name(self, username: str) -> str:
        """A user's display name (陈主任), the username if none is set."""
        user = get_user(self.engine, username) if username else None
        return (user.display_name or user.username) if user is not None else username

    def _department(self, code: str) -> str:
        if self.ris is None or not code:
            return code
        names = {d.code: d.name_zh for d in self.ris.departments()}
        return names.get(code, code)

    def url(self, accession_number: str, base_url: str = "") -> str:
        # The configured address, else the one the request came to (a browser printing),
        # else this machine's name (archived copies, made without a request).
        base = self.public_url or base_url.rstrip("/") or self.fallback_url
        return f"{base}/reports/view?AccessionNumber={accession_number}"

    def pictures(self, signed: source.SignedReport) -> list[rendering.KeyImagePicture]:
        """The report's key images rendered for paper (photos: the study's first ones if none
        were chosen)."""
        study = signed.study_instance_uid
        chosen = [
            (k.get("sop_instance_uid", ""), int(k.get("frame", 1) or 1), k.get("note", ""))
            for k in signed.report.key_images
        ]
        if not chosen and signed.report.modality.upper() in PHOTO_MODALITIES and study:
            chosen = [
                (a["SOPInstanceUID"], 1, "")
                for a in self.archive.find("IMAGE", {"StudyInstanceUID": study}, limit=8)
                if not str(a.get("SOPClassUID", "")).startswith(NOT_PICTURES)
            ]
        out = []
        for uid, frame, note in chosen:
            for found in self.archive.locate({"StudyInstanceUID": study, "SOPInstanceUID": uid}):
                try:
                    out.append(
                        rendering.KeyImagePicture(images.render_png(found.path, frame), note)
                    )
                except Exception:
                    log.exception("key image %s cannot be rendered for print", uid)
        return out

    def render(
        self, signed: source.SignedReport, *, copy_note: str = "", base_url: str = ""
    ) -> bytes:
        context = rendering.PrintContext(
            hospital=self.hospital,
            url=self.url(signed.report.accession_number, base_url),
            author_name=self.display_name(signed.report.author),
            signer_name=self.display_name(signed.version.username),
            copy_note=copy_note,
            department_name=self._department(signed.report.department),
        )
        html = rendering.render_html(signed, context, self.pictures(signed), self.site_dir)
        return rendering.render_pdf(html)

    def signed(self, report_id: int, version: int | None = None) -> source.SignedReport:
        """A signed version (default the newest) with its exam and patient."""
        return source.load(self.engine, self.ris, report_id, version)

    def electronic_copy(
        self, report_id: int, version: int | None = None, base_url: str = ""
    ) -> bytes:
        """The PDF to read on screen or download: marked as an electronic copy, not logged as a
        print (its viewing is audited by the caller)."""
        signed = source.load(self.engine, self.ris, report_id, version)
        return self.render(signed, copy_note="电子版，仅供浏览", base_url=base_url)
