"""GitHub's REST API: releases by tag (drafts found by listing), release assets, commit checks.

GitHub's get-release-by-tag does not return drafts, so :meth:`GitHub.find`
also lists every release (``Link`` pagination) and matches ``tag_name``.
Assets go to the ``upload_url`` each release carries (a URI template on
another host, uploads.github.com). A commit's checks are its combined status
(classic statuses) and its check runs; a repository that uses only check runs
has no statuses, which is nothing to wait for. In GitHub Actions the checks
of the run relcheck runs in link to ``/actions/runs/$GITHUB_RUN_ID/``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from relcheck.errors import UsageError
from relcheck.forge import (
    CHECK_FAILED,
    CHECK_PASSED,
    CHECK_PENDING,
    Asset,
    Check,
    File,
    OwnRun,
    Planned,
    Release,
    ReleaseSpec,
)
from relcheck.forge.client import ForgeClient, ForgeError
from relcheck.forge.detect import Target
from relcheck.forge.release import temporary_name

MAX_BODY_CHARS = 125_000
# Conclusions of a completed check run that do not block a release.
_GOOD_CONCLUSIONS = ("success", "neutral", "skipped")
_STATUS_STATES = {"success": CHECK_PASSED, "pending": CHECK_PENDING}


def quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class GitHub:
    """GitHub (github.com or GitHub Enterprise Server, whose API is at /api/v3)."""

    label = "GitHub"
    max_body = MAX_BODY_CHARS
    drafts = True
    prereleases = True
    page_size = 100
    headers: Mapping[str, str] = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }

    def __init__(self, target: Target, client: ForgeClient) -> None:
        self.target = target
        self.client = client
        client.headers.update(self.headers)
        owner, _, name = target.repo.partition("/")
        if not owner or not name or "/" in name:
            raise UsageError(
                f"{target.repo!r} is not an OWNER/NAME repository of {self.label}; pass "
                "--repo OWNER/NAME"
            )
        self.base = f"/repos/{quote(owner)}/{quote(name)}"

    # -- releases -------------------------------------------------------------------

    def find(self, tag: str) -> list[Release]:
        found: dict[str, Release] = {}
        by_tag = self.client.get_json(self._by_tag_url(tag), missing_ok=True)
        if isinstance(by_tag, Mapping):
            release = self._release(by_tag)
            found[release.id] = release
        for page in self.client.pages(self._list_url()):
            for item in page if isinstance(page, list) else []:
                if isinstance(item, Mapping) and item.get("tag_name") == tag:
                    release = self._release(item)
                    found[release.id] = release
        return list(found.values())

    def create(self, spec: ReleaseSpec) -> Release:
        url = self.client.url(f"{self.base}/releases")
        response = self.client.send("POST", url, json_body=self._payload(spec), creates=True)
        assert response is not None
        return self._release(self.client.json_of(response, "POST", url))

    def update(self, release: Release, spec: ReleaseSpec) -> Release:
        url = self.client.url(f"{self.base}/releases/{quote(release.id)}")
        payload = self._payload(spec)
        if not release.draft:
            # Published means the tag exists: keep what it points at. A draft keeps the
            # commit to tag, so it must be the run's (publishing creates the tag there).
            payload.pop("target_commitish", None)
        response = self.client.send("PATCH", url, json_body=payload)
        assert response is not None
        return self._release(self.client.json_of(response, "PATCH", url))

    def _payload(self, spec: ReleaseSpec) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "tag_name": spec.tag,
            "name": spec.name,
            "body": spec.body,
            "draft": spec.draft,
            "prerelease": spec.prerelease,
        }
        if spec.commit:
            payload["target_commitish"] = spec.commit
        return payload

    def _release(self, data: Any) -> Release:
        if not isinstance(data, Mapping) or "id" not in data:
            raise ForgeError(f"{self.label} answered with something that is not a release")
        return Release(
            id=str(data["id"]),
            tag=str(data.get("tag_name") or ""),
            name=str(data.get("name") or ""),
            draft=bool(data.get("draft")),
            url=str(data.get("html_url") or ""),
            assets=tuple(self._asset(item) for item in data.get("assets") or []),
            raw=data,
        )

    def _by_tag_url(self, tag: str) -> str:
        return self.client.url(f"{self.base}/releases/tags/{quote(tag)}")

    def _list_url(self) -> str:
        return self.client.url(f"{self.base}/releases", per_page=self.page_size)

    # -- assets ---------------------------------------------------------------------

    def assets(self, release: Release) -> list[Asset]:
        url = self.client.url(
            f"{self.base}/releases/{quote(release.id)}/assets", per_page=self.page_size
        )
        return [self._asset(item) for page in self.client.pages(url) for item in page or []]

    def delete_asset(self, release: Release, asset: Asset) -> None:
        self.client.send("DELETE", self._asset_url(release, asset), missing_ok=True)

    def upload(self, release: Release, file: File, *, name: str, version: str) -> Asset:
        url = self._upload_url(release, name)
        self.client.trust(url)  # GitHub named this host itself
        response = self.client.send(
            "POST", url, data=file.data, content_type=file.content_type, creates=True
        )
        assert response is not None
        return self._asset(self.client.json_of(response, "POST", url))

    def rename_asset(self, release: Release, asset: Asset, name: str) -> Asset:
        url = self._asset_url(release, asset)
        response = self.client.send("PATCH", url, json_body={"name": name})
        assert response is not None
        return self._asset(self.client.json_of(response, "PATCH", url))

    def _asset_url(self, release: Release, asset: Asset) -> str:
        return self.client.url(f"{self.base}/releases/assets/{quote(asset.id)}")

    def _upload_url(self, release: Release, name: str) -> str:
        template = str(release.raw.get("upload_url") or "")
        if not template:
            raise ForgeError(f"{self.label} gave release {release.id} no upload_url")
        return template.split("{", 1)[0] + "?" + urllib.parse.urlencode({"name": name})

    def _asset(self, data: Any) -> Asset:
        if not isinstance(data, Mapping):
            raise ForgeError(f"{self.label} answered with something that is not an asset")
        return Asset(
            id=str(data.get("id")),
            name=str(data.get("name") or ""),
            url=str(data.get("browser_download_url") or ""),
            size=data.get("size") if isinstance(data.get("size"), int) else None,
            complete=data.get("state", "uploaded") == "uploaded",
        )

    # -- checks ---------------------------------------------------------------------

    def checks(self, commit: str) -> list[Check]:
        sha = quote(commit)
        found: list[Check] = []
        status_url = self.client.url(f"{self.base}/commits/{sha}/status", per_page=self.page_size)
        for page in self.client.pages(status_url):
            for item in _items(page, "statuses"):
                state = str(item.get("state") or "")
                checked = _STATUS_STATES.get(state, CHECK_FAILED)
                found.append(Check(str(item.get("context")), checked, state, check_links(item)))
        runs_url = self.client.url(f"{self.base}/commits/{sha}/check-runs", per_page=self.page_size)
        for page in self.client.pages(runs_url):
            for item in _items(page, "check_runs"):
                found.append(_check_run(item))
        return found

    def own_run(self, environ: Mapping[str, str]) -> OwnRun | None:
        run_id = environ.get("GITHUB_RUN_ID", "").strip()
        if not run_id or environ.get("GITEA_ACTIONS") == "true":
            return None
        return OwnRun(f"this GitHub Actions run ({run_id})", (run_id,))

    # -- dry-run --------------------------------------------------------------------

    def plan(self, spec: ReleaseSpec, files: Sequence[tuple[str, bytes]]) -> list[Planned]:
        payload = json.dumps(self._payload(spec), ensure_ascii=False).encode()
        update = self._payload(spec)
        update.pop("target_commitish", None)
        patch = json.dumps(update, ensure_ascii=False).encode()
        release = self.client.url(f"{self.base}/releases/RELEASE_ID")
        planned = [
            Planned("GET", self._by_tag_url(spec.tag), when="look the release up by its tag"),
            Planned("GET", self._list_url(), when="every page: find drafts for the tag"),
            Planned(
                "POST",
                self.client.url(f"{self.base}/releases"),
                payload,
                when="when no release has the tag",
                preview=spec.body,
            ),
            Planned(
                "PATCH",
                release,
                patch,
                when="instead, when one release has it (a draft also gets target_commitish)",
            ),
            Planned("GET", release + "/assets", when="the release's assets"),
        ]
        asset = self.client.url(f"{self.base}/releases/assets/ASSET_ID")
        for name, data in files:
            planned += [
                Planned(
                    "POST",
                    "UPLOAD_URL?" + urllib.parse.urlencode({"name": name}),
                    data,
                    when=f"to its upload_url (as {temporary_name(name)} when {name} exists)",
                    preview=data.decode("utf-8", "replace"),
                ),
                *replacing(asset, name),
            ]
        return planned


def replacing(url: str, name: str, *, rename: str = "PATCH") -> list[Planned]:
    """The dry-run's requests that replace asset ``name`` (at ``url``) by the new one beside it."""
    return [
        Planned("DELETE", url, when=f"then, when an asset named {name} exists"),
        Planned(
            rename,
            url,
            json.dumps({"name": name}).encode(),
            when=f"and rename {temporary_name(name)} to {name}",
        ),
    ]


def check_links(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Where a status or check run links to (the CI run that reports it, as a rule)."""
    keys = ("target_url", "html_url", "details_url")
    return tuple(str(item[key]) for key in keys if isinstance(item.get(key), str))


def _items(page: Any, key: str) -> list[Mapping[str, Any]]:
    items = page.get(key) if isinstance(page, Mapping) else None
    return [item for item in items or [] if isinstance(item, Mapping)]


def _check_run(item: Mapping[str, Any]) -> Check:
    name = str(item.get("name"))
    status = str(item.get("status") or "")
    if status != "completed":
        return Check(name, CHECK_PENDING, status or "pending", check_links(item))
    conclusion = str(item.get("conclusion") or "")
    state = CHECK_PASSED if conclusion in _GOOD_CONCLUSIONS else CHECK_FAILED
    return Check(name, state, conclusion, check_links(item))
