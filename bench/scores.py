"""Pure comparisons of per-notebook scores: between two grader runs, against the class plan,
and between another runner and this grader."""
from __future__ import annotations

from pathlib import Path

from make_class import Submission

Key = tuple[str, str]  # (student, notebook file name)


def result_key(result: dict) -> Key:
    return (result["student"], Path(result["source"]["path"]).name)


def scores_of(results: list[dict]) -> dict[Key, tuple[str, float]]:
    """(student, notebook file) -> (status, score) for each grader result."""
    return {result_key(r): (r["status"], float(r["score"])) for r in results}


def score_differences(first: dict[Key, tuple], second: dict[Key, tuple]) -> list[str]:
    """One line per notebook whose status or score is not the same in both runs; empty when identical."""
    lines = []
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if a != b:
            lines.append(f"{key[0]}/{key[1]}: {_shown(a)} in the first run, {_shown(b)} in the second")
    return lines


def _shown(entry: tuple | None) -> str:
    return "no result" if entry is None else f"{entry[1]:g} ({entry[0]})"


def plan_mismatches(plan: list[Submission], scores: dict[Key, tuple]) -> list[str]:
    """Notebooks whose score is not the one the class plan says they must get."""
    lines = []
    for s in plan:
        got = scores.get((s.student, s.notebook))
        if got is None or abs(got[1] - s.expected_score) > 1e-9:
            lines.append(f"{s.path} ({s.kind}, {s.scenario}): expected {s.expected_score:g}, got {_shown(got)}")
    return lines


def agreement(plan: list[Submission], students: list[str], theirs: dict[Key, float],
              ours: dict[Key, tuple], name: str) -> tuple[int, int, list[str]]:
    """On the sampled students' notebooks: how many another runner scored as this grader did.

    A notebook the other runner has no score for counts as 0 (it could not grade it).
    """
    same, lines = 0, []
    checked = [s for s in plan if s.student in students]
    for s in checked:
        other = theirs.get((s.student, s.notebook), 0.0)
        mine = ours.get((s.student, s.notebook))
        if mine is not None and abs(other - mine[1]) < 1e-9:
            same += 1
        else:
            lines.append(f"{s.path} ({s.scenario}): {name} {other:g}, this grader {_shown(mine)}")
    return same, len(checked), lines
