"""Every scenario-named submission gets exactly the grade its scenario says.

The expected grade is derived: full marks minus the points of the checks the
scenario must lose (tests/submissions/scenarios.json, written by
tests/make_submissions.py from one list of scenarios).
"""
import json
from pathlib import Path

import pytest

from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SCENARIOS = json.loads((SUBMISSIONS / "scenarios.json").read_text())


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


@pytest.mark.kernel
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["file"][:-6] for s in SCENARIOS])
def test_scenario_gets_its_grade(scenario, catalog, kernel_options):
    result = grade_notebook(SUBMISSIONS / scenario["file"], catalog, options=kernel_options).to_dict()
    assert result["status"] == "graded", result["message"]
    assert result["assignment"]["title"] == catalog.get(scenario["notebook"]).title
    checks = {c["name"]: c for f in result["functions"] for c in f["checks"]}
    spec = catalog.get(scenario["notebook"])
    told = " ".join(result["notes"] + result["flags"])
    for phrase in scenario.get("says", []):
        assert phrase in told, (phrase, told)
    reviews = scenario.get("reviews", {})
    reviewed = {f["name"]: f for f in result["functions"] if f["review"]}
    assert set(reviewed) == set(reviews), {n: f["review"] for n, f in reviewed.items()}
    for name, words in reviews.items():
        review = reviewed[name]["review"]
        assert words in review["reason"], review
        assert review["kept"] == "regions"  # the default policy: the regions' grade stands...
        assert review["other_score"] == pytest.approx(reviewed[name]["max_score"])  # ...and shows the better one
    for name, words in scenario.get("messages", {}).items():
        assert words in checks[name]["message"], checks[name]
    for check in checks.values():  # a dependency is named instead of hinting at the wrong function
        assert not ("fix that first" in check["message"] and check["hint"]), check
    if scenario["untouched"]:
        assert {c["status"] for c in checks.values()} == {"not_attempted"}
        assert result["score"] == 0
        return
    lost = {name for name, c in checks.items() if c["status"] != "passed"}
    assert lost == set(scenario["loses"]), {n: checks[n]["message"] for n in lost}
    expected = spec.points - sum(c.points for c in spec.checks if c.name in scenario["loses"])
    assert result["score"] == pytest.approx(expected)


@pytest.mark.kernel
def test_same_submission_same_grade(catalog):
    path = SUBMISSIONS / "gc_seed_student.ipynb"
    first, second = (grade_notebook(path, catalog).to_dict() for _ in range(2))
    def summary(r):
        return [(c["name"], c["status"], c["points"], c["message"]) for f in r["functions"] for c in f["checks"]]
    assert summary(first) == summary(second)


def test_every_scenario_file_exists():
    for scenario in SCENARIOS:
        assert (SUBMISSIONS / scenario["file"]).is_file()
