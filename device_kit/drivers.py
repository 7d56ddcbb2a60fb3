"""The hardware-driver pattern: each piece of hardware is a ``typing.Protocol`` with a real
driver and a recording fake; a real driver says what it needs and whether it has it, so a missing
library or device node is a message for the administrator, not a traceback."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Availability:
    """Whether a driver can run here, and if not, what is missing (one line per need)."""

    driver: str
    missing: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing

    def message(self) -> str:
        if self.ok:
            return f"{self.driver}: available ({', '.join(self.needs) or 'no requirements'})"
        return (
            f"{self.driver} driver needs {' and '.join(self.needs)}; "
            f"missing: {', '.join(self.missing)}"
        )


class Driver(Protocol):
    """What every real driver and fake offers besides its own interface."""

    name: str

    def is_available(self) -> Availability: ...


class InputSource(Driver, Protocol):
    """A keypad, button box or barcode reader the main loop polls."""

    def poll(self) -> list[str]:
        """What was entered since the last poll (never blocks); HardwareError if the device
        went away (the program shows it and calls ``poll`` again later to reconnect)."""
        ...

    def close(self) -> None: ...


class HardwareError(RuntimeError):
    """The hardware is present in config but does not work now (offline, out of paper...).

    ``reason`` is a message-catalogue key for the screen; ``str(error)`` is the detail for
    the log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class Needs:
    """Collects a driver's requirements and checks each: Python modules, device nodes,
    programs on PATH, files."""

    driver: str
    _needs: list[str] = field(default_factory=list)
    _missing: list[str] = field(default_factory=list)

    def module(self, name: str, package: str | None = None) -> Needs:
        label = f"Python package {package or name}"
        self._needs.append(label)
        if importlib.util.find_spec(name) is None:
            self._missing.append(label)
        return self

    def program(self, name: str, package: str | None = None) -> Needs:
        label = f"program {name}" + (f" (Debian package {package})" if package else "")
        self._needs.append(label)
        if shutil.which(name) is None:
            self._missing.append(label)
        return self

    def device(self, path: str | Path, writable: bool = True) -> Needs:
        label = f"device {path}"
        self._needs.append(label)
        mode = os.R_OK | (os.W_OK if writable else 0)
        if not Path(path).exists():
            self._missing.append(f"{label} (not present)")
        elif not os.access(path, mode):
            self._missing.append(f"{label} (no permission for this user)")
        return self

    def file(self, path: str | Path, what: str) -> Needs:
        label = f"{what} {path}"
        self._needs.append(label)
        if not Path(path).is_file():
            self._missing.append(label)
        return self

    def result(self) -> Availability:
        return Availability(self.driver, tuple(self._missing), tuple(self._needs))
