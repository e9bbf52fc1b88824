"""`airkube validate` reports broken templates and unknown Pod fields as problems with
their file and line, never as a traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from airkube.cli.main import main

BROKEN = """\
apiVersion: airkube.io/v1alpha1
kind: DAG
metadata:
  name: broken
spec:
  defaults:
    image: busybox
  tasks:
    - name: extract
      args: ["{{ ds | nosuchfilter }}"]
    - name: web
      env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: s, ky: token}}
      podTemplate:
        spec:
          nodeSelecter: {disk: ssd}
          containers:
            - name: task
              resorces: {limits: {cpu: 1}}
"""


def test_validate_names_each_problem_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "broken.yaml"], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert sorted(lines[:4]) == [
        'broken.yaml:11: DAG broken: task "web": env[TOKEN].valueFrom.secretKeyRef.ky: unknown '
        'field (did you mean "key"?)',
        'broken.yaml:11: DAG broken: task "web": podTemplate.spec.containers[0].resorces: '
        'unknown field (did you mean "resources"?)',
        'broken.yaml:11: DAG broken: task "web": podTemplate.spec.nodeSelecter: unknown field '
        '(did you mean "nodeSelector"?)',
        'broken.yaml:9: DAG broken: task "extract": args[0]: unknown filter "nosuchfilter"',
    ]
    assert "4 problems found" in result.output
    assert "Traceback" not in result.output


def test_validate_as_json_gives_the_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", "broken.yaml", "-o", "json"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert result.output.count('"reason": "InvalidPodField"') == 3
    assert result.output.count('"reason": "BadTemplate"') == 1
