"""Cloud film on a phone over 4G: page weight and time to the first film sheet.

A core on SQLite with one exam: a signed report and ``--sheets`` film sheets (14x17 in
composed at 150 dpi, 2100x2550, as the Print SCP archives them). Headless Chromium as a phone
(390x844, device scale 3) on a throttled connection (Chromium's network emulation through
CDP: ``--down`` Mbit/s, ``--up`` Mbit/s, ``--rtt`` ms) answers the check question, then:

- bytes until the first sheet is shown (the page, its CSS and the first sheet's JPEG) and in
  all (every response of the page, lazy sheets below the fold loaded by scrolling);
- time from the check's submit to the first sheet decoded (``img.complete``), cold (sheets
  rendered on this request) and warm (from the cache: a second visit).

    .venv/bin/python -m bench.cloud_film [--sheets 3] [--down 9] [--up 3] [--rtt 85]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from core_server.discs import cloud
from tests.core_server.discs.test_cloud_data import patient
from tests.core_server.film.sheet_data import add_sheet
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS

FIRST_SHEET = (
    "() => { const i = document.querySelector('.cloud-sheet img');"
    " return i && i.complete && i.naturalWidth > 0; }"
)


def _throttle(page: Page, down: float, up: float, rtt: float) -> None:
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": rtt,
            "downloadThroughput": down * 1_000_000 / 8,
            "uploadThroughput": up * 1_000_000 / 8,
        },
    )


def _visit(browser: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True
    )
    page = context.new_page()
    _throttle(page, args.down, args.up, args.rtt)
    page.goto(url)
    page.fill("#answer", "19750309")
    sizes: list[tuple[str, int]] = []
    # Encoded body sizes as they crossed the wire (requestfinished fires after the last byte).
    page.on(
        "requestfinished",
        lambda r: sizes.append(
            (r.url, r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"])
        ),
    )
    started = time.perf_counter()
    page.click("#open")
    page.wait_for_function(FIRST_SHEET, timeout=60_000)
    first = time.perf_counter() - started
    for image in page.locator(".cloud-sheet img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.cloud-sheet img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=60_000,
    )
    context.close()
    sheets = [n for u, n in sizes if "/sheets/" in u]
    # What the first sheet needs: the page and its CSS (no script), and that one sheet.
    before_first = sum(n for u, n in sizes if "/sheets/" not in u) + (sheets[0] if sheets else 0)
    return {
        "first_sheet_s": round(first, 3),
        "bytes_to_first_sheet": before_first,
        "bytes_total": sum(n for _, n in sizes),
        "responses": len(sizes),
        "sheet_bytes": sheets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--down", type=float, default=9.0, help="Mbit/s")
    parser.add_argument("--up", type=float, default=3.0, help="Mbit/s")
    parser.add_argument("--rtt", type=float, default=85.0, help="ms")
    args = parser.parse_args()
    from tests.conftest import RunningCore

    with tempfile.TemporaryDirectory() as folder:
        core = RunningCore(Path(folder) / "core").start()
        try:
            p = patient(core, "P-BENCH-1")
            exam_id = p.exam("signed", status="completed", signed=True, images=1)
            study = core.core.ris.exam(exam_id).study_instance_uid
            engine, archive = core.core.engine, core.core.archive
            for _ in range(args.sheets):
                add_sheet(engine, archive, exam_id, study_uid=study, dpi=args.dpi)
            url, _ = cloud.issue_link(engine, None, [exam_id], public_url=core.base_url)
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                cold = _visit(browser, url, args)
                warm = _visit(browser, url, args)
                browser.close()
        finally:
            core.stop()
    network = {"down_mbit": args.down, "up_mbit": args.up, "rtt_ms": args.rtt}
    print(json.dumps({"network": network, "cold": cold, "warm": warm}, indent=2))


if __name__ == "__main__":
    main()
