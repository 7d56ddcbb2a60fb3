"""The capture stations' core side: captures in the report, endoscope disinfection, pathology requests, the live view."""
