"""Finding and loading a checklist: which file, read within limits, check it, build the model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from relcheck.errors import ConfigError, Problem, UsageError
from relcheck.gitrepo import find_root
from relcheck.resources import BUILTIN_PREFIX, builtin_checklists

if TYPE_CHECKING:
    from relcheck.model import Checklist

# Reading and checking a checklist needs YAML, the schema and every step kind;
# finding one needs none of them, so they are imported where a file is read.

MAX_BYTES = 1024 * 1024
DEFAULT_NAMES = ("relcheck.yaml", ".relcheck.yaml")


def _builtin_names() -> str:
    names = sorted(builtin_checklists())
    return ", ".join(names) if names else "none are installed"


def _search_folders(cwd: Path) -> list[Path]:
    here = cwd.resolve()
    root = find_root(here)
    return [here] if root is None or root == here else [here, root]


def _default_path(cwd: Path) -> tuple[str, Path, Path]:
    folders = _search_folders(cwd)
    for folder in folders:
        for name in DEFAULT_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return os.path.relpath(candidate, folders[0]), candidate, folder
    where = " and in the git root ".join(str(folder) for folder in folders)
    raise UsageError(
        f"no checklist found: looked for {' and '.join(DEFAULT_NAMES)} in {where}; "
        "run `relcheck init` to write one, or name a checklist file or "
        f"builtin:NAME (built-ins: {_builtin_names()})"
    )


def _builtin_path(name: str, cwd: Path) -> tuple[str, Path, Path]:
    found = builtin_checklists().get(name)
    if found is None:
        raise UsageError(f"unknown built-in checklist '{name}'; built-ins: {_builtin_names()}")
    return f"{BUILTIN_PREFIX}{name}", found, find_root(cwd) or cwd


def _given_path(arg: str, cwd: Path) -> tuple[str, Path, Path]:
    path = cwd / arg
    if path.is_dir():
        raise UsageError(
            f"{arg} is a folder; expected a checklist file such as "
            f"{os.path.join(arg, DEFAULT_NAMES[0])}"
        )
    if not path.is_file():
        raise UsageError(
            f"{arg}: no such checklist file (looked in {cwd}); check the path, or run "
            "`relcheck init` to write one"
        )
    return arg, path, path.parent


def resolve_checklist_path(arg: str | None, *, cwd: Path) -> tuple[str, Path, Path]:
    """Which checklist ``arg`` names: (source label, file path, base dir).

    None takes ``[tool.relcheck] checklist`` from pyproject.toml, else searches
    relcheck.yaml, then .relcheck.yaml, in ``cwd`` and then in its git root;
    ``builtin:NAME`` names a built-in checklist, which runs in
    the git root (or ``cwd`` outside git); anything else is a path relative to
    ``cwd`` whose commands run in the file's folder.
    """
    if arg is None:
        from relcheck.settings import project_settings

        arg = project_settings(cwd).checklist_arg(cwd)
    if arg is None:
        return _default_path(cwd)
    if arg.startswith(BUILTIN_PREFIX):
        return _builtin_path(arg[len(BUILTIN_PREFIX) :], cwd)
    return _given_path(arg, cwd)


def load_checklist(arg: str | None, *, cwd: Path) -> Checklist:
    """Find, read and check a checklist; ConfigError lists all of its problems.

    ``[tool.relcheck]`` in pyproject.toml may name the checklist (when ``arg`` is
    None); its owner is the run's last resort (see ``commands.run``), not the checklist's.
    """
    source, path, base_dir = resolve_checklist_path(arg, cwd=cwd)
    return load_checklist_file(path, source=source, base_dir=base_dir)


def _read(path: Path, file: str) -> bytes:
    if path.is_dir():
        raise UsageError(f"{file} is a folder; expected a checklist file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{file}: no such checklist file; check the path") from None
    except OSError as exc:
        raise UsageError(f"{file}: cannot read the checklist ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        from relcheck.checklist.yamltree import ROOT

        raise ConfigError(
            [
                Problem(
                    file,
                    1,
                    1,
                    ROOT,
                    "the file is larger than 1 MiB; expected a "
                    "checklist well under that size (is this the right file?)",
                )
            ]
        )
    return data


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        from relcheck.checklist.yamltree import ROOT

        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start]
        message = f"the file is not UTF-8 text (byte 0x{bad:02x}); expected UTF-8: save it so"
        raise ConfigError([Problem(file, line, col, ROOT, message)]) from None


def _unique(problems: list[Problem]) -> list[Problem]:
    # Schema branches may find the same thing twice (a step's `expect` is
    # checked by the step schema and by its kind's rule).
    return sorted(dict.fromkeys(problems), key=lambda p: (p.line, p.col))


def load_checklist_file(path: Path, *, source: str, base_dir: Path) -> Checklist:
    """Read and check one checklist file; ConfigError lists all of its problems.

    Problems name ``source`` as the file, except for built-ins, which name
    the real file so an editor can open it. A checklist that passed every check
    is kept in the user's cache folder (:mod:`relcheck.checklist.cache`): read
    again unchanged, it needs no YAML, schema or validator.
    """
    from relcheck.checklist import cache

    file = str(path) if source.startswith(BUILTIN_PREFIX) else source
    data = _read(path, file)
    key = cache.checklist_key(source=source, path=path, base_dir=base_dir)
    kept = cache.cached_checklist(key, data)  # read from the same bytes: the same sha256
    if kept is not None:
        return kept
    import hashlib  # here: an unchanged checklist (kept) needs no OpenSSL

    sha256 = hashlib.sha256(data).hexdigest()
    checklist = _checked(
        data, file=file, source=source, path=path, base_dir=base_dir, sha256=sha256
    )
    cache.keep_checklist(key, data, checklist)
    return checklist


def _checked(
    data: bytes, *, file: str, source: str, path: Path, base_dir: Path, sha256: str
) -> Checklist:
    from relcheck.checklist.build import build_checklist
    from relcheck.checklist.rules import check_rules, find_warnings, kinds_used
    from relcheck.checklist.schema import checklist_schema
    from relcheck.checklist.validate import Validator
    from relcheck.checklist.yamltree import ROOT, Map, parse_tree

    tree, problems = parse_tree(_decode(data, file), file=file)
    validator = Validator(file)
    validator.validate(tree, checklist_schema(kinds_used(tree)), ROOT, tree.pos)
    errors = _unique([*problems, *validator.problems, *check_rules(tree, file=file)])
    warnings = _unique(find_warnings(tree, file=file))
    if errors or not isinstance(tree, Map):
        raise ConfigError(_unique(errors + warnings))
    return build_checklist(
        tree,
        source=source,
        file=file,
        path=path,
        base_dir=base_dir,
        sha256=sha256,
        warnings=warnings,
    )
