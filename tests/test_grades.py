"""The grade-scale registry: names, custom scales, one-line errors."""

from __future__ import annotations

import pytest

from ecomrel.errors import ConfigError
from ecomrel.grades import DEFAULT_SCALE, LREF_SCALE, get_scale, scale_spec


def test_named_scales():
    assert get_scale("default") is DEFAULT_SCALE and get_scale("TaoSR1") is DEFAULT_SCALE
    assert get_scale("lref") is LREF_SCALE and get_scale(None) is DEFAULT_SCALE
    assert get_scale(LREF_SCALE) is LREF_SCALE and LREF_SCALE.size == 5
    assert scale_spec(LREF_SCALE) == "lref"


def test_custom_scales_and_errors():
    s = get_scale({"names": ["bad", "fair", "good"], "descriptions": ["no", "some", "yes"]})
    assert s.names == ("bad", "fair", "good") and s.max_grade == 2
    assert get_scale(["no", "yes"]).size == 2
    assert scale_spec(s) == {"names": ["bad", "fair", "good"], "descriptions": ["no", "some", "yes"]}
    for bad, msg in [
        ("lrf", "unknown grade scale 'lrf'; known: default, taosr1, lref"),
        (["only"], "at least two"),
        (["a", "A"], "distinct"),
        ({"names": ["a", "b"], "descriptions": ["x"]}, "1 descriptions for 2 grades"),
        ({"names": ["a", "b"], "colour": 1}, "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            get_scale(bad)
