"""The query set, timed through a running core: C-FIND (patient, study, series level; MWL),
QIDO-RS and the web study list, each repetition with other keys drawn from the index.

Every query kind is a :class:`Kind`: a name, the service (``dicom``, ``mwl``, ``http``), the
goal (ms, p95) and ``make(i)``, which builds repetition ``i``'s request from the sampled keys.
"""

from __future__ import annotations

import calendar
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from pydicom import Dataset
from pydicom.sequence import Sequence

FIND_GOAL, LIST_GOAL = 20.0, 50.0
STUDY_RETURN = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
    "StudyDate", "StudyTime", "AccessionNumber", "StudyID", "StudyDescription",
    "ReferringPhysicianName", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)  # fmt: skip


@dataclass(frozen=True)
class Keys:
    """Values drawn from the filled index, so each repetition asks for something else."""

    patient_ids: list[str]
    chinese_prefixes: list[str]  # 张^伟* : family name and the given name's first character
    pinyin_prefixes: list[str]  # ZHANG^WEI* (the alphabetic group a modality sent)
    fuzzy_pinyin: list[str]  # zhangw (QIDO fuzzymatching, the pinyin keys)
    initials: list[str]  # zw (the web list's box)
    accessions: list[str]
    days: list[str]  # YYYYMMDD days with studies
    study_uids: list[str]
    worklist_day: str


def sample(url: str, worklist_day: date, count: int = 200) -> Keys:
    """``count`` random values of each kind (repeatable: a fixed seed of the sample)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SELECT setseed(0.165)")
        patients = conn.execute(
            "SELECT patient_id, patient_name_ideo, patient_name_alpha, patient_name_pinyin, "
            f"patient_name_initials FROM patients ORDER BY random() LIMIT {count * 3}"
        ).fetchall()
        studies = conn.execute(
            "SELECT accession_number, study_date, study_instance_uid FROM studies "
            f"ORDER BY random() LIMIT {count}"
        ).fetchall()
    ideo = [r[1] for r in patients if "^" in r[1]]
    alpha = [r[2] for r in patients if r[2].isascii() and "^" in r[2]]
    return Keys(
        patient_ids=[r[0] for r in patients][:count],
        chinese_prefixes=[_prefix(n) for n in ideo][:count],
        pinyin_prefixes=[_prefix(n) for n in alpha][:count],
        fuzzy_pinyin=[(r[3][:6]).lower() for r in patients if r[3]][:count],
        initials=[r[4].lower() for r in patients if len(r[4]) >= 2][:count],
        accessions=[r[0] for r in studies],
        days=[r[1] for r in studies],
        study_uids=[r[2] for r in studies],
        worklist_day=worklist_day.strftime("%Y%m%d"),
    )


def _prefix(name: str) -> str:
    """``张^伟芳`` -> ``张^伟*``; ``ZHANG^WEIFANG`` -> ``ZHANG^WEI*`` (a syllable's worth)."""
    family, _, given = name.partition("^")
    if given.isascii():
        return f"{family}^{given[:3]}*"
    return f"{family}^{given[:1]}*"


@dataclass(frozen=True)
class Kind:
    name: str
    service: str  # "dicom" (Patient/Study Root C-FIND), "mwl", "http"
    goal_ms: float
    make: Callable[[int], Any]  # -> (model, Dataset) for DICOM, (path, params) for HTTP


def _pick(values: list[str], i: int) -> str:
    return values[i % len(values)]


def _identifier(level: str, returned: tuple[str, ...], **match: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.QueryRetrieveLevel = level
    for keyword in returned:
        setattr(ds, keyword, "")
    for keyword, value in match.items():
        setattr(ds, keyword, value)
    return ds


def _worklist_identifier(day: str, station: str = "", modality: str = "") -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "AccessionNumber", "StudyInstanceUID", "RequestedProcedureID",
                    "RequestedProcedureDescription"):  # fmt: skip
        setattr(ds, keyword, "")
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.Modality = modality
    step.ScheduledProcedureStepStartDate = day
    step.ScheduledProcedureStepStartTime = ""
    step.ScheduledProcedureStepDescription = ""
    step.ScheduledProcedureStepID = ""
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


PATIENT, STUDY = "patient", "study"  # the C-FIND information models


def kinds(keys: Keys) -> list[Kind]:
    """Every query kind the bench times, with the keys of repetition ``i``."""
    k = keys
    pr, st = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"), STUDY_RETURN

    def day_range(i: int) -> str:
        return f"{_pick(k.days, i)}-{_pick(k.days, i)}"

    wl = k.worklist_day
    return [
        Kind("cfind_patient_by_id", "dicom", FIND_GOAL,
             lambda i: (PATIENT, _identifier("PATIENT", pr, PatientID=_pick(k.patient_ids, i)))),
        Kind("cfind_patient_by_chinese_prefix", "dicom", FIND_GOAL,
             lambda i: (PATIENT, _identifier("PATIENT", pr,
                                             PatientName=_pick(k.chinese_prefixes, i)))),
        Kind("cfind_study_by_patient_id", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st, PatientID=_pick(k.patient_ids, i)))),
        Kind("cfind_study_by_chinese_prefix", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st,
                                           PatientName=_pick(k.chinese_prefixes, i)))),
        Kind("cfind_study_by_pinyin_prefix", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st,
                                           PatientName=_pick(k.pinyin_prefixes, i)))),
        Kind("cfind_study_by_accession", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st,
                                           AccessionNumber=_pick(k.accessions, i)))),
        Kind("cfind_study_by_day", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st, StudyDate=day_range(i)))),
        Kind("cfind_study_by_day_and_modality", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("STUDY", st, StudyDate=day_range(i),
                                           ModalitiesInStudy="CT"))),
        Kind("cfind_series_of_study", "dicom", FIND_GOAL,
             lambda i: (STUDY, _identifier("SERIES", ("SeriesInstanceUID", "Modality",
                                                      "SeriesNumber", "SeriesDescription",
                                                      "NumberOfSeriesRelatedInstances"),
                                           StudyInstanceUID=_pick(k.study_uids, i)))),
        Kind("mwl_station_day", "mwl", FIND_GOAL,
             lambda i: ("mwl", _worklist_identifier(wl, station=("CT01", "DX01", "US01")[i % 3]))),
        Kind("mwl_modality_day", "mwl", FIND_GOAL,
             lambda i: ("mwl", _worklist_identifier(wl, modality=("CT", "MR", "DX")[i % 3]))),
        Kind("qido_studies_by_patient_id", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"PatientID": _pick(k.patient_ids, i)})),
        Kind("qido_studies_by_chinese_prefix", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"PatientName": _pick(k.chinese_prefixes, i)})),
        Kind("qido_studies_by_pinyin_fuzzy", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"PatientName": _pick(k.fuzzy_pinyin, i),
                                               "fuzzymatching": "true"})),
        Kind("qido_studies_by_accession", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"AccessionNumber": _pick(k.accessions, i)})),
        Kind("qido_studies_by_day", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"StudyDate": day_range(i)})),
        Kind("qido_studies_by_day_and_modality", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"StudyDate": day_range(i),
                                               "ModalitiesInStudy": "CT"})),
        Kind("qido_studies_month_page", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"StudyDate": _month(_pick(k.days, i)),
                                               "limit": "50"})),
        Kind("qido_studies_latest_page", "http", FIND_GOAL,
             lambda i: ("/dicom-web/studies", {"limit": "50", "offset": str(50 * (i % 3))})),
        Kind("qido_series_of_study", "http", FIND_GOAL,
             lambda i: (f"/dicom-web/studies/{_pick(k.study_uids, i)}/series", {})),
        Kind("web_list_day_page1", "http", LIST_GOAL,
             lambda i: ("/api/studies", {"date_from": _pick(k.days, i),
                                         "date_to": _pick(k.days, i), "limit": "50"})),
        Kind("web_list_day_page2", "http", LIST_GOAL,
             lambda i: ("/api/studies", {"date_from": _pick(k.days, i),
                                         "date_to": _pick(k.days, i), "limit": "50",
                                         "offset": "50"})),
        Kind("web_list_chinese_name", "http", LIST_GOAL,
             lambda i: ("/api/studies", {"q": _pick(k.chinese_prefixes, i)[:-1]
                                         .replace("^", "")})),
        Kind("web_list_pinyin_initials", "http", LIST_GOAL,
             lambda i: ("/api/studies", {"q": _pick(k.initials, i)})),
    ]  # fmt: skip


def _month(day: str) -> str:
    """``20250214`` -> ``20250201-20250228``: the day's month as a date range."""
    last = calendar.monthrange(int(day[:4]), int(day[4:6]))[1]
    return f"{day[:6]}01-{day[:6]}{last:02d}"


def figures(times: list[float], counts: list[int], goal: float) -> dict[str, Any]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "repetitions": len(times),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
        "matches_mean": round(statistics.fmean(counts), 1),
        "goal_p95_ms": goal,
        "met": p95 < goal,
    }


def timed(call: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    found = call()
    return 1000 * (time.perf_counter() - started), found
