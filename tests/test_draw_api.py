"""experiments.draw's HTTP API, on a real server process: real MNIST test digits posted as PNG,
with the saliency map of the predicted class or of any class asked for; then every kind of bad
request, each answered with a JSON error while the server keeps serving; several requests at
once; the page's own files and nothing else; Ctrl-C. (Clients that go away, idle connections
and a bug of ours: tests/test_draw_quiet.py.)"""

from __future__ import annotations

import http.client
import io
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.cli import run_module
from tests.draw_server import as_drawn, draw_server, png, predict, request

pytestmark = pytest.mark.slow
PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    from data import load_dataset

    return load_dataset("mnist", shared_data_dir, download=False)


@pytest.fixture(scope="module")
def server(mnist_checkpoint, tmp_path_factory):
    with draw_server(tmp_path_factory.mktemp("draw-api"), "--checkpoint", mnist_checkpoint) as s:
        yield s


def digit_png(mnist, i: int) -> bytes:
    return png(as_drawn(mnist.x_test[i, :, :, 0]))


def test_predicts_real_mnist_test_digits_posted_as_png(server, mnist):
    answers = [predict(server, digit_png(mnist, i)) for i in range(20)]
    assert all(status == 200 for status, _ in answers), answers
    predicted = np.array([a["class"] for _, a in answers])
    assert np.mean(predicted == mnist.y_test[:20]) >= 0.9, (predicted, mnist.y_test[:20])
    for _, a in answers:
        assert a["name"] == str(a["class"])
        assert len(a["probabilities"]) == 10 and abs(sum(a["probabilities"]) - 1) < 1e-4
        assert np.argmax(a["probabilities"]) == a["class"]
        seen = np.array(a["input"])
        assert seen.shape == (28, 28) and seen.min() == 0 and seen.max() > 200
        assert seen[0].sum() == 0 and seen[:, 0].sum() == 0  # MNIST-like: centred, black border


def test_the_answer_carries_the_map_of_the_predicted_class_or_of_the_class_asked_for(server, mnist):
    image = digit_png(mnist, 3)
    status, answer = predict(server, image)
    assert status == 200
    shown = answer["saliency"]
    assert (shown["class"], shown["name"]) == (answer["class"], answer["name"])
    assert shown["score"] == "log_prob"
    seen = np.array(answer["input"]) / 255  # pixels in [0, 1]
    for kind in ("gradient", "gradient_x_input"):
        assert np.array(shown[kind]).shape == (28, 28), kind
    gradient, strokes = np.array(shown["gradient"]), np.array(shown["gradient_x_input"])
    assert np.abs(gradient).max() > 0 and np.abs(strokes).max() > 0
    assert np.all(strokes[seen == 0] == 0)  # gradient x input: nothing off the ink
    off = 2e-3 * np.abs(gradient).max()  # "input" is rounded to 1/255, maps to 4 digits
    np.testing.assert_allclose(strokes, gradient * seen, rtol=2e-3, atol=off)

    other = (answer["class"] + 1) % 10
    status, asked = request(server, "POST", f"/api/predict?explain={other}", image)[:2]
    assert status == 200 and asked["saliency"]["class"] == other
    assert asked["probabilities"] == answer["probabilities"]  # the same answer, another map
    assert asked["saliency"]["gradient"] != shown["gradient"]


def test_answers_exactly_what_experiments_predict_says_for_the_same_file(
    server, mnist, mnist_checkpoint, tmp_path
):
    path = tmp_path / "digit.png"
    path.write_bytes(digit_png(mnist, 8))
    proc = run_module("experiments.predict", path, "--checkpoint", mnist_checkpoint)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.splitlines()[-1]  # "  0: 0.0001  1: 0.0000 ..."
    cli = [float(p.split(": ")[1]) for p in line.strip().split("  ")]
    status, answer = predict(server, path.read_bytes())
    assert status == 200
    np.testing.assert_allclose(answer["probabilities"], cli, atol=6e-5)


def test_info_names_the_checkpoint_and_its_classes(server, mnist_checkpoint):
    status, info, _ = request(server, "GET", "/api/info")
    assert status == 200
    assert info["class_names"] == [str(d) for d in range(10)]
    assert info["checkpoint"] == str(mnist_checkpoint)
    assert info["experiment"] == "cnn" and info["dataset"] == "mnist"


def test_serves_the_page_and_its_files_and_nothing_else(server):
    for path, kind in [("/", "text/html"), ("/draw.js", "text/javascript"), ("/draw.css", "css")]:
        status, answer, headers = request(server, "GET", path)
        assert status == 200 and kind in headers["Content-Type"], (path, headers)
        assert len(answer["raw"]) > 500
    page = request(server, "GET", "/")[1]["raw"].decode()
    assert "http://" not in page and "https://" not in page  # nothing from the network
    for path in [
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/draw.py",
        "/draw_page/index.html",
        "/%2e%2e/draw.py",
        "//etc/passwd",
        "/api/predict/../../draw.py",
    ]:
        status, answer, _ = request(server, "GET", path)
        assert status == 404 and "no such page" in answer["error"], (path, status, answer)


def white(h: int = 280, w: int = 280) -> np.ndarray:
    return np.ones((h, w), np.float32)


def raw_exchange(server, data: bytes) -> bytes:
    """Send ``data`` as is (a request http.client would refuse to write) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: s.recv(65536), b""))


def test_bad_requests_get_a_json_error_and_the_server_keeps_serving(server, mnist, tmp_path):
    from experiments.draw_app import MAX_BODY

    flat = png(white())  # a blank canvas
    faint = png(white() - 0.01 * (np.arange(280) % 2))  # paper texture only
    huge = io.BytesIO()
    PIL.new("1", (6000, 6000), 1).save(huge, "PNG")  # a few kB that decode to 36 megapixels
    bad = [  # (method, path, body, headers, status, words in the error)
        ("POST", "/api/predict", b"not an image at all", {}, 400, "not a readable image"),
        ("POST", "/api/predict", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, {}, 400, "not a readable"),
        ("POST", "/api/predict", digit_png(mnist, 0)[:300], {}, 400, "not a readable image"),
        ("POST", "/api/predict", huge.getvalue(), {}, 400, "6000 x 6000 pixels"),
        ("POST", "/api/predict", flat, {}, 400, "blank"),
        ("POST", "/api/predict", faint, {}, 400, "blank"),
        ("POST", "/api/predict", b"", {}, 400, "empty"),
        ("POST", "/api/predict", b"\0" * (MAX_BODY + 1), {}, 413, "more than the"),
        ("GET", "/api/predict", None, {}, 405, "POST an image"),
        ("POST", "/", flat, {}, 404, "use /api/predict"),
        ("POST", "/api/predict?explain=10", flat, {}, 400, "'10' is not a class"),
        ("POST", "/api/predict?explain=-1", flat, {}, 400, "use ?explain=K, K from 0 to 9"),
        ("POST", "/api/predict?explain=2&explain=3", flat, {}, 400, "is not a class"),
        (
            "POST",
            "/api/predict?explain=%C2%B2",
            flat,
            {},
            400,
            "is not a class",
        ),  # a digit int() refuses
        ("PUT", "/api/predict", flat, {}, 501, "Unsupported method"),
    ]
    for method, path, body, headers, status, words in bad:
        got, answer, _ = request(server, method, path, body, headers)
        assert (got, words in answer.get("error", "")) == (status, True), (path, words, answer)
        assert predict(server, digit_png(mnist, 0))[0] == 200  # still serving

    no_length = raw_exchange(server, b"POST /api/predict HTTP/1.1\r\nHost: x\r\n\r\n")
    assert no_length.startswith(b"HTTP/1.1 411") and b'"error": "send the image' in no_length
    not_a_number = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    assert raw_exchange(server, not_a_number).startswith(b"HTTP/1.1 400")
    too_long = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"0" * 5000
    assert raw_exchange(server, too_long + b"\r\n\r\n").startswith(b"HTTP/1.1 400")
    short = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n\x89PNG"
    assert b"ended before its Content-Length" in raw_exchange(server, short)
    assert b"Bad request syntax" in raw_exchange(server, b"garbage\r\n\r\n")  # HTTP/0.9-style

    status, answer = predict(server, digit_png(mnist, 0))  # and a good one again
    assert (status, answer["class"]) == (200, mnist.y_test[0])
    log = server.stderr.read_text()
    assert "Traceback" not in log, log
    assert '"POST /api/predict HTTP/1.1" 400 the posted file is blank' in log  # failures logged


def test_an_expect_100_client_hears_413_before_sending_the_body(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest("POST", "/api/predict")
    conn.putheader("Content-Length", str(10**9))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    response = conn.getresponse()  # no body sent at all
    assert response.status == 413
    assert "more than the" in json.loads(response.read())["error"]
    conn.close()


def test_serves_other_clients_while_one_is_mid_request_and_answers_requests_at_once(server, mnist):
    images = [digit_png(mnist, i) for i in range(8)]
    head = f"POST /api/predict HTTP/1.1\r\nContent-Length: {len(images[3])}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as slow:
        slow.sendall(head + images[3][:100])  # a client that has sent only part of its image
        with ThreadPoolExecutor(8) as pool:  # meanwhile, eight at once
            answers = list(pool.map(lambda b: predict(server, b), images))
        alone = [predict(server, b) for b in images]  # and one by one
        slow.sendall(images[3][100:])  # the slow client finishes: still being listened to
        slow.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: slow.recv(65536), b""))
    assert answers == alone and all(status == 200 for status, _ in answers)
    status_line, _, body = reply.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), reply[:300]
    assert json.loads(body)["class"] == answers[3][1]["class"]
