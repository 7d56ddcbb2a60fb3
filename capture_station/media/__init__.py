"""The DICOM objects the capture station writes: stills (``still``) and clips (``clip``)."""
