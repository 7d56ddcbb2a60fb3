"""Primera PTBurn (Bravo disc publishers): a JRQ job request dropped into PTBurn's job folder,
the state in PTBurn's renames of it and its status files.

JRQ (``Key=value`` lines): ``JobID``, ``ClientID``, ``ImageFile`` (an ISO burned as it is),
``Copies``, ``VerifyDisc``, ``RejectIfNotBlank``, ``CloseDisc``, ``PrintLabel`` (a SureThing
.std layout, or the rendered label: PTBurn prints .jpg/.bmp, not PNG) and ``MergeField`` lines
in the layout's order (only used with a .std layout).

PTBurn renames the request as it goes: ``<JobID>.INP`` while in progress, ``<JobID>.DON`` when
done, ``<JobID>.ERR`` when it failed. Its status folder holds ``SystemStatus.txt`` (the robot:
``[System]`` ``SystemError``/``SystemErrorString``, ``[Robot]`` ``InkLevel<Colour>`` percent,
``DiscsInBin``) and ``<JobID>.txt`` per job (``[JobStatus]`` ``CurrentStatus``,
``ErrorNumber``, ``ErrorString``). A job is aborted with a message file ``<JobID>.PTM``
(``Message=ABORT``) in the job folder. Text in PTBurn's files: the ANSI code page, as for Epson
(GB18030 by default)."""

from __future__ import annotations

from pathlib import Path

from device_kit.drivers import Availability, Needs
from kiosk_burner.contract import DiscImage, Label, RobotState, WriterProgress
from kiosk_burner.hardware.files import decode, key_values, read_ini, write_atomically
from kiosk_burner.hardware.hotfolder import HotFolderWriter, reason_of
from kiosk_burner.hardware.labels import merge_fields

STATUS_WORDS = (
    ("VERIF", "verifying"),
    ("PRINT", "labelling"),
    ("BURN", "burning"),
    ("RECORD", "burning"),
    ("WRIT", "burning"),
)


class PrimeraPtBurn(HotFolderWriter):
    job_suffix = ".JRQ"
    label_format = "JPEG"

    def __init__(
        self,
        hot_folder: Path,
        *,
        status_folder: Path | None = None,
        client_id: str = "kiosk-burner",
        **options,
    ) -> None:
        super().__init__(hot_folder, **options)
        self.status_folder = Path(status_folder) if status_folder else self.hot_folder / "Status"
        self.client_id = client_id
        self.name = f"Primera PTBurn {self.hot_folder}"

    @property
    def system_status(self) -> Path:
        return self.status_folder / "SystemStatus.txt"

    def is_available(self) -> Availability:
        needs = Needs("Primera PTBurn").module("PIL", "Pillow").module("qrcode")
        needs.device(self.hot_folder).file(self.system_status, "PTBurn status file")
        return needs.result()

    def write_job(
        self, key: str, disc: DiscImage, label: Label, copies: int, iso: Path, label_file: Path
    ) -> None:
        lines = [
            ("JobID", key),
            ("ClientID", self.client_id),
            ("ImageFile", self.for_robot(iso)),
            ("Copies", str(copies)),
            ("VerifyDisc", "YES"),
            ("RejectIfNotBlank", "YES"),
            ("CloseDisc", "YES"),
            ("PrintLabel", self.label_template or self.for_robot(label_file)),
        ]
        if self.label_template:
            lines += [("MergeField", value) for _, value in merge_fields(label)]
        self.drop_job(key, key_values(lines, self.encoding))

    def _renamed(self, key: str, suffix: str) -> Path:
        return self.hot_folder / f"{key}{suffix}"

    def progress(self, key: str) -> WriterProgress:
        if self.was_cancelled(key):
            return WriterProgress("cancelled")
        job = read_ini(self.status_folder / f"{key}.txt").get("JOBSTATUS", {})
        if self._renamed(key, ".DON").exists():
            return WriterProgress("done")
        if self._renamed(key, ".ERR").exists():
            text = " ".join(
                filter(
                    None, (job.get("ERRORSTRING"), decode(self._renamed(key, ".ERR").read_bytes()))
                )
            )
            reason = reason_of(text)
            if reason == "cancelled":
                return WriterProgress("cancelled", detail=text.strip())
            return WriterProgress("failed", reason, text.strip())
        if self.job_file(key).exists():
            return WriterProgress("queued")
        if self._renamed(key, ".INP").exists():
            status = job.get("CURRENTSTATUS", "").upper()
            state = next((s for word, s in STATUS_WORDS if word in status), "burning")
            return WriterProgress(state, detail=status)  # type: ignore[arg-type]
        return WriterProgress("failed", "robot_error", f"no job {key} in {self.hot_folder}")

    def robot_state(self) -> RobotState:
        if not self.status_is_fresh(self.system_status):
            return RobotState(ok=False, problems=("robot_error",))
        status = read_ini(self.system_status)
        system, robot = status.get("SYSTEM", {}), status.get("ROBOT", {})
        ink = {
            k.removeprefix("INKLEVEL").lower(): int(v)
            for k, v in robot.items()
            if k.startswith("INKLEVEL") and v.lstrip("-").isdigit()
        }
        bin_discs = robot.get("DISCSINBIN", "")
        discs_left = int(bin_discs) if bin_discs.isdigit() else None
        problems: list[str] = []
        if any(level <= 0 for level in ink.values()):
            problems.append("out_of_ink")
        if discs_left == 0:
            problems.append("no_discs")
        if system.get("SYSTEMERROR", "0") not in ("", "0") and not problems:
            reason = reason_of(system.get("SYSTEMERRORSTRING", ""))
            problems.append(
                {"no_blank_disc": "no_discs", "out_of_ink": "out_of_ink"}.get(reason, "robot_error")
            )
        return RobotState(
            ok=not problems, problems=tuple(problems), ink_percent=ink, discs_left=discs_left
        )

    def cancel(self, key: str) -> None:
        if not self.forget_untaken(key):
            write_atomically(
                self.hot_folder / f"{key}.PTM", key_values([("Message", "ABORT")], "ascii")
            )
