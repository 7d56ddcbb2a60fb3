"""The study search API behind the study list, on SQLite and PostgreSQL: Chinese names, pinyin
initials and spelling, IDs, accession numbers, modality, date range and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydicom.uid import generate_uid

from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct

ZHANG_SAN = generate_uid()


def _store(core: RunningCore, **attributes: Any) -> None:
    stored = core.core.archive.store_instance(encode(make_ct(**attributes)), Origin("import"))
    assert stored is not None


@pytest.fixture
def archive(core_on: RunningCore) -> RunningCore:
    utf8, gb = {"charset": "ISO_IR 192"}, {"charset": "GB18030"}
    for day in ("01", "02", "03"):
        uid = ZHANG_SAN if day == "03" else generate_uid()
        _store(
            core_on,
            patient_id="P001",
            patient_name="张三",
            study_uid=uid,
            study_date=f"202611{day}",
            accession=f"A00{day}",
            **utf8,
        )
    # A second series of another modality in the newest study of 张三.
    _store(
        core_on,
        patient_id="P001",
        patient_name="张三",
        study_uid=ZHANG_SAN,
        study_date="20261103",
        accession="A0003",
        modality="PT",
        **utf8,
    )
    _store(
        core_on,
        patient_id="P002",
        patient_name="Zhang^Sanfeng=张^三丰",
        study_date="20261105",
        accession="A0005",
        modality="MR",
        **gb,
    )
    _store(
        core_on,
        patient_id="P003",
        patient_name="单田芳",
        study_date="20261110",
        accession="B0010",
        **gb,
    )
    _store(
        core_on,
        patient_id="P004",
        patient_name="Wang^Xiaoming",
        study_date="20261115",
        accession="A0015",
        modality="DX",
    )
    _store(
        core_on,
        patient_id="P005",
        patient_name="欧阳修",
        study_date="20261120",
        accession="C%_20",
        modality="US",
        **utf8,
    )
    return core_on


def _search(client: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/studies", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _patients(client: httpx.Client, **params: Any) -> list[str]:
    return [s["patient_id"] for s in _search(client, **params)["studies"]]


def test_search_answers_and_paging(archive: RunningCore) -> None:
    with archive.api() as client:
        everything = _search(client)
        assert everything["total"] == 7
        dates = [s["study_date"] for s in everything["studies"]]
        assert dates == sorted(dates, reverse=True)  # newest first

        # Chinese: part of the name, with or without a space.
        assert _patients(client, q="张三") == ["P002", "P001", "P001", "P001"]
        assert _patients(client, q="三丰") == ["P002"]
        assert _patients(client, q="张 三丰") == ["P002"]
        assert _patients(client, q="欧阳") == ["P005"]
        # Pinyin initials and spelling, any case; the surname table reads 单 as SHAN.
        assert _patients(client, q="zs") == ["P002", "P001", "P001", "P001"]
        assert _patients(client, q="ZSF") == ["P002"]
        assert _patients(client, q="zhangsanf") == ["P002"]
        assert _patients(client, q="stf") == ["P003"]
        assert _patients(client, q="shantian") == ["P003"]
        assert _patients(client, q="dantian") == []
        assert _patients(client, q="oyx") == ["P005"]
        assert _patients(client, q="wangx") == ["P004"]
        assert _patients(client, q="wx") == ["P004"]
        # Patient ID and accession prefixes; exact filters.
        assert _patients(client, q="P003") == ["P003"]
        assert _patients(client, q="B00") == ["P003"]
        assert _patients(client, q="A000") == ["P002", "P001", "P001", "P001"]
        assert _patients(client, q="C%_") == ["P005"]  # LIKE characters are literal
        assert _patients(client, q="%") == []
        assert _patients(client, patient_id="P001") == ["P001"] * 3
        assert _patients(client, accession_number="A0005") == ["P002"]
        assert _patients(client, accession_number="A000") == []  # exact, not a prefix
        # Modality: any series of the study; dates inclusive, both spellings.
        assert _patients(client, modality="pt") == ["P001"]
        assert _patients(client, modality="MR") == ["P002"]
        ranged = _patients(client, date_from="2026-11-03", date_to="20261110")
        assert ranged == ["P003", "P002", "P001"]
        assert _patients(client, q="zs", date_to="20261102") == ["P001", "P001"]

        # What the list shows.
        (study,) = [
            s for s in _search(client, q="张三")["studies"] if s["study_date"] == "20261103"
        ]
        assert study["study_instance_uid"] == ZHANG_SAN
        assert study["patient_name"] == "张三"
        assert study["patient_name_display"] == "张三"
        assert study["modalities"] == ["CT", "PT"]
        assert (study["series"], study["instances"]) == (2, 2)
        assert study["patient_sex"] == "M" and study["patient_birth_date"] == "19800101"
        (sanfeng,) = _search(client, q="zsf")["studies"]
        assert sanfeng["patient_name_display"] == "张三丰"
        (wang,) = _search(client, q="wx")["studies"]
        assert wang["patient_name_display"] == "Wang Xiaoming"

        # Paging.
        pages = [_search(client, q="zs", limit=3, offset=offset) for offset in (0, 3, 6)]
        assert [p["total"] for p in pages] == [4, 4, 4]
        assert [len(p["studies"]) for p in pages] == [3, 1, 0]
        uids = [s["study_instance_uid"] for p in pages for s in p["studies"]]
        assert len(set(uids)) == 4
        assert client.get("/api/studies", params={"limit": 0}).status_code == 422
        assert client.get("/api/studies", params={"limit": 201}).status_code == 422


def test_bad_filters_are_refused_plainly(core: RunningCore) -> None:
    with core.api() as client:
        answer = client.get("/api/studies", params={"date_from": "2026-13"})
        assert answer.status_code == 422
        assert answer.json()["detail"]["code"] == "archive.study_search.bad_date"


def test_searches_are_audited(core: RunningCore) -> None:
    with core.api() as client:
        _search(client, q="张三", modality="CT")
        events = client.get("/api/audit", params={"action": "study.search"}).json()["events"]
    assert events[0]["username"] == "admin"
    assert events[0]["detail"] == {"q": "张三", "modality": "CT", "offset": 0, "found": 0}
