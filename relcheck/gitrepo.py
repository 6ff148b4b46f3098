"""The one module that talks to git (through GitPython, imported lazily)."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck.errors import RelcheckError


def find_root(start: Path) -> Path | None:
    """The top of the git work tree holding ``start``, found without running git."""
    current = start.resolve()
    for folder in (current, *current.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _repo(root: Path) -> Any:
    try:
        import git
    except ImportError as exc:  # GitPython raises ImportError when git is missing
        raise RelcheckError(
            f"git failed: {exc}. Is git installed and on PATH?", retry_safe=True
        ) from None
    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RelcheckError(
            f"{root} is not a git repository. Run relcheck inside one, or `git init` first.",
            retry_safe=True,
        ) from None


class Head(Struct, frozen=True):
    branch: str | None
    commit: str | None


def head(root: Path | None) -> Head:
    """Current branch (None when detached) and commit (None before the first commit)."""
    if root is None:
        return Head(None, None)
    # One process for both: the commit, then the branch as `symbolic-ref --short`
    # names it ("HEAD" when detached: git refuses "HEAD" as a branch name).
    found = _quick(root, "rev-parse", "HEAD^{commit}", "--abbrev-ref", "HEAD")
    if found is None:  # no commit yet: only the branch to be born exists
        return Head(_quick(root, "symbolic-ref", "--short", "-q", "HEAD"), None)
    commit, _, branch = found.partition("\n")
    return Head(None if branch == "HEAD" else branch, commit)


def user_name(root: Path | None) -> str | None:
    """git's user.name for this repository (or globally), if set."""
    return _quick(root or Path.cwd(), "config", "user.name")


def _quick(root: Path, *args: str) -> str | None:
    """The output of a read-only git call whose answer is optional; None when it fails."""
    try:
        code, out, _ = _git_status(root, *args)
    except GitError:  # no git, or it hung: the caller does without
        return None
    return out.strip() or None if code == 0 else None


# -- commands with timeouts --------------------------------------------------

# Local git commands finish in well under a second; this only stops a hung one.
LOCAL_TIMEOUT_S = 30.0
# Never let git wait for a password nobody will type.
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}
_C_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C"}


class GitError(RelcheckError):
    """A git command failed, or the repository is not in a state relcheck can use."""


def short_hash(commit: str) -> str:
    """The 7-character abbreviation people read in logs."""
    return commit[:7]


def _git(root: Path, *args: str, timeout: float = LOCAL_TIMEOUT_S, network: bool = False) -> str:
    """Run ``git ARGS`` in ``root`` and return its output; a failure raises GitError."""
    code, out, err = _git_status(root, *args, timeout=timeout, network=network)
    if code != 0:
        raise GitError(_failure_text(args, err))
    return out


def _git_status(
    root: Path, *args: str, timeout: float = LOCAL_TIMEOUT_S, network: bool = False
) -> tuple[int, str, str]:
    """Run ``git ARGS`` in ``root``: exit code, stdout and stderr (each without its last
    line end). A non-zero exit is returned; a missing git or a timeout raises GitError.

    Without GitPython: its import (with the two ``git version`` runs it makes) costs
    more than a run's git checks together; only the history log needs it.
    """
    from relcheck.proc import run_capture

    # As GitPython runs git: messages in English, whatever the user's language.
    env = {**os.environ, **_C_LOCALE, **(_NO_PROMPT if network else {})}
    try:
        done = run_capture(["git", *args], cwd=root, timeout=timeout, env=env)
    except RelcheckError as exc:  # git missing, or stopped at the timeout
        raise GitError(exc.message, retry_safe=True) from None
    return done.returncode, _chomp(done.stdout), _chomp(done.stderr)


def _chomp(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def _failure_text(args: tuple[str, ...], stderr: str) -> str:
    shown = " ".join(args)
    message = " ".join(line.strip() for line in stderr.strip().splitlines() if line.strip())
    return f"`git {shown}` failed: {message or 'no message from git'}"


# -- the work tree ------------------------------------------------------------

_STATE_FOLDER = ".relcheck"


class Changes(Struct, frozen=True):
    """Uncommitted changes: tracked files that differ from HEAD, and untracked files."""

    changed: tuple[str, ...]
    untracked: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.changed and not self.untracked


def worktree_changes(root: Path) -> Changes:
    """What ``git status`` reports, leaving out relcheck's own ``.relcheck/`` folder."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    changed: list[str] = []
    untracked: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            next(entries, None)  # the path it was renamed or copied from
        if _is_state_path(path):
            continue
        (untracked if code == "??" else changed).append(path)
    return Changes(tuple(changed), tuple(untracked))


def _is_state_path(path: str) -> bool:
    return _STATE_FOLDER in path.split("/")[:-1] or path == _STATE_FOLDER


# -- branches and their upstream ------------------------------------------------


class Upstream(Struct, frozen=True):
    """The branch a local branch tracks: ``origin/main`` from remote ``origin``.

    ``gone`` means it is configured but the remote-tracking ref does not
    exist (never fetched, or deleted on the remote).
    """

    name: str
    ref: str
    remote: str
    gone: bool


def upstream(root: Path, branch: str) -> Upstream | None:
    """The upstream of local ``branch``, or None when none is configured."""
    fields = "%(upstream)%00%(upstream:short)%00%(upstream:remotename)%00%(upstream:track)"
    out = _git(root, "for-each-ref", f"--format={fields}", f"refs/heads/{branch}")
    ref, name, remote, track = [*out.split("\0"), "", "", ""][:4]
    if not ref:
        return None
    return Upstream(name=name, ref=ref, remote=remote, gone="gone" in track)


def remotes(root: Path) -> tuple[str, ...]:
    """Names of the configured remotes, ``origin`` first when there is one."""
    names = [line for line in _git(root, "remote").splitlines() if line.strip()]
    return tuple(sorted(names, key=lambda name: (name != "origin", name)))


def fetch(root: Path, remote: str, *, timeout: float) -> None:
    """``git fetch REMOTE``; raises GitError with git's message (or the timeout)."""
    _git(root, "fetch", "--quiet", remote, timeout=timeout, network=True)


def ahead_behind(root: Path, ref: str) -> tuple[int, int]:
    """Commits on HEAD and not on ``ref``, and on ``ref`` and not on HEAD."""
    out = _git(root, "rev-list", "--left-right", "--count", f"HEAD...{ref}", "--")
    ahead, behind = out.split()
    return int(ahead), int(behind)


# -- tags -----------------------------------------------------------------------


class Tag(Struct, frozen=True):
    """A tag and the commit it points at (through an annotated tag object, if any)."""

    name: str
    commit: str
    annotated: bool


def find_tag(root: Path, name: str) -> Tag | None:
    """The local tag ``name``, or None when there is none."""
    ref = f"refs/tags/{name}"
    code, commit, _ = _git_status(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if code != 0 or not commit.strip():
        return None
    kind = _git(root, "cat-file", "-t", ref).strip()
    return Tag(name=name, commit=commit.strip(), annotated=kind == "tag")


def remote_tag_commit(root: Path, remote: str, name: str, *, timeout: float) -> str | None:
    """The commit tag ``name`` points at on ``remote`` (asked over the network), or None."""
    ref = f"refs/tags/{name}"
    peeled = f"{ref}^{{}}"
    out = _git(root, "ls-remote", "--tags", remote, ref, peeled, timeout=timeout, network=True)
    found: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, refname = line.partition("\t")
        found[refname.strip()] = sha.strip()
    # An annotated tag is listed twice; the ^{} line is the commit it points at.
    return found.get(peeled) or found.get(ref)


def check_tag_name(root: Path, name: str) -> None:
    """Raise GitError when ``name`` cannot be a tag name."""
    code, _, _ = _git_status(root, "check-ref-format", f"refs/tags/{name}")
    if code != 0 or name.startswith("-"):
        raise GitError(
            f"{name!r} is not a valid git tag name; fix the checklist's `tag` template",
            retry_safe=False,
        )


def create_tag(root: Path, name: str, *, commit: str, message: str, sign: bool) -> Tag:
    """Create the annotated (or signed) tag ``name`` on ``commit``."""
    check_tag_name(root, name)
    how = "-s" if sign else "-a"
    _git(root, "tag", how, "-m", message, name, commit)
    return Tag(name=name, commit=commit, annotated=True)


def push_tag(root: Path, remote: str, name: str, *, timeout: float) -> None:
    """Push tag ``name`` to ``remote``; up to date already counts as success."""
    ref = f"refs/tags/{name}"
    _git(root, "push", "--quiet", remote, f"{ref}:{ref}", timeout=timeout, network=True)


# -- history: one call each for tags, a log and the remote --------------------------

# Reading a whole large history takes seconds; this only stops a hung git.
HISTORY_TIMEOUT_S = 300.0
_TAG_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(creatordate:iso-strict)",
)


class TagRef(Struct, frozen=True):
    """A tag with the commit it names and its date: the tagger date of an annotated
    tag, the committer date of the commit for a lightweight one."""

    name: str
    commit: str
    annotated: bool
    date: str


def tag_refs(root: Path, *, merged_into: str | None = None) -> list[TagRef]:
    """Every tag that names a commit, in one ``git for-each-ref`` call.

    With ``merged_into``, only the tags whose commit is reachable from that commit.
    Tags of trees or blobs, and tags of tags, are left out.
    """
    args = ["for-each-ref", f"--format={'%00'.join(_TAG_FIELDS)}"]
    if merged_into is not None:
        args.append(f"--merged={merged_into}")
    found: list[TagRef] = []
    for line in _git(root, *args, "refs/tags", timeout=HISTORY_TIMEOUT_S).splitlines():
        name, kind, target, peeled_kind, peeled, date = [*line.split("\0"), "", "", ""][:6]
        if kind == "commit":
            found.append(TagRef(name, target, annotated=False, date=date))
        elif kind == "tag" and peeled_kind == "commit":
            found.append(TagRef(name, peeled, annotated=True, date=date))
    return found


def resolve_commit(root: Path, ref: str) -> str | None:
    """The full hash of the commit ``ref`` names, or None when it names none."""
    if ref.startswith("-"):
        return None  # never let a ref be read as an option
    code, out, _ = _git_status(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out.strip() or None if code == 0 else None


def log_batches(
    root: Path,
    revisions: Sequence[str],
    fields: Sequence[str],
    *,
    extra: Sequence[str] = (),
    timeout: float = HISTORY_TIMEOUT_S,
) -> Iterator[list[str]]:
    """One ``git log`` over ``revisions``, newest first (git's default order: commit
    date, so children before parents unless clocks were skewed), read as it runs.

    Yields flat lists of field values, whole records only: record ``i``'s field
    ``j`` is at ``i * len(fields) + j``. ``fields`` are ``--format`` placeholders;
    none may produce a NUL (commit messages cannot hold one). Names and emails
    go through ``.mailmap`` when the placeholders ask for it (``%aN``, ``%aE``).
    The output is drained by a thread while the caller works on what came
    before, so parsing a long history overlaps with git producing it.
    """
    if not revisions:
        return
    for revision in revisions:
        if revision.startswith("-"):
            raise GitError(f"{revision!r} is not a revision: it would be read as an option")
    args = (
        "log",
        "-z",
        "--encoding=UTF-8",
        "--no-show-signature",
        "--no-color",
        f"--format={'%x00'.join(fields)}",
        *extra,
        *revisions,
        "--",
    )
    handle = _start(root, args)  # GitPython stops the process when this is dropped
    process: subprocess.Popen[bytes] = handle.proc
    chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    reader = threading.Thread(target=_drain, args=(process, chunks), daemon=True)
    reader.start()
    try:
        leftover = yield from _records(chunks, len(fields), time.monotonic() + timeout, timeout)
        _finish(process, leftover=leftover)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(LOCAL_TIMEOUT_S)  # it ends at the end of output, before the pipe closes


def log_fields(
    root: Path, revisions: Sequence[str], fields: Sequence[str], *, extra: Sequence[str] = ()
) -> list[str]:
    """All of :func:`log_batches` in one flat list."""
    values: list[str] = []
    for batch in log_batches(root, revisions, fields, extra=extra):
        values += batch
    return values


# Into a pipe git writes each log record as it is made (100,000 writes for as many
# commits), which costs it a third more time; buffered, it writes in large blocks.
_BUFFERED = {"GIT_FLUSH": "0"}


def _start(root: Path, args: Sequence[str]) -> Any:
    """``git ARGS`` started through GitPython, its output not read yet."""
    import git

    command, *rest = args
    try:
        handle = getattr(_repo(root).git, command)(*rest, as_process=True, env=_BUFFERED)
    except git.GitCommandNotFound:
        raise GitError("git failed: is git installed and on PATH?", retry_safe=True) from None
    _widen_pipe(handle.proc)
    return handle


def _widen_pipe(process: subprocess.Popen[bytes]) -> None:
    """A 1 MiB pipe lets git run ahead while Python parses (Linux; elsewhere a no-op)."""
    try:
        import fcntl

        fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)  # type: ignore[union-attr]
    except (ImportError, AttributeError, OSError):
        pass


_PIPE_SIZE = 1 << 20


def _records(
    chunks: queue.SimpleQueue[bytes | None], width: int, deadline: float, timeout: float
) -> Generator[list[str], None, bool]:
    """Whole records from the output as it comes; returns whether a partial one was left."""
    carry = b""
    pending: list[str] = []
    while True:
        try:
            chunk = chunks.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise GitError(
                f"`git log` did not finish within {timeout:g} s and was stopped", retry_safe=True
            ) from None
        if chunk is None:
            return bool(carry.strip() or pending)
        data = carry + chunk
        cut = data.rfind(b"\0")  # every record ends with a NUL; a field never holds one
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        pending += data[:cut].decode("utf-8", "replace").split("\0")
        whole = len(pending) - len(pending) % width
        if whole:
            yield pending[:whole]
            pending = pending[whole:]


def _drain(process: subprocess.Popen[bytes], chunks: queue.SimpleQueue[bytes | None]) -> None:
    try:
        descriptor = process.stdout.fileno()  # type: ignore[union-attr]
        while chunk := os.read(descriptor, _PIPE_SIZE):
            chunks.put(chunk)
            if len(chunk) < _PIPE_SIZE // 4 and process.poll() is None:
                # Let the pipe fill: a reader waiting on every small write wakes
                # both processes thousands of times, which costs more than parsing.
                # (Once git has exited, the rest is all there: no need to wait.)
                time.sleep(_REFILL_S)
    except (OSError, ValueError):
        pass  # the process was stopped; the reader of ``chunks`` reports why
    finally:
        chunks.put(None)


_REFILL_S = 0.005


def _finish(process: subprocess.Popen[bytes], *, leftover: bool) -> None:
    try:
        code = process.wait(timeout=LOCAL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GitError("`git log` did not exit after its output ended", retry_safe=True) from None
    stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if code != 0:
        raise GitError(_failure_text(("log",), stderr))
    if leftover:
        raise GitError(
            "`git log` output ended inside a record; is a git config option changing its format?"
        )


def remote_url(root: Path, name: str = "origin") -> str | None:
    """The fetch URL of remote ``name`` (``insteadOf`` applied), or None without that remote."""
    code, out, _ = _git_status(root, "remote", "get-url", "--", name)
    return out.strip() or None if code == 0 else None


# -- refs and notes exchanged with a remote -------------------------------------------

# A remote on a slow link can take a while; this only stops a hung one.
NETWORK_TIMEOUT_S = 60.0


def remote_ref(
    root: Path, remote: str, ref: str, *, timeout: float = NETWORK_TIMEOUT_S
) -> str | None:
    """The object ``ref`` names on ``remote`` (asked over the network), or None without it."""
    out = _git(root, "ls-remote", "--refs", remote, ref, timeout=timeout, network=True)
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name.strip() == ref:
            return sha.strip()
    return None


def fetch_ref(
    root: Path, remote: str, ref: str, into: str, *, timeout: float = NETWORK_TIMEOUT_S
) -> None:
    """Fetch ``ref`` of ``remote`` into the local ref ``into`` (replacing what it held)."""
    refspec = f"+{ref}:{into}"
    _git(root, "fetch", "--quiet", "--no-tags", remote, refspec, timeout=timeout, network=True)


def set_ref(root: Path, ref: str, target: str | None) -> None:
    """Point ``ref`` at ``target``, or delete it (if it exists) when ``target`` is None."""
    if target is None:
        _git_status(root, "update-ref", "-d", ref)
    else:
        _git(root, "update-ref", ref, target)


def note_blobs(root: Path, notes_commit: str) -> dict[str, str]:
    """Annotated object -> note blob, for every note in a notes commit (any fan-out)."""
    found: dict[str, str] = {}
    for entry in _git(root, "ls-tree", "-r", "-z", notes_commit).split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        name = path.replace("/", "")
        if len(fields) == 3 and fields[1] == "blob" and len(name) in (40, 64):
            found[name.lower()] = fields[2]
    return found


def read_blob(root: Path, blob: str) -> str:
    return _git(root, "cat-file", "blob", blob)


def write_note(root: Path, ref: str, commit: str, text_file: Path) -> None:
    """Replace the note on ``commit`` under the notes ref ``ref`` with a file's text."""
    _git(root, "notes", f"--ref={ref}", "add", "--force", f"--file={text_file}", commit)


class Push(Struct, frozen=True):
    """How a push ended: ``refused`` holds git's reason when the remote turned it down
    (someone pushed first, or it could not lock the ref): fetch, merge and try again."""

    refused: str | None


def push_ref(root: Path, remote: str, ref: str, *, timeout: float = NETWORK_TIMEOUT_S) -> Push:
    """Push ``ref`` to the same name on ``remote``, fast-forward only."""
    args = ("push", "--porcelain", remote, f"{ref}:{ref}")
    code, out, err = _git_status(root, *args, timeout=timeout, network=True)
    if code == 0:
        return Push(None)
    for line in out.splitlines():
        flag, _, rest = line.partition("\t")
        if flag == "!":
            return Push(rest.rpartition("\t")[2].strip() or "rejected")
    raise GitError(_failure_text(args, err), retry_safe=True)
