"""What this CPU can do, read at run time: native bf16 (AVX512-BF16 / AMX), VNNI, its name.

The one place ecomrel reads the CPU's capabilities: ``precision: auto`` in training
(:func:`ecomrel.train.common.resolve_precision`), the export's variants (measured on the machine
they run on) and ``serve --backend auto`` (which warns when the figures it chooses by were measured
on a CPU with other capabilities). ``ECOMREL_CPU_BF16=0/1`` overrides the bf16 detection (tests use
it to simulate a CPU with or without it).
"""

from __future__ import annotations

import os
import platform
from functools import cache

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    name, flags = "", ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if not name and line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif not flags and line.startswith("flags"):
                    flags = line.split(":", 1)[1]
                if name and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or "unknown", frozenset(flags.split())


def cpu_name() -> str:
    """``model name`` from /proc/cpuinfo (or ``platform.processor()``)."""
    return _cpuinfo()[0]


def cpu_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX); ``ECOMREL_CPU_BF16`` overrides."""
    forced = os.environ.get("ECOMREL_CPU_BF16")
    if forced is not None:
        return forced.strip().lower() in ("1", "true", "yes")
    return bool(_cpuinfo()[1] & BF16_FLAGS)


def cpu_int8_flags() -> list[str]:
    """The int8 dot-product extensions present (VNNI, AMX-INT8): what makes int8 matmuls fast."""
    return sorted(_cpuinfo()[1] & INT8_FLAGS)


def machine() -> dict[str, object]:
    """The facts a speed figure depends on: CPU name, bf16, int8 extensions, core count."""
    return {
        "cpu": cpu_name(),
        "bf16": cpu_bf16(),
        "int8_extensions": cpu_int8_flags(),
        "cpu_count": os.cpu_count(),
    }
