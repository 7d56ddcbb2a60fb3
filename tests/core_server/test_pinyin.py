"""Chinese names in pinyin (core_server.pinyin): the RIS's names for modalities and the
archive's search keys, one surname table for both."""

from __future__ import annotations

import pytest

from core_server.pinyin import (
    dicom_person_name,
    initials,
    normalize_query,
    search_keys,
    split_name,
    to_pinyin,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三", "ZHANG^SAN"),
        ("单田芳", "SHAN^TIANFANG"),  # pypinyin alone: DAN
        ("曾国藩", "ZENG^GUOFAN"),  # CENG
        ("区志航", "OU^ZHIHANG"),  # QU
        ("解缙", "XIE^JIN"),  # JIE
        ("仇英", "QIU^YING"),  # CHOU
        ("朴树", "PIAO^SHU"),  # PU
        ("查良镛", "ZHA^LIANGYONG"),  # CHA
        ("吕布", "LYU^BU"),  # ü as YU, the passport spelling
        ("欧阳娜娜", "OUYANG^NANA"),  # compound surname
        ("司马相如", "SIMA^XIANGRU"),
        ("万俟卨", "MOQI^XIE"),  # the compound's own reading, not pypinyin's SI
        ("女娲", "NYU^WA"),
        ("张^三丰", "ZHANG^SANFENG"),  # already split
        ("John Smith", "JOHN^SMITH"),
        ("", ""),
    ],
)
def test_pinyin_of_names_uses_the_surname_table(name: str, expected: str) -> None:
    assert to_pinyin(name) == expected


def test_dicom_person_name_split_and_initials() -> None:
    assert dicom_person_name("张三") == "ZHANG^SAN=张^三"
    assert dicom_person_name("欧阳娜娜") == "OUYANG^NANA=欧阳^娜娜"
    assert dicom_person_name("John Smith") == "JOHN^SMITH"
    assert dicom_person_name("张三", "ZHANG^SAN") == "ZHANG^SAN=张^三"
    assert split_name("诸葛亮") == ("诸葛", "亮")
    assert split_name("欧阳") == ("欧", "阳")  # two characters: surname and given name
    assert split_name("张^三") == ("张", "三")
    assert initials("张三丰") == "ZSF"
    assert initials("欧阳娜娜") == "OYNN"
    assert initials("单田芳") == "STF"
    assert initials("万俟卨") == "MQX"
    assert initials("John Smith") == "JS"
    assert initials("Li Lei", "LI^LEI") == "LL"


@pytest.mark.parametrize(
    ("name", "letters", "spelled"),
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
        ("欧阳^修", "OYX", "OUYANGXIU"),
        ("尉迟恭", "YCG", "YUCHIGONG"),
        ("闾丘露薇", "LQLW", "LYUQIULUWEI"),
        ("吕布", "LB", "LYUBU"),  # ü as YU, as the RIS spells it for modalities
        ("张^三^^^", "ZS", "ZHANGSAN"),  # empty trailing components
        ("Zhang^San", "ZS", "ZHANGSAN"),  # pinyin sent by the modality
        ("WANG^XIAO MING", "WXM", "WANGXIAOMING"),
        ("", "", ""),
        ("^", "", ""),
    ],
)
def test_search_keys(name: str, letters: str, spelled: str) -> None:
    assert search_keys(name) == (letters, spelled)


def test_the_ris_name_and_the_archive_keys_agree() -> None:
    # A name registered at the RIS goes to the modality as ZHANG^SAN=张^三 and comes back in
    # the images: the archive's keys of what came back match the RIS's spelling and initials.
    for name in ("张三", "单田芳", "吕布", "欧阳娜娜", "万俟卨", "曾小明"):
        sent = dicom_person_name(name)
        assert search_keys(sent) == (initials(name), to_pinyin(name).replace("^", ""))


def test_typed_v_finds_yu() -> None:
    assert normalize_query("lvbu") == "LYUBU" == search_keys("吕布")[1]
    assert search_keys("LV^BU")[1] == "LYUBU"  # a console that typed LV
