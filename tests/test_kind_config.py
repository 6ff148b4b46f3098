"""The config kind: real files in tmp_path, checked through execute() and the CLI."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, resolved_step

from relcheck.kinds import KINDS
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.kinds.config import ConfigKind, looks_secret
from relcheck.model import FAILED, NO_ROLLBACK, PASSED, Release, Step

KIND = ConfigKind()
SECRET = "hunter2xyz"


class Evidence:
    """A StepContext whose evidence lines are kept for the test to read."""

    def __init__(self, base: Path) -> None:
        self.chunks: list[bytes] = []
        self.ctx = StepContext(
            output=self.chunks.append,
            captured_output=self.text,
            base_dir=base,
        )

    def text(self) -> str:
        return b"".join(self.chunks).decode()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def resolved(spec: dict[str, Any], cwd: Path) -> ResolvedStep:
    expected = KIND.default_expected(Step(id="cfg", title="cfg", kind="config", spec=spec))
    return resolved_step(
        "config", spec, cwd, timeout=60.0, expected=expected, shown=json.dumps(spec)
    )


def check(tmp_path: Path, spec: dict[str, Any]) -> tuple[Outcome, str]:
    evidence = Evidence(tmp_path)
    outcome = KIND.execute(resolved(spec, tmp_path), evidence.ctx)
    return outcome, evidence.text()


STAGING_YAML = """
database:
  url: postgres://db.staging/app
  password: hunter2xyz
  pool: 5
cache:
  ttl: 300
  name: ""
debug: false
servers:
  - host: a.internal
    port: 8080
  - host: b.internal
    port: 8081
"""


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    return write(tmp_path, "deploy/staging.yaml", STAGING_YAML)


# --- formats -----------------------------------------------------------------------------

FORMATS = {
    "app.yaml": "database:\n  url: postgres://x\ndebug: false\nport: 8080\n",
    "app.yml": "database:\n  url: postgres://x\ndebug: false\nport: 8080\n",
    "app.json": '{"database": {"url": "postgres://x"}, "debug": false, "port": 8080}',
    "app.toml": '[database]\nurl = "postgres://x"\n[flags]\n',
    ".env": "# comment\nexport database.url=postgres://x\nDEBUG=false\nPORT=8080\n",
    "staging.env": "database.url='postgres://x'\nDEBUG=False\nPORT=8080 # inline\n",
    ".env.staging": 'database.url="postgres://x"\nDEBUG=0\nPORT="8080"\n',
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_is_read_by_its_name(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, FORMATS[name])
    outcome, log = check(tmp_path, {"file": name, "require": ["database.url"]})
    assert outcome.status == PASSED, outcome.reason
    assert outcome.actual == f"{name}: 1 required key present"
    assert "database.url: present" in log


@pytest.mark.parametrize("name", [".env", "staging.env", ".env.staging"])
def test_dotenv_text_is_compared_as_the_type_the_check_wants(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, FORMATS[name])
    outcome, _ = check(tmp_path, {"file": name, "equals": {"DEBUG": False, "PORT": 8080}})
    assert outcome.status == PASSED, outcome.reason
    assert outcome.actual == f"{name}: 2 values as expected"


def test_dotenv_text_that_does_not_read_as_the_wanted_type_fails(tmp_path: Path) -> None:
    write(tmp_path, ".env", "DEBUG=maybe\nPORT=80a\nNAME=app\n")
    outcome, _ = check(
        tmp_path, {"file": ".env", "equals": {"DEBUG": True, "PORT": 80, "NAME": "App"}}
    )
    assert outcome.status == FAILED
    assert outcome.reason == (
        'DEBUG is "maybe", expected true; PORT is "80a", expected 80; NAME is "app", expected "App"'
    )
    assert outcome.actual == ".env: 0 of 3 values as expected"


def test_typed_files_compare_types_and_say_when_only_the_type_differs(
    tmp_path: Path,
) -> None:
    write(tmp_path, "app.yaml", 'debug: "false"\nreplicas: 3\nratio: 1\n')
    outcome, _ = check(
        tmp_path, {"file": "app.yaml", "equals": {"debug": False, "replicas": "3", "ratio": 1.0}}
    )
    assert outcome.status == FAILED
    assert outcome.reason == (
        'debug is "false", expected false (text in the file, true/false in the check); '
        'replicas is 3, expected "3" (a number in the file, text in the check)'
    )
    assert outcome.actual == "app.yaml: 1 of 3 values as expected"


def test_toml_dates_compare_to_their_written_text(tmp_path: Path) -> None:
    write(tmp_path, "app.toml", "released = 2024-05-01\n[server]\nhost = 'x'\n")
    outcome, _ = check(tmp_path, {"file": "app.toml", "equals": {"released": "2024-05-01"}})
    assert outcome.status == PASSED, outcome.reason


def test_format_key_reads_a_file_whose_name_does_not_tell(tmp_path: Path) -> None:
    write(tmp_path, "app.conf", "a: 1\n")
    outcome, _ = check(tmp_path, {"file": "app.conf", "format": "yaml", "equals": {"a": 1}})
    assert outcome.status == PASSED, outcome.reason
    outcome, _ = check(tmp_path, {"file": "app.conf", "require": ["a"]})
    assert outcome.status == FAILED
    assert outcome.reason is not None
    assert outcome.reason.startswith("app.conf: cannot tell the format from the file name")


# --- require ------------------------------------------------------------------------------


def test_require_reports_missing_and_empty_keys_together(tmp_path: Path, staging: Path) -> None:
    outcome, log = check(
        tmp_path,
        {
            "file": "deploy/staging.yaml",
            "require": ["database.url", "cache.ttl", "cache.name", "cache.size", "debug"],
        },
    )
    assert outcome.status == FAILED
    assert outcome.reason == "cache.name is empty; cache.size is missing"
    assert outcome.actual == "deploy/staging.yaml: 3 of 5 required keys present"
    assert "database.url: present" in log
    assert "debug: present" in log  # false is a value, not an empty one


def test_require_all_present(tmp_path: Path, staging: Path) -> None:
    outcome, _ = check(
        tmp_path, {"file": "deploy/staging.yaml", "require": ["database.url", "cache.ttl"]}
    )
    assert outcome.status == PASSED
    assert outcome.actual == "deploy/staging.yaml: 2 required keys present"


def test_list_items_are_reached_by_index(tmp_path: Path, staging: Path) -> None:
    outcome, _ = check(
        tmp_path,
        {
            "file": "deploy/staging.yaml",
            "require": ["servers.1.host", "servers.2.host"],
            "equals": {"servers.0.port": 8080},
        },
    )
    assert outcome.status == FAILED
    assert outcome.reason == "servers.2.host is missing"


# --- equals -------------------------------------------------------------------------------


def test_equals_nested_values(tmp_path: Path, staging: Path) -> None:
    outcome, log = check(
        tmp_path,
        {
            "file": "deploy/staging.yaml",
            "equals": {"debug": False, "cache.ttl": 300, "database.pool": 5.0},
        },
    )
    assert outcome.status == PASSED, outcome.reason
    assert outcome.actual == "deploy/staging.yaml: 3 values as expected"
    assert "cache.ttl = 300, as expected" in log


def test_equals_mismatch_and_missing(tmp_path: Path, staging: Path) -> None:
    outcome, _ = check(
        tmp_path,
        {"file": "deploy/staging.yaml", "equals": {"debug": True, "cache.size": 10}},
    )
    assert outcome.status == FAILED
    assert outcome.reason == "debug is false, expected true; cache.size is missing, expected 10"


def test_true_never_equals_one(tmp_path: Path) -> None:
    write(tmp_path, "app.json", '{"enabled": 1}')
    outcome, _ = check(tmp_path, {"file": "app.json", "equals": {"enabled": True}})
    assert outcome.status == FAILED


# --- forbid -------------------------------------------------------------------------------


def test_forbid_values(tmp_path: Path, staging: Path) -> None:
    outcome, log = check(
        tmp_path,
        {
            "file": "deploy/staging.yaml",
            "forbid": {"debug": False, "cache.ttl": 0, "legacy.flag": True},
        },
    )
    assert outcome.status == FAILED
    assert outcome.reason == "debug is false, which is forbidden"
    assert outcome.actual == "deploy/staging.yaml: 1 of 3 forbidden settings present"
    assert "cache.ttl = 300, not the forbidden 0" in log
    assert "legacy.flag absent, not the forbidden true" in log


def test_forbid_keys(tmp_path: Path, staging: Path) -> None:
    outcome, _ = check(
        tmp_path, {"file": "deploy/staging.yaml", "forbid": ["legacy.flag", "cache.name"]}
    )
    assert outcome.status == FAILED
    assert outcome.reason == "cache.name is set; it must be absent"
    outcome, _ = check(tmp_path, {"file": "deploy/staging.yaml", "forbid": ["legacy.flag"]})
    assert outcome.status == PASSED
    assert outcome.actual == "deploy/staging.yaml: 1 forbidden setting absent"


# --- same_keys_as -------------------------------------------------------------------------


def test_same_keys_as_reports_both_sides(tmp_path: Path) -> None:
    write(tmp_path, "staging.yaml", "cache: {ttl: 1}\nlegacy: {flag: true}\nhosts: [a]\n")
    write(tmp_path, "production.yaml", "cache: {ttl: 2, size: 3}\nhosts: [a, b, c]\n")
    outcome, _ = check(tmp_path, {"file": "staging.yaml", "same_keys_as": "production.yaml"})
    assert outcome.status == FAILED
    assert outcome.reason == (
        "keys only in production.yaml: cache.size; keys only in staging.yaml: legacy.flag"
    )
    assert outcome.actual == "staging.yaml: 2 keys differ from production.yaml"


def test_same_keys_as_passes_across_formats(tmp_path: Path) -> None:
    write(tmp_path, "staging.yaml", "cache: {ttl: 1}\nname: s\n")
    write(tmp_path, "production.json", '{"name": "p", "cache": {"ttl": 9}}')
    outcome, log = check(
        tmp_path,
        {"file": "staging.yaml", "require": ["name"], "same_keys_as": "production.json"},
    )
    assert outcome.status == PASSED, outcome.reason
    assert outcome.actual == "staging.yaml: 1 required key present, same keys as production.json"
    assert "same 2 keys as production.json" in log


def test_same_keys_as_a_missing_file_fails_with_every_other_problem(tmp_path: Path) -> None:
    write(tmp_path, "staging.yaml", "a: 1\n")
    outcome, _ = check(
        tmp_path, {"file": "staging.yaml", "require": ["b"], "same_keys_as": "prod.yaml"}
    )
    assert outcome.status == FAILED
    assert outcome.reason == "b is missing; prod.yaml does not exist"


# --- secrets ------------------------------------------------------------------------------


def test_secret_values_never_appear(tmp_path: Path, staging: Path) -> None:
    outcome, log = check(
        tmp_path,
        {
            "file": "deploy/staging.yaml",
            "equals": {"database.password": "wrong-one"},
            "forbid": {"database.password": SECRET},
        },
    )
    assert outcome.status == FAILED
    assert outcome.reason == (
        "database.password is ***, not the expected value (secret, not shown); "
        "database.password is ***, which is forbidden"
    )
    shown = " ".join([outcome.actual, outcome.reason, log, KIND.describe(resolved({}, tmp_path))])
    assert SECRET not in shown
    assert "wrong-one" not in shown


def test_secret_values_are_masked_in_evidence_and_words(tmp_path: Path) -> None:
    write(tmp_path, ".env", f"API_KEY={SECRET}\nSENTRY_DSN=https://{SECRET}@x\n")
    spec = {"file": ".env", "equals": {"API_KEY": SECRET}, "forbid": {"SENTRY_DSN": "x"}}
    outcome, log = check(tmp_path, spec)
    assert outcome.status == PASSED, outcome.reason
    assert "API_KEY = ***, as expected" in log
    assert "SENTRY_DSN = ***, not the forbidden ***" in log
    words = KIND.describe(resolved(spec, tmp_path)) + KIND.default_expected(
        Step(id="s", title="s", kind="config", spec=spec)
    )
    assert SECRET not in log + words
    assert "API_KEY = ***" in words


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("database.password", True),
        ("db.PASSWD", True),
        ("auth.user", True),
        ("basic_auth", True),
        ("github.token", True),
        ("api_key", True),
        ("stripe.apiKey", True),
        ("tls.private_key", True),
        ("APIKEY", True),
        ("KEY", True),
        ("sentry.dsn", True),
        ("aws.credentials.region", True),
        ("client_secret", True),
        ("author", False),
        ("cache.key_prefix", False),
        ("monkey", False),
        ("database.url", False),
        ("servers.0.host", False),
    ],
)
def test_secret_key_rule(key: str, secret: bool) -> None:
    assert looks_secret(key) is secret


def test_unparsable_lines_are_not_quoted(tmp_path: Path) -> None:
    write(tmp_path, ".env", f"password {SECRET}\n")
    outcome, log = check(tmp_path, {"file": ".env"})
    assert outcome.reason == (
        ".env: .env does not parse at line 1: expected NAME=value "
        "(a name of letters, digits and '_')"
    )
    assert SECRET not in outcome.reason + log


# --- files that cannot be read ------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    outcome, _ = check(tmp_path, {"file": "deploy/none.yaml", "require": ["a"]})
    assert outcome.status == FAILED
    assert outcome.actual == "deploy/none.yaml: not read"
    assert outcome.reason == "deploy/none.yaml does not exist"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "conf.yaml").mkdir()
    outcome, _ = check(tmp_path, {"file": "conf.yaml"})
    assert outcome.reason == "conf.yaml is a folder; expected a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "a: 1\n")
    path.chmod(0)
    outcome, _ = check(tmp_path, {"file": "app.yaml"})
    assert outcome.reason == "app.yaml cannot be read: permission denied"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "bad.yaml",
            "a: 1\nb: [1, 2\nc: 3\n",
            "bad.yaml: YAML does not parse at line 3, column 2: expected ',' or ']', but got ':'",
        ),
        (
            "bad.json",
            '{\n  "a": 1,\n  "b": \n}\n',
            "bad.json: JSON does not parse at line 4, column 1: Expecting value",
        ),
        (
            "bad.toml",
            "[a]\nx = 1\ny = \n",
            "bad.toml: TOML does not parse: Invalid value (at line 3, column 5)",
        ),
        (
            "bad.env",
            'A=1\nB="open\nC=3\n',
            "bad.env: .env does not parse at line 2: the value's \" quote is never closed",
        ),
        (
            "list.json",
            "[1, 2]",
            "list.json: the JSON file holds a list at the top; expected a mapping of keys",
        ),
        (
            "binary.yaml",
            "\udcff",
            "binary.yaml is not UTF-8 text (bad byte at offset 0)",
        ),
    ],
)
def test_malformed_files_fail_with_a_clear_reason(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    outcome, _ = check(tmp_path, {"file": name, "require": ["a"]})
    assert outcome.status == FAILED
    assert outcome.reason == reason
    assert outcome.actual == f"{name}: not read"


def test_empty_yaml_is_an_empty_mapping(tmp_path: Path) -> None:
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    outcome, _ = check(tmp_path, {"file": "empty.yaml", "require": ["a"]})
    assert outcome.reason == "a is missing"


def test_dotenv_quoting(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".env",
        'A="line one\nline two"\nB=\'raw \\n\'\nC="esc\\"aped" # note\nD=\nE\n',
    )
    outcome, _ = check(
        tmp_path,
        {
            "file": ".env",
            "equals": {"A": "line one\nline two", "B": "raw \\n", "C": 'esc"aped', "D": ""},
            "require": ["E"],
        },
    )
    assert outcome.status == FAILED
    assert outcome.reason == "E is empty"


# --- words --------------------------------------------------------------------------------


def test_expected_and_describe_words() -> None:
    spec = {
        "file": "deploy/staging.yaml",
        "require": ["database.url", "cache.ttl"],
        "equals": {"debug": False},
        "same_keys_as": "deploy/production.yaml",
    }
    step = Step(id="s", title="s", kind="config", spec=spec)
    assert KIND.default_expected(step) == (
        "deploy/staging.yaml has database.url, cache.ttl; debug = false; "
        "same keys as deploy/production.yaml"
    )
    assert KIND.describe(resolved(spec, Path("."))) == (
        "check that deploy/staging.yaml has database.url, cache.ttl; debug = false; "
        "same keys as deploy/production.yaml"
    )
    only_file = Step(id="s", title="s", kind="config", spec={"file": "a.toml"})
    assert KIND.default_expected(only_file) == "a.toml reads as valid TOML"
    release = Release("1.0.0", "v1.0.0", None, None)
    assert KINDS["config"].default_rollback(resolved(spec, Path(".")), release) == NO_ROLLBACK


# --- through the CLI ----------------------------------------------------------------------

CHECKLIST = """
version: 1
steps:
  - id: staging-config
    config:
      file: deploy/staging.yaml
      require: [database.url, cache.ttl]
      equals: {debug: false, database.password: "{{ env.get('DB_PASSWORD', 'nope') }}"}
      same_keys_as: deploy/production.yaml
"""

PRODUCTION_YAML = """
database:
  url: postgres://db.prod/app
  password: other-secret
  pool: 20
cache:
  ttl: 600
  name: prod
  size: 100
debug: false
servers:
  - host: p.internal
"""


def status(relcheck: Invoke) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(relcheck("status", "--json").output)
    return data


def step_result(relcheck: Invoke) -> dict[str, Any]:
    steps = status(relcheck)["steps"]
    assert len(steps) == 1
    step: dict[str, Any] = steps[0]
    return step


def test_cli_run_passes(repo: Repo, relcheck: Invoke) -> None:
    repo.write("deploy/staging.yaml", STAGING_YAML.replace('  name: ""', "  name: s\n  size: 1"))
    repo.write("deploy/production.yaml", PRODUCTION_YAML)
    repo.checklist(CHECKLIST)
    result = relcheck("run", "--release", "1.0.0", "--non-interactive", env={"DB_PASSWORD": SECRET})
    step = step_result(relcheck)
    assert step["status"] == "passed", step
    assert step["actual"] == (
        "deploy/staging.yaml: 2 required keys present, 2 values as expected, "
        "same keys as deploy/production.yaml"
    )
    assert SECRET not in result.output


def test_cli_run_fails_with_every_problem_and_no_secret(repo: Repo, relcheck: Invoke) -> None:
    repo.write("deploy/staging.yaml", STAGING_YAML.replace("debug: false", "debug: true"))
    repo.write("deploy/production.yaml", PRODUCTION_YAML)
    repo.checklist(CHECKLIST)
    result = relcheck(
        "run", "--release", "1.0.0", "--non-interactive", code=1, env={"DB_PASSWORD": "wrongpass"}
    )
    step = step_result(relcheck)
    assert step["status"] == "failed"
    assert step["reason"] == (
        "debug is true, expected false; "
        "database.password is ***, not the expected value (secret, not shown); "
        "keys only in deploy/production.yaml: cache.size"
    )
    assert step["actual"] == (
        "deploy/staging.yaml: 2 required keys present, 0 of 2 values as expected, "
        "1 key differs from deploy/production.yaml"
    )
    run = repo.runs()[-1]
    everything = (
        result.output
        + (run / "journal.jsonl").read_text()
        + "".join(log.read_text() for log in (run / "logs").iterdir())
    )
    assert SECRET not in everything
    assert "wrongpass" not in everything


def test_cli_validate_reports_a_bad_config_spec(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        """
        version: 1
        steps:
          - id: staging-config
            config:
              file: deploy/staging.yaml
              require: database.url
              requires: [cache.ttl]
        """
    )
    result = relcheck("validate", code=2)
    assert (
        "relcheck.yaml:7:7: steps[0].config.require: expected a list of dotted keys "
        "like [database.url, cache.ttl], got 'database.url'"
    ) in result.output
    assert "relcheck.yaml:8:7: steps[0].config.requires: unknown key; did you mean 'require'?" in (
        result.output
    )
