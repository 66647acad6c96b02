"""Hostile image sources: archives that climb out, link, or unpack past the limits; images that claim a huge size; too
many files. Each is refused with the member or file named, and nothing is written to disk."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from tidal.core import DataError

Image = pytest.importorskip("PIL.Image")

from tidal.components.io_images import read_images  # noqa: E402


def _png(size=(4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 128).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../escape.png", "/etc/evil.png", "a/../../evil.png", "C:/evil.png", "..\\evil.png"])
def test_a_zip_member_with_an_unsafe_path_refuses_the_archive(tmp_path, name):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ok/a.png", _png())
        bundle.writestr(name, _png())
    with pytest.raises(DataError, match="unsafe path"):
        read_images(path=str(archive))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.zip"]
    assert not (tmp_path.parent / "escape.png").exists()


def test_a_tar_with_a_link_or_a_climbing_member_is_refused(tmp_path):
    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as bundle:
        info = tarfile.TarInfo("cats/a.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        bundle.addfile(info)
    with pytest.raises(DataError, match="'cats/a.png' is a link or a special file"):
        read_images(path=str(linked))
    climbing = tmp_path / "climb.tar"
    with tarfile.open(climbing, "w") as bundle:
        data = _png()
        info = tarfile.TarInfo("../../a.png")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="'../../a.png' has an unsafe path"):
        read_images(path=str(climbing))


def test_a_zip_bomb_stops_at_the_size_limits(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a/huge.png", b"\0" * 5_000_000)  # compresses to a few kB
    assert archive.stat().st_size < 50_000
    with pytest.raises(DataError, match="'a/huge.png' is 5,000,000 bytes, over max_image_bytes"):
        read_images(path=str(archive), max_image_bytes=1_000_000)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as bundle:
        for index in range(30):
            bundle.writestr(f"a/{index:02d}.png", _png())
    with pytest.raises(DataError, match="more than max_images \\(10\\)"):
        read_images(path=str(many), max_images=10)
    with pytest.raises(DataError, match="add up to more than max_total_bytes"):
        read_images(path=str(many), max_total_bytes=len(_png()) * 5)


def test_a_zip_whose_header_understates_a_member_is_stopped(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a/x.png", b"\0" * 2000)
    raw = bytearray(archive.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24: central + 28] = (10).to_bytes(4, "little")  # the central directory now claims 10 bytes
    archive.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="liar.zip"):
        read_images(path=str(archive), max_image_bytes=100)


def test_an_image_claiming_a_huge_size_is_refused_before_decoding(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("1", (10_000, 6_000)).save(tmp_path / "a" / "wide.png", optimize=True)  # a small file, 60M pixels
    assert (tmp_path / "a" / "wide.png").stat().st_size < 1_000_000
    with pytest.raises(DataError, match="image 'a/wide.png' is 10000x6000 pixels, over the limit of 50,000,000"):
        read_images(path=str(tmp_path))
    (tmp_path / "a" / "wide.png").unlink()
    Image.new("1", (20_000, 20_000)).save(tmp_path / "a" / "huge.png", optimize=True)  # 400M: Pillow's own bomb check
    with pytest.raises(DataError, match="image 'a/huge.png' claims more pixels than the limit"):
        read_images(path=str(tmp_path))


def test_links_in_a_folder_are_not_followed_and_deep_nesting_is_named(tmp_path):
    secret = tmp_path / "outside.png"
    secret.write_bytes(_png())
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.png").write_bytes(_png())
    (root / "cats" / "link.png").symlink_to(secret)
    table = read_images(path=str(root))
    assert table["path"].tolist() == ["cats/a.png"]
    (root / "cats" / "deeper").mkdir()
    (root / "cats" / "deeper" / "b.png").write_bytes(_png())
    with pytest.raises(DataError, match="'cats/deeper/b.png' is nested 2 folders deep"):
        read_images(path=str(root))


def test_garbage_and_truncated_images_name_the_file(tmp_path):
    archive = tmp_path / "junk.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        for name, data in (("a/good.png", _png()), ("a/cut.png", _png()[:30])):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="image 'a/cut.png' cannot be read"):
        read_images(path=str(archive))
    (tmp_path / "plain.tar").write_bytes(b"definitely not a tar file" * 40)
    with pytest.raises(DataError, match="plain.tar cannot be read as a tar archive"):
        read_images(path=str(tmp_path / "plain.tar"))
