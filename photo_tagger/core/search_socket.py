"""Searches asked of a running service over a local socket, so `photo-tagger search` from a
fresh process needs neither torch nor the model when a `watch` service or the window holds
them. No Qt, and nothing here imports torch.

The socket is an AF_UNIX stream socket only the user can reach: in the library folder
(mode 0600), or, when that path is too long for AF_UNIX, in a 0700 folder of the user's in
the temporary folder. Linux also checks the peer's uid (`SO_PEERCRED`). Protocol: one JSON
object per line each way, one request per connection:

    → {"version": 1, "op": "search", "query": "red circle", "limit": 20, "all": false,
       "explain": false, "folder": null, "tags": [], "model": null}
    ← {"ok": true, "answer": {"results": [...], "matches": 42, "weaker": 7, ...}}
    ← {"ok": false, "kind": "query" | "unavailable" | "error", "error": "message"}

("model": a model id, or null for whichever the service uses.)

Windows (no AF_UNIX in CPython there) has no socket: the CLI loads the model itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photo_tagger.core.query import QueryError, parse_query
from photo_tagger.core.search import Explanation, SearchAnswer, SearchResult

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
SOCKET_NAME = "search.sock"
CONNECT_TIMEOUT = 0.5  # a live server accepts at once; a stale file refuses at once
ANSWER_TIMEOUT = 30.0  # a search waits at most one indexing batch on the service
_MAX_REQUEST = 1 << 20
# AF_UNIX paths hold 108 bytes on Linux, 104 on macOS, with the final NUL.
_MAX_PATH = 100

AVAILABLE = hasattr(socket, "AF_UNIX")

# (request dict, answer callback(payload dict)) → the service runs the search.
Handler = Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], None]


class SearchRefused(Exception):
    """The service read the request and refused the query (`kind` "query"): the CLI
    reports it instead of asking again with its own model."""


def socket_path(home: Path) -> Path:
    """Where the service for the library in `home` listens."""
    path = Path(home).resolve() / SOCKET_NAME
    if len(os.fsencode(path)) <= _MAX_PATH:
        return path
    # Too long for AF_UNIX: a private folder of the user's, one socket per library.
    digest = hashlib.sha256(os.fsencode(Path(home).resolve())).hexdigest()[:16]
    return _private_folder() / f"{digest}.sock"


def _private_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"photo-tagger-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
            or stat.S_IMODE(info.st_mode) & 0o077:
        raise PermissionError(f"{folder} is not a private folder of this user's")
    return folder


# -- the answer as JSON ---------------------------------------------------------------------
def answer_to_json(answer: SearchAnswer) -> dict[str, Any]:
    return {
        "results": [{
            "photo_id": r.photo_id, "path": r.path, "score": r.score,
            "probability": r.probability,
            "explanation": None if r.explanation is None else {
                "terms": [list(t) for t in r.explanation.terms],
                "tags": list(r.explanation.tags), "filters": list(r.explanation.filters),
                "date": r.explanation.date}} for r in answer.results],
        "matches": answer.matches, "weaker": answer.weaker, "removed": answer.removed,
        "cutoff": answer.cutoff}


def answer_from_json(query: str, data: dict[str, Any]) -> SearchAnswer:
    results = []
    for item in data["results"]:
        why = item.get("explanation")
        explanation = None if why is None else Explanation(
            tuple((str(t), float(p)) for t, p in why["terms"]), tuple(why["tags"]),
            tuple(why["filters"]), str(why["date"]))
        results.append(SearchResult(int(item["photo_id"]), str(item["path"]),
                                    float(item["score"]), item["probability"], explanation))
    return SearchAnswer(parse_query(query), results, int(data["matches"]),
                        int(data["weaker"]), int(data["removed"]), data["cutoff"])


# -- the client: the CLI -----------------------------------------------------------------------
def ask(home: Path, query: str, *, limit: int | None, everything: bool = False,
        explain: bool = False, folder: str | None = None,
        tags: list[str] | None = None, model: str | None = None) -> SearchAnswer | None:
    """The running service's answer, or None when none answers (no socket, a stale one,
    no model there yet, a timeout): then the caller searches by itself. Raises
    `SearchRefused` when the service could not read the query. With `model`, only a
    service using that model answers."""
    if not AVAILABLE:
        return None
    try:
        path = socket_path(home)
    except OSError:
        return None
    request = {"version": PROTOCOL_VERSION, "op": "search", "query": query, "limit": limit,
               "all": everything, "explain": explain, "folder": folder, "tags": tags or [],
               "model": model}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(CONNECT_TIMEOUT)
            client.connect(os.fspath(path))
            client.settimeout(ANSWER_TIMEOUT)
            client.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(_read_line(client))
    except (OSError, ValueError) as exc:
        log.debug("No service answered on %s: %s", path, exc)
        return None
    if reply.get("ok"):
        return answer_from_json(query, reply["answer"])
    if reply.get("kind") == "query":
        raise SearchRefused(str(reply.get("error")))
    log.debug("The service could not answer: %s", reply.get("error"))
    return None


def _read_line(conn: socket.socket) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


# -- the server: the service ------------------------------------------------------------------
@dataclass
class _Listening:
    sock: socket.socket
    path: Path
    inode: int  # of the file bound: only this file is removed at stop


class SearchServer:
    """Listens on the library's socket on a thread of its own and hands each request to
    `handler`, which answers through the service's priority path. One request at a time:
    the service runs searches one at a time anyway."""

    def __init__(self, home: Path, handler: Handler) -> None:
        self.home = Path(home)
        self._handler = handler
        self._stop = threading.Event()
        self._listening: _Listening | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen, unless the platform has no AF_UNIX or another live server holds the
        socket (a second window on the same library). Returns whether it listens."""
        if not AVAILABLE:
            return False
        try:
            self._listening = _listen(socket_path(self.home))
        except OSError as exc:
            log.info("Not answering command-line searches: %s", exc)
            return False
        self.thread = threading.Thread(target=self._serve, name="search-socket", daemon=True)
        self.thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(5)
        listening, self._listening = self._listening, None
        if listening is not None:
            listening.sock.close()
            with contextlib.suppress(OSError):
                # Only our own file: another server may have replaced a stale one.
                if listening.path.stat().st_ino == listening.inode:
                    listening.path.unlink()

    def _serve(self) -> None:
        assert self._listening is not None
        server = self._listening.sock
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            with conn:
                try:
                    self._answer(conn)
                except Exception as exc:  # one bad client must not end the server
                    log.warning("A command-line search failed: %s", exc)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(ANSWER_TIMEOUT)
        if not _same_user(conn):
            log.warning("Refused a search from another user on %s", self._listening)
            return
        line = conn.recv(_MAX_REQUEST)
        while line and not line.endswith(b"\n") and len(line) < _MAX_REQUEST:
            more = conn.recv(_MAX_REQUEST)
            if not more:
                break
            line += more
        try:
            request = json.loads(line)
            if request.get("version") != PROTOCOL_VERSION or request.get("op") != "search":
                raise ValueError(f"unknown request {request.get('op')!r} "
                                 f"(version {request.get('version')!r})")
            parse_query(str(request["query"]))
        except QueryError as exc:
            _send(conn, {"ok": False, "kind": "query", "error": str(exc)})
            return
        except (ValueError, KeyError, AttributeError) as exc:
            _send(conn, {"ok": False, "kind": "error", "error": f"bad request: {exc}"})
            return
        done = threading.Event()
        reply: dict[str, Any] = {}

        def answered(payload: dict[str, Any]) -> None:
            reply.update(payload)
            done.set()

        self._handler(request, answered)
        if not done.wait(ANSWER_TIMEOUT) or self._stop.is_set() and not reply:
            return
        _send(conn, reply)


def _send(conn: socket.socket, payload: dict[str, Any]) -> None:
    conn.sendall(json.dumps(payload).encode() + b"\n")


def _listen(path: Path) -> _Listening:
    """Bind `path` readable and writable by the user only, replacing a stale socket file
    (one no server answers on); raises OSError when a live server holds it."""
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(f"{path} exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(CONNECT_TIMEOUT)
            try:
                probe.connect(os.fspath(path))
            except OSError:
                path.unlink()  # stale: its server is gone
            else:
                raise OSError(f"another process answers searches on {path}")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The file is made 0600, never briefly wider (the umask is the process's, for the
    # microseconds of the bind).
    old_umask = os.umask(0o177)
    try:
        server.bind(os.fspath(path))
    except OSError:
        server.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    server.listen(8)
    server.settimeout(0.2)  # so stop() is seen within 0.2 s
    return _Listening(server, path, path.stat().st_ino)


def _same_user(conn: socket.socket) -> bool:
    """On Linux, the peer's uid from the kernel; elsewhere the file's 0600 mode is the
    check."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid) == os.getuid()
