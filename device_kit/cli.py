"""The command line every device program shares:

<program> [run] [--config FILE] [--state-dir DIR] ...   the device itself (default)
<program> enrol --core-url URL --key KEY [--name NAME]   store the core's address and key (0600)
<program> enrol [--core-url URL] [--name NAME]           enrol by code: show a code, wait for the
                                                         administrator's confirmation (URL:
                                                         default the option ``core_url``)
<program> run, with ``core_url`` set and no enrolment    the same on the device's screen, then
                                                         on into the normal run
<program> check                                          what the configured hardware needs
<program> options                                        every option, its variable, default

The options (``--config``, ``--state-dir`` and a program's own, e.g. ``--screenshot-dir``) may
stand before or after the command: ``queue-display --screenshot-dir DIR run`` and
``queue-display run --screenshot-dir DIR`` are the same.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from device_kit import config, enrol_code, enrolment, logs
from device_kit.drivers import Availability
from device_kit.fonts import FontMissing

S = TypeVar("S", bound=config.DeviceSettings)
log = logging.getLogger(__name__)


def main(
    settings_cls: type[S],
    run: Callable[[S, argparse.Namespace], int],
    check: Callable[[S], list[Availability]],
    argv: Sequence[str] | None = None,
    add_run_options: Callable[[argparse.ArgumentParser], None] | None = None,
    apply_options: Callable[[S, argparse.Namespace], S] | None = None,
) -> int:
    """``apply_options`` lays a program's own command-line options over the settings for
    ``check`` (``run`` gets ``args`` and does it itself), so ``check --video-source X`` checks X."""
    program = settings_cls.program
    args = _parser(program, add_run_options).parse_args(
        _key_joined(sys.argv[1:] if argv is None else argv)
    )

    if args.command == "options":
        print(config.describe(settings_cls))
        return 0
    try:
        settings = config.load(settings_cls, config=args.config, state_dir=args.state_dir)
    except config.ConfigError as error:
        print(f"{program}: {error}", file=sys.stderr)
        return 2
    logs.setup(program, settings.log_level)

    if args.command == "enrol":
        args.core_url = args.core_url or settings.core_url
        if not args.core_url:
            print(
                f"{program}: enrol needs --core-url URL (or the option core_url)", file=sys.stderr
            )
            return 2
    if args.command == "enrol" and not args.key:
        return _enrol_by_code(settings, args)
    if args.command == "enrol":
        try:
            record = enrolment.Enrolment(args.core_url.rstrip("/"), args.key.strip(), args.name)
        except ValueError as error:
            print(f"{program}: {error}", file=sys.stderr)
            return 2
        enrolment.save(settings.enrolment_file, record)
        print(f"enrolled: key stored in {settings.enrolment_file} (mode 0600)")
        return 0
    if args.command == "check":
        results = check(apply_options(settings, args) if apply_options else settings)
        for result in results:
            print(("ok      " if result.ok else "MISSING ") + result.message())
        return 0 if all(r.ok for r in results) else 1
    # systemd stops a service with SIGTERM: leave through the normal exit path so the
    # program's cleanup (spool, printer, window) runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return run(settings, args)
    except (enrolment.NotEnrolled, enrol_code.EnrolmentFailed, FontMissing) as error:
        # What the administrator must fix, said plainly; anything else keeps its traceback.
        log.error("%s", error)
        print(f"{program}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _enrol_by_code(settings: config.DeviceSettings, args: argparse.Namespace) -> int:
    """The code (and its QR) on the terminal until an administrator confirms it."""

    def show(code: enrol_code.Code) -> None:
        print(f"enrolment code: {code.code} (valid until {code.expires_at})", flush=True)
        print("confirm it on the core's queue admin page, or scan:", code.qr, flush=True)
        if code.fingerprint:  # first contact with a CA this device does not know yet
            print(f"the core's certificate: {code.fingerprint} (as on the admin page?)", flush=True)
        _print_qr(code.qr)

    try:
        record = enrol_code.by_code(args.core_url, settings.program, show, name=args.name)
    except (enrol_code.EnrolmentFailed, ValueError) as error:
        print(f"{settings.program}: {error}", file=sys.stderr)
        return 1
    enrolment.save(settings.enrolment_file, record)
    print(f"enrolled as {record.device_name}: key stored in {settings.enrolment_file} (mode 0600)")
    return 0


def _print_qr(text: str) -> None:
    try:
        import qrcode
    except ImportError:  # the QR is a convenience; the code above is enough
        return
    qr = qrcode.QRCode(border=1)
    qr.add_data(text)
    qr.print_ascii(invert=True)


def _global_options(
    parser: argparse.ArgumentParser,
    add_run_options: Callable[[argparse.ArgumentParser], None] | None,
    *,
    defaults: bool,
) -> None:
    """The options every command takes. On a command's own parser they default to SUPPRESS,
    so a value given before the command is not overwritten by the command's default."""
    default = None if defaults else argparse.SUPPRESS
    parser.add_argument("--config", default=default, help="TOML config file")
    parser.add_argument(
        "--state-dir", default=default, help="folder of the enrolment key and the spool"
    )
    if add_run_options is not None:
        before = {action.dest for action in parser._actions}
        add_run_options(parser)
        if not defaults:
            for action in parser._actions:
                if action.dest not in before:
                    action.default = argparse.SUPPRESS


def _parser(
    program: str, add_run_options: Callable[[argparse.ArgumentParser], None] | None
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program)
    _global_options(parser, add_run_options, defaults=True)
    commands = parser.add_subparsers(dest="command")
    run_parser = commands.add_parser("run", help="run the device (default)")
    enrol = commands.add_parser("enrol", help="store the core's address and this device's key")
    enrol.add_argument(
        "--core-url", default="", help="e.g. https://pacs.hospital:8443 (default: core_url)"
    )
    enrol.add_argument(
        "--key", default="", help="the device key shown by the core (without: enrol by code)"
    )
    enrol.add_argument("--name", default="", help="the device's name in the core")
    check = commands.add_parser("check", help="check the configured hardware and what is missing")
    options = commands.add_parser("options", help="list every option with its default")
    for command in (run_parser, enrol, check, options):
        _global_options(command, add_run_options, defaults=False)
    return parser


def _key_joined(argv: Sequence[str]) -> list[str]:
    """``--key -Xy...`` as ``--key=-Xy...``: keys issued before the core prefixed them with
    ``pacs_`` are plain base64url, and one in 64 begins with "-", which argparse would take for
    an option and refuse the documented command."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--key":
            joined[-1] = f"--key={arg}"
        else:
            joined.append(arg)
    return joined
