"""IHE ATNA: the audit trail sent to the hospital's audit repository as DICOM PS3.15 A.5
messages over syslog."""
