"""The RIS's web adapter: its REST API (``routes``), its pages (``pages``), their templates,
scripts and texts (``templates/``, ``static/``, ``messages.json``)."""
