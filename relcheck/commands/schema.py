"""``relcheck schema``: the JSON Schema of the checklist format, for editors and CI checks.

The text is generated from :func:`relcheck.checklist.checklist_schema`, the
schema the validator itself walks, so the two cannot disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from relcheck.errors import EXIT_OK
from relcheck.files import write_atomic
from relcheck.ui import UI

SCHEMA_FILE = "relcheck.schema.json"
_MODELINE = re.compile(r"#\s*yaml-language-server:")


def schema_text() -> str:
    """The schema as the JSON text ``relcheck schema`` prints and ``init`` writes."""
    from relcheck.checklist import checklist_schema

    return json.dumps(checklist_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_comment(reference: str = SCHEMA_FILE) -> str:
    """The first line that tells yaml-language-server (and so most editors) the schema."""
    return f"# yaml-language-server: $schema={reference}"


def with_schema_comment(text: str, reference: str = SCHEMA_FILE) -> str:
    """``text`` starting with the schema comment, in place of any such comment it had."""
    lines = [line for line in text.splitlines(keepends=True) if not _MODELINE.match(line)]
    return schema_comment(reference) + "\n" + "".join(lines)


def write_schema(output: Path | None, *, ui: UI) -> int:
    text = schema_text()
    if output is None:
        ui.stream.write(text)
        ui.stream.flush()
        return EXIT_OK
    write_atomic(output, text)
    ui.print(f"Wrote {output}")
    return EXIT_OK
