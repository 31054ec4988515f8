"""The ``select`` pipeline stage on the sample catalogue (fast linear helpers)."""

from __future__ import annotations

import shutil

import pytest

registry = pytest.importorskip("ecomrel.pipeline.registry")
pytest.importorskip("ecomrel.pipeline.stages.select")


def test_select_stage_writes_the_stage_folder(select_sample, tmp_path):
    from ecomrel.config import PipelineConfig
    from ecomrel.pipeline.stages.select import SelectOptions, select_stage

    shutil.copytree(select_sample, tmp_path / "data")
    opts = SelectOptions(config={"scorer": {"kind": "linear", "linear_features": 4096}, "keep_ratio": 0.4})
    opts.check()
    ctx = registry.StageContext(config=PipelineConfig(out=tmp_path), name="select", options=opts)
    rows = select_stage(ctx)
    assert (tmp_path / "select" / "selected.parquet").exists()
    assert 0 < rows["select"]["kept"] < rows["select"]["pairs"]
    assert "union_precision" in rows["select"]


def test_select_stage_rejects_pipeline_owned_fields():
    from ecomrel.errors import ConfigError
    from ecomrel.pipeline.stages.select import SelectOptions

    with pytest.raises(ConfigError, match="data_dir"):
        SelectOptions(config={"data_dir": "x"}).check()
    with pytest.raises(ConfigError, match="keep_ratio"):
        SelectOptions(config={"keep_ratio": 5}).check()
