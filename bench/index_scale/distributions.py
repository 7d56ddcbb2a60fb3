"""What the generated index looks like: the modality mix, series and instances per study,
patients with several studies, Chinese names in the forms modalities send, study dates over
years, the hospital's working hours. Pure numpy/Python: rows, no database.

A study's modality decides its shape (PS3.3 series, as a county hospital's devices make them):

=====  =====  ==============  ==============================
mod.   share  series          instances per series (mean)
=====  =====  ==============  ==============================
CT     28 %   3-6 (+SR 10 %)  lognormal, ~55 (a study ~250)
MR     17 %   4-10            lognormal, ~20 (a study ~140)
DX     20 %   1-2             1-2
CR     10 %   1-2             1-2
US     15 %   1               5-40
MG      5 %   1               4
=====  =====  ==============  ==============================

about 100 instances per study on average, so 10 M instances are about 100 k studies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np

from core_server import clock, pinyin
from core_server.archive.objects import person_name_keys, pinyin_columns
from core_server.ris import person

UID_ROOT = "1.2.826.0.1.3680043.8.498.165"
# The commonest family names (about 40 % of Chinese people carry the first ten), weighted.
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳司马诸葛"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华玉兰萍红建国志文海燕鹏辉鑫宇浩然子涵梓轩欣怡雨桐博文佳琪晨阳思远俊熙一诺嘉怡梦瑶"  # noqa: E501
COMPOUND = ("欧阳", "司马", "诸葛")


@dataclass(frozen=True)
class Kind:
    modality: str
    share: float
    series: tuple[int, int]  # inclusive range
    per_series: tuple[str, float, float]  # ("lognormal", mean, sigma) or ("uniform", lo, hi)
    sop_class: str
    rows: int
    body_parts: tuple[str, ...]
    descriptions: tuple[str, ...]


KINDS = (
    Kind("CT", 0.28, (3, 6), ("lognormal", 55, 0.9), "1.2.840.10008.5.1.4.1.1.2", 512,
         ("CHEST", "HEAD", "ABDOMEN"), ("胸部CT平扫", "头颅CT平扫", "上腹部CT增强")),
    Kind("MR", 0.17, (4, 10), ("lognormal", 20, 0.6), "1.2.840.10008.5.1.4.1.1.4", 256,
         ("HEAD", "LSPINE", "KNEE"), ("头颅MR平扫", "腰椎MR平扫", "膝关节MR")),
    Kind("DX", 0.20, (1, 2), ("uniform", 1, 2), "1.2.840.10008.5.1.4.1.1.1.1", 2048,
         ("CHEST", "HAND"), ("胸部正侧位", "手正斜位")),
    Kind("CR", 0.10, (1, 2), ("uniform", 1, 2), "1.2.840.10008.5.1.4.1.1.1", 2048,
         ("CHEST", "SKULL"), ("胸部正位", "头颅正侧位")),
    Kind("US", 0.15, (1, 1), ("uniform", 5, 40), "1.2.840.10008.5.1.4.1.1.6.1", 600,
         ("ABDOMEN", "THYROID"), ("腹部彩超", "甲状腺彩超")),
    Kind("MG", 0.05, (1, 1), ("uniform", 4, 4), "1.2.840.10008.5.1.4.1.1.1.2", 3328,
         ("BREAST",), ("乳腺钼靶",)),
)  # fmt: skip
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.67"  # X-Ray Radiation Dose SR, beside 10 % of CTs
SR_SHARE = 0.10
STUDIES_PER_PATIENT = 2.5  # geometric: most patients have one or two, some many
DOCTORS = ("李^医生", "王^主任", "张^大夫", "刘^医生", "陈^主任")


@dataclass(frozen=True)
class Names:
    """Every column a patient's name fills, in the archive (as ingest writes them) and RIS."""

    dicom: str  # what the modality sent: ZHANG^SAN=张^三, 张^三, ZHANG^SAN or 张三
    alpha: str
    ideo: str
    phon: str
    initials: str
    spelled: str
    ris_name: str  # as the HIS sends it: 张^三
    ris_pinyin: str
    ris_shown: str
    ris_spelled: str
    ris_initials: str


def chinese_name(rng: np.random.Generator) -> str:
    """``张^三``-style: family^given, one or two given characters; the ten commonest family
    names drawn more often (a Zipf-like weight)."""
    families = [*FAMILY[: -2 * len(COMPOUND)], *COMPOUND]
    weights = 1.0 / np.arange(1, len(families) + 1) ** 0.8
    family = families[int(rng.choice(len(families), p=weights / weights.sum()))]
    size = 1 if rng.random() < 0.3 else 2
    given = "".join(GIVEN[int(i)] for i in rng.integers(0, len(GIVEN), size=size))
    return f"{family}^{given}"


@cache
def names(chinese: str, form: int) -> Names:
    """The name columns of ``chinese`` sent in ``form``: 0 both groups (60 % of devices),
    1 Chinese only with ``^`` (25 %), 2 pinyin only (10 %), 3 typed without ``^`` (5 %)."""
    spelled = pinyin.to_pinyin(chinese)
    dicom = (
        pinyin.dicom_person_name(chinese, spelled),
        chinese,
        spelled,
        chinese.replace("^", ""),
    )[form]
    alpha, ideo, phon = person_name_keys(dicom)
    keys = pinyin_columns(dicom)
    ris = person.search_columns(chinese, spelled)
    return Names(
        dicom, alpha, ideo, phon, keys["patient_name_initials"], keys["patient_name_pinyin"],
        chinese, spelled, ris["name_shown"], ris["name_spelled"], ris["name_initials"],
    )  # fmt: skip


def name_form(rng: np.random.Generator) -> int:
    return int(rng.choice(4, p=(0.60, 0.25, 0.10, 0.05)))


def study_kinds(rng: np.random.Generator, count: int) -> np.ndarray:
    shares = np.array([k.share for k in KINDS])
    return rng.choice(len(KINDS), size=count, p=shares / shares.sum())


def series_sizes(rng: np.random.Generator, kind: Kind) -> list[int]:
    """Instances of each series of one study of ``kind``."""
    n = int(rng.integers(kind.series[0], kind.series[1] + 1))
    shape, a, b = kind.per_series
    if shape == "lognormal":
        mu = np.log(a) - b * b / 2  # so that the mean is ``a``
        sizes = np.maximum(1, rng.lognormal(mu, b, size=n).astype(int))
    else:
        sizes = rng.integers(int(a), int(b) + 1, size=n)
    return [int(s) for s in sizes]


def mean_instances_per_study() -> float:
    """The expected instances per study (for sizing a fill)."""
    total = 0.0
    for kind in KINDS:
        shape, a, b = kind.per_series
        per = a if shape == "lognormal" else (a + b) / 2
        series = (kind.series[0] + kind.series[1]) / 2
        total += kind.share * series * per
    return total / sum(k.share for k in KINDS)


def study_moment(rng: np.random.Generator, first: date, days: int) -> datetime:
    """A study's start: a day of the period, within 07:30-21:00 hospital time, as UTC."""
    day = first + timedelta(days=int(rng.integers(0, days)))
    minute = int(rng.integers(7 * 60 + 30, 21 * 60))
    return clock.from_local(datetime.combine(day, time(minute // 60, minute % 60)))


def patient_id(number: int) -> str:
    """A hospital's patient number (门诊号): ten digits."""
    return f"{number:010d}"


def accession(day: str, study_id: int) -> str:
    """``YYYYMMDD`` + the study's number (14-16 characters: a RIS day number is 13, so the
    generated ones never collide with a real registration's)."""
    return f"{day}{study_id:06d}"
