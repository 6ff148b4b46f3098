"""Which forge, repository, API address and token to use: from flags, the CI environment, origin.

Each of provider, repository and API URL is taken from its flag, else from the
CI environment (``GITHUB_REPOSITORY``/``GITHUB_API_URL`` in GitHub Actions and
Gitea Actions, ``CI_PROJECT_ID``/``CI_API_V4_URL`` in GitLab CI), else from the
``origin`` remote, parsed by :mod:`relcheck.history` (a host it does not know
needs ``--provider``). A remote URL is only ever shown with its credentials
replaced by ``***``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from relcheck.errors import UsageError
from relcheck.forge import LABELS, PROVIDERS

if TYPE_CHECKING:
    from relcheck.secrets import Masker

# (variable, header, value prefix), in the order they are looked for.
_TOKENS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "github": (
        ("GH_TOKEN", "Authorization", "Bearer "),
        ("GITHUB_TOKEN", "Authorization", "Bearer "),
    ),
    "gitlab": (("GITLAB_TOKEN", "PRIVATE-TOKEN", ""), ("CI_JOB_TOKEN", "JOB-TOKEN", "")),
    "gitea": (("GITEA_TOKEN", "Authorization", "token "),),
}
# (repository variable, API URL variable) of each provider's CI.
_CI_VARIABLES = {
    "github": ("GITHUB_REPOSITORY", "GITHUB_API_URL"),
    "gitea": ("GITHUB_REPOSITORY", "GITHUB_API_URL"),  # Gitea Actions sets GitHub's names
    "gitlab": ("CI_PROJECT_ID", "CI_API_V4_URL"),
}
_API_PATHS = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1"}
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


class Target(Struct, frozen=True):
    """Where to publish: provider, repository (``owner/name`` or GitLab project), API URL."""

    provider: str
    repo: str
    api_url: str
    found: tuple[str, ...] = ()  # how each part was found, in words

    @property
    def label(self) -> str:
        return LABELS[self.provider]


class Token(Struct, frozen=True):
    """A token from the environment and the header it goes in; its value is never shown."""

    variable: str
    value: str
    header: str
    prefix: str

    def headers(self) -> dict[str, str]:
        return {self.header: f"{self.prefix}{self.value}"}


def token_masker(environ: Mapping[str, str], token: Token | None) -> Masker:
    """A masker for the environment's secrets and the token, whatever variable held it."""
    from relcheck.secrets import Masker

    masker = Masker.from_env(environ, [token.variable] if token else [])
    return Masker([*masker.values, *([token.value] if token else [])])


def token_variables(provider: str) -> tuple[str, ...]:
    return tuple(name for name, _, _ in _TOKENS[provider])


def find_token(provider: str, environ: Mapping[str, str]) -> Token | None:
    """The first token variable of ``provider`` that is set and not blank."""
    for name, header, prefix in _TOKENS[provider]:
        value = environ.get(name, "").strip()
        if value:
            return Token(name, value, header, prefix)
    return None


def redact_url(url: str) -> str:
    """A remote URL with any user name and password replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", url.strip())


class _Remote(Struct, frozen=True):
    shown: str  # redacted
    web: str | None  # scheme://host[:port]
    host: str | None
    path: str
    provider: str | None


def detect_target(
    *,
    provider: str | None,
    repo: str | None,
    api_url: str | None,
    environ: Mapping[str, str],
    root: Path | None,
) -> Target:
    """The forge to talk to; UsageError (exit 2) saying what to pass when it cannot tell."""
    remote = _origin(root)
    found: list[tuple[str, str]] = []
    chosen = _provider(provider, environ, remote, found)
    repo_var, api_var = _CI_VARIABLES[chosen]
    ci = _ci_matches(chosen, environ)
    name = _first(
        found,
        "repository",
        (repo, "--repo"),
        (environ.get(repo_var) if ci else None, repo_var),
        (_remote_repo(remote, chosen), _remote_words(remote)),
    )
    if name is None:
        raise UsageError(
            f"cannot tell which {LABELS[chosen]} repository to publish to: no --repo, "
            f"no {repo_var} and {_no_remote_words(remote)}; pass --repo OWNER/NAME"
        )
    url = _first(
        found,
        "API",
        (api_url, "--api-url"),
        (environ.get(api_var) if ci else None, api_var),
        (_remote_api(remote, chosen), _remote_words(remote)),
    )
    if url is None:
        raise UsageError(
            f"cannot tell the {LABELS[chosen]} API address: no --api-url, no {api_var} and "
            f"{_no_remote_words(remote)}; pass --api-url (like https://HOST{_API_PATHS[chosen]})"
        )
    return Target(chosen, name.strip("/"), _checked_api_url(url), _grouped(found))


def _first(
    found: list[tuple[str, str]], what: str, *candidates: tuple[str | None, str]
) -> str | None:
    for value, source in candidates:
        if value and value.strip():
            found.append((what, source))
            return value.strip()
    return None


def _grouped(found: list[tuple[str, str]]) -> tuple[str, ...]:
    """``provider and repository from the origin remote ...``: one phrase per source."""
    sources: dict[str, list[str]] = {}
    for what, source in found:
        sources.setdefault(source, []).append(what)
    return tuple(f"{' and '.join(whats)} from {source}" for source, whats in sources.items())


def _provider(
    given: str | None,
    environ: Mapping[str, str],
    remote: _Remote | None,
    found: list[tuple[str, str]],
) -> str:
    if given:
        if given not in PROVIDERS:
            raise UsageError(f"unknown provider {given!r}; expected one of {', '.join(PROVIDERS)}")
        found.append(("provider", "--provider"))
        return given
    if environ.get("GITEA_ACTIONS") == "true" and environ.get("GITHUB_REPOSITORY"):
        found.append(("provider", "GITEA_ACTIONS"))
        return "gitea"
    if environ.get("GITHUB_REPOSITORY"):
        found.append(("provider", "GITHUB_REPOSITORY"))
        return "github"
    if environ.get("CI_PROJECT_ID"):
        found.append(("provider", "CI_PROJECT_ID"))
        return "gitlab"
    if remote is not None and remote.provider is not None:
        found.append(("provider", _remote_words(remote)))
        return remote.provider
    if remote is not None and remote.host is not None:
        raise UsageError(
            f"the origin remote {remote.shown} is on {remote.host}, which relcheck cannot "
            "tell the forge of; pass --provider github|gitlab|gitea (and --api-url)"
        )
    raise UsageError(
        "cannot tell which forge to publish to: no --provider, no CI variables "
        f"(GITHUB_REPOSITORY, CI_PROJECT_ID) and {_no_remote_words(remote)}; "
        "pass --provider github|gitlab|gitea with --repo and --api-url"
    )


def _ci_matches(provider: str, environ: Mapping[str, str]) -> bool:
    """Whether the CI variables describe this provider (GitHub's names mean Gitea in Gitea CI)."""
    gitea_ci = environ.get("GITEA_ACTIONS") == "true"
    if provider == "gitea":
        return gitea_ci
    return not gitea_ci if provider == "github" else True


def _origin(root: Path | None) -> _Remote | None:
    from relcheck import gitrepo, history

    url = gitrepo.remote_url(root, "origin") if root is not None else None
    if not url:
        return None
    shown = redact_url(url)
    remote = history.web_remote(url)
    if remote is None:
        return _Remote(shown, None, None, "", None)
    return _Remote(shown, remote.origin, remote.host, remote.path, remote.forge)


def _remote_words(remote: _Remote | None) -> str:
    return f"the origin remote {remote.shown}" if remote is not None else "no origin remote"


def _no_remote_words(remote: _Remote | None) -> str:
    if remote is None:
        return "no origin remote"
    return f"nothing usable in the origin remote {remote.shown}"


def _remote_repo(remote: _Remote | None, provider: str) -> str | None:
    if remote is None or remote.web is None or "/" not in remote.path:
        return None
    if provider != "gitlab" and remote.path.count("/") != 1:
        return None
    return remote.path


def _remote_api(remote: _Remote | None, provider: str) -> str | None:
    if remote is None or remote.web is None or remote.host is None:
        return None
    if remote.host in ("github.com", "ssh.github.com"):
        return "https://api.github.com" if provider == "github" else None
    return remote.web + _API_PATHS[provider]


def _checked_api_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the API URL {redact_url(url)!r} is not an http:// or https:// URL")
    if parts.username or parts.password:
        raise UsageError(
            f"the API URL {redact_url(url)} holds credentials; give the token in its "
            "variable instead"
        )
    return url.rstrip("/")
