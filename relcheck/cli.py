"""The command line: registers commands and turns errors into exit codes, in one place."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from relcheck import __version__
from relcheck.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ConfigError,
    RelcheckError,
)

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """The only place where exceptions become exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(_masked(str(exc)), err=True)
            count = exc.error_count
            click.echo(
                f"relcheck: {count} problem{'s' if count != 1 else ''} found; fix "
                "them and run the command again",
                err=True,
            )
            raise click.exceptions.Exit(exc.exit_code) from None
        except RelcheckError as exc:
            click.echo(f"relcheck: {_masked(str(exc))}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.echo("relcheck: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except (click.exceptions.Exit, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`relcheck plan | head`): stop quietly, as shells expect.
            _silence_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
        except Exception:
            where = _save_crash()
            error = _masked(repr(sys.exc_info()[1]))
            click.echo(
                f"relcheck: internal error: {error}; the full traceback is in {where}. "
                "Please report it.",
                err=True,
            )
            raise click.exceptions.Exit(EXIT_INTERNAL) from None


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _masked(text: str) -> str:
    """Error text with the values of secret-looking environment variables hidden."""
    import os

    from relcheck.secrets import Masker

    return Masker.from_env(os.environ, ()).mask(text)


def _save_crash() -> str:
    import tempfile
    import traceback
    from datetime import datetime, timezone

    text = _masked(traceback.format_exc())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    for folder in _crash_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stamp}.txt"
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return f"nowhere (neither .relcheck/crashes nor {tempfile.gettempdir()} is writable)"


def _crash_folders() -> list[Path]:
    import tempfile

    folders = [Path(tempfile.gettempdir()) / "relcheck-crashes"]
    try:
        from relcheck.journal import state_dir

        folders.insert(0, state_dir(Path.cwd()) / "crashes")
    except Exception:  # the state folder itself may be what is broken
        pass
    return folders


def _ui(verbosity: int = 0) -> Any:
    from relcheck.ui import UI

    return UI(verbosity=verbosity)


def _exit(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


def _interaction_options(func: F) -> F:
    func = click.option(
        "--non-interactive",
        is_flag=True,
        help="Never prompt (also when CI=true or stdin is not a terminal).",
    )(func)
    func = click.option(
        "--answers",
        "answers_file",
        type=click.Path(path_type=Path),
        help="YAML answers for owners, rollbacks and manual steps.",
    )(func)
    return func


def _walk_options(func: F) -> F:
    func = click.option(
        "--update-snapshots", is_flag=True, help="Record API response shapes anew."
    )(func)
    func = click.option(
        "--keep-going", is_flag=True, help="Run every step not blocked by a failure."
    )(func)
    func = click.option(
        "-j",
        "--jobs",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Automated steps to run side by side when their needs allow.",
    )(func)
    return func


def _output_options(func: F) -> F:
    func = click.option(
        "-v", "--verbose", is_flag=True, help="Stream every command's output, also side by side."
    )(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")(
        func
    )
    func = click.option(
        "--report",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write the run as JSON (the `status --json` object) to FILE at the end.",
    )(func)
    func = click.option(
        "--junit",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write JUnit XML (one test case per step) to FILE at the end.",
    )(func)
    return func


def _verbosity(quiet: bool, verbose: bool) -> int:
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose ask for opposite things; pass one")
    return -1 if quiet else 1 if verbose else 0


def _complete_step_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from relcheck.completion import step_ids

    return step_ids(ctx, incomplete, cwd=Path.cwd())


def _complete_run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from relcheck.completion import run_ids

    return run_ids(incomplete, cwd=Path.cwd())


def _complete_manual_steps(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[Any]:
    from relcheck.completion import manual_step_ids

    return manual_step_ids(ctx, incomplete, cwd=Path.cwd())


def _ids(values: tuple[str, ...], flag: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    if values and not ids:
        raise click.BadParameter("expected one or more step ids", param_hint=flag)
    return ids


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relcheck", message="%(prog)s %(version)s")
def cli() -> None:
    """Release-readiness checklists: run the checks, record owner, evidence and rollback."""


@cli.command()
def checklists() -> None:
    """List the built-in checklists."""
    from relcheck.commands.checklist import list_builtins

    _exit(list_builtins(ui=_ui()))


@cli.command()
@click.option(
    "--from",
    "name",
    default="python-service",
    show_default=True,
    help="Built-in checklist to start from.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing relcheck.yaml.")
def init(name: str, force: bool) -> None:
    """Write relcheck.yaml from a built-in checklist."""
    from relcheck.commands.checklist import init as run_init

    _exit(run_init(name, force=force, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("paths", nargs=-1)
def validate(paths: tuple[str, ...]) -> None:
    """Check checklists (default: this folder's) and report every problem with file:line:col."""
    from relcheck.commands.checklist import validate as run_validate

    _exit(run_validate(paths, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the checklist format (for editors and CI checks)."""
    from relcheck.commands.schema import write_schema

    _exit(write_schema(output, ui=_ui()))


@cli.command()
@click.argument("path", required=False)
@click.option("--release", "version", help="Release version (shown as <release> when absent).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(path: str | None, version: str | None, as_json: bool) -> None:
    """Show the resolved steps without running anything."""
    from relcheck.commands.checklist import plan as run_plan

    _exit(run_plan(path, version=version, as_json=as_json, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("path", required=False)
@click.option("--release", "version", help="Release version (shown as <release> when absent).")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
def runbook(path: str | None, version: str | None, fmt: str, output: Path | None) -> None:
    """Render the checklist as a runbook (Markdown or HTML) to follow without relcheck."""
    from relcheck.commands.checklist import runbook as run_runbook

    _exit(run_runbook(path, version=version, output=output, fmt=fmt, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("run_id", required=False, shell_complete=_complete_run_ids)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html"]),
    help="Output format (default: the template's, else md).",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False),
    help='A Jinja2 template; it can {% extends "release-note.md.j2" %}.',
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option(
    "--from", "from_ref", help="Start after this ref (default: the previous release tag)."
)
@click.option("--to", "to_ref", help="End at this ref; a release tag gives that release's note.")
@click.option("--no-run", is_flag=True, help="Leave the run record out: the git part alone.")
def notes(
    run_id: str | None,
    fmt: str | None,
    template: Path | None,
    output: Path | None,
    from_ref: str | None,
    to_ref: str | None,
    no_run: bool,
) -> None:
    """Render the release note of a run (default: the latest) from its record and git history."""
    from relcheck.commands.notes import NoteRequest
    from relcheck.commands.notes import notes as run_notes

    request = NoteRequest(run_id, fmt, template, output, from_ref, to_ref, no_run)
    _exit(run_notes(request, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option("--unreleased", is_flag=True, help="Include the commits since the latest release.")
def changelog(output: Path | None, unreleased: bool) -> None:
    """Render every release from the tags, newest first, as Markdown."""
    from relcheck.commands.notes import changelog as run_changelog

    _exit(run_changelog(output=output, unreleased=unreleased, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("run_id", required=False)
@click.option(
    "--provider",
    type=click.Choice(["github", "gitlab", "gitea"]),
    help="The forge (default: from the CI environment, else the origin remote).",
)
@click.option("--repo", help="OWNER/NAME (a GitLab project path or id).")
@click.option("--api-url", help="The forge's API URL, e.g. https://gitlab.example.com/api/v4.")
@click.option("--draft", is_flag=True, help="Publish as a draft (GitHub, Gitea).")
@click.option("--prerelease", is_flag=True, help="Mark as a pre-release (GitHub, Gitea).")
@click.option("--dry-run", is_flag=True, help="Send nothing; print each request it would make.")
@click.option(
    "--allow-failed", is_flag=True, help="Publish a run that did not pass, with a warning."
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=120,
    show_default=True,
    help="Seconds all retries together may wait.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30,
    show_default=True,
    help="Seconds each request may take.",
)
def publish(
    run_id: str | None,
    provider: str | None,
    repo: str | None,
    api_url: str | None,
    draft: bool,
    prerelease: bool,
    dry_run: bool,
    allow_failed: bool,
    max_wait: float,
    timeout: float,
) -> None:
    """Publish a run's note as the release of its tag, with the run record attached."""
    from relcheck.commands.publish import PublishRequest
    from relcheck.commands.publish import publish as run_publish

    request = PublishRequest(
        run_id, provider, repo, api_url, draft, prerelease, dry_run, allow_failed, max_wait, timeout
    )
    _exit(run_publish(request, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("path", required=False)
@click.option("--release", "version", help="Release version, e.g. 1.4.0.")
@_interaction_options
@click.option(
    "--only",
    multiple=True,
    shell_complete=_complete_step_ids,
    help="Run only these step ids (comma-separated).",
)
@click.option(
    "--skip",
    multiple=True,
    shell_complete=_complete_step_ids,
    help="Leave out these step ids (comma-separated).",
)
@click.option("--dry-run", is_flag=True, help="Show what would run; execute and record nothing.")
@_walk_options
@_output_options
def run(
    path: str | None,
    version: str | None,
    answers_file: Path | None,
    non_interactive: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    dry_run: bool,
    jobs: int,
    keep_going: bool,
    update_snapshots: bool,
    junit: Path | None,
    report: Path | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Walk a checklist and record every step (PATH defaults to relcheck.yaml)."""
    from relcheck.ci_output import RunOutputs
    from relcheck.commands.run import InteractionOptions, RunRequest, WalkOptions, start_run

    request = RunRequest(
        checklist=path,
        release=version,
        interaction=InteractionOptions(answers_file, non_interactive),
        only=_ids(only, "--only"),
        skip=_ids(skip, "--skip"),
        dry_run=dry_run,
        walk=WalkOptions(jobs, keep_going, update_snapshots),
        outputs=RunOutputs(junit, report),
    )
    _exit(start_run(request, cwd=Path.cwd(), ui=_ui(_verbosity(quiet, verbose))))


@cli.command()
@click.argument("run_id", required=False, shell_complete=_complete_run_ids)
@_interaction_options
@click.option("--force", is_flag=True, help="Resume even though the checklist changed.")
@_walk_options
@_output_options
def resume(
    run_id: str | None,
    answers_file: Path | None,
    non_interactive: bool,
    force: bool,
    jobs: int,
    keep_going: bool,
    update_snapshots: bool,
    junit: Path | None,
    report: Path | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Continue a run: passed and skipped steps are not run again."""
    from relcheck.ci_output import RunOutputs
    from relcheck.commands.run import InteractionOptions, WalkOptions, resume_run

    options = InteractionOptions(answers_file, non_interactive)
    walk = WalkOptions(jobs, keep_going, update_snapshots)
    ui = _ui(_verbosity(quiet, verbose))
    outputs = RunOutputs(junit, report)
    _exit(
        resume_run(
            run_id,
            interaction=options,
            force=force,
            walk=walk,
            cwd=Path.cwd(),
            ui=ui,
            outputs=outputs,
        )
    )


@cli.command()
@click.argument("run_id", required=False, shell_complete=_complete_run_ids)
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
def status(run_id: str | None, as_json: bool) -> None:
    """Show a run's steps: status, owner, actual result (default: the latest run)."""
    from relcheck.commands.record import show_status

    _exit(show_status(run_id, as_json=as_json, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def history(as_json: bool) -> None:
    """List the runs of this repository, newest first."""
    from relcheck.commands.record import show_history

    _exit(show_history(as_json=as_json, cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.argument("run_id", required=False, shell_complete=_complete_run_ids)
@click.option("--execute", is_flag=True, help="Run the rollback commands, newest first.")
@click.option("--yes", is_flag=True, help="Do not ask before each command.")
@click.option("--force", is_flag=True, help="Execute even though the checklist changed.")
def rollback(run_id: str | None, execute: bool, yes: bool, force: bool) -> None:
    """Print (or --execute) the rollback plan of a run, newest step first."""
    from relcheck.commands.record import rollback as run_rollback
    from relcheck.commands.run import is_interactive

    _exit(
        run_rollback(
            run_id,
            execute=execute,
            yes=yes,
            force=force,
            interactive=is_interactive(False),
            cwd=Path.cwd(),
            ui=_ui(),
        )
    )


@cli.command()
@click.argument("step", shell_complete=_complete_manual_steps)
@click.option(
    "--run",
    "run_id",
    shell_complete=_complete_run_ids,
    help="The run (default: the latest); a unique prefix is enough.",
)
@click.option(
    "--answer",
    type=click.Choice(["done", "failed"]),
    default="done",
    show_default=True,
    help="The step's outcome.",
)
@click.option("--note", help="What you observed.")
@click.option("--by", help="Who signs (default: git's user.name).")
def sign(step: str, run_id: str | None, answer: str, note: str | None, by: str | None) -> None:
    """Sign off a manual step of a run; the latest sign-off decides the step."""
    from relcheck.commands.team import SignRequest
    from relcheck.commands.team import sign as run_sign

    _exit(run_sign(SignRequest(step, run_id, answer, note, by), cwd=Path.cwd(), ui=_ui()))


@cli.command()
@click.option("--remote", default="origin", show_default=True, help="The team's git remote.")
@click.option(
    "--run", "run_id", shell_complete=_complete_run_ids, help="Only this run (default: every run)."
)
def sync(remote: str, run_id: str | None) -> None:
    """Exchange run records with the team's remote as git notes (refs/notes/relcheck)."""
    from relcheck.commands.team import sync as run_sync

    _exit(run_sync(remote, run_id, cwd=Path.cwd(), ui=_ui()))


def main() -> None:
    cli(prog_name="relcheck")


def help_text() -> str:
    """What ``relcheck --help`` prints (relcheck.entry keeps it to answer without click)."""
    with cli.context_class(cli, info_name="relcheck", **cli.context_settings) as ctx:
        return ctx.get_help() + "\n"
