"""The reporting service: one per core process (built in ``core_server.server.build_core``),
what the REST API, the HL7 adapter and the report output call. It is made of its jobs:

- :class:`~core_server.reporting.setup.Setup`: settings, doctors' grades, departments' levels;
- :class:`~core_server.reporting.editing.Editing`: opening a report, the lock, autosave and
  versions, structured fields, key images, flags, quality grades, follow-up;
- :class:`~core_server.reporting.workflow.Workflow`: submit, review, sign, reject, amend (the
  rules in :mod:`~core_server.reporting.signoff`), the RIS following, versions' diff, history;
- :class:`~core_server.reporting.templates.Templates`: templates, defaults and word rules;
- :class:`~core_server.reporting.worklist.Worklist`: the worklist and a patient's priors;
- :class:`~core_server.reporting.critical.CriticalValues`: critical values and the ticker.

Every method is one transaction; events are published on the bus after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from core_server.events import EventBus
from core_server.reporting.base import RetakeWait
from core_server.reporting.critical import CriticalValues, DeliveryWatcher
from core_server.reporting.setup import Setup
from core_server.reporting.templates import Templates
from core_server.reporting.workflow import Workflow
from core_server.reporting.worklist import Worklist
from core_server.ris import Ris


class Reporting(Setup, Workflow, Templates, Worklist, CriticalValues):
    def __init__(self, engine: Engine, bus: EventBus, ris: Ris, archive: Any = None) -> None:
        self.engine = engine
        self.bus = bus
        self.ris = ris
        self.archive = archive
        self.watchers: list[DeliveryWatcher] = []
        # Exam ids -> the retake each report waits for (quality control registers one).
        self.retake_waits: list[RetakeWait] = []
