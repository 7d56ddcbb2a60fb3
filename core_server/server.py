"""Composition: one core process with its database, archive, DICOM listener and HTTP app."""

from __future__ import annotations

import asyncio
import logging
from collections import ChainMap
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from core_server import atna, auth, clock, cluster, db, dicomweb, storage, tls
from core_server.archive import Archive
from core_server.dicom import DicomServer
from core_server.events import EventBus
from core_server.followup import Followup
from core_server.hl7 import Hl7Service
from core_server.jobs import takeover
from core_server.monitoring import Monitoring, monitoring_for
from core_server.periodic import Periodic
from core_server.quality.service import Quality
from core_server.queueing import QueueService, RisExamDesk
from core_server.reporting import REPORT_SIGNED, Reporting
from core_server.reporting.content import load_system_templates
from core_server.reporting.output import ReportOutput, default_public_url
from core_server.ris import EXAM_STATUS_CHANGED, Ris
from core_server.settings import Settings
from core_server.statistics import Statistics
from core_server.tls import http as tls_http
from core_server.tls.renewal import Renewal
from core_server.watchdog import Watchdog
from core_server.web import WebContext, create_web_app
from core_server.web.report_output import install as install_report_output
from core_server.web.security import require
from core_server.workers import DicomWorkers, dicom_server

log = logging.getLogger(__name__)


@dataclass
class Core:
    settings: Settings
    engine: Engine
    bus: EventBus
    archive: Archive
    dicom: DicomServer
    ris: Ris | None = None
    queueing: QueueService | None = None
    hl7: Hl7Service | None = None
    reporting: Reporting | None = None
    report_output: ReportOutput | None = None
    statistics: Statistics | None = None
    quality: Quality | None = None
    followup: Followup | None = None
    monitoring: Monitoring | None = None
    tls_renewal: Renewal | None = None
    lifecycle: storage.Lifecycle | None = None  # tiers, compression, forwarding, ...
    relay: cluster.Relay | None = None  # the bus across nodes (docs/cluster-state.md)


def build_core(settings: Settings) -> Core:
    """Open (and migrate) the database, the storage area and the DICOM AE, not yet listening."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock.set_zone(settings.timezone)
    engine = db.make_engine(settings.effective_database_url)
    db.migrate(engine)
    policy = auth.PasswordPolicy.from_settings(settings)
    auth.ensure_initial_admin(engine, settings.data_dir, settings.admin_password, policy)
    bus = EventBus()
    archive = Archive(engine, settings.storage_dir, bus)
    recovered = archive.recover()
    if any(recovered.values()):
        log.warning("storage recovery after an unclean stop: %s", recovered)
    ris = Ris(engine, bus, archive, files_dir=settings.data_dir / "ris")
    ris.start()
    core = Core(settings, engine, bus, archive, dicom_server(settings, archive, engine, ris), ris)
    core.queueing = QueueService(
        engine, bus, RisExamDesk(ris), hospital_name=settings.hospital_name or "医学影像中心"
    )
    bus.subscribe(EXAM_STATUS_CHANGED, core.queueing.on_exam_status_changed)
    core.reporting = Reporting(engine, bus, ris, archive)
    load_system_templates(core.reporting)
    core.report_output = ReportOutput(
        engine,
        archive,
        ris,
        hospital=settings.hospital_name or "医学影像中心",
        public_url=settings.public_url,
        fallback_url=default_public_url(settings.host, settings.http_port),
        site_dir=settings.data_dir / "report_layouts",
        ae_title=settings.ae_title,
    )
    bus.subscribe(REPORT_SIGNED, core.report_output.on_report_signed)
    core.quality = Quality(engine, bus, ris, core.reporting)  # registers the retake hold
    core.followup = Followup(engine, ris, core.reporting)
    core.statistics = Statistics(engine, settings.hospital_name)
    core.monitoring = monitoring_for(settings, engine)
    core.hl7 = Hl7Service(
        engine,
        ris,
        bus,
        host=settings.host,
        port=settings.hl7_port,
        application=settings.ae_title,
        reporting=core.reporting,
        processing_ids=settings.hl7_processing_ids.split(","),
        retention_days=settings.hl7_retention_days,
        followup=core.followup,  # ORU^R01 pathology results
        tls=tls.listener_context(settings, "hl7"),
        tls_port=settings.hl7_tls_port,
        cleartext=settings.cleartext,
        tls_files=tls.files_of(settings),  # destinations marked tls
    )
    return core


def create_app(settings: Settings) -> FastAPI:
    """The whole core as an ASGI app: the DICOM listener starts and stops with it."""
    core = build_core(settings)
    ctx = WebContext(
        settings=settings,
        engine=core.engine,
        archive=core.archive,
        ris=core.ris,
        statistics=core.statistics,
        quality=core.quality,
        followup=core.followup,
        monitoring=core.monitoring,
    )
    workers = DicomWorkers(settings, settings.dicom_processes - 1)
    ctx.listeners["dicom"] = lambda: core.dicom.running and workers.alive()
    takeover.install(core.engine, ctx.on_startup, ctx.on_shutdown)  # before every claimer
    ctx.on_startup += [core.dicom.start, workers.start]
    ctx.on_shutdown += [workers.stop, core.dicom.stop]
    ctx.on_shutdown.append(core.engine.dispose)
    core.relay = cluster.install(core.engine, core.bus, ctx.on_startup, ctx.on_shutdown)
    if core.queueing is not None:
        ctx.queueing = core.queueing
        ctx.on_startup.append(core.queueing.start_background)
        ctx.on_shutdown.append(core.queueing.stop_background)
    if core.reporting is not None:
        ctx.reporting = core.reporting
        ctx.on_startup.append(core.reporting.start_background)
        ctx.on_shutdown.append(core.reporting.stop_background)
    if core.report_output is not None:
        ctx.on_startup.append(core.report_output.start)
        ctx.on_shutdown.append(core.report_output.stop)
    if core.statistics is not None:  # the ticker catching its facts table up
        ctx.on_startup.append(core.statistics.start)
        ctx.on_shutdown.append(core.statistics.stop)
    if core.monitoring is not None:
        ctx.on_startup.append(core.monitoring.start)
        ctx.on_shutdown.append(core.monitoring.stop)
    _renew_tls(settings, core, ctx)
    core.lifecycle = ctx.lifecycle = storage.install(  # docs/storage.md
        storage.Parts(
            settings,
            core.engine,
            core.bus,
            core.archive,
            core.ris,
            core.reporting,
            ctx.on_startup,
            ctx.on_shutdown,
        )
    )
    atna.install(ctx, settings, core.engine, core.archive, core.bus)  # the audit trail out
    if core.hl7 is not None:
        hl7_service = ctx.hl7 = core.hl7
        ctx.listeners["hl7"] = lambda: hl7_service.running
        ctx.on_startup.append(hl7_service.start)
        ctx.on_shutdown.append(hl7_service.stop)  # runs first: shutdown goes in reverse
    app = create_web_app(ctx)
    dicomweb.install(app, require)
    if core.report_output is not None:
        install_report_output(app, core.report_output)
    app.state.core = core
    return app


def _renew_tls(settings: Settings, core: Core, ctx: WebContext) -> None:
    """The appliance CA's certificate renewed before expiry, checked at start and every 6 h."""
    renewal = Renewal(tls.files_of(settings), timedelta(days=settings.tls_renew_days))
    for listener in (core.dicom.tls_listener, core.hl7.tls_listener if core.hl7 else None):
        if listener is not None and listener.tls is not None:
            renewal.contexts.append(listener.tls)
    ticker = Periodic("tls-renewal", 6 * 3600, renewal.check)
    ctx.on_startup.append(ticker.start)
    ctx.on_shutdown.append(ticker.stop)
    core.tls_renewal = renewal


def http_servers(settings: Settings, app: FastAPI, **options: Any) -> list[Any]:
    """HTTPS (when there is a certificate) and HTTP, as docs/tls.md says."""
    context = tls.listener_context(settings, "https")
    core = getattr(app.state, "core", None)
    if context is not None and core is not None and core.tls_renewal is not None:
        core.tls_renewal.contexts.append(context)
    return tls_http.servers(
        app,
        host=settings.host,
        http_port=settings.http_port,
        https_port=settings.https_port,
        context=context,
        cleartext=settings.cleartext,
        **options,
    )


def serve(settings: Settings) -> None:
    app = create_app(settings)
    servers = http_servers(
        settings,
        app,
        log_level=settings.log_level.lower(),
        # X-Forwarded-* are applied by the app, from `trusted_proxies` only
        # (web/proxies.py); uvicorn's own handling would trust the loopback.
        proxy_headers=False,
        server_header=False,
    )
    # systemd's READY=1 and watchdog pings, only while every listener runs: HTTP(S) once uvicorn
    # has bound its sockets (the app's own "http" flag goes up before that), then the app's.
    bound = {"http": lambda: all(s.started and not s.should_exit for s in servers)}
    watchdog = Watchdog(ChainMap(bound, app.state.ctx.listeners))
    app.state.ctx.on_startup.append(watchdog.start)
    # Last in, so first at shutdown: STOPPING=1 before the listeners close (uvicorn re-raises
    # SIGTERM once it has stopped, so nothing after the servers' run would run).
    app.state.ctx.on_shutdown.append(watchdog.stop)
    asyncio.run(tls_http.run(servers))
