"""What a kiosk burns, over REST: the manifest in the contract's field names (it parses as
``kiosk_burner.contract.Manifest``), the job's instances byte for byte as the archive stored
them, the signed report's PDF, and nothing outside the job's exams. Both backends."""

from __future__ import annotations

import json

from kiosk_burner.contract import Manifest
from tests.core_server.discs.conftest import Desk
from tests.core_server.reporting.output_data import signed_report


def test_manifest_instances_and_report_of_a_job(desk: Desk) -> None:
    core = desk.core
    signed = signed_report(core, "P700", name="王^建国", images=3)
    exam = signed.exam
    kiosk = desk.kiosk("kiosk-m")
    plain = desk.exam("P701")  # another patient's exam: none of its files may leave
    job = desk.registrar.post(
        "/api/discs", json={"exam_ids": [exam.id], "device": "kiosk-m"}
    ).json()
    kiosk.post("/api/discs/claim").raise_for_status()

    data = kiosk.get(f"/api/discs/{job['id']}/manifest").json()
    manifest = Manifest.from_json(data)
    assert json.loads(json.dumps(manifest.as_json())) == data  # exactly the contract's fields
    assert manifest.patient_name == "王建国" and "^" not in manifest.patient_name_latin
    assert manifest.birth_date == "1960-05-01" and manifest.sex == "M"
    assert "/c/" in manifest.qr_url and manifest.qr_expires.endswith("+08:00")  # cloud film
    (disc_exam,) = manifest.exams
    assert disc_exam.accession_number == exam.accession_number
    assert disc_exam.study_instance_uids == (exam.study_instance_uid,)
    assert disc_exam.images >= 3 and len(disc_exam.exam_date) == 10
    assert (
        "右肺上叶见一实性结节" in disc_exam.report_html and "<script" not in disc_exam.report_html
    )
    assert disc_exam.report_pdf_url == f"/api/discs/{job['id']}/reports/{exam.id}.pdf"

    listed = kiosk.get(f"/api/discs/{job['id']}/instances").json()
    assert set(signed.image_uids) <= {i["sop_instance_uid"] for i in listed}
    for item in listed:
        (stored,) = core.core.archive.locate(
            {
                "StudyInstanceUID": item["study_instance_uid"],
                "SOPInstanceUID": item["sop_instance_uid"],
            }
        )
        answer = kiosk.get(f"/api/discs/{job['id']}/instances/{item['sop_instance_uid']}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/dicom"
        assert answer.content == stored.path.read_bytes() and len(answer.content) == item["size"]
    refused = kiosk.get(f"/api/discs/{job['id']}/instances/1.2.3.4.5")
    assert refused.status_code == 404
    assert refused.json()["detail"]["code"] == "discs.instance_not_found"

    kiosk.timeout = 120  # a first PDF render warms weasyprint up
    pdf = kiosk.get(disc_exam.report_pdf_url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert kiosk.get(f"/api/discs/{job['id']}/reports/{plain}.pdf").status_code == 404
    assert kiosk.get(f"/api/discs/{job['id']}/reports/x.pdf").status_code == 404
    # Staff read it too; another kiosk does not.
    assert desk.registrar.get(f"/api/discs/{job['id']}/manifest").status_code == 200
    other = desk.kiosk("kiosk-n")
    assert other.get(f"/api/discs/{job['id']}/manifest").status_code == 404
