"""A hub-compatible HTTP server on 127.0.0.1 for ``HF_ENDPOINT``: the routes ``huggingface_hub``
(2.x) and ``cinefuse models pull`` call, serving folders from disk.

* ``GET /api/models/{repo}/revision/{rev}``: ``{"id", "sha"}`` (``main`` or the commit);
* ``GET /api/models/{repo}/tree/{sha}``: every file, with ``size``, the git blob ``oid`` and,
  for files over ``LFS_THRESHOLD``, ``lfs: {oid: sha256, size, pointerSize}``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: the bytes, with ``X-Repo-Commit``, ``ETag``
  (``X-Linked-Etag``/``X-Linked-Size`` for LFS files) and ``Range`` answered with 206.

Errors carry ``X-Error-Code`` as the hub sends it (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``, ``GatedRepo`` with 401 without a token, 403 with a wrong one). Every
request is logged (method, path, Range header) so tests can count them; ``throttle`` slows one
file's transfer so a test can kill a download in the middle of it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_THRESHOLD = 4096
_CHUNK = 64 * 1024


@dataclass
class FakeRepo:
    repo_id: str
    folder: Path
    commit: str
    #: The token a gated repo wants (None: not gated).
    token: str | None = None

    def files(self) -> dict[str, Path]:
        return {p.relative_to(self.folder).as_posix(): p for p in sorted(self.folder.rglob("*")) if p.is_file()}


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    #: (method, path, Range header or None), in order.
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: path in a repo -> seconds to sleep after each 64 KiB chunk of it.
    throttle: dict[str, float] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, folder: Path, token: str | None = None) -> FakeRepo:
        commit = hashlib.sha1(repo_id.encode() + str(time.time_ns()).encode(), usedforsecurity=False).hexdigest()
        repo = FakeRepo(repo_id, folder, commit, token)
        self.repos[repo_id] = repo
        return repo

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            owner = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str, str | None]]:
        return [r for r in list(self.log) if (method is None or r[0] == method) and contains in r[1]]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle(body=False)

    def do_GET(self) -> None:
        self._handle(body=True)

    # ------------------------------------------------------------------------------ routing

    def _handle(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.owner.log.append((self.command, path, self.headers.get("Range")))
        if path.startswith("/api/models/"):
            self._api(path.removeprefix("/api/models/"))
        elif "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            revision, _, file = rest.partition("/")
            self._resolve(repo_id, revision, file, body)
        else:
            self._error(404, "RepoNotFound", "no such route")

    def _repo(self, repo_id: str, revision: str) -> FakeRepo | None:
        repo = self.owner.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
            return None
        if repo.token is not None:
            sent = self.headers.get("Authorization")
            if sent != f"Bearer {repo.token}":
                status = 401 if sent is None else 403
                self._error(
                    status, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it."
                )
                return None
        if revision not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _api(self, rest: str) -> None:
        parts = rest.split("/")
        repo_id = "/".join(parts[:2])
        if len(parts) >= 4 and parts[2] == "revision":
            repo = self._repo(repo_id, parts[3])
            if repo is not None:
                self._json({"id": repo_id, "sha": repo.commit, "private": False, "gated": repo.token is not None})
        elif len(parts) >= 4 and parts[2] == "tree":
            repo = self._repo(repo_id, parts[3])
            if repo is not None:
                self._json([_tree_entry(name, path) for name, path in repo.files().items()])
        else:
            self._error(404, "RepoNotFound", "no such route")

    def _resolve(self, repo_id: str, revision: str, file: str, body: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        source = repo.files().get(file)
        if source is None:
            self._error(404, "EntryNotFound", f"{file} does not exist", commit=repo.commit)
            return
        data = source.read_bytes()
        size = len(data)
        start = 0
        requested = self.headers.get("Range")
        status = 200
        if requested and requested.startswith("bytes=") and body:
            start = int(requested.removeprefix("bytes=").split("-", 1)[0] or 0)
            status = 206
        self.send_response(status)
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("Accept-Ranges", "bytes")
        if size > LFS_THRESHOLD:
            digest = hashlib.sha256(data).hexdigest()
            self.send_header("ETag", f'"{digest}"')
            self.send_header("X-Linked-Etag", f'"{digest}"')
            self.send_header("X-Linked-Size", str(size))
        else:
            self.send_header("ETag", f'"{git_blob_sha1(data)}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if not body:
            return
        delay = self.owner.throttle.get(file, 0.0)
        try:
            for offset in range(start, size, _CHUNK):
                self.wfile.write(data[offset : offset + _CHUNK])
                if delay:
                    self.wfile.flush()
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ------------------------------------------------------------------------------ replies

    def _json(self, value: Any) -> None:
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        data = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _tree_entry(name: str, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    entry: dict[str, Any] = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
    if len(data) > LFS_THRESHOLD:
        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
    return entry
