"""A config nested deeper than the TOML parser can recurse (issue 21, fuzzing):
EngineConfigError naming the file, not a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.engine import EngineConfigError, load_engine_config


@pytest.mark.parametrize("value", ["[" * 1100 + "]" * 1100, "{a=" * 1100 + "1" + "}" * 1100])
def test_deep_nesting_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(f"channels = {value}\n")
    with pytest.raises(EngineConfigError, match="nested too deeply") as info:
        load_engine_config(path)
    assert info.value.field == str(path)
