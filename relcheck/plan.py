"""From a checklist and a release to the steps of one run: templates, ``when``, order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from relcheck.errors import ConfigError, Problem, UsageError
from relcheck.kinds import KINDS
from relcheck.kinds.base import ResolvedStep
from relcheck.model import Checklist, Release, Step
from relcheck.render import TemplateProblem, evaluate_expression, render_string
from relcheck.secrets import MASK, Masker, key_looks_secret, secret_names

VERSION_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*\Z")
PLACEHOLDER_VERSION = "<release>"


def check_version(version: str) -> str:
    if not VERSION_PATTERN.match(version) or len(version) > 128:
        raise UsageError(
            f"release version {version!r} is not valid: expected letters, digits, '.', '+', "
            "'_' or '-', starting with a letter or digit (e.g. 1.4.0 or 2.0.0-rc.1)"
        )
    return version


def template_context(
    checklist: Checklist,
    *,
    version: str,
    tag: str | None,
    environ: Mapping[str, str],
    branch: str | None,
    commit: str | None,
) -> dict[str, Any]:
    base = {"version": version, "env": dict(environ), "git": {"branch": branch, "commit": commit}}
    return {**base, "tag": tag, "vars": _render_vars(checklist, base)}


def _render_vars(checklist: Checklist, base: Mapping[str, Any]) -> dict[str, str]:
    """Vars are templates over version, env and git (not the tag, not each other)."""
    rendered: dict[str, str] = {}
    problems: list[Problem] = []
    for name, value in checklist.vars.items():
        try:
            rendered[name] = render_string(value, base)
        except TemplateProblem as exc:
            problems.append(_problem(checklist, None, f"vars.{name}", exc))
    if problems:
        raise ConfigError(problems)
    return rendered


def _problem(checklist: Checklist, step: Step | None, path: str, exc: TemplateProblem) -> Problem:
    mark = step.mark if step is not None else None
    line, col = (mark.line, mark.col) if mark else (1, 1)
    return Problem(
        str(checklist.path),
        line,
        col,
        path,
        f"template error: {exc.message}; every name must be defined "
        "(use env.get('NAME', '') for optional variables)",
    )


def make_release(
    checklist: Checklist,
    *,
    version: str,
    environ: Mapping[str, str],
    branch: str | None,
    commit: str | None,
) -> Release:
    context = template_context(
        checklist, version=version, tag=None, environ=environ, branch=branch, commit=commit
    )
    try:
        tag = render_string(checklist.tag, context).strip()
    except TemplateProblem as exc:
        raise ConfigError([_problem(checklist, None, "tag", exc)]) from None
    wrong = tag_name_problem(tag)
    if wrong:
        message = f"the tag template gives {tag!r}, which git refuses as a tag name: {wrong}"
        raise ConfigError([Problem(str(checklist.path), 1, 1, "tag", message)])
    return Release(version=version, tag=tag, commit=commit, branch=branch)


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def tag_name_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a tag (git check-ref-format rules), or None."""
    if not name or name == "@":
        return "it is empty"
    if _REF_FORBIDDEN.search(name):
        return "spaces, control characters, '~^:?*[\\', '..', '@{' and '//' are not allowed"
    if name.startswith(("-", ".", "/")) or name.endswith((".", "/", ".lock")):
        return "it may not start with '-', '.' or '/', nor end with '.', '/' or '.lock'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "no part between '/' may start with '.' or end with '.lock'"
    return None


def build_plan(
    checklist: Checklist,
    *,
    release: Release,
    environ: Mapping[str, str],
    masker: Masker,
) -> list[ResolvedStep]:
    """Render every step; all template errors are reported together."""
    environ = dict(environ)  # copied once, not once per step (os.environ decodes each value)
    context = template_context(
        checklist,
        version=release.version,
        tag=release.tag,
        environ=environ,
        branch=release.branch,
        commit=release.commit,
    )
    problems: list[Problem] = []
    steps: list[ResolvedStep] = []
    for index, step in enumerate(checklist.steps):
        resolved = _resolve(checklist, step, index, context, environ, masker, problems)
        if resolved is not None:
            steps.append(resolved)
    if problems:
        raise ConfigError(problems)
    return steps


def _render(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, Mapping):
        return {key: _render(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, context) for item in value]
    return value


def _resolve(
    checklist: Checklist,
    step: Step,
    index: int,
    context: Mapping[str, Any],
    environ: Mapping[str, str],
    masker: Masker,
    problems: list[Problem],
) -> ResolvedStep | None:
    fields: dict[str, Any] = {}
    before = len(problems)
    for name, value in (
        (step.kind, step.spec),
        ("expected", step.expected),
        ("rollback", step.rollback),
        ("env", dict(step.env)),
    ):
        try:
            fields[name] = _render(value, context)
        except TemplateProblem as exc:
            problems.append(_problem(checklist, step, f"steps[{index}].{name}", exc))
    skip_reason = _skip_reason(checklist, step, index, context, problems)
    if len(problems) > before:
        return None
    kind = KINDS[step.kind]
    spec = fields[step.kind]
    step_env = {**environ, **fields["env"]}
    rollback = fields["rollback"]
    return ResolvedStep(
        step=step,
        spec=spec,
        shown=masker.mask(spec if isinstance(spec, str) else _show(spec)),
        owner=step.owner or checklist.defaults.owner,
        expected=masker.mask(fields["expected"] or kind.default_expected(replace(step, spec=spec))),
        rollback=rollback.strip() if isinstance(rollback, str) else None,
        env=step_env,
        timeout=step.timeout or checklist.defaults.timeout,
        cwd=_cwd(checklist.base_dir, step.cwd),
        shell=checklist.defaults.shell,
        skip_reason=skip_reason,
    )


def _show(spec: Any) -> str:
    import json

    return json.dumps(_redacted(spec), ensure_ascii=False, sort_keys=True)


def _redacted(value: Any) -> Any:
    """Options with the values under secret-looking keys (a password typed into a
    config check, an Authorization header) replaced, for the record and the screen."""
    if isinstance(value, Mapping):
        return {
            key: MASK
            if key_looks_secret(str(key)) and not isinstance(item, Mapping | list)
            else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _cwd(base: Path, relative: str | None) -> Path:
    return base if not relative else (base / relative)


def _skip_reason(
    checklist: Checklist,
    step: Step,
    index: int,
    context: Mapping[str, Any],
    problems: list[Problem],
) -> str | None:
    when = step.when
    if when is None or when is True:
        return None
    if when is False:
        return "when: false"
    try:
        if evaluate_expression(when, context):
            return None
    except TemplateProblem as exc:
        problems.append(_problem(checklist, step, f"steps[{index}].when", exc))
        return None
    return f"when: {when.strip()} is false"


class Order(Struct, frozen=True):
    """Which steps each step waits for, and whether it waits for every step before it."""

    waits_for: Mapping[str, tuple[str, ...]]
    explicit: frozenset[str]
    gates: frozenset[str]

    def waves(self, ids: list[str]) -> list[list[str]]:
        """Steps (``ids``, in checklist order) grouped by how early they can start; a
        wave's steps can run side by side."""
        level: dict[str, int] = {}
        deepest = -1
        for step_id in ids:
            if step_id in self.explicit:
                waits = [level[d] for d in self.waits_for[step_id] if d in level]
                level[step_id] = 1 + max(waits, default=-1)
            else:  # it waits for every step before it: those are all in `level` so far
                level[step_id] = 1 + deepest
            deepest = max(deepest, level[step_id])
        waves: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for step_id in ids:
            waves[level[step_id]].append(step_id)
        return waves


def step_order(steps: list[ResolvedStep]) -> Order:
    """A step without ``needs`` waits for every step before it; with ``needs``, only for those.

    A gate (the tag step) waits for every step before it whatever its ``needs`` says.
    """
    waits_for: dict[str, tuple[str, ...]] = {}
    explicit: set[str] = set()
    gates: set[str] = set()
    before: list[str] = []
    for step in steps:
        gate = KINDS[step.kind].waits_for_every_step
        if gate:
            gates.add(step.id)
        if step.step.needs is not None and not gate:
            waits_for[step.id] = step.step.needs
            explicit.add(step.id)
        else:
            waits_for[step.id] = tuple(before)
        before.append(step.id)
    return Order(waits_for, frozenset(explicit), frozenset(gates))


def plan_run(
    checklist: Checklist, *, release: Release, environ: Mapping[str, str]
) -> tuple[list[ResolvedStep], Masker]:
    """The resolved steps of a run and the masker for everything it shows or stores.

    Secrets are the checklist's ``secrets``, secret-looking variables of the
    environment, secret-looking variables a step sets in its own ``env``, and
    values under secret-looking keys of a step's options (an Authorization
    header, a password in a config check), so a server that echoes them back
    cannot show them. The last two are known only once the steps are rendered,
    so a plan that finds some is rendered again with them masked.
    """
    masker = Masker.from_env(environ, checklist.secrets)
    steps = build_plan(checklist, release=release, environ=environ, masker=masker)
    extra = {
        f"{step.id}.{name}": step.env[name]
        for step in steps
        for name in step.step.env
        if secret_names({name: ""}, ()) and step.env.get(name)
    }
    for step in steps:
        for number, value in enumerate(_secret_values(step.spec)):
            extra[f"{step.id}.option{number}"] = value
    if not extra:
        return steps, masker
    masker = Masker.from_env({**environ, **extra}, [*checklist.secrets, *extra])
    return build_plan(checklist, release=release, environ=environ, masker=masker), masker


def _secret_values(spec: Any) -> list[str]:
    """Values under secret-looking keys, and the credential part of ``Scheme credential``."""
    found: list[str] = []
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            if key_looks_secret(str(key)) and isinstance(value, str | int | float):
                text = str(value)
                found.append(text)
                credential = text.partition(" ")[2]
                if credential:
                    found.append(credential)
            else:
                found += _secret_values(value)
    elif isinstance(spec, list):
        for item in spec:
            found += _secret_values(item)
    return found
