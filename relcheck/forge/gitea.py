"""Gitea's API (``/api/v1``, also Forgejo and Codeberg): GitHub's shape with its own details.

Releases are found by tag and by listing (``limit``/``page``, ``Link``
pagination), like GitHub. Files are release attachments, uploaded as
multipart ``attachment`` to ``/releases/{id}/assets``. A commit's checks are
its combined commit status (Gitea Actions reports there too, each job's status
linking to ``/actions/runs/N/jobs/M``: N is the run's id, ``GITHUB_RUN_ID``, in
newer Gitea and its number in the repository, ``GITHUB_RUN_NUMBER``, in older).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

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
from relcheck.forge.client import multipart
from relcheck.forge.github import GitHub, check_links, quote, replacing
from relcheck.forge.release import temporary_name

_STATES = {
    "success": CHECK_PASSED,
    "pending": CHECK_PENDING,
    "running": CHECK_PENDING,
    "skipped": CHECK_PASSED,
}


class Gitea(GitHub):
    label = "Gitea"
    page_size = 50  # Gitea's default largest page
    headers: Mapping[str, str] = {"Accept": "application/json"}

    def _list_url(self) -> str:
        return self.client.url(f"{self.base}/releases", limit=self.page_size)

    def assets(self, release: Release) -> list[Asset]:
        url = self.client.url(f"{self.base}/releases/{quote(release.id)}/assets")
        return [self._asset(item) for item in self.client.get_json(url) or []]

    def _asset_url(self, release: Release, asset: Asset) -> str:
        return self.client.url(f"{self.base}/releases/{quote(release.id)}/assets/{quote(asset.id)}")

    def upload(self, release: Release, file: File, *, name: str, version: str) -> Asset:
        url = self.client.url(f"{self.base}/releases/{quote(release.id)}/assets", name=name)
        body, multipart_type = multipart("attachment", name, file.data, file.content_type)
        response = self.client.send(
            "POST", url, data=body, content_type=multipart_type, creates=True
        )
        assert response is not None
        return self._asset(self.client.json_of(response, "POST", url))

    def checks(self, commit: str) -> list[Check]:
        url = self.client.url(f"{self.base}/commits/{quote(commit)}/status", limit=self.page_size)
        found: list[Check] = []
        for page in self.client.pages(url):
            statuses = page.get("statuses") if isinstance(page, Mapping) else None
            for item in statuses or []:
                state = str(item.get("status") or item.get("state") or "")
                checked = _STATES.get(state, CHECK_FAILED)
                found.append(Check(str(item.get("context")), checked, state, check_links(item)))
        return found

    def own_run(self, environ: Mapping[str, str]) -> OwnRun | None:
        run_id = environ.get("GITHUB_RUN_ID", "").strip()
        if environ.get("GITEA_ACTIONS") != "true" or not run_id:
            return None
        ids = [run_id]
        number = environ.get("GITHUB_RUN_NUMBER", "").strip()
        # Run numbers count per repository: only this repository's own runs are ours.
        same_repo = environ.get("GITHUB_REPOSITORY", "").lower() == self.target.repo.lower()
        if number and number != run_id and same_repo:
            ids.append(number)
        return OwnRun(f"this Gitea Actions run ({run_id})", tuple(ids))

    def plan(self, spec: ReleaseSpec, files: Sequence[tuple[str, bytes]]) -> list[Planned]:
        planned = super().plan(spec, [])
        assets = self.client.url(f"{self.base}/releases/RELEASE_ID/assets")
        for name, data in files:
            planned += [
                Planned(
                    "POST",
                    assets + "?" + urllib.parse.urlencode({"name": name}),
                    data,
                    when=f"as an attachment (as {temporary_name(name)} when {name} exists)",
                    preview=data.decode("utf-8", "replace"),
                ),
                *replacing(assets + "/ASSET_ID", name),
            ]
        return planned

    def _asset(self, data: Any) -> Asset:
        asset = super()._asset(data)
        return Asset(asset.id, asset.name, asset.url, asset.size, True)
