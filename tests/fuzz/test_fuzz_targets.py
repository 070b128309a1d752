"""CI's share of the fuzzing (issue 21): every harness in fuzz/ runs 10⁴ inputs and must end
with exit status 0 — no crash (an exception other than the decoder's documented errors), no
hang (more than 1 s of CPU for one input), and RSS about flat. 10⁶ per target is the bar run by
hand (fuzz/README.md, docs/reliability.md).

atheris needs a process of its own, so each harness runs as a subprocess: two at a time (the
whole module takes about 25 s on a 2-core machine). Nothing is skipped, except everything on a
platform atheris has no wheels for (not Linux), which says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
TARGETS = ("smpp", "cmpp", "sgip", "smgp", "receipt", "cli_decode", "engine_config",
           "fakesmsc_config", "daemon_request")
RUNS = 10_000
#: Crashes reported and not fixed yet, by the name the harness counts them under (see
#: fuzz/README.md); each needs a test here that it still reproduces. None at the moment.
KNOWN: dict[str, set[str]] = {}
#: RSS growth allowed between the warm reading (after 1 000 inputs) and the end.
RSS_GROWTH_KB = 64 * 1024

if not sys.platform.startswith("linux"):
    pytest.skip("atheris has wheels for Linux only; the fuzz targets run there",
                allow_module_level=True)


def _run(target: str, tmp: Path, *extra: str, runs: int | None = RUNS,
         env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    work = tmp / target
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    (work / "artifacts").mkdir(exist_ok=True)
    stats = work / "stats.json"
    args = [sys.executable, str(FUZZ / f"{target}.py"), "-max_len=4096", "-timeout=10",
            "-rss_limit_mb=2048", f"-artifact_prefix={work / 'artifacts'}/"]
    if runs is not None:
        args.append(f"-atheris_runs={runs}")
    args += list(extra) or [str(work / "corpus"), str(FUZZ / "corpus" / target)]
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=600,
                          env={**os.environ, "FUZZ_STATS_FILE": str(stats), **(env or {})},
                          cwd=ROOT, check=False)
    figures = json.loads(stats.read_text()) if stats.exists() else {}
    return done.returncode, figures, done.stdout + done.stderr


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import atheris  # noqa: F401  (in the dev extras: missing, it fails here, not skips)

    tmp = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {t: pool.submit(_run, t, tmp) for t in TARGETS}
        yield {t: f.result() for t, f in futures.items()}


def test_every_harness_is_run_here_and_has_seeds() -> None:
    harnesses = {p.stem for p in FUZZ.glob("*.py")} - {"_common", "make_corpus"}
    assert harnesses == set(TARGETS)
    for target in TARGETS:
        assert any((FUZZ / "corpus" / target).iterdir()), f"no seeds for {target}"


@pytest.mark.parametrize("target", TARGETS)
def test_target(results: dict[str, Any], target: str) -> None:
    code, figures, log = results[target]
    tail = "\n".join(log.splitlines()[-40:])
    assert code == 0, f"{target}: exit status {code}\n{tail}"
    assert figures.get("crash") is None, tail
    assert figures["inputs"] == RUNS, figures
    assert set(figures["known"]) <= KNOWN.get(target, set()), figures
    assert figures["max_input_cpu_s"] <= 1.0, figures
    assert figures["rss_after_kb"] - figures["rss_warm_kb"] < RSS_GROWTH_KB, figures


def test_deep_json_is_no_longer_a_crash(tmp_path: Path) -> None:
    """The daemon_request harness's first find (a 500 until 5e767a7), in strict mode."""
    body = tmp_path / "deep.json"
    body.write_bytes(b'{"to": ' + b"[" * 3000)
    code, _, log = _run("daemon_request", tmp_path, str(body), runs=None,
                        env={"FUZZ_STRICT": "1"})
    assert code == 0, log[-2000:]
