"""GitLab's API (``/api/v4``): releases by tag, files linked from the release.

A GitLab release is named by its tag (at most one per tag, no drafts, no
pre-release flag). A file is uploaded to the project and the release gets a
link to it (``/assets/links``). With a personal or project token the file goes
to ``/uploads``; the CI job token may not use that (nor ``GET /projects/:id``),
so with it the file goes to the generic package registry instead, as
``packages/generic/relcheck/<version>/<file>``, an address that stays the same
when the file is published again (GitLab serves the newest file there). A
replaced upload stays as an unlinked file: GitLab keeps those anyway, and
deleting one needs the Maintainer role. A commit's checks are its pipelines
(``X-Next-Page`` pagination), the newest per ref; child pipelines are left
out, as GitLab leaves them out of a commit's status (their parent reports
them).
"""

from __future__ import annotations

import json
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
from relcheck.forge.client import ForgeClient, ForgeError, multipart
from relcheck.forge.detect import Target
from relcheck.forge.github import MAX_BODY_CHARS, quote, replacing
from relcheck.forge.release import temporary_name

_PENDING = ("created", "waiting_for_resource", "preparing", "pending", "running", "scheduled")
_PASSED = ("success", "skipped")
_MANUAL = "manual"  # blocked on a manual job: not finished
_CHILD = "parent_pipeline"  # a child pipeline's source: its parent pipeline reports it
PACKAGE = "relcheck"  # the generic package the job token files records under


class GitLab:
    label = "GitLab"
    max_body = MAX_BODY_CHARS  # the same note on every forge
    drafts = False
    prereleases = False
    page_size = 100

    def __init__(self, target: Target, client: ForgeClient) -> None:
        self.target = target
        self.client = client
        client.headers.setdefault("Accept", "application/json")
        self.base = f"/projects/{quote(target.repo)}"
        self.job_token = "JOB-TOKEN" in client.headers

    # -- releases -------------------------------------------------------------------

    def find(self, tag: str) -> list[Release]:
        data = self.client.get_json(self._release_url(tag), missing_ok=True)
        return [self._release(data)] if data is not None else []

    def create(self, spec: ReleaseSpec) -> Release:
        url = self.client.url(f"{self.base}/releases")
        payload: dict[str, Any] = {
            "tag_name": spec.tag,
            "name": spec.name,
            "description": spec.body,
        }
        if spec.commit:
            payload["ref"] = spec.commit  # used only when the tag does not exist yet
        response = self.client.send("POST", url, json_body=payload, creates=True)
        assert response is not None
        return self._release(self.client.json_of(response, "POST", url))

    def update(self, release: Release, spec: ReleaseSpec) -> Release:
        url = self._release_url(release.tag)
        payload = {"name": spec.name, "description": spec.body}
        response = self.client.send("PUT", url, json_body=payload)
        assert response is not None
        return self._release(self.client.json_of(response, "PUT", url))

    def _release_url(self, tag: str) -> str:
        return self.client.url(f"{self.base}/releases/{quote(tag)}")

    def _release(self, data: Any) -> Release:
        if not isinstance(data, Mapping) or "tag_name" not in data:
            raise ForgeError(f"{self.label} answered with something that is not a release")
        links = data.get("_links") if isinstance(data.get("_links"), Mapping) else {}
        assets = data.get("assets") if isinstance(data.get("assets"), Mapping) else {}
        return Release(
            id=str(data["tag_name"]),
            tag=str(data["tag_name"]),
            name=str(data.get("name") or ""),
            draft=False,
            url=str((links or {}).get("self") or ""),
            assets=tuple(_link(item) for item in (assets or {}).get("links") or []),
            raw=data,
        )

    # -- assets (release links to uploads) --------------------------------------------

    def _links_url(self, release: Release) -> str:
        return self._release_url(release.tag) + "/assets/links"

    def assets(self, release: Release) -> list[Asset]:
        pages = self.client.pages(f"{self._links_url(release)}?per_page={self.page_size}")
        return [_link(item) for page in pages for item in page or []]

    def delete_asset(self, release: Release, asset: Asset) -> None:
        url = f"{self._links_url(release)}/{quote(asset.id)}"
        self.client.send("DELETE", url, missing_ok=True)

    def upload(self, release: Release, file: File, *, name: str, version: str) -> Asset:
        if self.job_token:
            address = self._put_package_file(file, version or release.tag)
            for asset in self.assets(release):
                if asset.url == address:
                    return asset  # its link now serves the file just put
            link_type = "package"
        else:
            address = self._upload_file(file)
            link_type = "other"
        link = {"name": name, "url": address, "link_type": link_type}
        links = self._links_url(release)
        created = self.client.send("POST", links, json_body=link, creates=True)
        assert created is not None
        return _link(self.client.json_of(created, "POST", links))

    def rename_asset(self, release: Release, asset: Asset, name: str) -> Asset:
        url = f"{self._links_url(release)}/{quote(asset.id)}"
        response = self.client.send("PUT", url, json_body={"name": name})
        assert response is not None
        return _link(self.client.json_of(response, "PUT", url))

    def _package_url(self, name: str, version: str) -> str:
        return self.client.url(
            f"{self.base}/packages/generic/{PACKAGE}/{quote(version)}/{quote(name)}"
        )

    def _put_package_file(self, file: File, version: str) -> str:
        """Put ``file`` in the package registry (the job token may); its download address."""
        # Sent again freely: a package version may hold the same file name more than once.
        url = self._package_url(file.name, version)
        self.client.send("PUT", url, data=file.data, content_type=file.content_type)
        return url

    def _upload_file(self, file: File) -> str:
        """Upload ``file`` to the project (``/uploads``); its address."""
        # Sent again freely when its answer is lost: at worst an unlinked file stays behind.
        url = self.client.url(f"{self.base}/uploads")
        body, multipart_type = multipart("file", file.name, file.data, file.content_type)
        response = self.client.send("POST", url, data=body, content_type=multipart_type)
        assert response is not None
        return self._file_url(self.client.json_of(response, "POST", url))

    def _file_url(self, uploaded: Any) -> str:
        if not isinstance(uploaded, Mapping) or not uploaded.get("url"):
            raise ForgeError(f"{self.label} answered the upload without the file's url")
        root = self.client.api_url.removesuffix("/api/v4")
        full_path = uploaded.get("full_path")
        if isinstance(full_path, str) and full_path.startswith("/"):
            return root + full_path
        project = self.client.get_json(self.client.url(self.base))
        web = project.get("web_url") if isinstance(project, Mapping) else None
        return f"{web or root}{uploaded['url']}"

    # -- checks ---------------------------------------------------------------------

    def checks(self, commit: str) -> list[Check]:
        url = self.client.url(f"{self.base}/pipelines", sha=commit, per_page=self.page_size)
        newest: dict[str, Mapping[str, Any]] = {}
        for page in self.client.pages(url):
            for item in page if isinstance(page, list) else []:
                if not isinstance(item, Mapping) or item.get("source") == _CHILD:
                    continue  # a child's result is its parent's (GitLab counts only the parent)
                ref = str(item.get("ref") or "")
                if ref not in newest or int(item.get("id", 0)) > int(newest[ref].get("id", 0)):
                    newest[ref] = item
        return [_pipeline(item) for item in newest.values()]

    def own_run(self, environ: Mapping[str, str]) -> OwnRun | None:
        pipeline = environ.get("CI_PIPELINE_ID", "").strip()
        if not pipeline:
            return None
        return OwnRun(f"this GitLab pipeline (#{pipeline})", pipeline=pipeline)

    # -- dry-run --------------------------------------------------------------------

    def plan(self, spec: ReleaseSpec, files: Sequence[tuple[str, bytes]]) -> list[Planned]:
        create = {"tag_name": spec.tag, "name": spec.name, "description": spec.body}
        update = {"name": spec.name, "description": spec.body}
        links = self._release_url(spec.tag) + "/assets/links"
        planned = [
            Planned("GET", self._release_url(spec.tag), when="look the release up by its tag"),
            Planned(
                "POST",
                self.client.url(f"{self.base}/releases"),
                json.dumps(create, ensure_ascii=False).encode(),
                when="when the tag has no release",
                preview=spec.body,
            ),
            Planned(
                "PUT",
                self._release_url(spec.tag),
                json.dumps(update, ensure_ascii=False).encode(),
                when="instead, when it has one",
            ),
            Planned("GET", links, when="the release's links"),
        ]
        for name, data in files:
            if self.job_token:
                planned.append(
                    Planned(
                        "PUT",
                        self._package_url(name, spec.version or spec.tag),
                        data,
                        when="to the generic package registry (the job token may not use /uploads)",
                        preview=data.decode("utf-8", "replace"),
                    )
                )
            else:
                planned.append(
                    Planned(
                        "POST",
                        self.client.url(f"{self.base}/uploads"),
                        data,
                        when="as a multipart file",
                        preview=data.decode("utf-8", "replace"),
                    )
                )
            planned += [
                Planned(
                    "POST",
                    links,
                    when=f"link {name} to the file (as {temporary_name(name)} when {name} "
                    "exists"
                    + ("; none when a link to the file is there" if self.job_token else "")
                    + ")",
                ),
                *replacing(links + "/LINK_ID", name, rename="PUT"),
            ]
        return planned


def _link(data: Any) -> Asset:
    if not isinstance(data, Mapping):
        raise ForgeError("GitLab answered with something that is not a release link")
    return Asset(id=str(data.get("id")), name=str(data.get("name") or ""), url=str(data.get("url")))


def _pipeline(item: Mapping[str, Any]) -> Check:
    status = str(item.get("status") or "")
    name = f"pipeline #{item.get('id')} ({item.get('ref')})"
    links = (str(item["web_url"]),) if isinstance(item.get("web_url"), str) else ()
    if status in _PENDING or status == _MANUAL:
        state = CHECK_PENDING
    else:
        state = CHECK_PASSED if status in _PASSED else CHECK_FAILED
    return Check(name, state, status, links, pipeline=str(item.get("id")))
