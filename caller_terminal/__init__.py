"""The exam-room caller: call next, recall, missed, start, finish, call a chosen patient."""

import os

# pygame prints a greeting on import; a device's output goes to the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
