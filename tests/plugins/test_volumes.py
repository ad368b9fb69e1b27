"""hostPath volumes as the kubelet checks them: the path's ``type``, made where it says so."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from argosy.engine.run import NodeError
from argosy.plugins.volumes import _host_path


def test_host_path_types_are_checked(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert _host_path("v", {"path": str(tmp_path), "type": "Directory"}) == str(tmp_path)
    assert _host_path("v", {"path": str(tmp_path / "f"), "type": "File"}) == str(tmp_path / "f")
    with pytest.raises(NodeError, match=r"volume 'v': hostPath.path '.*/f' is not a Directory"):
        _host_path("v", {"path": str(tmp_path / "f"), "type": "Directory"})
    with pytest.raises(NodeError, match="is not a Socket"):
        _host_path("v", {"path": str(tmp_path), "type": "Socket"})
    with pytest.raises(NodeError, match="does not exist"):
        _host_path("v", {"path": str(tmp_path / "none"), "type": "Directory"})
    with pytest.raises(NodeError, match=r"hostPath\.type 'Dir' is not one of Directory"):
        _host_path("v", {"path": str(tmp_path), "type": "Dir"})
    with pytest.raises(NodeError, match="is not an absolute path"):
        _host_path("v", {"path": "rel"})
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s"))
        assert _host_path("v", {"path": str(tmp_path / "s"), "type": "Socket"})


def test_host_path_or_create_types_make_the_path(tmp_path: Path) -> None:
    made = _host_path("v", {"path": str(tmp_path / "a" / "b"), "type": "DirectoryOrCreate"})
    assert Path(made).is_dir()
    made = _host_path("v", {"path": str(tmp_path / "c" / "f"), "type": "FileOrCreate"})
    assert Path(made).is_file()
