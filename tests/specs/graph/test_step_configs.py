"""Each step's config holds its sections of the resolved spec exactly as pydantic dumps each section on its own
(the step configs are sliced from the whole spec's dump, which must not change a fingerprint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlform.specs import load_spec
from mlform.specs.graph.steps import spec_steps

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _dump(section: Any) -> Any:
    return section.model_dump(mode="json", by_alias=True) if section is not None else None


@pytest.mark.parametrize(("example", "env"), [("iris", "dev"), ("iris", "prod"), ("fraud-detection", "dev"),
                                              ("fraud-detection", "staging"), ("fraud-detection", "prod")])
def test_each_step_config_holds_its_sections_as_pydantic_dumps_them(example: str, env: str) -> None:
    spec = load_spec(EXAMPLES / example / "mlform.yaml", env)
    steps, p = spec_steps(spec), spec.pipeline
    for name, source in p.data.sources.items():
        dumped = {k: v for k, v in _dump(source).items() if k not in ("fingerprint", "statistic")}
        assert steps[f"ingest.{name}"].config == {"source": dumped, "name": name,
                                                  **({"pii": _dump(p.data.pii)} if p.data.pii else {})}
    assert steps[f"validate.{p.data.training_source}"].config["validation"] == _dump(p.validation)
    assert steps["split"].config["split"] == _dump(p.data.split)
    model = _dump(p.model)
    for step in model.get("preprocessing", []):
        step.pop("examples", None)
    assert steps["train"].config["model"] == model
    assert steps["evaluate"].config["evaluation"] == _dump(p.evaluation)
    assert steps["register"].config["registry"] == {k: v for k, v in _dump(p.registry).items() if k != "production"}
    assert ("serve" in steps and steps["serve"].config["serving"]) == (p.serving is not None and _dump(p.serving))
    assert ("monitor" in steps and steps["monitor"].config["monitoring"]) == (
        p.monitoring is not None and _dump(p.monitoring))
