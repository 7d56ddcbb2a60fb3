"""Who reads the department's figures: the department head and the administrator."""

from __future__ import annotations

READERS = ("admin", "department_head")
