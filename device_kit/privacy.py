"""Patient names on public screens and tickets are masked (the hospital's privacy rule)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明, ZHANG SAN -> Z*** S**.

    The first and (from three characters on) last character stay; an already masked name
    stays as it is."""
    name = name.strip()
    if not name:
        return ""
    if " " in name and name.isascii():
        return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split() if part)
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
