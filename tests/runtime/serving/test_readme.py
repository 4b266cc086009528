"""The README's reference sections agree with the code: metric names per task, and the `/predict` shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.server import get, serving

from mlform.specs.model.metrics import METRICS

README = Path(__file__).resolve().parents[3] / "README.md"


def section(title: str) -> str:
    """The README text under the heading `title`, up to the next heading."""
    text = README.read_text()
    start = text.index(f"\n### {title}\n")
    end = re.compile(r"^#{2,3} ", re.MULTILINE).search(text, start + len(title) + 6)
    return text[start:end.start() if end else len(text)]


def backticked(line: str) -> list[str]:
    return re.findall(r"`([^`]+)`", line)


def test_readme_lists_exactly_the_metrics_of_each_task() -> None:
    text = section("Metric names")
    listed = {line[2:].split(":", 1)[0]: backticked(line) for line in text.splitlines() if line.startswith("- ")}
    by_task: dict[str, list[str]] = {}  # metrics of no one task are listed under `either task`
    for metric in METRICS.values():
        by_task.setdefault(metric.task or "either task", []).append(metric.name)
    assert listed == by_task
    lower = next(line for line in text.split("\n\n") if line.startswith("Lower is better for "))
    assert backticked(lower.split("(", 1)[0]) == [m.name for m in METRICS.values() if not m.greater_is_better]


def shape(value: Any) -> Any:
    """The JSON skeleton of `value`: keys, list lengths and scalar types, without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_the_readme_predict_request_gets_a_response_of_the_readme_shape(
        tmp_path: Path, mlform: Callable[..., Any]) -> None:
    blocks = re.findall(r"```json\n(.*?)```", section("Request and response of `/predict`"), re.DOTALL)
    request, response = (json.loads(block) for block in blocks)
    assert mlform("init", "churn", "--dir", tmp_path).code == 0
    project = tmp_path / "churn"
    assert mlform("run", project, "--env", "dev").code == 0
    with serving([str(project), "--env", "dev"]) as port:
        status, answer = get(port, "/predict", request)
    assert status == 200, answer
    assert shape(answer) == shape(response)
    assert (answer["ids"], answer["model"], answer["classes"]) == (response["ids"], response["model"],
                                                                  response["classes"])
