"""One refusal type: its texts come from the catalogue in the caller's language, one handler
answers it, and every refusal code raised anywhere in the core has its texts."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

import core_server
from core_server import i18n
from core_server.refusals import Conflict, NotFound, Refusal
from core_server.web import refusals as web_refusals

CORE = Path(core_server.__file__).parent


def _app(refusal: Refusal) -> FastAPI:
    app = FastAPI()
    web_refusals.install(app)

    @app.get("/x")
    def refuse() -> None:
        raise refusal

    return app


def test_answer_is_in_the_callers_language() -> None:
    app = _app(NotFound("web.common.signed_out", holder="li"))
    with TestClient(app) as client:
        chinese = client.get("/x")
        english = client.get("/x", headers={"Accept-Language": "en-US,en;q=0.9"})
        client.cookies.set("lang", "en")
        cookie = client.get("/x", headers={"Accept-Language": "zh"})
    assert chinese.status_code == english.status_code == 404
    texts = i18n.catalogue()["web.common.signed_out"]
    assert chinese.json()["detail"] == {
        "code": "web.common.signed_out",
        "message": texts["zh"],
        "holder": "li",
    }
    assert english.json()["detail"]["message"] == texts["en"]
    assert cookie.json()["detail"]["message"] == texts["en"]


def test_retry_after_and_status() -> None:
    with TestClient(_app(Conflict("web.common.signed_out", retry_after=30))) as client:
        answer = client.get("/x")
    assert answer.status_code == 409 and answer.headers["Retry-After"] == "30"
    assert Refusal("x.y", 418).status == 418 and Refusal("x.y").status == 400
    assert str(Refusal("no.such.code")) == "no.such.code"  # nothing is lost


def _refusal_classes() -> set[str]:
    for module in pkgutil.walk_packages([str(CORE)], "core_server."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: set[str] = set()
    pending = [Refusal]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return found


def _raised_codes(classes: set[str]) -> dict[str, str]:
    codes: dict[str, str] = {}
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            if name in classes and isinstance(first, ast.Constant) and "." in str(first.value):
                codes[str(first.value)] = f"{path.relative_to(CORE)}:{node.lineno}"
    return codes


def test_every_refusal_code_has_its_texts() -> None:
    catalogue = i18n.catalogue()
    codes = _raised_codes(_refusal_classes())
    missing = {code: where for code, where in codes.items() if code not in catalogue}
    assert not missing, f"refusal codes without catalogue texts: {missing}"
