"""Path confinement: everything a request names must stay inside its root."""

from __future__ import annotations

import pytest

from tidal.studio._paths import PathRefused, confine, is_inside


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "ws"
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "p.yaml").write_text("x")
    other = tmp_path / "ws-other"
    other.mkdir()
    (other / "secret.yaml").write_text("secret")
    (root / "escape").symlink_to(other, target_is_directory=True)
    (root / "escape.yaml").symlink_to(other / "secret.yaml")
    (root / "inner.yaml").symlink_to(root / "pipelines" / "p.yaml")
    return root, other


@pytest.mark.parametrize(
    "path",
    [
        "../ws-other/secret.yaml",
        "pipelines/../../ws-other/secret.yaml",
        "..%2fws-other%2fsecret.yaml",
        "%2e%2e/ws-other/secret.yaml",
        "%252e%252e%252fws-other%252fsecret.yaml",
        "%25252e%25252e/ws-other/secret.yaml",
        "..\\ws-other\\secret.yaml",
        "pipelines\\..\\..\\ws-other\\secret.yaml",
        "pipelines/..;/..;/ws-other/secret.yaml",
        "p.yaml;jsessionid=1",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "C:/Windows/win.ini",
        "escape/secret.yaml",
        "escape.yaml",
        "pipelines/p.yaml\x00.txt",
        "",
    ],
)
def test_confine_refuses_paths_outside_the_root(roots, path):
    root, _ = roots
    with pytest.raises(PathRefused):
        confine(root, path)


@pytest.mark.parametrize("path", ["pipelines/p.yaml", "pipelines/./p.yaml", "pipelines%2Fp.yaml", "inner.yaml", "new/folder/file.yaml"])
def test_confine_accepts_paths_inside_the_root(roots, path):
    root, _ = roots
    found = confine(root, path)
    assert is_inside(found, root)


def test_a_sibling_sharing_the_prefix_is_not_inside(roots):
    root, other = roots
    assert str(other).startswith(str(root))
    assert not is_inside(other / "secret.yaml", root)
    assert is_inside(root / "pipelines", root)
