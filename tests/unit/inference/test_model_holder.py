"""Loading by alias and version: a failed load keeps the model being served; the same version is not reloaded."""

from __future__ import annotations

from inference import metrics
from inference.model_holder import ModelHolder
from infra.settings import Settings
from tests.unit.inference.models import memory_model


def holder_with(tmp_path, alias: dict, loads: list) -> ModelHolder:
    def loader(settings, version):
        loads.append(version)
        if version == "broken":
            raise OSError("artifact missing")
        return memory_model(version=version)

    return ModelHolder(Settings(data_dir=tmp_path), loader=loader, resolver=lambda s: alias.get("champion"))


async def test_alias_first_load_and_no_reload_of_the_same_version(tmp_path):
    alias, loads = {}, []
    holder = holder_with(tmp_path, alias, loads)
    assert await holder.load_alias() is False and holder.current is None  # no champion yet
    alias["champion"] = "1"
    assert await holder.load_alias() is True and holder.version == "1"
    await holder.load_alias()
    assert loads == ["1"]
    alias["champion"] = "2"
    await holder.load_alias()
    assert holder.version == "2" and loads == ["1", "2"]


async def test_a_version_that_cannot_load_leaves_the_old_one_serving(tmp_path):
    alias, loads = {"champion": "1"}, []
    holder = holder_with(tmp_path, alias, loads)
    await holder.load_alias()
    failed_before = metrics.MODEL_RELOADS.labels("failed")._value.get()
    assert await holder.load("broken", "test") is False
    assert holder.version == "1"
    assert metrics.MODEL_RELOADS.labels("failed")._value.get() == failed_before + 1
    assert await holder.load("3", "test") is True and holder.version == "3"
