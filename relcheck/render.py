"""The one Jinja2 environment: strict, sandboxed, used for every template."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


class TemplateProblem(Exception):
    """A template failed to parse or render; ``line`` is 1-based within the template."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def check_syntax(text: str) -> TemplateProblem | None:
    """Return the parse problem of a template string, or None when it parses."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or str(exc), exc.lineno)
    return None


def _expression_text(expression: str) -> str:
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    return text


def check_expression(expression: str) -> TemplateProblem | None:
    """Return the parse problem of a ``when`` expression (with or without ``{{ }}``)."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().compile_expression(_expression_text(expression))
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or str(exc), exc.lineno)
    return None


def render_string(text: str, context: Mapping[str, Any]) -> str:
    """Render one template string; undefined names raise TemplateProblem."""
    from jinja2 import TemplateError, TemplateSyntaxError

    if "{" not in text:
        return text
    try:
        return environment().from_string(text).render(context)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or str(exc), exc.lineno) from None
    except TemplateError as exc:
        raise TemplateProblem(exc.message or str(exc)) from None


def evaluate_expression(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a ``when`` expression; undefined names raise TemplateProblem."""
    from jinja2 import TemplateError, TemplateSyntaxError

    try:
        compiled = environment().compile_expression(
            _expression_text(expression), undefined_to_none=False
        )
        value = compiled(**context)
        # StrictUndefined only raises when used; force it here.
        return bool(value) if value is not None else False
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or str(exc), exc.lineno) from None
    except TemplateError as exc:
        raise TemplateProblem(exc.message or str(exc)) from None


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render a built-in template from ``templates/`` by file name."""
    from jinja2 import FileSystemLoader, TemplateError, TemplateSyntaxError

    from relcheck.resources import templates_dir

    env = environment().overlay(loader=FileSystemLoader(str(templates_dir())))
    try:
        return env.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"{exc.filename or name}:{exc.lineno}: {exc.message}", exc.lineno
        ) from None
    except TemplateError as exc:
        raise TemplateProblem(f"{name}: {exc.message or exc}") from None
