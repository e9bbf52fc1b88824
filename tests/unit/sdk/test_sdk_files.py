"""DAG files through the CLI, with no cluster: `airkube render` and `airkube validate` on
Python and YAML files, every problem reported as file:line without a traceback, and
`airkube apply` refusing to touch the cluster when any file is bad."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from airkube.cli.main import main

ETL = """\
from datetime import timedelta

from airkube.sdk import DAG, Task

with DAG("etl", default_args={"image": "busybox", "retry_delay": timedelta(seconds=30)}):
    extract = Task("extract", command=["echo", "extract"])
    load = Task("load", command=["echo", "load"])
    extract >> load
"""

HELLO_YAML = """\
apiVersion: airkube.io/v1alpha1
kind: DAG
metadata:
  name: hello
spec:
  tasks:
    - name: say-hello
      image: busybox
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory for DAG files (so messages show short relative paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def airkube(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def documents(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_render_prints_python_dags_as_resources_and_yaml_ones_as_they_are(files: Path) -> None:
    write(files / "etl.py", ETL)
    write(files / "hello.yaml", HELLO_YAML)
    result = airkube("render", "etl.py", "hello.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Source: etl.py:5\napiVersion: airkube.io/v1alpha1\n")
    assert "---\n# Source: hello.yaml:4\n" in result.stdout
    assert documents(result.stdout) == [
        {
            "apiVersion": "airkube.io/v1alpha1",
            "kind": "DAG",
            "metadata": {"name": "etl"},
            "spec": {
                "defaults": {"image": "busybox", "retryDelay": "30s"},
                "tasks": [
                    {"name": "extract", "command": ["echo", "extract"]},
                    {"name": "load", "command": ["echo", "load"], "dependsOn": ["extract"]},
                ],
            },
        },
        yaml.safe_load(HELLO_YAML),
    ]


def test_render_as_json_and_into_a_directory(files: Path) -> None:
    write(files / "dags" / "etl.py", ETL)
    write(files / "dags" / "hello.yaml", HELLO_YAML)
    result = airkube("render", "dags", "-o", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["kind"] == "List"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["etl", "hello"]

    result = airkube("render", "dags", "--out-dir", "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (files / "out").iterdir()) == ["etl.yaml", "hello.yaml"]
    assert documents((files / "out" / "etl.yaml").read_text()) == [listed["items"][0]]
    assert "out/etl.yaml  (from dags/etl.py:5)" in result.stdout


def test_what_a_dag_file_prints_goes_to_stderr_not_into_the_yaml(files: Path) -> None:
    write(files / "noisy.py", 'print("loading my DAGs")\n' + ETL)
    result = airkube("render", "noisy.py")
    assert result.exit_code == 0
    assert "loading my DAGs" in result.stderr
    assert "loading my DAGs" not in result.stdout
    assert [d["metadata"]["name"] for d in documents(result.stdout)] == ["etl"]


def test_directories_are_searched_for_dag_files(files: Path) -> None:
    write(files / "dags" / "etl.py", ETL)
    write(files / "dags" / "team" / "hello.yml", HELLO_YAML)
    write(files / "dags" / "helpers.py", "raise RuntimeError('a helper, never run')\n")
    write(files / "dags" / ".hidden" / "x.py", "import airkube\nraise RuntimeError\n")
    write(files / "dags" / "__pycache__" / "y.py", "import airkube\nraise RuntimeError\n")
    write(files / "dags" / "notes.txt", "not a DAG file")
    result = airkube("validate", "dags", "-o", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"] == ["dags/etl.py", "dags/team/hello.yml"]
    assert [d["name"] for d in report["dags"]] == ["etl", "hello"]
    # A file named on the command line is always run.
    result = airkube("validate", "dags/helpers.py")
    assert result.exit_code == 1
    assert "dags/helpers.py:1: RuntimeError: a helper, never run" in result.stdout


def test_dag_files_may_import_helpers_next_to_them(files: Path) -> None:
    write(
        files / "dags" / "common.py",
        """\
        def defaults(image):
            return {"image": image, "retries": 1}

        def broken():
            return {}["missing"]
        """,
    )
    write(
        files / "dags" / "uses.py",
        """\
        from airkube.sdk import DAG, Task
        from common import broken, defaults

        with DAG("uses", default_args=defaults("busybox")):
            Task("t")
        """,
    )
    assert airkube("validate", "dags/uses.py").exit_code == 0
    write(files / "dags" / "fails.py", "import common\ncommon.broken()\nimport airkube\n")
    result = airkube("validate", "dags/fails.py")
    assert "dags/common.py:5: KeyError: 'missing'" in result.stdout  # the helper's own line


BAD_FILES = {
    "syntax.py": (
        "from airkube.sdk import DAG\nwith DAG('x'):\n    x = (\n",
        "syntax.py:3: SyntaxError: '(' was never closed",
    ),
    "exception.py": (
        "from airkube.sdk import DAG, Task\n\nwith DAG('exc'):\n    Task('a', image='x')\n"
        "    1 / 0\n",
        "exception.py:5: ZeroDivisionError: division by zero",
    ),
    "sdk_error.py": (
        "from airkube.sdk import DAG, Task\n\nwith DAG('err', default_args={'image': 'x'}):\n"
        "    Task('a')\n    Task('b', retries=-1)\n",
        'sdk_error.py:5: task "b": retries: Input should be greater than or equal to 0',
    ),
    "cycle.py": (
        "from airkube.sdk import DAG, Task\n\nwith DAG('cycle', default_args={'image': 'x'}):\n"
        "    a, b, c = Task('a'), Task('b'), Task('c')\n    a >> b >> c\n    c >> a\n",
        "cycle.py:6: DAG cycle: tasks form a cycle: a → b → c → a",
    ),
    "missing_image.py": (
        "from airkube.sdk import DAG, Task\n\nwith DAG('no-image'):\n    Task('a')\n",
        'missing_image.py:4: DAG no-image: task "a" has no image: set image on the task or in '
        "the DAG defaults",
    ),
    "template.py": (
        "from airkube.sdk import DAG, Task\n\nwith DAG('tpl', default_args={'image': 'x'}):\n"
        "    Task('a')\n    Task('b', args=['{{ tasks.nope.output }}'])\n",
        'template.py:5: DAG tpl: task "b": args[0]: tasks.nope is undefined: "nope" is not a task '
        "of this DAG",
    ),
    "no_tasks.py": (
        "from airkube.sdk import DAG\n\nDAG('empty')\n",
        "no_tasks.py:3: DAG empty has no tasks",
    ),
    "exits.py": (
        "import sys\nimport airkube\nsys.exit(3)\n",
        "exits.py:3: the file called sys.exit(3)",
    ),
    "unknown.yaml": (
        "apiVersion: airkube.io/v1alpha1\nkind: DAG\nmetadata:\n  name: unknown\nspec:\n"
        "  defaults: {image: busybox}\n  tasks:\n    - name: extract\n    - name: load\n"
        "      dependsOn: [extarct]\n",
        'unknown.yaml:9: DAG unknown: task "load" depends on "extarct", which is not a task of '
        'this DAG (did you mean "extract"?)',
    ),
    "invalid.yaml": ("kind: [DAG\n", "invalid.yaml:2: invalid YAML:"),
    "configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        "configmap.yaml:1: not a DAG (v1, kind ConfigMap)",
    ),
    "bad_name.yaml": (
        "apiVersion: airkube.io/v1alpha1\nkind: DAG\nmetadata:\n  name: My_DAG\nspec:\n"
        "  tasks: [{name: a, image: x}]\n",
        'bad_name.yaml:4: DAG id "My_DAG" cannot name a Kubernetes resource',
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_problem_is_reported_at_its_file_and_line_without_a_traceback(
    files: Path, name: str
) -> None:
    text, message = BAD_FILES[name]
    write(files / name, text)
    write(files / "good.py", ETL)
    result = airkube("validate", name, "good.py")
    assert result.exit_code == 1
    assert result.stdout.startswith(message), result.stdout
    assert "Traceback" not in result.output
    assert "etl" in result.stdout  # the good file's DAG is still listed
    assert result.stderr.startswith("airkube: 1 problem found; 1 valid DAG in 2 files")

    rendered = airkube("render", name, "good.py")
    assert rendered.exit_code == 1
    assert rendered.stdout == ""
    assert rendered.stderr.startswith(message)
    assert rendered.stderr.endswith("airkube: 1 problem found: nothing rendered\n")


def test_validate_lists_every_problem_of_every_file(files: Path) -> None:
    for name in ("cycle.py", "unknown.yaml", "syntax.py"):
        write(files / name, BAD_FILES[name][0])
    result = airkube("validate", ".", "-o", "yaml")
    assert result.exit_code == 1
    report = yaml.safe_load(result.stdout)
    assert [
        (p["file"], p["line"], p["dag"], p["task"], p["reason"]) for p in report["problems"]
    ] == [
        ("syntax.py", 3, None, None, "LoadError"),
        ("cycle.py", 6, "cycle", "a", "Cycle"),
        ("unknown.yaml", 9, "unknown", "load", "UnknownDependency"),
    ]


def test_a_dag_in_several_files_counts_once_if_they_agree(files: Path) -> None:
    write(files / "hello.yaml", HELLO_YAML)
    write(
        files / "hello.py",
        "from airkube.sdk import DAG, Task\n\nwith DAG('hello'):\n"
        "    Task('say-hello', image='busybox')\n",
    )
    result = airkube("render", ".")
    assert result.exit_code == 0, result.output
    assert len(documents(result.stdout)) == 1
    assert "# Source: hello.py:3, hello.yaml:4\n" in result.stdout

    write(files / "hello.yaml", HELLO_YAML.replace("busybox", "alpine"))
    result = airkube("validate", ".")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "hello.yaml:4: DAG hello: also defined at hello.py:3, differently (spec.tasks): a DAG "
        "name may be defined in several files only if they agree"
    )


def test_paths_without_dags_are_an_error(files: Path) -> None:
    write(files / "empty" / "notes.yaml", "# nothing\n")
    result = airkube("render", "empty")
    assert result.exit_code == 1
    assert (
        result.stderr
        == "airkube: no DAG found in empty (Python files using airkube.sdk, or YAML)\n"
    )
    result = airkube("validate", "missing.py", "notes.txt")
    assert result.exit_code == 1
    assert "missing.py: no such file or directory" in result.stdout


def test_apply_checks_every_file_before_it_touches_the_cluster(files: Path) -> None:
    write(files / "dags" / "etl.py", ETL)
    write(files / "dags" / "cycle.py", BAD_FILES["cycle.py"][0])
    # A kubeconfig that does not exist: apply must stop before it would need it.
    result = airkube("apply", "dags", "-n", "ns", "--kubeconfig", str(files / "nothing"))
    assert result.exit_code == 1
    assert result.stderr == (
        "dags/cycle.py:6: DAG cycle: tasks form a cycle: a → b → c → a\n"
        "airkube: 1 problem found: nothing applied\n"
    )


def test_apply_refuses_a_yaml_dag_of_another_namespace(files: Path) -> None:
    text = HELLO_YAML.replace("  name: hello\n", "  name: hello\n  namespace: prod\n")
    write(files / "hello.yaml", text)
    result = airkube("apply", "hello.yaml", "-n", "dev", "--kubeconfig", str(files / "nothing"))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "hello.yaml:4: DAG hello: metadata.namespace is prod, but the DAGs are applied to dev"
    )
