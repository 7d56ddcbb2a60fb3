"""Accept headers as DICOMweb clients write them (PS3.18 8.7), decided without a server."""

from __future__ import annotations

import pytest

from core_server.dicomweb.negotiation import (
    NotAcceptable,
    frame_choice,
    instance_syntax,
    parse_accept,
)

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
J2K, JLS, BIG = "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.2"


def test_parse_accept_orders_by_weight_and_reads_quoted_parameters() -> None:
    ranges = parse_accept(
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90;'
        " q=0.5, multipart/related; type=application/dicom; transfer-syntax=*, image/png;q=0"
    )
    assert [(r.part_type, r.transfer_syntax, r.q) for r in ranges] == [
        ("application/dicom", "*", 1.0),
        ("application/dicom", J2K, 0.5),
    ]  # q=0 means "not this"
    assert parse_accept(None)[0].media_type == "*/*"
    assert parse_accept("")[0].media_type == "*/*"


@pytest.mark.parametrize(
    ("accept", "stored", "expected"),
    [
        ('multipart/related; type="application/dicom"; transfer-syntax=*', J2K, J2K),
        ('multipart/related; type="application/dicom"', J2K, ELE),  # the standard's default
        ('multipart/related; type="application/dicom"', ILE, ELE),
        (f'multipart/related; type="application/dicom"; transfer-syntax={ILE}', ELE, ILE),
        (f'multipart/related; type="application/dicom"; transfer-syntax={J2K}', J2K, J2K),
        (
            f'multipart/related; type="application/dicom"; transfer-syntax={JLS}, '
            'multipart/related; type="application/dicom"; transfer-syntax=*;q=0.9',
            J2K,
            JLS,  # the preferred one: transcoded (lossless)
        ),
        ("*/*", J2K, ELE),  # the default media type, in the default syntax
        ("*/*", BIG, BIG),  # ... unless it cannot be converted
    ],
)
def test_instance_syntax(accept: str, stored: str, expected: str) -> None:
    assert instance_syntax(parse_accept(accept), stored) == expected


@pytest.mark.parametrize(
    ("accept", "stored"),
    [
        # JPEG baseline is not made here (transcoding makes lossless syntaxes only)
        (
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
            J2K,
        ),
        ('multipart/related; type="application/dicom"', BIG),  # no byte swapping offered
        ("image/jpeg", ELE),
    ],
)
def test_instance_syntax_refuses_what_it_cannot_give(accept: str, stored: str) -> None:
    with pytest.raises(NotAcceptable):
        instance_syntax(parse_accept(accept), stored)


def test_frame_choices_ohif_makes() -> None:
    # OHIF (omitQuotationForMultipartRequest): the stored bitstream, whatever it is.
    ohif = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    choice = frame_choice(parse_accept(ohif), JLS)
    assert (choice.media_type, choice.syntax, choice.as_stored) == (
        "application/octet-stream",
        JLS,
        True,
    )
    # No transfer syntax: native samples, decoded when stored compressed.
    native = frame_choice(parse_accept('multipart/related; type="application/octet-stream"'), J2K)
    assert (native.syntax, native.as_stored) == (ELE, False)
    plain = frame_choice(parse_accept('multipart/related; type="application/octet-stream"'), ELE)
    assert (plain.syntax, plain.as_stored) == (ELE, True)
    # A compressed image type matching the stored syntax.
    jp2 = frame_choice(parse_accept('multipart/related; type="image/jp2"'), J2K)
    assert (jp2.media_type, jp2.as_stored) == ("image/jp2", True)
    with pytest.raises(NotAcceptable):
        frame_choice(parse_accept('multipart/related; type="image/jpeg"'), J2K)
    anything = frame_choice(parse_accept("*/*"), J2K)
    assert (anything.syntax, anything.as_stored) == (ELE, False)
