"""QIDO-RS over real HTTP, checked against pydicom's reading of the stored objects and used
through dicomweb-client as a real client."""

from __future__ import annotations

import httpx
import pytest
from pydicom import Dataset

from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.core_server.dicomweb.conftest import Corpus, answers, uids
from tests.dicom_data import encode, make_ct


def _by_tag(answer: dict, tag: str) -> list | None:
    return answer.get(tag, {}).get("Value")


def test_study_search_answers_what_the_objects_say(corpus: Corpus) -> None:
    client = corpus.client()
    zhang = corpus.zhang[0]
    found = client.search_for_studies(search_filters={"PatientID": "P1"})
    assert len(found) == 1
    study = Dataset.from_json(found[0])
    assert study.StudyInstanceUID == zhang.StudyInstanceUID
    assert str(study.PatientName) == str(zhang.PatientName) == "Zhang^San=张^三"
    assert study.StudyDate == "20260101" and study.AccessionNumber == "ACC1"
    assert study.StudyDescription == "胸部CT平扫"
    assert list(study.ModalitiesInStudy) == ["CT", "MR"]
    assert study.NumberOfStudyRelatedSeries == 2
    assert study.NumberOfStudyRelatedInstances == 5
    assert study.RetrieveURL.endswith(f"/dicom-web/studies/{zhang.StudyInstanceUID}")
    # The GB18030 object's name and description come back as the same Unicode text.
    li = Dataset.from_json(client.search_for_studies(search_filters={"PatientID": "P2"})[0])
    assert li.PatientName.ideographic == corpus.li.PatientName.ideographic == "李^四"
    assert li.StudyDescription == corpus.li.StudyDescription == "头颅MR"


def test_matching_is_the_c_find_matching(corpus: Corpus) -> None:
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:

        def patient_ids(**params: str) -> list[str]:
            answer = http.get("/dicom-web/studies", params=params)
            return sorted(_by_tag(a, "00100020")[0] for a in answers(answer))

        assert patient_ids(PatientName="zhang*") == ["P1"]  # case-insensitive, wildcard
        assert patient_ids(PatientName="张^三") == ["P1"]  # the ideographic group
        assert patient_ids(PatientName="李*") == ["P2"]
        assert patient_ids(StudyDate="20260301-20260331") == ["P2"]
        assert patient_ids(StudyDate="-20260102", PatientID="P*") == ["P1"]
        assert patient_ids(ModalitiesInStudy="MR", PatientID="P?") == ["P1", "P2"]
        assert patient_ids(**{"00080050": "ACC2"}) == ["P2"]  # tags work as keys
        assert patient_ids(AccessionNumber="ACC9") == []
        every = http.get("/dicom-web/studies").json()
        assert len(every) == 2 + len(corpus.objects)
        page = http.get("/dicom-web/studies", params={"limit": 2, "offset": 1}).json()
        assert [a["0020000D"] for a in page] == [a["0020000D"] for a in every[1:3]]
        assert http.get("/dicom-web/studies", params={"NoSuchKey": "x"}).status_code == 400
        assert http.get("/dicom-web/studies", params={"limit": "-1"}).status_code == 400
        ignored = http.get("/dicom-web/studies", params={"ImageType": "ORIGINAL"})
        assert ignored.status_code == 200 and "ImageType" in ignored.headers["warning"]


def test_fuzzy_matching_finds_chinese_names_as_typed(corpus: Corpus) -> None:
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:

        def fuzzy(name: str) -> list[str]:
            params = {"PatientName": name, "fuzzymatching": "true"}
            answer = http.get("/dicom-web/studies", params=params)
            return sorted(_by_tag(a, "00100020")[0] for a in answers(answer))

        assert fuzzy("zhangsan") == ["P1"]  # no ^ typed
        assert fuzzy("Zhang San") == ["P1"]
        assert fuzzy("zhangs") == ["P1"]  # a prefix
        assert fuzzy("zs") == ["P1"]  # pinyin initials
        assert fuzzy("ls") == ["P2"]
        assert fuzzy("张三") == ["P1"]
        assert fuzzy("李") == ["P2"]
        assert fuzzy("wang") == []
        strict = answers(http.get("/dicom-web/studies", params={"PatientName": "zs"}))
        assert strict == []  # without fuzzymatching, DICOM matching


def test_series_and_instances_nested_and_flat(corpus: Corpus) -> None:
    client = corpus.client()
    study, ct_series, _ = uids(corpus.zhang[0])
    series = [Dataset.from_json(s) for s in client.search_for_series(study)]
    assert sorted(s.Modality for s in series) == ["CT", "MR"]
    ct = next(s for s in series if s.Modality == "CT")
    assert ct.SeriesInstanceUID == ct_series and ct.NumberOfSeriesRelatedInstances == 3
    assert "PatientName" not in ct  # nested: the study's attributes are not repeated
    instances = [Dataset.from_json(i) for i in client.search_for_instances(study, ct_series)]
    assert sorted(i.InstanceNumber for i in instances) == [1, 2, 3]
    assert {i.SOPInstanceUID for i in instances} == {
        ds.SOPInstanceUID for ds in corpus.zhang if ds.SeriesInstanceUID == ct_series
    }
    assert all(i.Rows == 72 and i.SOPClassUID == corpus.zhang[0].SOPClassUID for i in instances)
    assert len(client.search_for_instances(study)) == 5
    # Flat searches carry the parents' attributes.
    flat = [
        Dataset.from_json(s) for s in client.search_for_series(search_filters={"Modality": "MR"})
    ]
    assert {str(s.PatientName) for s in flat} >= {"Zhang^San=张^三", "Li^Si=李^四"}
    mr_small = corpus.objects["MR_small_RLE.dcm"]
    found = client.search_for_instances(search_filters={"SOPInstanceUID": mr_small.SOPInstanceUID})
    assert Dataset.from_json(found[0]).StudyInstanceUID == mr_small.StudyInstanceUID
    assert client.search_for_series("1.2.3.4.5") == []


def test_includefield_reads_what_the_index_lacks(corpus: Corpus) -> None:
    client = corpus.client()
    study, series, sop = uids(corpus.zhang[0])
    found = client.search_for_instances(
        study, series, search_filters={"SOPInstanceUID": sop}, fields=["SliceThickness", "00280030"]
    )
    answer = Dataset.from_json(found[0])
    assert answer.SliceThickness == 1.25
    assert "PixelSpacing" in answer and answer.PixelSpacing is None  # asked, absent: empty
    studies = client.search_for_studies(
        search_filters={"PatientID": "P1"}, fields=["SliceThickness", "PatientAge"]
    )
    assert Dataset.from_json(studies[0]).SliceThickness == 1.25
    every = client.search_for_series(study, get_remaining=False, fields=["all"])
    assert "00080021" in every[0] and "00201209" in every[0]  # SeriesDate, the count


def test_limit_warns_when_more_than_the_server_gives(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core_server.dicomweb.qido as qido

    monkeypatch.setattr(qido, "MAX_RESULTS", 2)
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        answer = http.get("/dicom-web/studies")
        assert len(answer.json()) == 2 and "more than 2" in answer.headers["warning"]
        assert len(http.get("/dicom-web/studies", params={"limit": 3}).json()) == 3


@pytest.mark.postgres
def test_qido_on_each_database(core_on: RunningCore) -> None:
    archive = core_on.core.archive
    zhang = make_ct(patient_id="P1", patient_name="Zhang^San=张^三", charset="ISO_IR 192")
    li = make_ct(patient_id="P2", patient_name="Li^Si=李^四", charset="GB18030", modality="MR")
    chinese_only = make_ct(patient_id="P3", patient_name="单雄信", charset="GB18030")
    pinyin_only = make_ct(patient_id="P4", patient_name="LIU^YANG")
    for ds in (zhang, li, chinese_only, pinyin_only):
        archive.store_instance(encode(ds), Origin("test"))
    with core_on.api() as http:
        get = lambda **p: answers(http.get("/dicom-web/studies", params=p))  # noqa: E731
        assert [_by_tag(a, "00100020") for a in get(PatientName="李^四")] == [["P2"]]
        assert [_by_tag(a, "00100020") for a in get(PatientName="zs", fuzzymatching="true")] == [
            ["P1"]
        ]
        assert [_by_tag(a, "00100020") for a in get(ModalitiesInStudy="MR")] == [["P2"]]

        def fuzzy(name: str) -> list[str]:
            return sorted(
                _by_tag(a, "00100020")[0] for a in get(PatientName=name, fuzzymatching="true")
            )

        # The index's pinyin keys: a name sent in characters only is found by its pinyin (the
        # surname 单 read SHAN), one sent in pinyin only by its characters.
        assert fuzzy("sxx") == fuzzy("shanxiong") == fuzzy("单雄") == ["P3"]
        assert fuzzy("刘洋") == fuzzy("ly") == ["P4"]
        assert fuzzy("danx") == []
        series = http.get(f"/dicom-web/studies/{zhang.StudyInstanceUID}/series").json()
        assert series[0]["0020000E"]["Value"] == [zhang.SeriesInstanceUID]


def test_modalities_in_study_is_a_study_key_at_every_level(corpus: Corpus) -> None:
    """ModalitiesInStudy at the series and instance levels selects the series and instances of
    the studies that have such a series (the Zhang study has CT and MR: its MR series comes
    too); it was an SQL error (500) at those levels."""
    client = corpus.client()
    study, ct_series, _ = uids(corpus.zhang[0])
    assert corpus.li is not None
    series = client.search_for_series(search_filters={"ModalitiesInStudy": "CT", "PatientID": "P1"})
    assert sorted(Dataset.from_json(s).Modality for s in series) == ["CT", "MR"]
    instances = client.search_for_instances(search_filters={"ModalitiesInStudy": "CT"})
    studies = {Dataset.from_json(i).StudyInstanceUID for i in instances}
    assert study in studies and corpus.li.StudyInstanceUID not in studies  # Li has MR only
    assert len([i for i in instances if Dataset.from_json(i).StudyInstanceUID == study]) == 5
    nested = client.search_for_instances(study, search_filters={"ModalitiesInStudy": "MR"})
    assert len(nested) == 5
    assert client.search_for_series(study, search_filters={"ModalitiesInStudy": "US"}) == []
    in_series = client.search_for_instances(
        study, ct_series, search_filters={"ModalitiesInStudy": "C*"}
    )
    assert len(in_series) == 3


def test_empty_search_is_204_and_dates_must_be_dates(corpus: Corpus) -> None:
    """PS3.18 8.3.4.4.1: no match is 204 No Content with an empty body; dicomweb-client reads
    it as no answers. Dates are DA values or ranges of them (PS3.4 C.2.2.2.5)."""
    client = corpus.client()
    assert client.search_for_studies(search_filters={"PatientID": "NOBODY"}) == []
    assert client.search_for_instances(search_filters={"StudyDate": "19000101"}) == []
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        none = http.get("/dicom-web/studies", params={"PatientID": "NOBODY"})
        assert none.status_code == 204 and none.content == b""
        for level in ("studies", "series", "instances"):
            for bad in ("2026-11", "20261131", "2026", "-", "20260101-2026"):
                answer = http.get(f"/dicom-web/{level}", params={"StudyDate": bad})
                assert answer.status_code == 400, (level, bad, answer.text)
                assert "YYYYMMDD" in answer.json()["detail"]
        for good in ("20260101", "20260101-", "-20260101", "20260101-20260131"):
            answer = http.get("/dicom-web/studies", params={"StudyDate": good})
            assert answer.status_code in (200, 204), (good, answer.text)
        assert http.get("/dicom-web/studies", params={"StudyTime": "2400"}).status_code == 400
        assert http.get(
            "/dicom-web/studies", params={"StudyTime": "0800-123000.5"}
        ).status_code in (
            200,
            204,
        )
