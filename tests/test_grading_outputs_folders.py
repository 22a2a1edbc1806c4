"""The folder writes behind grade --out and --repro (lenet_parity/atomic.py): new content appears whole or not at
all, whatever fails half way; and names made from students' names, one each."""

from __future__ import annotations

import errno
import os

import pytest

from lenet_parity.atomic import FolderUpdate, replace_folder, safe_name, unique_names, write_new_file


def _content(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _earlier(folder):
    (folder / "students" / "amy").mkdir(parents=True)
    (folder / "students" / "amy" / "report.json").write_text("amy, earlier")
    (folder / "gradebook.csv").write_text("earlier")
    (folder / "notes.txt").write_text("the teacher's own")
    return _content(folder)


def test_a_commit_replaces_its_entries_whole_and_keeps_the_others(tmp_path):
    before = _earlier(tmp_path)
    with FolderUpdate(tmp_path) as update:
        (update.path / "students" / "ben").mkdir(parents=True)
        write_new_file(update.path / "students" / "ben" / "report.json", b"ben")
        write_new_file(update.path / "gradebook.csv", b"new")
        assert {k: v for k, v in _content(tmp_path).items() if ".staging-" not in k} == before  # not yet
        update.commit()
    assert _content(tmp_path) == {"gradebook.csv": b"new", "notes.txt": b"the teacher's own", "students": None,
                                  "students/ben": None, "students/ben/report.json": b"ben"}


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_leaving_without_a_commit_changes_nothing(tmp_path, error):
    earlier, fresh = tmp_path / "earlier", tmp_path / "made" / "here" / "fresh"
    earlier.mkdir()
    before = _earlier(earlier)
    for target in (earlier, fresh):
        with pytest.raises(type(error)), FolderUpdate(target) as update:
            write_new_file(update.path / "gradebook.csv", b"half")
            raise error
    assert _content(earlier) == before
    assert not (tmp_path / "made").exists()  # every folder it made is gone again


def test_a_commit_that_fails_half_way_puts_the_replaced_entries_back(tmp_path, monkeypatch):
    before = _earlier(tmp_path)
    real_rename, moved_in = os.rename, []

    def rename(src, dst):
        if ".staging-" in str(src):
            moved_in.append(dst)
            if len(moved_in) == 2:
                raise OSError(errno.EIO, "Input/output error")
        return real_rename(src, dst)

    with FolderUpdate(tmp_path) as update:
        for name in ("gradebook.csv", "gradebook.json", "students"):
            write_new_file(update.path / name, name.encode())
        monkeypatch.setattr(os, "rename", rename)
        with pytest.raises(OSError, match="Input/output"):
            update.commit()
    assert len(moved_in) == 2 and _content(tmp_path) == before


def test_replace_folder_keeps_the_old_folder_when_the_swap_fails(tmp_path, monkeypatch):
    target = tmp_path / "students" / "amy"
    replace_folder(target, {"report.json": b"old", "repro/test_conv1.py": b"old test"})
    before = _content(tmp_path)
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(dst) == os.fspath(target) and not os.fspath(src).endswith("-old"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError):
        replace_folder(target, {"report.json": b"new"})
    assert _content(tmp_path) == before


def test_write_new_file_writes_every_byte_through_short_writes(tmp_path, monkeypatch):
    real_write, calls = os.write, []

    def one_byte(fd, data):
        calls.append(len(data))
        return real_write(fd, bytes(data[:1]))

    monkeypatch.setattr(os, "write", one_byte)
    write_new_file(tmp_path / "f", b"abcdef")
    assert (tmp_path / "f").read_bytes() == b"abcdef" and calls == [6, 5, 4, 3, 2, 1]
    with pytest.raises(FileExistsError):  # new files only: a scratch folder's
        write_new_file(tmp_path / "f", b"again")


def test_names_are_safe_and_unique():
    assert [safe_name(n) for n in ["-2", "+1", ".hidden", "O'Brien, José", "../.."]] == [
        "2", "1", "hidden", "O_Brien_Jos", "unnamed"]
    assert unique_names(["jo hn", "jo_hn", "O'Brien, José", "O_Brien_Jos", "Amy", "amy", "amy-2"]) == [
        "jo_hn", "jo_hn-2", "O_Brien_Jos", "O_Brien_Jos-2", "Amy", "amy-2", "amy-2-2"]
