"""IHE PDI disc images for the kiosk: ``build_discs(manifest, source, workdir)`` (see
docs/kiosk.md, "The disc")."""

from kiosk_burner.media.build import DiscOptions, build_discs, choose_medium, fileset_id
from kiosk_burner.media.sources import CoreInstanceSource, FolderInstanceSource, InstanceSource
from kiosk_burner.media.viewer import Viewer, ViewerProblem

__all__ = [
    "CoreInstanceSource",
    "DiscOptions",
    "FolderInstanceSource",
    "InstanceSource",
    "Viewer",
    "ViewerProblem",
    "build_discs",
    "choose_medium",
    "fileset_id",
]
