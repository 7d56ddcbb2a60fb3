"""The reporting web adapter: its REST API (``routes``), its pages (``pages``: the doctors'
workspace, the critical value list, the administrator's configuration), their templates,
scripts and texts (``templates/``, ``static/``, ``messages.json``, which also holds the
reporting domain's refusal texts)."""
