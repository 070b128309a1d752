"""A config nested deeper than the TOML parser can recurse (issue 21, fuzzing):
ConfigError naming the file, not a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.fakesmsc.config import ConfigError, load_config


@pytest.mark.parametrize("value", ["[" * 1100 + "]" * 1100, "{a=" * 1100 + "1" + "}" * 1100])
def test_deep_nesting_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(f"accounts = {value}\n")
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        load_config(path)
    assert info.value.field == str(path)
