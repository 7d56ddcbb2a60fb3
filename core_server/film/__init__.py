"""Film: DICOM Print Management in and out, composed film sheets in the archive, film use."""
