"""One settings object per device program. In rising priority: defaults, a TOML file
(``--config``, ``<PREFIX>CONFIG``, or ``/etc/imaging/<program>.toml`` when present),
environment variables ``<PREFIX><OPTION>``, the command line (as for the core server)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SYSTEM_CONFIG_DIR = Path("/etc/imaging")


class ConfigError(ValueError):
    """An invalid option, written for the administrator."""


class DeviceSettings(BaseSettings):
    """Options every device program has. A program subclasses it with its own prefix."""

    model_config = SettingsConfigDict(env_prefix="DEVICE_", extra="forbid")
    # The program name, used for default paths (/var/lib/<name>, /etc/imaging/<name>.toml).
    program: ClassVar[str] = "device"

    state_dir: Path = Field(
        Path("/var/lib/imaging-device"),
        description="Enrolment key, spool and other state of this device",
    )
    core_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="The core's address (https://pacs:8443); with no enrolment file the "
        "program shows an enrolment code for the administrator to confirm",
    )
    language: str = Field("zh", pattern="^(zh|en)$", description="Screen language: zh or en")
    log_level: str = Field("INFO", description="Python logging level")
    reconnect_min_delay: float = Field(
        1.0, gt=0, description="First wait before reconnecting to the core (s)"
    )
    reconnect_max_delay: float = Field(
        30.0, gt=0, description="Longest wait between reconnection attempts (s)"
    )
    request_timeout: float = Field(10.0, gt=0, description="Timeout of one REST request (s)")
    config: Path | None = Field(None, description="TOML config file with any of these options")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        program = getattr(settings_cls, "program", "device")
        config_file = _config_file(init_settings(), prefix, program)
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigError(f"config file {config_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def enrolment_file(self) -> Path:
        return self.state_dir / "enrolment.json"

    @property
    def spool_file(self) -> Path:
        return self.state_dir / "spool.sqlite"

    @property
    def logo_file(self) -> Path:
        return self.state_dir / "logo"


class ScreenSettings(DeviceSettings):
    """Options of a device program with a pygame screen."""

    window_size: str = Field(
        "", pattern=r"^(\d+x\d+)?$", description="WIDTHxHEIGHT; empty: the display's own size"
    )
    fullscreen: bool = Field(True, description="Full screen (off for a window while testing)")
    font_path: Path | None = Field(None, description="Chinese font; default WenQuanYi Micro Hei")
    frames_per_second: int = Field(10, ge=1, le=60, description="Screen refresh rate")

    @property
    def size(self) -> tuple[int, int] | None:
        if not self.window_size:
            return None
        width, height = self.window_size.split("x")
        return int(width), int(height)


def _config_file(init: dict[str, Any], prefix: str, program: str) -> Path | None:
    """The file named by ``--config`` or ``<PREFIX>CONFIG`` (which must exist), else
    ``/etc/imaging/<program>.toml`` when it exists."""
    path = init.get("config") or os.environ.get(f"{prefix}CONFIG")
    if path:
        return Path(path)
    default = SYSTEM_CONFIG_DIR / f"{program}.toml"
    return default if default.is_file() else None


S = TypeVar("S", bound=DeviceSettings)


def load(settings_cls: type[S], **overrides: Any) -> S:
    """The program's settings; an invalid option becomes one readable ConfigError."""
    try:
        return settings_cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        lines = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        ]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None


def describe(settings_cls: type[DeviceSettings]) -> str:
    """Every option with its default and description, for ``--help-config`` and the docs."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    lines = []
    for name, info in settings_cls.model_fields.items():
        default = info.default
        lines.append(f"{name} ({prefix}{name.upper()}, default {default!r}): {info.description}")
    return "\n".join(lines)
