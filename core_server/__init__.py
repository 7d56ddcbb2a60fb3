"""Core server of the imaging-center appliance: DICOM archive, REST API and (later) RIS."""
