"""Every refusal the queue raises has its words in both languages (``queueing.refusal.*``), and
the stable codes the device programs act on stay what docs/queue-api.md lists."""

from __future__ import annotations

import ast
from pathlib import Path

from core_server import i18n
from core_server.queueing.refusals import PREFIX, QueueRefusal, invalid, not_found

ROOT = Path(__file__).resolve().parents[3] / "core_server"
RAISERS = {"QueueRefusal", "NotFound", "Forbidden", "Invalid"}
HELPERS = {"invalid": "invalid", "not_found": "not_found"}


def _keys() -> dict[str, str]:
    """Catalogue key -> where it is raised, for every literal refusal in the queue's code."""
    found: dict[str, str] = {}
    for folder in (ROOT / "queueing", ROOT / "web" / "queueing"):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                words = [a.value for a in node.args if isinstance(a, ast.Constant)]
                if len(words) < min(2, len(node.args)):
                    continue  # a reason passed on (config.Kind.what, the helpers below)
                if name in RAISERS and words:
                    key = PREFIX + ".".join(str(w) for w in words[:2])
                elif name in HELPERS and words:
                    key = PREFIX + HELPERS[name] + "." + str(words[0])
                else:
                    continue
                found[key] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_queue_refusal_has_its_texts() -> None:
    catalogue = i18n.catalogue()
    keys = _keys()
    assert len(keys) > 40  # the walk found them
    for what in ("room", "queue", "screen", "device", "user"):
        keys[f"{PREFIX}exists.{what}"] = "config._store, devices"
    for what in ("room", "queue", "screen", "ticket", "device", "logo"):
        keys[f"{PREFIX}not_found.{what}"] = "refusals.not_found"
    missing = {key: where for key, where in keys.items() if key not in catalogue}
    assert not missing, missing


def test_the_code_stays_stable_and_the_message_follows_the_language() -> None:
    refusal = QueueRefusal("too_soon", retry_after=3)
    assert refusal.as_dict("zh") == {
        "code": "too_soon",
        "message": "呼叫过于频繁，请 3 秒后再试",
        "retry_after": 3,
    }
    assert refusal.text("en") == "Calling too often: try again in 3 s"
    assert not_found("room", "CT9").status == 404 and not_found("room", "CT9").code == "not_found"
    assert invalid("range", field="rows", low=1, high=50).text("en") == "rows is 1 to 50"
