"""The OHIF image viewer at ``/viewer`` (see docs/viewer.md).

- ``routes.py``: the ``/viewer`` routes (the app's files, its generated configuration, the
  launch URL for a HIS/EMR);
- ``files.py``: the installed bundle's files and the headers every viewer answer carries;
- ``config.py`` with ``scripts/``: the generated ``app-config.js`` (data source, the viewport
  corners in the hospital's layout) and ``session-guard.js``;
- ``bundle.py``: installs the pinned OHIF build (``scripts/fetch_ohif.py``, ``make viewer``);
- ``templates/``, ``messages.json``: its pages and texts.
"""

# Read by other pages (a report's "view images" link): who may open the viewer.
VIEW_ROLES = (
    "admin",
    "technician",
    "reporting_doctor",
    "reviewing_doctor",
    "department_head",
    "clinician",
)
