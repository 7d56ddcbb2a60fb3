"""The Print Management objects of one association (PS3.4 Annex H), without any network code:
Basic Film Session, Basic Film Box, Basic Grayscale/Color Image Box, Basic Annotation Box,
Presentation LUT and the Printer. The DICOM adapter (``core_server.dicom.print_handlers``)
hands each N-CREATE/N-SET/N-GET/N-ACTION/N-DELETE to :class:`PrintSession` and sends back the
``(status, attribute list)`` it answers. A printed Film Box becomes a :class:`PrintedFilm`
given to the ``printer`` callable (``sheets.py`` composes and archives it).

Every request is answered with a status, never an exception: unknown SOP instance 0x0112,
missing attribute 0x0120, invalid attribute value 0x0106, class-instance conflict 0x0119, no
such SOP class 0x0118, no such action 0x0123, our own failure 0x0110 (with an Error Comment).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from pydicom.uid import generate_uid

from core_server.film.print_values import (
    CLASS_INSTANCE_CONFLICT,
    DUPLICATE_INSTANCE,
    EMPTY_PAGE,
    INVALID_VALUE,
    MISSING_ATTRIBUTE,
    NO_FILM_BOX,
    NO_SUCH_ACTION,
    NO_SUCH_CLASS,
    NO_SUCH_INSTANCE,
    PRINT,
    PROCESSING_FAILURE,
    SUCCESS,
    Answer,
    answer_status,
    choice,
    collect_hints,
    copies,
    density,
    pixels,
    text,
)
from core_server.film.sheet import DEFAULT_FILM_SIZE, FILM_SIZES_MM, FilmSheet, ImageBox, layout
from core_server.refusals import Refusal

log = logging.getLogger(__name__)

FILM_SESSION = "1.2.840.10008.5.1.1.1"
FILM_BOX = "1.2.840.10008.5.1.1.2"
GRAYSCALE_IMAGE_BOX = "1.2.840.10008.5.1.1.4"
COLOR_IMAGE_BOX = "1.2.840.10008.5.1.1.4.1"
ANNOTATION_BOX = "1.2.840.10008.5.1.1.15"
PRINTER = "1.2.840.10008.5.1.1.16"
PRINTER_INSTANCE = "1.2.840.10008.5.1.1.17"  # the well-known Printer SOP instance
PRESENTATION_LUT = "1.2.840.10008.5.1.1.23"
GRAYSCALE_META = "1.2.840.10008.5.1.1.9"
COLOR_META = "1.2.840.10008.5.1.1.18"
# What a registered peer may propose on the DICOM port for printing.
ABSTRACT_SYNTAXES = (GRAYSCALE_META, COLOR_META, PRESENTATION_LUT, ANNOTATION_BOX, PRINTER)
CLASSES = frozenset(
    {
        FILM_SESSION,
        FILM_BOX,
        GRAYSCALE_IMAGE_BOX,
        COLOR_IMAGE_BOX,
        ANNOTATION_BOX,
        PRINTER,
        PRESENTATION_LUT,
    }
)

_MAGNIFICATIONS = {"REPLICATE", "BILINEAR", "CUBIC", "NONE"}
_PRIORITIES = {"HIGH", "MED", "LOW"}
_MEDIA = {"PAPER", "CLEAR FILM", "BLUE FILM", "MAMMO CLEAR FILM", "MAMMO BLUE FILM"}
_LUT_SHAPES = {"IDENTITY", "LIN OD"}
# Film Box attributes copied into the N-CREATE answer as the SCU sent (or our default).
_BOX_ECHO = (
    "AnnotationDisplayFormatID",
    "Trim",
    "ConfigurationInformation",
    "SmoothingType",
    "MinDensity",
    "MaxDensity",
    "Illumination",
    "ReflectedAmbientLight",
    "RequestedResolutionID",
)


@dataclass(frozen=True)
class PrinterInfo:
    """What the Printer SOP instance answers to N-GET."""

    name: str = "FILM"
    manufacturer: str = "PACS"
    model: str = "Virtual film printer"
    serial: str = "1"
    software: str = "1"


@dataclass
class PrintedFilm:
    """One printed Film Box, with what may tie it to an exam."""

    sheet: FilmSheet
    calling_ae: str
    copies: int = 1
    session: dict[str, str] = field(default_factory=dict)  # label, owner, medium...
    annotations: dict[int, str] = field(default_factory=dict)  # position -> text
    referenced_images: list[str] = field(default_factory=list)  # SOP Instance UIDs
    hints: dict[str, str] = field(default_factory=dict)  # HINT_KEYS found in the objects
    presentation_lut: str = ""  # the shape of the Film Box's Presentation LUT


Printer = Callable[[PrintedFilm], None]


@dataclass
class _FilmBox:
    uid: str
    sheet: FilmSheet
    answered: Dataset
    image_boxes: dict[str, int] = field(default_factory=dict)  # uid -> position
    annotation_boxes: dict[str, int] = field(default_factory=dict)
    annotations: dict[int, str] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    hints: dict[str, str] = field(default_factory=dict)
    lut: str = ""


class PrintSession:
    """The print objects of one association; ``printer`` gets each printed film box."""

    def __init__(
        self, printer: Printer, *, calling_ae: str = "", info: PrinterInfo | None = None
    ) -> None:
        self.printer = printer
        self.calling_ae = calling_ae
        self.info = info or PrinterInfo()
        self.session_uid: str | None = None
        self.session = Dataset()
        self.film_boxes: dict[str, _FilmBox] = {}  # in creation order
        self.image_boxes: dict[str, tuple[str, str]] = {}  # uid -> (film box uid, SOP class)
        self.luts: dict[str, str] = {}  # uid -> shape
        self.printed: list[PrintedFilm] = []
        self._session_hints: dict[str, str] = {}
        self._session_references: list[str] = []

    # -- the five services ----------------------------------------------------------------

    def create(
        self, sop_class: str, uid: str | None, attrs: Dataset | None, meta: str = GRAYSCALE_META
    ) -> tuple[Dataset, Dataset | None]:
        return self._answer(
            "N-CREATE", lambda: self._create(sop_class, uid, attrs or Dataset(), meta)
        )

    def set(self, sop_class: str, uid: str, mods: Dataset | None) -> tuple[Dataset, Dataset | None]:
        return self._answer("N-SET", lambda: self._set(sop_class, uid, mods or Dataset()))

    def get(
        self, sop_class: str, uid: str, tags: list[Any] | None = None
    ) -> tuple[Dataset, Dataset | None]:
        return self._answer("N-GET", lambda: self._get(sop_class, uid, tags or []))

    def action(self, sop_class: str, uid: str, action_type: int) -> tuple[Dataset, Dataset | None]:
        return self._answer("N-ACTION", lambda: self._action(sop_class, uid, action_type))

    def delete(self, sop_class: str, uid: str) -> tuple[Dataset, Dataset | None]:
        return self._answer("N-DELETE", lambda: self._delete(sop_class, uid))

    def _answer(
        self, what: str, run: Callable[[], tuple[int, Dataset | None]]
    ) -> tuple[Dataset, Dataset | None]:
        try:
            code, ds = run()
            return answer_status(code), ds
        except Answer as refused:
            log.warning("print %s from %s: %#06x %s", what, self.calling_ae, refused.code, refused)
            return answer_status(refused.code, refused.comment), None
        except Refusal as refused:  # the sheet frame refused a value (display format, size)
            log.warning("print %s from %s: %s", what, self.calling_ae, refused.code)
            return answer_status(INVALID_VALUE, refused.code), None
        except Exception as exc:
            log.exception("print %s from %s failed", what, self.calling_ae)
            return answer_status(PROCESSING_FAILURE, f"print failed: {exc}"), None

    # -- N-CREATE -------------------------------------------------------------------------

    def _create(
        self, sop_class: str, uid: str | None, attrs: Dataset, meta: str
    ) -> tuple[int, Dataset | None]:
        if sop_class == FILM_SESSION:
            return SUCCESS, self._create_session(uid, attrs)
        if sop_class == FILM_BOX:
            return SUCCESS, self._create_film_box(uid, attrs, color=meta == COLOR_META)
        if sop_class == PRESENTATION_LUT:
            return SUCCESS, self._create_lut(uid, attrs)
        if sop_class in CLASSES:
            raise Answer(0x0211, f"N-CREATE of {sop_class} is not a Print Management operation")
        raise Answer(NO_SUCH_CLASS, f"no such SOP class {sop_class}")

    def _create_session(self, uid: str | None, attrs: Dataset) -> Dataset:
        if self.session_uid is not None:  # PS3.4 H.4.1.2.1: one film session per association
            raise Answer(DUPLICATE_INSTANCE, "a film session exists on this association")
        answered = Dataset()
        answered.NumberOfCopies = copies(attrs)
        answered.PrintPriority = choice(attrs, "PrintPriority", _PRIORITIES, "MED")
        answered.MediumType = choice(attrs, "MediumType", _MEDIA, "BLUE FILM")
        answered.FilmDestination = text(attrs, "FilmDestination", "MAGAZINE")
        for keyword in ("FilmSessionLabel", "OwnerID", "MemoryAllocation"):
            if attrs.get(keyword) not in (None, ""):
                setattr(answered, keyword, attrs.get(keyword))
        self.session_uid = uid or generate_uid()
        self.session = answered
        self._session_hints, self._session_references = {}, []
        collect_hints(attrs, self._session_hints, self._session_references)
        reply = Dataset()
        reply.update(answered)
        if uid is None:
            reply.AffectedSOPInstanceUID = self.session_uid
        return reply

    def _create_film_box(self, uid: str | None, attrs: Dataset, *, color: bool) -> Dataset:
        references = attrs.get("ReferencedFilmSessionSequence")
        if not references:
            raise Answer(MISSING_ATTRIBUTE, "Referenced Film Session Sequence missing")
        if (
            self.session_uid is None
            or str(references[0].get("ReferencedSOPInstanceUID", "")) != self.session_uid
        ):
            raise Answer(INVALID_VALUE, "the referenced film session is not this association's")
        if not attrs.get("ImageDisplayFormat"):
            raise Answer(MISSING_ATTRIBUTE, "Image Display Format missing")
        sheet = FilmSheet(
            display_format=str(attrs.ImageDisplayFormat).strip().upper(),
            film_size=text(attrs, "FilmSizeID", DEFAULT_FILM_SIZE),
            orientation=choice(attrs, "FilmOrientation", {"PORTRAIT", "LANDSCAPE"}, "PORTRAIT"),  # type: ignore[arg-type]
            magnification=choice(attrs, "MagnificationType", _MAGNIFICATIONS, "BILINEAR"),
            border_density=density(attrs, "BorderDensity", "BLACK"),
            empty_image_density=density(attrs, "EmptyImageDensity", "BLACK"),
            color=color,
        )
        if sheet.film_size not in FILM_SIZES_MM:
            raise Answer(INVALID_VALUE, f"Film Size ID {sheet.film_size} not supported")
        positions = len(layout(sheet.display_format, 1000, 1000))  # refuses a bad format
        box = _FilmBox(uid or generate_uid(), sheet, Dataset())
        box.lut = self._referenced_lut(attrs)
        collect_hints(attrs, box.hints, box.references)
        answered = box.answered
        answered.ImageDisplayFormat = sheet.display_format
        answered.FilmOrientation = sheet.orientation
        answered.FilmSizeID = sheet.film_size
        answered.MagnificationType = sheet.magnification
        answered.BorderDensity = sheet.border_density
        answered.EmptyImageDensity = sheet.empty_image_density
        for keyword in _BOX_ECHO:
            if attrs.get(keyword) not in (None, ""):
                setattr(answered, keyword, attrs.get(keyword))
        answered.ReferencedFilmSessionSequence = references
        box_class = COLOR_IMAGE_BOX if color else GRAYSCALE_IMAGE_BOX
        answered.ReferencedImageBoxSequence = [
            self._new_image_box(box, position, box_class) for position in range(1, positions + 1)
        ]
        if attrs.get("AnnotationDisplayFormatID"):
            answered.ReferencedBasicAnnotationBoxSequence = [
                self._new_annotation_box(box, position) for position in range(1, 5)
            ]
        if attrs.get("ReferencedPresentationLUTSequence"):
            answered.ReferencedPresentationLUTSequence = attrs.ReferencedPresentationLUTSequence
        self.film_boxes[box.uid] = box
        reply = Dataset()
        reply.update(answered)
        if uid is None:
            reply.AffectedSOPInstanceUID = box.uid
        return reply

    def _new_image_box(self, box: _FilmBox, position: int, sop_class: str) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = generate_uid()
        box.image_boxes[item.ReferencedSOPInstanceUID] = position
        self.image_boxes[item.ReferencedSOPInstanceUID] = (box.uid, sop_class)
        return item

    def _new_annotation_box(self, box: _FilmBox, position: int) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = ANNOTATION_BOX
        item.ReferencedSOPInstanceUID = generate_uid()
        box.annotation_boxes[item.ReferencedSOPInstanceUID] = position
        return item

    def _referenced_lut(self, attrs: Dataset) -> str:
        for item in attrs.get("ReferencedPresentationLUTSequence") or []:
            uid = str(item.get("ReferencedSOPInstanceUID") or "")
            if uid not in self.luts:
                raise Answer(INVALID_VALUE, "unknown Presentation LUT referenced")
            return self.luts[uid]
        return ""

    def _create_lut(self, uid: str | None, attrs: Dataset) -> Dataset:
        uid = uid or generate_uid()
        if uid in self.luts:
            raise Answer(DUPLICATE_INSTANCE, "this Presentation LUT exists")
        if attrs.get("PresentationLUTSequence"):
            shape = "TABLE"  # recorded, not applied: the sender's P-values are printed as sent
        elif attrs.get("PresentationLUTShape"):
            shape = choice(attrs, "PresentationLUTShape", _LUT_SHAPES, "IDENTITY")
        else:
            raise Answer(MISSING_ATTRIBUTE, "Presentation LUT Shape or Sequence missing")
        self.luts[uid] = shape
        reply = Dataset()
        if shape != "TABLE":
            reply.PresentationLUTShape = shape
        reply.AffectedSOPInstanceUID = uid
        return reply

    # -- N-SET ----------------------------------------------------------------------------

    def _set(self, sop_class: str, uid: str, mods: Dataset) -> tuple[int, Dataset | None]:
        if sop_class in (GRAYSCALE_IMAGE_BOX, COLOR_IMAGE_BOX):
            self._set_image_box(sop_class, uid, mods)
        elif sop_class == ANNOTATION_BOX:
            self._set_annotation(uid, mods)
        elif sop_class == FILM_SESSION:
            self._require_session(uid)
            if "NumberOfCopies" in mods:
                self.session.NumberOfCopies = copies(mods)
            for keyword, allowed in (("PrintPriority", _PRIORITIES), ("MediumType", _MEDIA)):
                if keyword in mods:
                    setattr(self.session, keyword, choice(mods, keyword, allowed, ""))
            for keyword in ("FilmDestination", "FilmSessionLabel", "OwnerID"):
                if keyword in mods:
                    setattr(self.session, keyword, mods.get(keyword))
        elif sop_class == FILM_BOX:
            box = self._film_box(uid)
            if "MagnificationType" in mods:
                box.sheet.magnification = choice(mods, "MagnificationType", _MAGNIFICATIONS, "")
            if "BorderDensity" in mods:
                box.sheet.border_density = density(mods, "BorderDensity", "BLACK")
            if "EmptyImageDensity" in mods:
                box.sheet.empty_image_density = density(mods, "EmptyImageDensity", "BLACK")
            if "ReferencedPresentationLUTSequence" in mods:
                box.lut = self._referenced_lut(mods)
        elif sop_class in CLASSES:
            raise Answer(0x0211, f"N-SET of {sop_class} is not a Print Management operation")
        else:
            raise Answer(NO_SUCH_CLASS, f"no such SOP class {sop_class}")
        return SUCCESS, mods

    def _set_image_box(self, sop_class: str, uid: str, mods: Dataset) -> None:
        if uid not in self.image_boxes:
            raise Answer(NO_SUCH_INSTANCE, "no such image box")
        box_uid, box_class = self.image_boxes[uid]
        if box_class != sop_class:
            raise Answer(CLASS_INSTANCE_CONFLICT, "the image box is of the other class")
        box = self.film_boxes[box_uid]
        position = box.image_boxes[uid]
        given = mods.get("ImageBoxPosition")
        if given is not None and int(given) != position:
            raise Answer(INVALID_VALUE, f"Image Box Position {given} is not {position}")
        keyword = "BasicColorImageSequence" if box.sheet.color else "BasicGrayscaleImageSequence"
        if keyword not in mods:
            raise Answer(MISSING_ATTRIBUTE, f"{keyword} missing")
        box.sheet.images = [i for i in box.sheet.images if i.position != position]
        items = mods.get(keyword) or []
        collect_hints(mods, box.hints, box.references)
        if not items:  # an empty sequence empties the box
            return
        image = ImageBox(
            position,
            pixels(items[0], color=box.sheet.color),
            photometric=text(items[0], "PhotometricInterpretation"),  # type: ignore[arg-type]
            bits_stored=int(items[0].get("BitsStored") or 8),
            polarity=choice(mods, "Polarity", {"NORMAL", "REVERSE"}, "NORMAL"),  # type: ignore[arg-type]
            magnification=choice(mods, "MagnificationType", _MAGNIFICATIONS | {""}, ""),
        )
        collect_hints(items[0], box.hints, box.references)
        box.sheet.images.append(image)

    def _set_annotation(self, uid: str, mods: Dataset) -> None:
        for box in self.film_boxes.values():
            if uid in box.annotation_boxes:
                position = int(mods.get("AnnotationPosition") or box.annotation_boxes[uid])
                text = str(mods.get("TextString") or "").strip()
                if text:
                    box.annotations[position] = text
                else:
                    box.annotations.pop(position, None)
                return
        raise Answer(NO_SUCH_INSTANCE, "no such annotation box")

    # -- N-GET, N-ACTION, N-DELETE --------------------------------------------------------

    def _get(self, sop_class: str, uid: str, tags: list[Any]) -> tuple[int, Dataset | None]:
        if sop_class != PRINTER:
            raise Answer(0x0211, f"N-GET of {sop_class} is not served")
        if uid != PRINTER_INSTANCE:
            raise Answer(NO_SUCH_INSTANCE, "the printer is 1.2.840.10008.5.1.1.17")
        full = Dataset()
        full.PrinterStatus = "NORMAL"
        full.PrinterStatusInfo = "NORMAL"
        full.PrinterName = self.info.name
        full.Manufacturer = self.info.manufacturer
        full.ManufacturerModelName = self.info.model
        full.DeviceSerialNumber = self.info.serial
        full.SoftwareVersions = self.info.software
        if not tags:
            return SUCCESS, full
        chosen = Dataset()
        for tag in tags:
            if tag in full:
                chosen.add(full[tag])
        return SUCCESS, chosen

    def _action(self, sop_class: str, uid: str, action_type: int) -> tuple[int, Dataset | None]:
        if sop_class not in (FILM_SESSION, FILM_BOX):
            raise Answer(0x0211, f"N-ACTION of {sop_class} is not served")
        if action_type != PRINT:
            raise Answer(NO_SUCH_ACTION, f"no action {action_type}")
        if sop_class == FILM_SESSION:
            self._require_session(uid)
            if not self.film_boxes:
                raise Answer(NO_FILM_BOX, "the film session has no film box")
            printed = [self._print(box) for box in self.film_boxes.values()]
            return (SUCCESS if any(printed) else EMPTY_PAGE), None
        return (SUCCESS if self._print(self._film_box(uid)) else EMPTY_PAGE), None

    def _print(self, box: _FilmBox) -> bool:
        """Hand the film box to the printer; False for an empty page (nothing printed)."""
        if not box.sheet.images:
            return False
        hints = dict(self._session_hints)
        hints.update({k: v for k, v in box.hints.items() if k not in hints})
        references = self._session_references + box.references
        film = PrintedFilm(
            sheet=box.sheet,
            calling_ae=self.calling_ae,
            copies=int(self.session.get("NumberOfCopies") or 1),
            session={
                k: str(self.session.get(k))
                for k in ("FilmSessionLabel", "OwnerID", "MediumType", "FilmDestination")
                if self.session.get(k) not in (None, "")
            },
            annotations=dict(box.annotations),
            referenced_images=references,
            hints=hints,
            presentation_lut=box.lut,
        )
        self.printer(film)
        self.printed.append(film)
        return True

    def _delete(self, sop_class: str, uid: str) -> tuple[int, Dataset | None]:
        if sop_class == FILM_SESSION:
            self._require_session(uid)
            self.session_uid, self.session = None, Dataset()
            for box_uid in list(self.film_boxes):
                self._drop_film_box(box_uid)
        elif sop_class == FILM_BOX:
            self._film_box(uid)
            self._drop_film_box(uid)
        elif sop_class == PRESENTATION_LUT:
            if self.luts.pop(uid, None) is None:
                raise Answer(NO_SUCH_INSTANCE, "no such Presentation LUT")
        elif sop_class in CLASSES:
            raise Answer(0x0211, f"N-DELETE of {sop_class} is not served")
        else:
            raise Answer(NO_SUCH_CLASS, f"no such SOP class {sop_class}")
        return SUCCESS, None

    def _drop_film_box(self, uid: str) -> None:
        box = self.film_boxes.pop(uid)
        for image_uid in box.image_boxes:
            self.image_boxes.pop(image_uid, None)

    def _require_session(self, uid: str) -> None:
        if self.session_uid is None or uid != self.session_uid:
            raise Answer(NO_SUCH_INSTANCE, "no such film session")

    def _film_box(self, uid: str) -> _FilmBox:
        if uid not in self.film_boxes:
            raise Answer(NO_SUCH_INSTANCE, "no such film box")
        return self.film_boxes[uid]
