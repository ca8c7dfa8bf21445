"""Earlier attempts are visible: the graded file says which attempt it is and what was set aside (no kernel)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.classrun.gradebook import Gradebook
from grader.cli import main
from grader.core.files import safe_file_name

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
        assert main(argv) == 0, run  # ada's latest attempt is unreadable (latest wins): 0 points, a reason
        capsys.readouterr()
        [result] = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "ada").glob("*.json")]
        assert result["source"]["path"].endswith("Tiny (1).ipynb") and result["score"] == 0
        assert result["attempt"] == {"number": 2, "of": 2, "set_aside": [1]}
        assert SHOWN in (out / "ada" / "report.html").read_text(encoding="utf-8")
        assert SHOWN in (out / "index.html").read_text(encoding="utf-8")
        [bob] = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "bob").glob("*.json")]
        assert "attempt" not in bob
        assert "set aside" not in (out / "bob" / "report.html").read_text(encoding="utf-8")


@pytest.mark.kernel
def test_attempt_best_counts_the_higher_scoring_attempt(capsys, tiny_warm, tiny_submission, tmp_path):
    ada = tmp_path / "class" / "ada"
    ada.mkdir(parents=True)
    shutil.copyfile(tiny_submission("attempt_one_right", "y = factor * x"), ada / "Tiny.ipynb")  # 5 points
    shutil.copyfile(tiny_submission("attempt_two_adds", "y = x + factor"), ada / "Tiny (1).ipynb")  # 0 points
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "class"), "--solutions", str(tiny_warm), "--out", str(out), "-q"]

    def counted() -> tuple[dict, float]:
        """The result the gradebook counts for ada (its file in her folder), and her total."""
        with Gradebook(out / "gradebook.sqlite", create=False) as book:
            [record] = book.class_records()
        [result] = record.results.values()
        stem = safe_file_name(Path(result["source"]["path"]).stem)
        written = json.loads((out / "ada" / f"{stem}.json").read_text(encoding="utf-8"))
        assert written == {k: v for k, v in result.items() if k != "adjustments"}  # the gradebook adds those
        return result, record.score

    assert main(argv) == 0
    result, total = counted()
    assert (result["score"], total, result["attempt"]) == (0, 0, {"number": 2, "of": 2, "set_aside": [1]})

    assert main([*argv, "--attempt", "best"]) == 0
    result, total = counted()
    assert result["source"]["path"].endswith("Tiny.ipynb") and (result["score"], total) == (5, 5)
    assert result["attempt"] == {"number": 1, "of": 2, "set_aside": [2]}
    assert "attempt 1 of 2; attempt 2 set aside" in (out / "index.html").read_text(encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["graded"] == 1  # the first attempt, graded now; the second was graded by the first run

    assert main([*argv, "--attempt", "best"]) == 0  # nothing changed: nothing graded again
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["graded"] == 0
    assert counted()[1] == 5
    capsys.readouterr()
