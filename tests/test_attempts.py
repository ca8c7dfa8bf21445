"""Earlier attempts are visible: the graded file says which attempt it is and what was set aside (no kernel)."""
from __future__ import annotations

import json
import shutil

from grader.cli import main

SHOWN = "attempt 2 of 2; attempt 1 set aside"


def test_a_broken_later_upload_says_it_replaced_an_earlier_one(capsys, tiny_folder, tiny_submission, tmp_path):
    ada = tmp_path / "class" / "ada"
    ada.mkdir(parents=True)
    good = tiny_submission("attempt_one_correct", "y = factor * x")  # the good first upload (5 points)
    shutil.copyfile(good, ada / "Tiny.ipynb")
    (ada / "Tiny (1).ipynb").write_text(good.read_text(encoding="utf-8")[:200], encoding="utf-8")  # cut off: 0
    (tmp_path / "class" / "bob").mkdir()
    (tmp_path / "class" / "bob" / "Tiny.ipynb").write_bytes(b"")  # one attempt only
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "class"), "--solutions", str(tiny_folder), "--out", str(out), "-q"]

    for run in ("first", "unchanged"):
        assert main(argv) == 1, run  # ada's latest attempt is unreadable (latest wins, as documented)
        capsys.readouterr()
        [result] = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "ada").glob("*.json")]
        assert result["source"]["path"].endswith("Tiny (1).ipynb") and result["score"] == 0
        assert result["attempt"] == {"number": 2, "of": 2, "set_aside": [1]}
        assert SHOWN in (out / "ada" / "report.html").read_text(encoding="utf-8")
        assert SHOWN in (out / "index.html").read_text(encoding="utf-8")
        [bob] = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "bob").glob("*.json")]
        assert "attempt" not in bob
        assert "set aside" not in (out / "bob" / "report.html").read_text(encoding="utf-8")
