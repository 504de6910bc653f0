"""Downloading (data/fetch.py): a file is taken from the first mirror that serves the right
bytes, past mirrors that answer 404 or serve corrupt bytes; with every mirror failing, the one
line says where to put the files, and nothing is left half-written."""

import hashlib
import http.server
import threading
from dataclasses import replace

import pytest

from data import MissingDataError, get_dataset
from data.fetch import dataset_files


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """/404/* answers 404, /corrupt/* serves flipped bytes, /good/* serves the real files."""

    files: dict = {}

    def do_GET(self):  # noqa: N802
        _, kind, name = self.path.split("/")
        body = self.files.get(name)
        if kind == "404" or body is None:
            self.send_error(404)
            return
        if kind == "corrupt":
            body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_download_falls_through_404_and_corrupt_mirrors_to_verified_files(
    mirror_server, shared_data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("HANDJAX_DATA_DIR", raising=False)
    info = get_dataset("mnist")
    small = [f for f in info.files if "labels" in f.name]  # keep the test light: label files
    MirrorHandler.files = {f.name: (shared_data_dir / "mnist" / f.name).read_bytes() for f in small}
    info = replace(info, train_images=small[0], test_images=small[1])  # only label files
    mirrors = [f"{mirror_server}/404/", f"{mirror_server}/corrupt/", f"{mirror_server}/good/"]
    paths = dataset_files(info, mirrors=mirrors, timeout=5, progress=False)
    cache = tmp_path / "cache" / "handjax" / "datasets" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f.name for f in small)
    for f in small:
        assert paths[f.name] == cache / f.name
        assert hashlib.sha256(paths[f.name].read_bytes()).hexdigest() == f.sha256


def test_download_with_all_mirrors_failing_raises_the_offline_message(
    mirror_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing found elsewhere
    monkeypatch.delenv("HANDJAX_DATA_DIR", raising=False)
    info = get_dataset("mnist")
    MirrorHandler.files = {f.name: b"not the file" for f in info.files}
    mirrors = [
        f"{mirror_server}/404/",
        f"{mirror_server}/corrupt/",
        f"{mirror_server}/good/",
        "http://127.0.0.1:9/",
    ]  # port 9: connection refused
    with pytest.raises(MissingDataError, match="Put the four files") as e:
        dataset_files(info, tmp_path / "root", mirrors=mirrors, timeout=5, progress=False)
    assert str(tmp_path / "root" / "mnist") in str(e.value)
    assert not (tmp_path / "root" / "mnist").exists()  # nothing half-written, no empty folder
