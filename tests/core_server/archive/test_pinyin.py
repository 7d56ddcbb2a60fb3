"""Pinyin search keys of patient names: surname readings, compound surnames, name forms."""

from __future__ import annotations

import pytest

from core_server.archive.pinyin import normalize_query, pinyin_keys


@pytest.mark.parametrize(
    ("name", "initials", "spelled"),
    [
        ("张三", "ZS", "ZHANGSAN"),
        ("张^三", "ZS", "ZHANGSAN"),
        ("ZHANG^SAN=张^三", "ZS", "ZHANGSAN"),  # the Chinese group decides
        ("=张^三", "ZS", "ZHANGSAN"),  # ideographic group only
        ("单田芳", "STF", "SHANTIANFANG"),  # pypinyin alone reads DAN
        ("曾^小明", "ZXM", "ZENGXIAOMING"),  # not CENG
        ("区志明", "OZM", "OUZHIMING"),  # not QU
        ("解放", "XF", "XIEFANG"),  # not JIE
        ("仇英", "QY", "QIUYING"),
        ("朴^智星", "PZX", "PIAOZHIXING"),
        ("查良镛", "ZLY", "ZHALIANGYONG"),
        ("盖聂", "GN", "GENIE"),
        ("华佗", "HT", "HUATUO"),
        ("欧阳修", "OYX", "OUYANGXIU"),  # compound surname without ^
        ("尉迟恭", "YCG", "YUCHIGONG"),
        ("吕布", "LB", "LYUBU"),  # ü as YU, as the RIS spells it for modalities
        ("Zhang^San", "ZS", "ZHANGSAN"),  # pinyin sent by the modality
        ("WANG^XIAO MING", "WXM", "WANGXIAOMING"),
        ("", "", ""),
        ("^", "", ""),
    ],
)
def test_keys(name: str, initials: str, spelled: str) -> None:
    assert pinyin_keys(name) == (initials, spelled)


def test_typed_v_finds_yu() -> None:
    assert normalize_query("lvbu") == "LYUBU" == pinyin_keys("吕布")[1]
    assert pinyin_keys("LV^BU")[1] == "LYUBU"  # a console that typed LV
