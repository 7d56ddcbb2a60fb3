"""The check-in kiosk: scan a slip or ID card, get a printed queue ticket (see README.md)."""

import os

# pygame prints a greeting on import; a device's output goes to the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
