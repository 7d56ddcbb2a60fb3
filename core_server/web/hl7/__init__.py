"""The HL7 interface's web adapter: its administration API (``routes``), its page (``pages``),
their template, script and texts (``templates/``, ``static/``, ``messages.json``)."""
