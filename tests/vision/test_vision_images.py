"""Images in tables: read from folders, archives and tables; pixels equal to Pillow and numpy computed directly;
seeded augmentation; every unreadable image named."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest

from tidal.core import DataError

Image = pytest.importorskip("PIL.Image")

from tidal.components.io_images import read_images  # noqa: E402
from tidal.components.vision import augment, from_pixels, resize, to_pixels  # noqa: E402


@pytest.fixture(scope="module")
def photos():
    """scikit-learn's two bundled JPEG photos (china, flower), shrunk: [H, W, 3] uint8 arrays."""
    from sklearn.datasets import load_sample_images

    return [np.asarray(Image.fromarray(picture).resize((48, 32))) for picture in load_sample_images().images]


@pytest.fixture
def folder(tmp_path, photos):
    for label, picture in zip(("china", "flower"), photos, strict=True):
        (tmp_path / label).mkdir()
        Image.fromarray(picture).save(tmp_path / label / "a.jpg", quality=90)
        Image.fromarray(picture[:, ::-1]).save(tmp_path / label / "b.png")
    (tmp_path / "notes.txt").write_text("not an image, skipped")
    return tmp_path


def test_a_folder_of_class_subfolders_reads_as_labelled_rows(folder):
    table = read_images(path=str(folder))
    assert table["path"].tolist() == ["china/a.jpg", "china/b.png", "flower/a.jpg", "flower/b.png"]
    assert table["label"].tolist() == ["china", "china", "flower", "flower"]
    assert set(table["width"]) == {48} and set(table["height"]) == {32} and set(table["mode"]) == {"RGB"}
    assert table["image"][1] == (folder / "china" / "b.png").read_bytes()


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_reads_as_its_folder_would(folder, tmp_path_factory, kind):
    archive = tmp_path_factory.mktemp("archives") / f"photos.{kind}"
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in files:
                bundle.write(path, f"photos/{path.relative_to(folder).as_posix()}")  # one top folder, dropped
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            for path in files:
                bundle.add(path, f"photos/{path.relative_to(folder).as_posix()}")
    from_archive, from_folder = read_images(path=str(archive)), read_images(path=str(folder))
    pd.testing.assert_frame_equal(from_archive, from_folder)


def test_a_table_of_paths_or_bytes_reads_the_images(folder):
    paths = pd.DataFrame({"file": [str(folder / "china" / "a.jpg"), str(folder / "flower" / "b.png")], "id": [7, 8]})
    table = read_images(paths, column="file")
    assert table["id"].tolist() == [7, 8] and table["width"].tolist() == [48, 48]
    again = read_images(table[["image", "id"]], column="image")
    assert again["image"].tolist() == table["image"].tolist()


def test_an_unreadable_image_is_named_by_file_and_row(folder):
    (folder / "flower" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match="image 'flower/c.png' cannot be read"):
        read_images(path=str(folder))
    table = pd.DataFrame({"file": [str(folder / "china" / "a.jpg"), str(folder / "flower" / "c.png")]})
    with pytest.raises(DataError, match=r"c.png' \(row 1 of column 'file'\) cannot be read"):
        read_images(table, column="file")
    with pytest.raises(DataError, match="row 0 of column 'image'.*does not exist"):
        to_pixels(pd.DataFrame({"image": ["missing.png"]}), column="image", width=4, height=4)


@pytest.mark.parametrize(("mode", "fit", "resample"), [("RGB", "stretch", "bilinear"), ("L", "crop", "bicubic"),
                                                         ("RGB", "pad", "lanczos")])
def test_pixels_are_what_pillow_and_numpy_give_directly(folder, mode, fit, resample):
    from PIL import ImageOps

    table = read_images(path=str(folder))
    pixels = to_pixels(table, column="image", width=12, height=10, mode=mode, fit=fit, resample=resample)
    method = getattr(Image.Resampling, resample.upper())
    for row, data in enumerate(table["image"]):
        image = Image.open(io.BytesIO(data)).convert(mode)
        image = {"stretch": lambda im: im.resize((12, 10), method), "crop": lambda im: ImageOps.fit(im, (12, 10), method),
                 "pad": lambda im: ImageOps.pad(im, (12, 10), method, color=0)}[fit](image)
        array = np.asarray(image, dtype=np.float64) / 255.0
        expected = array.reshape(-1) if mode == "L" else np.moveaxis(array, -1, 0).reshape(-1)  # [C, H, W] row-major
        names = [name for name in pixels.columns if name.startswith("pixel_")]
        assert np.array_equal(pixels.loc[row, names].to_numpy(dtype=np.float64), expected)
    assert pixels.columns[-1] == ("pixel_9_11" if mode == "L" else "pixel_2_9_11")
    assert "image" not in pixels.columns and pixels["label"].tolist() == table["label"].tolist()


def test_from_pixels_and_to_pixels_round_trip_the_digits():
    from sklearn.datasets import load_digits

    digits = load_digits(as_frame=True).frame.head(20)
    images = from_pixels(digits, scale=16.0)
    back = to_pixels(images, column="image", width=8, height=8, resample="nearest")
    names = [f"pixel_{y}_{x}" for y in range(8) for x in range(8)]
    expected = np.round(digits[names].to_numpy() / 16 * 255) / 255
    assert np.array_equal(back[names].to_numpy(), expected) and back["target"].tolist() == digits["target"].tolist()


def test_resize_updates_the_size_columns(folder):
    table = resize(read_images(path=str(folder)), column="image", width=6, height=5, mode="L")
    assert table["width"].tolist() == [6] * 4 and table["height"].tolist() == [5] * 4
    assert Image.open(io.BytesIO(table["image"][0])).mode == "L"


def test_augmentation_is_seeded_per_row_and_changes_the_pixels(folder):
    table = read_images(path=str(folder))
    settings = {"column": "image", "copies": 2, "hflip": 0.5, "rotation": 15.0, "crop": 0.7, "brightness": 0.2,
                "contrast": 0.2, "seed": 4}
    first, second = augment(table, **settings), augment(table, **settings)
    assert first["image"].tolist() == second["image"].tolist()
    assert first["augmented"].tolist() == [0, 1, 2] * 4 and first["label"].tolist()[:3] == ["china"] * 3
    assert first["image"][1] != first["image"][0] and first["image"][1] != first["image"][2]
    alone = augment(table.iloc[[0]], **settings)  # a row's copies do not depend on the rows around it
    assert alone["image"].tolist() == first["image"].tolist()[:3]
    assert augment(table, **{**settings, "seed": 5})["image"].tolist() != first["image"].tolist()
    sizes = {Image.open(io.BytesIO(data)).size for data in first["image"]}
    assert sizes == {(48, 32)}


def test_a_flip_is_exactly_a_mirror(folder):
    table = read_images(path=str(folder)).iloc[[1]]
    flipped = augment(table, column="image", hflip=1.0, keep_original=False)
    original = np.asarray(Image.open(io.BytesIO(table["image"].iloc[0])))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(flipped["image"][0]))), original[:, ::-1])
