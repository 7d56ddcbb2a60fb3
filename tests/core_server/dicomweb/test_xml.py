"""The PS3.19 XML representation (Native DICOM Model) of searches, metadata and the STOW
response, read with the standard library's XML and MIME parsers (and dicomweb-client's reader of
STOW XML answers) and compared with the JSON answers of the same requests."""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any
from xml.etree import ElementTree

import httpx
from dicomweb_client.web import _load_xml_dataset
from pydicom.datadict import keyword_for_tag
from pydicom.uid import generate_uid

from tests.conftest import RunningCore
from tests.core_server.dicomweb.conftest import Corpus, uids
from tests.dicom_data import encode, make_ct

NS = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"
XML_PARTS = 'multipart/related; type="application/dicom+xml"'
_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def _xml_parts(answer: httpx.Response) -> list[ElementTree.Element]:
    """The XML documents of a multipart/related answer, split by the stdlib's MIME parser."""
    assert answer.status_code == 200, answer.text
    kind = answer.headers["content-type"]
    assert kind.startswith("multipart/related") and "application/dicom+xml" in kind, kind
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + answer.content
    )
    documents = []
    for part in message.iter_parts():
        assert part.get_content_type() == "application/dicom+xml"
        documents.append(ElementTree.fromstring(part.get_payload(decode=True)))
    return documents


def _read(element: ElementTree.Element) -> dict[str, Any]:
    """A NativeDicomModel (or Item) read by PS3.19 A.1 into the DICOM JSON model's shape."""
    out: dict[str, Any] = {}
    for attribute in element:
        assert attribute.tag == NS + "DicomAttribute", attribute.tag
        tag, vr = attribute.attrib["tag"], attribute.attrib["vr"]
        assert len(tag) == 8 and int(tag, 16) >= 0 and len(vr) == 2 and vr.isupper()
        if int(tag[:4], 16) % 2 == 0:  # standard: the keyword is named
            assert attribute.attrib["keyword"] == keyword_for_tag(int(tag, 16))
        value: dict[str, Any] = {"vr": vr}
        children = list(attribute)
        if children and children[0].tag == NS + "BulkData":
            value["BulkDataURI"] = children[0].attrib["uri"]
        elif children and children[0].tag == NS + "InlineBinary":
            value["InlineBinary"] = children[0].text
        elif children:
            value["Value"] = [_value(vr, child) for child in children]
            numbers = [int(child.attrib["number"]) for child in children]
            assert numbers == list(range(1, len(children) + 1))
        out[tag] = value
    return out


def _value(vr: str, child: ElementTree.Element) -> Any:
    if vr == "SQ":
        assert child.tag == NS + "Item"
        return _read(child)
    if vr == "PN":
        assert child.tag == NS + "PersonName"
        groups = {}
        for group in child:
            parts = {c.tag.removeprefix(NS): c.text or "" for c in group}
            names = [parts.get(name, "") for name in _COMPONENTS]
            groups[group.tag.removeprefix(NS)] = "^".join(names).rstrip("^")
        return groups
    assert child.tag == NS + "Value"
    return child.text


def _as_text(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON attribute with its values as the text XML carries (numbers as strings)."""
    if "Value" not in value:
        return value
    if value["vr"] == "SQ":
        return {**value, "Value": [_all_text(item) for item in value["Value"]]}
    if value["vr"] == "PN":
        return value
    texts = [None if v is None else _number_text(v) for v in value["Value"]]
    return {**value, "Value": texts}


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _all_text(dataset: dict[str, Any]) -> dict[str, Any]:
    return {tag: _as_text(value) for tag, value in dataset.items()}


def test_search_in_xml_says_what_the_json_says(corpus: Corpus) -> None:
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        for path, query in (
            ("/dicom-web/studies", {"PatientID": "P*"}),
            ("/dicom-web/series", {"PatientID": "P1"}),
            (f"/dicom-web/studies/{corpus.zhang[0].StudyInstanceUID}/instances", {}),
        ):
            as_json = http.get(path, params=query).json()
            documents = _xml_parts(http.get(path, params=query, headers={"Accept": XML_PARTS}))
            assert len(documents) == len(as_json) > 0
            assert all(d.tag == NS + "NativeDicomModel" for d in documents)
            assert [_read(d) for d in documents] == [_all_text(a) for a in as_json]
        # The Chinese name in its groups and components.
        study = _xml_parts(
            http.get(
                "/dicom-web/studies", params={"PatientID": "P1"}, headers={"Accept": XML_PARTS}
            )
        )[0]
        name = study.find(f"{NS}DicomAttribute[@keyword='PatientName']/{NS}PersonName")
        assert name is not None
        assert name.findtext(f"{NS}Ideographic/{NS}FamilyName") == "张"
        assert name.findtext(f"{NS}Alphabetic/{NS}GivenName") == "San"
        # Preferences are honoured in order; no match is 204 in XML too.
        mixed = http.get(
            "/dicom-web/studies",
            params={"PatientID": "P1"},
            headers={"Accept": f"application/dicom+json;q=0.5, {XML_PARTS}"},
        )
        assert mixed.headers["content-type"].startswith("multipart/related")
        none = http.get(
            "/dicom-web/studies", params={"PatientID": "NOBODY"}, headers={"Accept": XML_PARTS}
        )
        assert none.status_code == 204 and none.content == b""
        refused = http.get("/dicom-web/studies", headers={"Accept": "application/xml"})
        assert refused.status_code == 406 and "application/dicom+xml" in refused.json()["detail"]


def test_metadata_in_xml_with_sequences_and_bulk_data(corpus: Corpus) -> None:
    path = "/dicom-web/studies/{}/series/{}/instances/{}/metadata".format(
        *uids(corpus.objects["bulky"])
    )
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        as_json = http.get(path).json()
        documents = _xml_parts(http.get(path, headers={"Accept": XML_PARTS}))
    assert [_read(d) for d in documents] == [_all_text(a) for a in as_json]
    icon = documents[0].find(f"{NS}DicomAttribute[@keyword='IconImageSequence']/{NS}Item")
    assert icon is not None
    bulk = icon.find(f"{NS}DicomAttribute[@tag='7FE00010']/{NS}BulkData")
    assert bulk is not None and bulk.attrib["uri"].endswith("/bulk/00880200/0/7FE00010")


def test_stow_answers_in_xml_when_asked(core: RunningCore) -> None:
    study = generate_uid()
    objects = [make_ct(study_uid=study, instance_number=n) for n in (1, 2)]
    boundary = "xml-stow"
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + encode(ds)
            + b"\r\n"
            for ds in objects
        )
        + f"--{boundary}--\r\n".encode()
    )
    kind = f'multipart/related; type="application/dicom"; boundary={boundary}'
    with core.api() as http:
        refused = http.post(
            "/dicom-web/studies",
            content=body,
            headers={"Content-Type": kind, "Accept": "text/html"},
        )
        assert refused.status_code == 406
        assert list(core.core.archive.find("IMAGE", {"StudyInstanceUID": study})) == []
        answer = http.post(
            "/dicom-web/studies",
            content=body,
            headers={"Content-Type": kind, "Accept": "application/dicom+xml"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/dicom+xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == NS + "NativeDicomModel"
    # dicomweb-client's own reader of STOW answers in XML.
    result = _load_xml_dataset(root)
    assert result.RetrieveURL.endswith(f"/dicom-web/studies/{study}")
    assert sorted(i.ReferencedSOPInstanceUID for i in result.ReferencedSOPSequence) == sorted(
        ds.SOPInstanceUID for ds in objects
    )
