"""The Native DICOM Model (PS3.19 A.1) in XML, made from the DICOM JSON model (PS3.18 F.2) that
the rest of the adapter already builds, so both representations say the same thing.

One data set is one ``NativeDicomModel`` document; each attribute a ``DicomAttribute`` with its
``tag``, ``vr`` and (standard attributes) ``keyword`` or (private ones) ``privateCreator``;
values are ``Value``, ``PersonName`` (with its component groups split into FamilyName,
GivenName...), ``Item`` (sequences), ``BulkData uri=`` or ``InlineBinary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from pydicom.datadict import keyword_for_tag

NAMESPACE = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def native_xml(dataset: Mapping[str, Any]) -> bytes:
    """One data set of the DICOM JSON model as a PS3.19 XML document (UTF-8)."""
    root = Element("NativeDicomModel", {"xmlns": NAMESPACE, "xml:space": "preserve"})
    _attributes(root, dataset)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")


def _attributes(parent: Element, dataset: Mapping[str, Any]) -> None:
    for key in sorted(dataset):
        attribute = dataset[key]
        tag = int(key, 16)
        names = {"tag": key.upper(), "vr": str(attribute.get("vr", "UN"))}
        creator = _private_creator(dataset, tag)
        if creator is not None:
            names["privateCreator"] = creator
        elif not _is_private(tag) and (keyword := keyword_for_tag(tag)):
            names["keyword"] = keyword
        _values(SubElement(parent, "DicomAttribute", names), attribute)


def _values(element: Element, attribute: Mapping[str, Any]) -> None:
    vr = attribute.get("vr")
    if "BulkDataURI" in attribute:
        SubElement(element, "BulkData", {"uri": str(attribute["BulkDataURI"])})
        return
    if "InlineBinary" in attribute:
        SubElement(element, "InlineBinary").text = str(attribute["InlineBinary"])
        return
    for number, value in enumerate(attribute.get("Value", []), start=1):
        if vr == "SQ":
            _attributes(SubElement(element, "Item", {"number": str(number)}), value or {})
        elif vr == "PN":
            _person_name(SubElement(element, "PersonName", {"number": str(number)}), value)
        else:
            SubElement(element, "Value", {"number": str(number)}).text = _text(value)


def _person_name(element: Element, value: Any) -> None:
    groups = value if isinstance(value, Mapping) else {"Alphabetic": str(value or "")}
    for group in _GROUPS:
        text = groups.get(group)
        if not text:
            continue
        holder = SubElement(element, group)
        for name, part in zip(_COMPONENTS, str(text).split("^"), strict=False):
            if part:
                SubElement(holder, name).text = part


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_private(tag: int) -> bool:
    return bool((tag >> 16) % 2)


def _private_creator(dataset: Mapping[str, Any], tag: int) -> str | None:
    """The creator of a private data element (gggg,xxee): the value of (gggg,00xx)."""
    if not _is_private(tag) or (tag & 0xFFFF) < 0x1000:
        return None
    block = (tag & 0xFFFF) >> 8
    creator = dataset.get(f"{tag >> 16:04X}{block:04X}", {}).get("Value")
    return str(creator[0]) if creator else ""
