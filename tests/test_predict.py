"""experiments.predict: MNIST-like preprocessing, predictions on digits rendered from the MNIST
test set and on synthetic images, and --explain's figures."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.framing import to_mnist
from tests.cli import assert_one_line_error, assert_real_image, run_module

PIL = pytest.importorskip("PIL.Image")


def centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    return (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()


@given(
    st.integers(10, 60), st.integers(10, 60), st.integers(0, 40), st.integers(0, 40), st.booleans()
)
def test_preprocessing_fits_20x20_centres_mass_and_inverts_light_backgrounds(
    h, w, top, left, light
):
    canvas = np.zeros((h + top + 10, w + left + 10), np.float32)
    canvas[top : top + h, left : left + w] = 1.0  # a solid "digit"
    canvas[top + h // 2, left : left + w // 2] = 0.0  # not symmetric
    image = 1.0 - canvas if light else canvas
    out = to_mnist(image)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9  # light digit on black
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20  # longer side is 20
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    assert out[0].sum() == 0 and out[:, 0].sum() == 0  # background is black


@pytest.fixture(scope="module")
def checkpoint(mnist_checkpoint):
    """The session's briefly trained MNIST CNN (tests/conftest.py), shared with the draw tests."""
    return mnist_checkpoint


def test_predicts_mnist_test_digits_rendered_as_dark_on_white_files(
    checkpoint, shared_data_dir, tmp_path
):
    from data import load_dataset

    ds = load_dataset("mnist", shared_data_dir, download=False)
    paths = []
    for i in range(20):  # each digit scaled up, dark on white, off-centre, as a user's photo
        digit = PIL.fromarray(np.uint8(255 - 255 * ds.x_test[i, :, :, 0])).resize((140, 140))
        page = PIL.new("L", (260, 200), 255)
        page.paste(digit, (20 + 5 * i, 30))
        paths.append(tmp_path / f"digit{i}.{'png' if i % 2 else 'jpg'}")
        page.save(paths[-1])
    proc = run_module("experiments.predict", *paths, "--checkpoint", checkpoint)
    assert proc.returncode == 0, proc.stderr
    predicted = [
        int(line.split(": ")[1].split(" ")[0])
        for line in proc.stdout.splitlines()
        if line.startswith(str(tmp_path))
    ]
    assert len(predicted) == 20
    assert np.mean(np.array(predicted) == ds.y_test[:20]) >= 0.85


def test_show_saves_the_preprocessed_image_beside_the_original(checkpoint, tmp_path):
    from PIL import ImageDraw

    page = PIL.new("L", (200, 300), 255)  # a dark "1" on white: must be inverted
    ImageDraw.Draw(page).line((100, 40, 100, 260), fill=0, width=18)
    path = tmp_path / "one.png"
    page.save(path)
    proc = run_module("experiments.predict", path, "--checkpoint", checkpoint, "--show")
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: 1 (probability" in proc.stdout
    shown = PIL.open(tmp_path / "one-preprocessed.png")
    assert shown.size[1] == 280 and shown.size[0] > 280


def test_explain_writes_a_png_per_image_with_what_the_network_saw_and_two_maps(
    checkpoint, tmp_path
):
    from PIL import ImageDraw

    paths = []
    for folder, line in [("a", (100, 40, 100, 260)), ("b", (60, 60, 140, 60))]:
        page = PIL.new("L", (200, 300), 255)
        ImageDraw.Draw(page).line(line, fill=0, width=18)
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "digit.png")  # the same name twice
        page.save(paths[-1])
    out = tmp_path / "explained" / "here"
    proc = run_module("experiments.predict", *paths, "--checkpoint", checkpoint, "--explain", out)
    assert proc.returncode == 0, proc.stderr
    assert f"Saved 2 explanations in {out}" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["digit-2-explained.png", "digit-explained.png"]
    for path in out.iterdir():
        assert_real_image(path)
        with PIL.open(path) as figure:
            rgb = np.asarray(figure.convert("RGB"), np.int32)
        assert figure.width > figure.height  # the input, then a column per class
        red = (rgb[..., 0] - rgb[..., 2] > 60).sum()
        blue = (rgb[..., 2] - rgb[..., 0] > 60).sum()
        assert red > 100 and blue > 100, (path, red, blue)  # maps, in both colours


def test_explain_into_a_file_is_a_one_line_error(checkpoint, tmp_path):
    from PIL import ImageDraw

    image, taken = tmp_path / "one.png", tmp_path / "taken"
    page = PIL.new("L", (50, 50), 255)
    ImageDraw.Draw(page).line((25, 5, 25, 45), fill=0, width=5)
    page.save(image)
    taken.write_text("a file, not a folder")
    proc = run_module("experiments.predict", image, "--checkpoint", checkpoint, "--explain", taken)
    assert_one_line_error(proc, "cannot create --explain folder", str(taken))


def test_explained_names_never_give_two_inputs_one_file():
    from experiments.predict import explained_names

    names = explained_names(["a.png", "b/a.png", "a-2.png", "c/a.jpg"])
    assert names == ["a-explained.png", "a-2-explained.png", "a-2-2-explained.png",
                     "a-3-explained.png"]  # fmt: skip
    assert len(set(names)) == len(names)


def test_a_checkpoint_is_read_through_the_views_its_header_names_or_its_config_resolves():
    """New headers name the views (--tta resolved when the run started); an older checkpoint's
    --tta is resolved by today's registry; an unreadable configuration means no views."""
    from data.views import TEST_VIEWS
    from experiments.predictor import views_of

    assert views_of({"test_views": "none", "config": {"tta": "auto"}}) == ()
    assert views_of({"test_views": "shifts"}) == TEST_VIEWS["shifts"]
    assert views_of({"config": {"dataset": "fashion-mnist", "tta": "auto"}}) == TEST_VIEWS["flip"]
    assert views_of({"config": {"dataset": "mnist", "tta": "none"}}) == ()
    assert views_of({"config": {"dataset": "no-such-set", "tta": "auto"}}) == ()
    assert views_of({}) == () and views_of({"config": "?"}) == ()
