"""Epson Total Disc Maker / TD Bridge (PP-50, PP-100, PP-100N...): a JDF job file dropped into
TD Bridge's order folder, the label's merge data in a REPLACE_FIELD file, the job's result in
the files the bridge writes back next to it, the robot's state in ``TDBStatus.txt``.

JDF (plain ``KEY=value`` lines, not CIP4's XML JDF): ``JOB_ID``, ``PUBLISHER`` (which robot,
empty: any), ``COPIES``, ``DISC_TYPE`` (CD / DVD), ``IMAGE`` (an ISO image burned as it is;
``DATA=`` would be a folder to lay out), ``LABEL`` (a Total Disc Maker .tdd layout, or the
rendered picture when no layout is configured) and ``REPLACE_FIELD`` (a text file of
``FIELD=value`` lines the .tdd layout's merge fields take).

Encoding: TD Bridge is a Windows program reading its files in the system's ANSI code page,
which on Chinese Windows is CP936/GBK; GB18030 writes every GBK character as GBK does and
also the rare name characters GBK lacks, so it is the default (``utf-8-sig`` for a bridge set
to read UTF-8).

Results (the bridge's files, as set up in docs/kiosk.md): ``<JOB_ID>.DON`` when every copy is
done, ``<JOB_ID>.ERR`` with ``ERROR_CODE``/``ERROR_MESSAGE`` when it failed; while the job
runs, its ``[JOBn]`` section in TDBStatus.txt (``JOB_ID``, ``JOB_STATUS``). A cancel request is
``<JOB_ID>.CNL`` in the order folder."""

from __future__ import annotations

from pathlib import Path

from device_kit.drivers import Availability, Needs
from kiosk_burner.contract import DiscImage, Label, RobotState, WriterProgress
from kiosk_burner.hardware.files import decode, key_values, read_ini, write_atomically
from kiosk_burner.hardware.hotfolder import HotFolderWriter, reason_of
from kiosk_burner.hardware.labels import merge_fields

# TD Bridge job states (TDBStatus.txt JOB_STATUS) -> the contract's writer states.
JOB_STATES = {
    "WAITING": "queued",
    "QUEUED": "queued",
    "RECORDING": "burning",
    "WRITING": "burning",
    "VERIFYING": "verifying",
    "PRINTING": "labelling",
    "COMPLETED": "done",
}


class EpsonTdBridge(HotFolderWriter):
    job_suffix = ".JDF"

    def __init__(
        self, hot_folder: Path, *, publisher: str = "", status_file: Path | None = None, **options
    ) -> None:
        super().__init__(hot_folder, **options)
        self.publisher = publisher
        self.status_file = Path(status_file) if status_file else self.hot_folder / "TDBStatus.txt"
        self.name = f"Epson TD Bridge {self.hot_folder}"

    def is_available(self) -> Availability:
        needs = Needs("Epson TD Bridge").module("PIL", "Pillow").module("qrcode")
        needs.device(self.hot_folder).file(self.status_file, "TD Bridge status file")
        return needs.result()

    def write_job(
        self, key: str, disc: DiscImage, label: Label, copies: int, iso: Path, label_file: Path
    ) -> None:
        fields = self.data_file(key, ".TXT")
        write_atomically(fields, key_values(merge_fields(label), self.encoding))
        lines = [("JOB_ID", key)]
        if self.publisher:
            lines.append(("PUBLISHER", self.publisher))
        lines += [
            ("COPIES", str(copies)),
            ("DISC_TYPE", disc.medium),
            ("IMAGE", self.for_robot(iso)),
            ("LABEL", self.label_template or self.for_robot(label_file)),
            ("REPLACE_FIELD", self.for_robot(fields)),
        ]
        self.drop_job(key, key_values(lines, self.encoding))

    def _result(self, key: str, suffix: str) -> str | None:
        try:
            return decode((self.hot_folder / f"{key}{suffix}").read_bytes())
        except FileNotFoundError:
            return None

    def progress(self, key: str) -> WriterProgress:
        if self.was_cancelled(key):
            return WriterProgress("cancelled")
        if self._result(key, ".DON") is not None:
            return WriterProgress("done")
        error = self._result(key, ".ERR")
        if error is not None:
            reason = reason_of(error)
            if reason == "cancelled":
                return WriterProgress("cancelled", detail=error.strip())
            return WriterProgress("failed", reason, error.strip())
        if self.job_file(key).exists():
            return WriterProgress("queued")
        if not self.known(key):
            return WriterProgress("failed", "robot_error", f"no job {key} in {self.hot_folder}")
        for name, section in read_ini(self.status_file).items():
            if name.startswith("JOB") and section.get("JOB_ID") == key:
                status = section.get("JOB_STATUS", "").upper()
                return WriterProgress(JOB_STATES.get(status, "burning"), detail=status)  # type: ignore[arg-type]
        return WriterProgress("burning")  # taken by the bridge, not yet in its status file

    def robot_state(self) -> RobotState:
        if not self.status_is_fresh(self.status_file):
            return RobotState(ok=False, problems=("robot_error",))
        return robot_state_of(read_ini(self.status_file), self.publisher)

    def cancel(self, key: str) -> None:
        if not self.forget_untaken(key):
            write_atomically(self.hot_folder / f"{key}.CNL", key_values([("JOB_ID", key)], "ascii"))


def robot_state_of(status: dict[str, dict[str, str]], publisher: str = "") -> RobotState:
    """TDBStatus.txt's publisher section (``PUBLISHER1``, or the one named ``publisher``):
    ``INK_<COLOUR>`` percentages, ``STACKER<n>_REMAIN`` discs, ``ERROR_CODE``/``ERROR_MESSAGE``."""
    sections = [s for n, s in status.items() if n.startswith("PUBLISHER")]
    if publisher:
        sections = [s for s in sections if s.get("NAME") == publisher] or sections
    if not sections:
        return RobotState(ok=False, problems=("robot_error",))
    section = sections[0]
    ink = {
        k.removeprefix("INK_").lower(): int(v)
        for k, v in section.items()
        if k.startswith("INK_") and v.lstrip("-").isdigit()
    }
    stackers = [int(v) for k, v in section.items() if k.endswith("_REMAIN") and v.isdigit()]
    discs_left = sum(stackers) if stackers else None
    problems: list[str] = []
    if any(level <= 0 for level in ink.values()):
        problems.append("out_of_ink")
    if discs_left == 0:
        problems.append("no_discs")
    code = section.get("ERROR_CODE", "0")
    if code not in ("", "0") and not problems:
        problems.append(
            reason_of(section.get("ERROR_MESSAGE", ""))
            if section.get("ERROR_MESSAGE")
            else "robot_error"
        )
    problems = ["no_discs" if p == "no_blank_disc" else p for p in problems]
    return RobotState(
        ok=not problems,
        problems=tuple(dict.fromkeys(problems)),
        ink_percent=ink,
        discs_left=discs_left,
    )
