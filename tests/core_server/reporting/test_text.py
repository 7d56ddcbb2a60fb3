"""Report text: sanitising, plain text, the word-level diff for Chinese."""

from __future__ import annotations

from core_server.reporting import diff, plain, sanitize


def test_sanitize_keeps_formatting_and_drops_active_content() -> None:
    dirty = (
        '<p onclick="x()">T<sub>1</sub>WI 高信号，SUV<sup>max</sup> ± 2.1 '
        '<b>5mm</b><i>斜体</i><script>alert(1)</script><a href="http://x">链接</a>'
        '<img src=x onerror="y()"><span style="color:red">红</span></p>'
    )
    clean = sanitize(dirty)
    assert clean == (
        "<p>T<sub>1</sub>WI 高信号，SUV<sup>max</sup> ± 2.1 <b>5mm</b><i>斜体</i>链接红</p>"
    )
    assert plain("<p>第一段&lt;1cm</p><p>第二段<br>换行</p>") == "第一段<1cm\n第二段\n换行"


def test_diff_compares_chinese_by_character_and_numbers_whole() -> None:
    runs = diff("肝脏大小正常，见1.5cm囊肿。", "肝脏体积增大，见2.5cm囊肿。")
    assert runs == [
        {"op": "equal", "text": "肝脏"},
        {"op": "delete", "text": "大小正常"},
        {"op": "insert", "text": "体积增大"},
        {"op": "equal", "text": "，见"},
        {"op": "delete", "text": "1.5"},
        {"op": "insert", "text": "2.5"},
        {"op": "equal", "text": "cm囊肿。"},
    ]
    assert diff("", "新增") == [{"op": "insert", "text": "新增"}]
