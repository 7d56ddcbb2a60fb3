"""MemoryDenyWriteExecute=yes in every unit holds only if nothing the programs load needs
memory both writable and executable (a JIT, old libffi closures). Each check runs the real
library in a process that first forbids it as systemd would (Linux's PR_SET_MDWE, the same
rule as systemd's seccomp filter: no W+X mapping, no mprotect to executable)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

FORBID = """
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    raise SystemExit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    raise SystemExit("a writable, executable mapping was allowed")
except PermissionError:
    pass
"""
CHECKS = {
    "pygame": """
        import os
        os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
        import pygame
        pygame.init()
        screen = pygame.display.set_mode((160, 120))
        screen.blit(pygame.font.Font(None, 24).render("A12", True, (255, 255, 255)), (0, 0))
        pygame.display.flip()
        assert screen.get_at((2, 2)) is not None
        print("ok")
    """,
    "pyav": """
        import io, av
        source = av.open("testsrc2=size=160x120:rate=25", format="lavfi")
        out = io.BytesIO()
        with av.open(out, "w", format="mp4") as sink:
            stream = sink.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for n, frame in enumerate(source.decode(video=0)):
                sink.mux(stream.encode(frame))
                if n == 10:
                    break
            sink.mux(stream.encode())
        assert out.tell() > 1000
        print("ok")
    """,
    "ctypes callback": """
        import ctypes
        compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                   ctypes.POINTER(ctypes.c_int))(lambda a, b: a[0] - b[0])
        numbers = (ctypes.c_int * 3)(3, 1, 2)
        ctypes.CDLL(None).qsort(numbers, 3, ctypes.sizeof(ctypes.c_int), compare)
        assert list(numbers) == [1, 2, 3]
        print("ok")
    """,
    "weasyprint": """
        import weasyprint
        assert weasyprint.HTML(string="<p>王建国 CT</p>").write_pdf().startswith(b"%PDF")
        print("ok")
    """,
}


@pytest.mark.parametrize("name", CHECKS)
def test_runs_with_write_execute_denied(name: str) -> None:
    script = FORBID + textwrap.dedent(CHECKS[name])
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if run.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    assert (run.returncode, run.stdout.splitlines()[-1:]) == (0, ["ok"]), run.stderr
