"""The quality-control web adapter: ``/api/quality`` (reasons, grades, retakes) and the QC
page ``/quality``."""
