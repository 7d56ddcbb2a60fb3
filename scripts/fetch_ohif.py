"""Installs the OHIF viewer served at /viewer: ``.venv/bin/python scripts/fetch_ohif.py``.

Fetches ``@ohif/app`` (pinned) once; see ``core_server/web/viewer/bundle.py`` and
``docs/viewer.md``. ``--tarball FILE`` installs on an appliance without internet access.
"""

import sys

from core_server.web.viewer.bundle import main

if __name__ == "__main__":
    sys.exit(main())
