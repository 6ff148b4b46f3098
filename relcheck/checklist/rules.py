"""The checklist rules a JSON Schema cannot express well, and the warnings.

Checked by hand beside the schema: exactly one kind key per step (to name the
kinds that exist), unique step ids, and `needs` that name existing steps
above them (which rules out circles). Warnings: run and manual steps without
a rollback, steps that can never run, unused vars and repeated secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from relcheck.checklist.suggest import did_you_mean
from relcheck.checklist.yamltree import Entry, Map, Scalar, Seq, Tree, index_path, key_path
from relcheck.errors import Problem
from relcheck.kinds import KINDS

# Kinds whose steps change something, so a missing rollback deserves a warning.
_KINDS_THAT_CHANGE_THINGS = ("run", "manual")


def _steps(tree: Tree) -> Iterator[tuple[str, Map]]:
    steps = tree.get("steps") if isinstance(tree, Map) else None
    if not isinstance(steps, Seq):
        return
    for index, step in enumerate(steps.items):
        if isinstance(step, Map):
            yield index_path("steps", index), step


def kinds_used(tree: Tree) -> set[str]:
    """The step kinds the steps of ``tree`` name (only these need their options checked)."""
    return {key for _, step in _steps(tree) for key in step.names() if key in KINDS}


def _kinds_list() -> str:
    return ", ".join(KINDS)


def _kind_problems(file: str, path: str, step: Map) -> list[Problem]:
    given = [entry for entry in step.entries if entry.key in KINDS]
    if not given:
        message = f"the step has no kind; expected exactly one of: {_kinds_list()}"
        return [Problem(file, step.pos.line, step.pos.col, path, message)]
    return [
        Problem(
            file,
            extra.key_pos.line,
            extra.key_pos.col,
            key_path(path, extra.key),
            f"a second step kind ('{given[0].key}' is at line {given[0].key_pos.line}); "
            "expected exactly one kind per step: split it into two steps",
        )
        for extra in given[1:]
    ]


def _id_entry(step: Map) -> Entry | None:
    entry = step.entry("id")
    if entry is None or not isinstance(entry.value, Scalar):
        return None
    return entry if isinstance(entry.value.value, str) else None


def _duplicate_ids(file: str, steps: list[tuple[str, Map]]) -> list[Problem]:
    problems: list[Problem] = []
    first_seen: dict[str, tuple[str, Entry]] = {}
    for path, step in steps:
        entry = _id_entry(step)
        if entry is None:
            continue
        step_id = str(entry.value.value) if isinstance(entry.value, Scalar) else ""
        if step_id not in first_seen:
            first_seen[step_id] = (path, entry)
            continue
        first_path, first = first_seen[step_id]
        problems.append(
            Problem(
                file,
                entry.key_pos.line,
                entry.key_pos.col,
                key_path(path, "id"),
                f"duplicate step id '{step_id}', already used by {first_path} at line "
                f"{first.key_pos.line}; expected each step id once",
            )
        )
    return problems


def _needs_entries(step: Map) -> list[tuple[int, Scalar]]:
    needs = step.get("needs")
    if not isinstance(needs, Seq):
        return []
    return [
        (index, item)
        for index, item in enumerate(needs.items)
        if isinstance(item, Scalar) and isinstance(item.value, str)
    ]


def _step_id(step: Map) -> str | None:
    entry = _id_entry(step)
    return str(entry.value.value) if entry and isinstance(entry.value, Scalar) else None


def _need_problem(need: str, own: str | None, earlier: list[str], later: set[str]) -> str | None:
    if need == own:
        return "a step cannot need itself; expected the id of a step above it"
    if need in later:
        # Only backward needs: steps without `needs` wait for all above them,
        # so a forward need is the one way to make steps wait in a circle.
        return (
            f"'{need}' comes later in the file; a step can only wait for steps above it "
            f"(move this step below '{need}')"
        )
    if need not in earlier:
        close = did_you_mean(need, earlier)
        hint = f"did you mean '{close}'?" if close else "expected the id of a step above it"
        return f"no step above has the id '{need}'; {hint}"
    return None


def _needs_problems(file: str, steps: list[tuple[str, Map]]) -> list[Problem]:
    ids = [_step_id(step) for _, step in steps]
    problems = []
    for position, (path, step) in enumerate(steps):
        entries = _needs_entries(step)
        if not entries:
            continue  # most steps: no need to list every other step's id
        earlier = [i for i in ids[:position] if i is not None]
        later = {i for i in ids[position + 1 :] if i is not None}
        for index, item in entries:
            message = _need_problem(str(item.value), ids[position], earlier, later)
            if message is not None:
                where = index_path(key_path(path, "needs"), index)
                problems.append(Problem(file, item.pos.line, item.pos.col, where, message))
    return problems


def _retry_problems(file: str, path: str, step: Map) -> list[Problem]:
    kind = next((KINDS[key] for key in step.names() if key in KINDS), None)
    retries = step.entry("retries")
    if kind is None or kind.automated or retries is None:
        return []
    return [
        Problem(
            file,
            retries.key_pos.line,
            retries.key_pos.col,
            key_path(path, "retries"),
            f"a {kind.key} step is answered by a person and is not retried; expected "
            "retries only on automated steps",
        )
    ]


def check_rules(tree: Tree, *, file: str) -> list[Problem]:
    """Problems of the rules checked beside the schema."""
    steps = list(_steps(tree))
    problems = [problem for path, step in steps for problem in _kind_problems(file, path, step)]
    problems += [problem for path, step in steps for problem in _retry_problems(file, path, step)]
    return problems + _duplicate_ids(file, steps) + _needs_problems(file, steps)


def _warning(file: str, at: Scalar | Map | Entry, path: str, message: str) -> Problem:
    pos = at.key_pos if isinstance(at, Entry) else at.pos
    return Problem(file, pos.line, pos.col, path, message, severity="warning")


def _step_warnings(file: str, path: str, step: Map) -> Iterator[Problem]:
    kind = next((key for key in step.names() if key in KINDS), None)
    if kind in _KINDS_THAT_CHANGE_THINGS and step.entry("rollback") is None:
        yield _warning(
            file,
            step,
            key_path(path, "rollback"),
            "no rollback given; add the command or instructions that undo this step, "
            "or 'rollback: none' when there is nothing to undo",
        )
    when = step.entry("when")
    if when is not None and isinstance(when.value, Scalar) and when.value.value is False:
        yield _warning(
            file,
            when,
            key_path(path, "when"),
            "'when: false' means this step never runs; remove the step, or give a condition",
        )


def _texts(tree: Tree) -> Iterator[str]:
    if isinstance(tree, Map):
        for entry in tree.entries:
            yield from _texts(entry.value)
    elif isinstance(tree, Seq):
        for item in tree.items:
            yield from _texts(item)
    elif isinstance(tree.value, str):
        yield tree.value


def _unused_vars(file: str, tree: Map) -> Iterator[Problem]:
    variables = tree.get("vars")
    if not isinstance(variables, Map):
        return
    everything = "\n".join(_texts(tree))
    for entry in variables.entries:
        if not re.search(rf"\b{re.escape(entry.key)}\b", everything):
            yield _warning(
                file,
                entry,
                key_path("vars", entry.key),
                f"no template uses this variable; remove it, or use it as "
                f"'{{{{ vars.{entry.key} }}}}'",
            )


def _repeated_secrets(file: str, tree: Map) -> Iterator[Problem]:
    secrets = tree.get("secrets")
    if not isinstance(secrets, Seq):
        return
    seen: set[object] = set()
    for index, item in enumerate(secrets.items):
        if isinstance(item, Scalar) and item.value in seen:
            yield _warning(file, item, index_path("secrets", index), "listed twice; list it once")
        if isinstance(item, Scalar):
            seen.add(item.value)


def find_warnings(tree: Tree, *, file: str) -> list[Problem]:
    """Things that are allowed but probably not meant."""
    if not isinstance(tree, Map):
        return []
    found = [w for path, step in _steps(tree) for w in _step_warnings(file, path, step)]
    return found + list(_unused_vars(file, tree)) + list(_repeated_secrets(file, tree))
