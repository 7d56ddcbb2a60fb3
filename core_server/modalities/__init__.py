"""Registered DICOM peers: who may store, query and retrieve, and where C-MOVE sends."""

from core_server.modalities.registry import (
    Modality,
    ModalityError,
    UnknownModality,
    add_modality,
    get_modality,
    list_modalities,
    remove_modality,
    update_modality,
)

__all__ = [
    "Modality",
    "ModalityError",
    "UnknownModality",
    "add_modality",
    "get_modality",
    "list_modalities",
    "remove_modality",
    "update_modality",
]
