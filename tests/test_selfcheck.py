"""`grader.check("name")` as a student calls it from a notebook: released data only."""
from pathlib import Path

import numpy as np

import grader
from solution_namespace import load_solution_namespace

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "assignments"


def _reference(notebook: str) -> dict:
    return load_solution_namespace(ROOT / "solutions" / notebook)


def test_correct_function_passes_its_public_checks():
    namespace = _reference("Optimization_methods.ipynb")
    report = grader.check("update_parameters_with_adam", folder=str(ASSIGNMENTS), namespace=namespace)
    assert report.passed
    assert report.results and all(not r["hidden"] for r in report.results)
    count = len(report.results)
    assert f"{count} of {count} public checks pass" in repr(report)


def test_known_mistake_fails_with_its_hint_and_html():
    namespace = _reference("Optimization_methods.ipynb")

    def without_one_minus_beta(parameters, grads, v, beta, learning_rate):
        for key in grads:
            v[key] = beta * v[key] + grads[key]
        for key in list(parameters):
            parameters[key] = parameters[key] - learning_rate * v["d" + key]
        return parameters, v

    namespace["update_parameters_with_momentum"] = without_one_minus_beta
    report = grader.check("update_parameters_with_momentum", folder=str(ASSIGNMENTS), namespace=namespace)
    assert not report.passed
    failed = [r for r in report.results if r["status"] == "failed"]
    assert failed and failed[0]["hint"], "the (1 - beta) mistake should be recognised"
    html = report._repr_html_()
    assert failed[0]["hint"].split(".")[0] in html and "failed" in html


def test_undefined_function_is_not_attempted():
    report = grader.check("initialize_parameters_he", folder=str(ASSIGNMENTS), namespace={"np": np})
    assert {r["status"] for r in report.results} == {"not_attempted"}
    assert "run its cell first" in repr(report)
