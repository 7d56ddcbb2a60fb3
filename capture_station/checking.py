"""``capture-station check``: the video source, the pedals and the scope scanner configured,
every input device seen, and whether the core answers (enrolment, C-ECHO)."""

from __future__ import annotations

from urllib.parse import urlparse

from capture_station.contract import PedalSource, VideoSource
from capture_station.sender import Peer
from capture_station.settings import Settings
from device_kit import enrolment
from device_kit.drivers import Availability
from device_kit.program import screen_needs
from device_kit.readers import EvdevScanner, Scanner, SerialScanner


def peer(settings: Settings, record: enrolment.Enrolment) -> Peer:
    host = settings.core_host or urlparse(record.core_url).hostname or "127.0.0.1"
    return Peer(host, settings.core_port, settings.core_ae_title, settings.request_timeout)


def make_sources(settings: Settings) -> tuple[VideoSource, PedalSource | None]:
    from capture_station.hardware.pedal import make_pedal_source
    from capture_station.hardware.video import make_video_source

    video = make_video_source(
        settings.video_source,
        size=settings.video_dimensions,
        fps=settings.video_fps,
        standard=settings.video_standard or None,
    )
    pedals = make_pedal_source(settings.pedal) if settings.pedal else None
    return video, pedals


def check(settings: Settings) -> list[Availability]:
    from capture_station.hardware.pedal import list_input_devices

    video, pedals = make_sources(settings)
    results = [screen_needs(settings), video.availability()]
    if pedals is not None:
        results.append(pedals.availability())
    devices = list_input_devices()
    seen = "; ".join(f"{d.path} {d.name} ({', '.join(d.keys[:6])})" for d in devices) or "none"
    results.append(Availability(f"input devices seen: {seen}"))
    scanner = make_scanner(settings)
    if scanner is not None:
        results.append(scanner.is_available())
    results.append(_reachable(settings))
    return results


def _reachable(settings: Settings) -> Availability:
    """The core's HTTP and a DICOM C-ECHO by the station's AE title."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    try:
        record = enrolment.load(settings.enrolment_file, settings.program)
    except enrolment.NotEnrolled as error:
        return Availability("core", (str(error),), ("enrolment",))
    where = peer(settings, record)
    ae = AE(ae_title=settings.station_ae_title)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = settings.request_timeout
    assoc = ae.associate(where.host, where.port, ae_title=where.ae_title)
    echoed = assoc.is_established and int(assoc.send_c_echo().get("Status", -1)) == 0
    if assoc.is_established:
        assoc.release()
    name = f"core {record.core_url}, DICOM {where.ae_title}@{where.host}:{where.port}"
    return Availability(name, () if echoed else ("C-ECHO answered",), ("C-ECHO",))


def make_scanner(settings: Settings) -> Scanner | None:
    """The scope tag's reader: ``serial:PORT`` or an evdev path (a keyboard wedge, grabbed so
    its keys never reach the window, where letters are commands)."""
    where = settings.scope_scanner.strip()
    if not where or not settings.scope_check or settings.department != "endoscopy":
        return None
    if where.startswith("serial:"):
        return SerialScanner(where.removeprefix("serial:"))
    return EvdevScanner(where)
