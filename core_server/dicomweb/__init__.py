"""DICOMweb adapter: QIDO-RS, WADO-RS, WADO-URI and STOW-RS over the archive."""
