"""`resta demo --out`: the output rule (never an existing folder without --overwrite, never a user's folder).

Each refusal comes before any work, so these tests are quick; the demo itself runs in test_demo_end_to_end.
"""

from __future__ import annotations

from resta_bench.benchmark.cli import main


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_non_empty_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "something").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path}: already exists (pass --overwrite to replace it)" in _one_line(capsys)
    assert (tmp_path / "something").read_text() == "keep me"


def test_overwrite_never_replaces_a_folder_resta_did_not_write(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path), "--overwrite"]) == 2
    assert f"--out {tmp_path}: not a folder resta wrote" in _one_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_a_file_or_a_symbolic_link_is_no_output_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("keep me")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert main(["demo", "--out", str(tmp_path / "file"), "--overwrite"]) == 2
    assert "exists and is not a folder" in _one_line(capsys)
    assert main(["demo", "--out", str(tmp_path / "link"), "--overwrite"]) == 2
    assert "is a symbolic link" in _one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link"]
