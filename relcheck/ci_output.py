"""What a run leaves for CI systems: JUnit XML, the report, GitHub and GitLab log markers.

Machine outputs (JUnit class names, the report) name steps by id; what people
read (annotations, group titles, the step summary) names them by title.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from relcheck.model import FAILED, INTERRUPTED, PASSED, PENDING, RUNNING, SKIPPED

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from relcheck.journal import RunRecord, StepRecord
    from relcheck.secrets import Masker

GITHUB = "github"
GITLAB = "gitlab"

# What a failed step's JUnit body keeps of its log.
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 200

# CSI sequences (colours, cursor moves), OSC sequences (titles, links), and the
# two-byte escapes; a lone ESC at the end of a chunk waits for the next one.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, ended by BEL or ST
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # two-byte escapes (ESC c, ESC 7, ESC ( B ...)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# An escape sequence cut off at the end of a chunk: held back until it is complete.
_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)\Z")
# Characters XML 1.0 cannot hold at all.
# Compiled on first use (re caches it): compiling it takes 10 ms, which every command
# would pay at start-up, as the UI imports this module.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def ci_system(environ: Mapping[str, str]) -> str | None:
    """``github`` or ``gitlab`` when running in that CI system's job, else None."""
    if environ.get("GITHUB_ACTIONS", "").lower() == "true":
        return GITHUB
    if environ.get("GITLAB_CI", "").lower() == "true":
        return GITLAB
    return None


# ---------------------------------------------------------------- escape codes


def strip_escapes(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves, titles)."""
    return _ESCAPE.sub("", text) if ("\x1b" in text or "\x9b" in text) else text


class EscapeStripper:
    """Strips escape sequences from text that arrives in chunks, which may split one."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        text = self._pending + text
        self._pending = ""
        if "\x1b" not in text and "\x9b" not in text:
            return text
        partial = _PARTIAL.search(text)
        if partial:
            text, self._pending = text[: partial.start()], text[partial.start() :]
        return strip_escapes(text)

    def flush(self) -> str:
        """The end of the stream: an escape sequence never completed is dropped."""
        self._pending = ""
        return ""


# ---------------------------------------------------------------- GitHub Actions


def github_data(text: str) -> str:
    """The message part of a workflow command, escaped as the Actions toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A property value of a workflow command (``title=...``): ``:`` and ``,`` escaped too."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def github_error(title: str, message: str) -> str:
    """An ``::error`` annotation line for a failed step."""
    return f"::error title={github_property(title)}::{github_data(message)}"


def github_group(title: str) -> str:
    return f"::group::{github_data(title)}"


GITHUB_ENDGROUP = "::endgroup::"


def github_stop_commands() -> tuple[str, str]:
    """The lines around a step's output that keep what it prints from acting as workflow
    commands (a stray ``::endgroup::`` or ``::error::``): (stop, start again). The token
    is random, so the output cannot start commands again itself."""
    token = os.urandom(16).hex()
    return f"::stop-commands::{token}", f"::{token}::"


# ---------------------------------------------------------------- GitLab CI


def gitlab_section_name(step_id: str) -> str:
    """A section name GitLab accepts (letters, digits, ``_``, ``.``, ``-``)."""
    return "relcheck_" + re.sub(r"[^A-Za-z0-9_.-]", "_", step_id)


def gitlab_section_start(name: str, title: str, *, at: float | None = None) -> str:
    stamp = int(time.time() if at is None else at)
    header = strip_escapes(title).replace("\r", " ").replace("\n", " ")
    return f"\x1b[0Ksection_start:{stamp}:{name}[collapsed=true]\r\x1b[0K{header}"


def gitlab_section_end(name: str, *, at: float | None = None) -> str:
    stamp = int(time.time() if at is None else at)
    return f"\x1b[0Ksection_end:{stamp}:{name}\r\x1b[0K"


# ---------------------------------------------------------------- files at the end of a run


class RunOutputs(Struct, frozen=True):
    """Files a run writes when it ends: ``--junit`` and ``--report``."""

    junit: Path | None = None
    report: Path | None = None

    def check(self) -> None:
        """Refuse, before anything runs, a path that can never be written."""
        from relcheck.errors import UsageError

        for flag, path in (("--junit", self.junit), ("--report", self.report)):
            problem = _unwritable(path) if path is not None else None
            if problem:
                raise UsageError(f"{flag} {path}: {problem}; expected a file path to write")


def _unwritable(path: Path) -> str | None:
    """Why ``path`` can never be written, judged by its nearest existing folder."""
    if path.is_dir():
        return "is a folder"
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {parent} is not writable"
    return None


def write_outputs(
    record: RunRecord,
    outputs: RunOutputs,
    *,
    environ: Mapping[str, str],
    masker: Masker | None = None,
    step_summary: bool = True,
) -> None:
    """Write the JUnit XML and the report, and append the GitHub step summary when in Actions.

    Files are replaced whole (a reader never sees half of one); the step
    summary is appended, as GitHub expects.
    """
    from relcheck.files import write_atomic

    if outputs.junit is not None:
        write_atomic(outputs.junit, junit_xml(record, masker=masker))
    if outputs.report is not None:
        write_atomic(outputs.report, json.dumps(record.as_status(), indent=2) + "\n")
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and ci_system(environ) == GITHUB and summary:
        _append(Path(summary), step_summary_markdown(record))


def _append(path: Path, text: str) -> None:
    from relcheck.errors import UsageError

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(
            f"cannot append the step summary to {path} ({exc.strerror or exc}); "
            "expected GITHUB_STEP_SUMMARY to name a writable file. The run itself is "
            "recorded (`relcheck status`); fix or unset GITHUB_STEP_SUMMARY",
            retry_safe=None,
        ) from None


# ---------------------------------------------------------------- JUnit XML


def junit_xml(record: RunRecord, *, masker: Masker | None = None) -> str:
    """The run as JUnit XML: one test case per step, in checklist order."""
    from xml.etree import ElementTree as ET

    steps = record.ordered_steps()
    counts = _junit_counts(steps)
    total_s = sum(step.duration_s or 0.0 for step in steps)
    suites = ET.Element("testsuites", {"name": "relcheck", **counts, "time": _seconds(total_s)})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": _xml_text(record.checklist_path or record.checklist),
            "id": record.run_id,
            **counts,
            "time": _seconds(total_s),
            "timestamp": _junit_timestamp(record.started_at),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in _run_properties(record).items():
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))
    label = record.checklist_path or record.checklist
    for step in steps:
        _junit_case(suite, step, record=record, label=label, masker=masker)
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _junit_timestamp(at: str) -> str:
    """A journal time as the JUnit schema's timestamp wants it: in UTC, without the zone
    or a fraction of a second."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at[:19]
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _junit_counts(steps: list[StepRecord]) -> dict[str, str]:
    failures = sum(1 for step in steps if step.status == FAILED)
    errors = sum(1 for step in steps if step.status in (INTERRUPTED, RUNNING))
    skipped = sum(1 for step in steps if step.status in (SKIPPED, PENDING))
    return {
        "tests": str(len(steps)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
    }


def _run_properties(record: RunRecord) -> dict[str, str]:
    return {
        "run_id": record.run_id,
        "state": record.state,
        "release": record.version,
        "tag": record.tag,
        "commit": record.commit or "",
        "checklist": record.checklist,
    }


def _junit_case(
    suite: Element,
    step: StepRecord,
    *,
    record: RunRecord,
    label: str,
    masker: Masker | None,
) -> None:
    from xml.etree import ElementTree as ET

    case = ET.SubElement(
        suite,
        "testcase",
        classname=_xml_text(f"{label}/{step.id}"),
        name=step.id,
        time=_seconds(step.duration_s or 0.0),
    )
    reason = _xml_text(step.reason or step.actual or step.status)
    if step.status == FAILED:
        kind = "failed" if step.required else "failed (optional step)"
        failure = ET.SubElement(case, "failure", message=reason, type=kind)
        failure.text = _log_tail(record, step, masker)
    elif step.status in (INTERRUPTED, RUNNING):
        error = ET.SubElement(case, "error", message=reason, type=step.status)
        error.text = _log_tail(record, step, masker)
    elif step.status == SKIPPED:
        ET.SubElement(case, "skipped", message=reason)
    elif step.status == PENDING:
        ET.SubElement(case, "skipped", message="not run: the run stopped before this step")
    out = ET.SubElement(case, "system-out")
    out.text = _xml_text(_case_text(step))


def _case_text(step: StepRecord) -> str:
    """What a person reading the test report wants to know about the step."""
    lines = [
        f"{step.title}",
        f"status:   {step.status}" + (" (flaky)" if step.flaky else ""),
        f"owner:    {step.owner or 'not named'}",
        f"expected: {step.expected or '-'}",
        f"actual:   {step.actual or '-'}",
        f"rollback: {step.rollback or 'not given'}",
    ]
    if step.note:
        lines.append(f"note:     {step.note}")
    if step.confirmed_by:
        lines.append(f"confirmed by: {step.confirmed_by}")
    if step.attempts > 1:
        lines.append(f"attempts: {step.attempts}")
    return "\n".join(lines) + "\n"


def _log_tail(record: RunRecord, step: StepRecord, masker: Masker | None) -> str:
    """The end of the step's log (already masked when written; masked again to be sure)."""
    from relcheck.journal import iter_tail

    if not step.log:
        return ""
    lines = list(iter_tail(record.folder / step.log, limit=_TAIL_BYTES))[-_TAIL_LINES:]
    text = "\n".join(lines)
    if masker is not None:
        text = masker.mask(text)
    return _xml_text(strip_escapes(text)) + ("\n" if text else "")


def _xml_text(text: str) -> str:
    """Text XML can hold: control characters other than tab and line ends dropped."""
    return re.sub(_NOT_XML, "", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


# ---------------------------------------------------------------- GitHub step summary

_SUMMARY_MARKS = {
    PASSED: "✅",
    FAILED: "❌",
    SKIPPED: "⏭️",
    INTERRUPTED: "⏹️",
    PENDING: "⏸️",
    RUNNING: "⏳",
}
_STATE_HEADLINES = {
    "passed": "✅ release-ready",
    "failed": "❌ not release-ready: a required step failed",
    "partial": "⚠️ not release-ready: partial run (required steps were left out or skipped)",
    "interrupted": "⏹️ not release-ready: interrupted (`relcheck resume` carries on)",
}


def step_summary_markdown(record: RunRecord) -> str:
    """The run's readiness table in Markdown, for ``$GITHUB_STEP_SUMMARY``."""
    from relcheck.render import format_duration, markdown_cell, markdown_code

    headline = _STATE_HEADLINES.get(record.state, record.state)
    commit = markdown_code(record.commit[:12]) if record.commit else "no commit"
    lines = [
        f"### relcheck: release {markdown_cell(record.version)}, {headline}",
        "",
        f"Checklist {markdown_code(record.checklist_path or record.checklist)}, "
        f"tag {markdown_code(record.tag)} on {commit}, run {markdown_code(record.run_id)}.",
        "",
        "| | Step | Status | Owner | Duration | Result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for step in record.ordered_steps():
        status = step.status if step.status == PASSED else f"**{step.status}**"
        if not step.required:
            status += " (optional)"
        if step.flaky:
            status += " (flaky)"
        result = step.actual or ""
        if step.reason and step.status != PASSED:
            result = f"{result}: {step.reason}" if result and result != "not run" else step.reason
        lines.append(
            f"| {_SUMMARY_MARKS.get(step.status, '')} "
            f"| {markdown_cell(step.title)} ({markdown_code(step.id, True)}) "
            f"| {status} "
            f"| {markdown_cell(step.owner or '-')} "
            f"| {format_duration(step.duration_s)} "
            f"| {markdown_cell(result)} |"
        )
    lines += ["", _tally(record), "", ""]
    return "\n".join(lines)


def _tally(record: RunRecord) -> str:
    counts: dict[str, int] = {}
    for step in record.ordered_steps():
        counts[step.status] = counts.get(step.status, 0) + 1
    order = (PASSED, FAILED, SKIPPED, INTERRUPTED, RUNNING, PENDING)
    return ", ".join(f"{counts[state]} {state}" for state in order if counts.get(state))
