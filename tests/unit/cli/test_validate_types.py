"""`airkube validate` refuses the values of the wrong type the API server refuses (issue
15), with one message naming the field and the value, and no traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from airkube.cli.main import main

DAG = """\
apiVersion: airkube.io/v1alpha1
kind: DAG
metadata:
  name: typed
spec:
  {spec}
  defaults:
    image: busybox
  tasks:
    - name: a
      {task}
"""


@pytest.mark.parametrize(
    ("spec", "task", "message"),
    [
        ('catchup: "yes"', "", 'catchup: "yes" is not a boolean: true or false, without quotes'),
        ("paused: 1", "", "paused: 1 is not a boolean: true or false, without quotes"),
        (
            "maxActiveRuns: 1.5",
            "",
            "maxActiveRuns: 1.5 is not an integer: a whole number, without quotes",
        ),
        (
            "",
            'retries: "3"',
            'task "a": retries: "3" is not an integer: a whole number, without quotes',
        ),
        ('schedule: "@daily "', "", 'schedule "@daily " has spaces around it; remove them'),
    ],
)
def test_validate_refuses_a_value_of_the_wrong_type_in_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, task: str, message: str
) -> None:
    (tmp_path / "typed.yaml").write_text(
        DAG.format(spec=spec or "description: x", task=task or "image: busybox")
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "typed.yaml"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("typed.yaml:")]
    assert len(problems) == 1, result.output
    assert problems[0].endswith(f"DAG typed: {message}"), problems[0]
    assert "Traceback" not in result.output


def test_the_same_dag_well_typed_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DAG.format(spec='catchup: true\n  schedule: "@daily"', task="retries: 3")
    (tmp_path / "typed.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "typed.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
