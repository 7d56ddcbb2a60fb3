"""REST (and pages) of the storage lifecycle's tiers part."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Include this part's routers (nothing yet)."""
