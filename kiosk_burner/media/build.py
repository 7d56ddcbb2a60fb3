"""``build_discs``: from a disc job's manifest and its objects to one or more IHE PDI disc
images (one per medium's worth, each complete: DICOMDIR, README, index, its own reports)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiosk_burner.contract import CAPACITY, DiscImage, Manifest, Medium
from kiosk_burner.media import web
from kiosk_burner.media.dicomdir import write_dicomdir
from kiosk_burner.media.iso import write_iso
from kiosk_burner.media.layout import DiscPlan, Staged, ordered, plan, sectors, stage
from kiosk_burner.media.preview import render
from kiosk_burner.media.sources import InstanceSource
from kiosk_burner.media.viewer import Viewer, copy_viewer

# Room kept on every disc besides the DICOM files: file-system tables, DICOMDIR, pages,
# previews (about 60 kB a series) and reports; the viewer's size is added on top.
OVERHEAD = 8 * 1000 * 1000


@dataclass(frozen=True)
class DiscOptions:
    """What the kiosk's settings give the media builder."""

    viewer: Viewer | None = None
    contact: str = ""  # the hospital's address and telephone for README.TXT
    capacity: dict[str, int] | None = None  # tests: a small fake CD/DVD


def fileset_id(manifest: Manifest, number: int, of: int) -> str:
    """The File-set ID, also the ISO volume identifier (PS3.12 F.1.1): the first exam's
    accession number and the disc number, in CS characters, at most 16."""
    first = manifest.exams[0] if manifest.exams else None
    base = (first.accession_number if first else "") or (
        first.exam_date.replace("-", "") if first else "PDI"
    )
    base = re.sub(r"[^A-Z0-9_]", "_", base.upper())
    suffix = f"_{number}" if of > 1 else ""
    return base[: 16 - len(suffix)] + suffix


def choose_medium(total: int, capacity: dict[str, int], medium: Medium | None) -> Medium:
    if medium is not None:
        return medium
    return "CD" if total <= capacity["CD"] else "DVD"


def build_discs(
    manifest: Manifest,
    source: InstanceSource,
    workdir: Path,
    medium: Medium | None = None,
    options: DiscOptions | None = None,
) -> list[DiscImage]:
    """Fetch, lay out, split and write the job's discs under ``workdir`` (which the caller
    owns and may delete afterwards): ``workdir/disc-n/`` the tree, ``workdir/disc-n.iso``."""
    options = options or DiscOptions()
    capacity = options.capacity or CAPACITY
    workdir = Path(workdir)
    staged = stage(source, workdir / "staging")
    reports = _reports(manifest, source, workdir / "staging")
    extra = OVERHEAD + sum(sectors(len(r)) for r in reports.values())
    extra += options.viewer.size() if options.viewer else 0
    total = sum(sectors(s.size) for s in staged) + extra
    chosen = choose_medium(total, capacity, medium)
    room = capacity[chosen] - extra
    if room <= 0:
        raise ValueError(f"a {chosen} has no room left after the viewer and reports")
    study_order = [uid for exam in manifest.exams for uid in exam.study_instance_uids]
    discs = plan(ordered(staged, study_order), room)
    images = []
    for disc in discs:
        root = workdir / f"disc-{disc.number}"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        volume = fileset_id(manifest, disc.number, len(discs))
        accessions = _fill(root, manifest, disc, len(discs), reports, options, volume)
        iso_path = workdir / f"disc-{disc.number}.iso"
        digest = write_iso(root, iso_path, volume)
        images.append(
            DiscImage(
                disc.number,
                len(discs),
                chosen,
                iso_path,
                iso_path.stat().st_size,
                digest,
                accessions,
            )
        )
    return images


def _reports(manifest: Manifest, source: InstanceSource, folder: Path) -> dict[int, bytes]:
    found = {}
    for exam in manifest.exams:
        pdf = source.report_pdf(exam.exam_id)
        if pdf:
            found[exam.exam_id] = pdf
    return found


def _fill(
    root: Path,
    manifest: Manifest,
    disc: DiscPlan,
    of: int,
    reports: dict[int, bytes],
    options: DiscOptions,
    volume: str,
) -> tuple[str, ...]:
    """One disc's tree: DICOM files and DICOMDIR, reports, previews, pages, viewer."""
    on_disc = set(disc.study_uids)
    exams = [e for e in manifest.exams if on_disc & set(e.study_instance_uids)]
    days = {
        uid: (e.exam_date, e.accession_number)
        for e in manifest.exams
        for uid in e.study_instance_uids
    }
    write_dicomdir(root, disc.placed, volume, days)
    pages = [web.ExamPage(e) for e in exams]
    if reports:
        (root / "REPORTS").mkdir()
    for n, page in enumerate(pages, start=1):
        pdf = reports.get(page.exam.exam_id)
        if pdf:
            page.report_pdf = f"REPORTS/RPT{n:05d}.PDF"
            (root / page.report_pdf).write_bytes(pdf)
    _previews(root, disc, exams, pages)
    launch = ""
    if options.viewer:
        copy_viewer(options.viewer, root, volume)
        launch = options.viewer.launch
    (root / "INDEX.HTM").write_text(
        web.root_index(manifest, pages, disc.number, of, launch), encoding="utf-8"
    )
    (root / "IHE_PDI" / "INDEX.HTM").write_text(
        web.overview(manifest, pages, disc.number, of), encoding="utf-8"
    )
    (root / "README.TXT").write_text(
        web.readme(manifest, disc.number, of, launch, options.contact), encoding="utf-8-sig"
    )
    return tuple(e.accession_number for e in exams)


def _previews(root: Path, disc: DiscPlan, exams: list, pages: list[web.ExamPage]) -> None:
    """``IHE_PDI/IMAGES/S01E001.JPG``: the middle object of each series on this disc."""
    folder = root / "IHE_PDI" / "IMAGES"
    folder.mkdir(parents=True)
    series: dict[str, list[Staged]] = {}
    for placed in disc.placed:
        series.setdefault(placed.staged.series_uid, []).append(placed.staged)
    for page in pages:
        uids = set(page.exam.study_instance_uids)
        for members in series.values():
            if members[0].study_uid not in uids:
                continue
            header = members[0].header
            name = f"IHE_PDI/IMAGES/S{pages.index(page) + 1:02d}E{len(page.series) + 1:03d}.JPG"
            jpeg = render(members[len(members) // 2].path)
            if jpeg:
                (root / name).write_bytes(jpeg)
            page.series.append(
                web.SeriesPage(
                    str(header.get("SeriesDescription", "") or ""),
                    str(header.get("Modality", "")),
                    len(members),
                    name if jpeg else "",
                )
            )
