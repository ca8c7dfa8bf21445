"""Synthetic classes as an LMS hands them out, built from the scenario notebooks.

Each member hands in scenario notebooks (tests/submissions/), so the grade each must get
is known in advance: full marks minus the points of the checks its scenario loses
(tests/submissions/scenarios.json), 0 for an untouched or truncated notebook.

* ``canvas_zips(folder)``: one "Download Submissions" zip per assignment (plus the ``STRAY``
  files unless ``strays=()``), files named
  ``doejane_101_5001_Initialization.ipynb``, ``doejane_LATE_…`` for late work and
  ``…_Optimization_methods-1.ipynb`` for a resubmission;
* ``moodle_zips(folder)``: one "Download all submissions" zip per assignment, folders
  ``Jane Doe_<participant>_assignsubmission_file_/`` (Moodle numbers participants anew in
  every assignment);
* ``expected_totals(members, catalog)``: the total each student must get;
* ``synthetic_class(n)``: n members cycling through the scenarios (for timing runs).

Run it to write a class to disk: ``python tests/lms_class.py canvas 100 /tmp/class100``.
"""
from __future__ import annotations

import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SCENARIOS = {s["file"][:-len(".ipynb")]: s for s in json.loads((SUBMISSIONS / "scenarios.json").read_text())}
TRUNCATED = "truncated"  # not a scenario: the first third of a good notebook, unreadable

INIT, GC, OPT = "Initialization", "Gradient_Checking", "Optimization_methods"
NOTEBOOK = {INIT: "Initialization.ipynb", GC: "Gradient_Checking.ipynb", OPT: "Optimization_methods.ipynb"}


@dataclass(frozen=True)
class Hand:
    """One file a member handed in for one assignment."""

    assignment: str           # INIT, GC or OPT
    scenario: str             # a scenario name, or TRUNCATED
    attempt: int = 0          # 0 the first; a later attempt replaces it
    late: bool = False
    file_name: str = ""       # the student's own file name (default: the assignment's notebook)


@dataclass(frozen=True)
class Member:
    name: str
    lms_id: str
    hands: tuple[Hand, ...] = ()
    section: str = "A"
    extra_files: tuple[str, ...] = field(default=())  # other files they uploaded (not notebooks)

    @property
    def login(self) -> str:
        """Canvas's name part: family name then given names, lower case, letters only."""
        parts = self.name.lower().split()
        return "".join(ch for ch in parts[-1] + "".join(parts[:-1]) if ch.isalnum())

    @property
    def email(self) -> str:
        return f"{self.login}@example.edu"


# A small class: every kind of intake case, few notebooks (each one starts a kernel).
SMALL_CLASS = (
    Member("Jane Doe", "101", (Hand(INIT, "init_reference_code"), Hand(GC, "gc_reference_code"),
                               Hand(OPT, "opt_reference_code"))),
    Member("Omar Farouk", "102", (Hand(INIT, "init_xavier_scale"), Hand(GC, "gc_divides_by_epsilon"),
                                  Hand(OPT, "opt_adam_no_bias_correction", late=True)), section="B"),
    Member("Li Wei", "103", (Hand(INIT, "init_released_untouched", file_name="my init work.ipynb"),
                             Hand(OPT, "opt_released_untouched"),
                             Hand(OPT, "opt_written_differently", attempt=1)),
           extra_files=("notes.txt",)),
    Member("Ana Souza", "104", (Hand(GC, "gc_seed_student"), Hand(INIT, TRUNCATED)), section="B"),
)
# Files no preset can attribute, added to every download.
STRAY = {"README.ipynb": "a notebook the LMS did not name after anyone"}


def notebook_bytes(scenario: str) -> bytes:
    if scenario == TRUNCATED:
        text = (SUBMISSIONS / "opt_reference_code.ipynb").read_bytes()
        return text[: len(text) // 3]
    return (SUBMISSIONS / f"{scenario}.ipynb").read_bytes()


def own_name(hand: Hand) -> str:
    name = hand.file_name or NOTEBOOK[hand.assignment]
    if hand.attempt:  # Canvas keeps later attempts apart with a '-n' suffix
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{hand.attempt}.{ext}"
    return name


def canvas_zips(folder: Path, members=SMALL_CLASS, strays=STRAY) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number, assignment in enumerate((INIT, GC, OPT)):
        path = folder / f"canvas_{assignment.lower()}_submissions.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for m in members:
                for hand in (h for h in m.hands if h.assignment == assignment):
                    late = "_LATE" if hand.late else ""
                    submission = 5000 + 100 * number + int(m.lms_id) % 100
                    name = f"{m.login}{late}_{m.lms_id}_{submission}_{own_name(hand)}"
                    zf.writestr(_entry(name, hand.attempt), notebook_bytes(hand.scenario))
                if number == 0:
                    for extra in m.extra_files:
                        zf.writestr(f"{m.login}_{m.lms_id}_{5999}_{extra}", b"my notes\n")
            if number == 0:
                for stray in strays:
                    zf.writestr(stray, notebook_bytes("init_reference_code"))
        made.append(path)
    return made


def moodle_zips(folder: Path, members=SMALL_CLASS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number, assignment in enumerate((INIT, GC, OPT)):
        path = folder / f"moodle_{assignment.lower()}_submissions.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for index, m in enumerate(members):
                participant = 40000 + 37 * number + index  # a new number in every assignment
                prefix = f"{m.name}_{participant}_assignsubmission_file_"
                # Moodle's download holds the latest attempt only.
                hands = [h for h in m.hands if h.assignment == assignment]
                if hands:
                    hand = max(hands, key=lambda h: h.attempt)
                    zf.writestr(_entry(f"{prefix}/{hand.file_name or NOTEBOOK[assignment]}", 0),
                                notebook_bytes(hand.scenario))
                if number == 0:
                    for extra in m.extra_files:
                        zf.writestr(f"{m.name}_{participant}_assignsubmission_onlinetext_/{extra}", b"my notes\n")
            if number == 0:
                for stray in STRAY:
                    zf.writestr(stray, notebook_bytes("init_reference_code"))
        made.append(path)
    return made


def _entry(name: str, attempt: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 3, 1 + attempt, 12, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def roster_csv(path: Path, members=SMALL_CLASS) -> Path:
    lines = ["name,lms_id,sis_id,sis_login,section,email,username"]
    for m in members:
        lines.append(f"{m.name},{m.lms_id},S{m.lms_id},{m.login},{m.section},{m.email},{m.login}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def latest_hands(member: Member) -> dict[str, Hand]:
    latest: dict[str, Hand] = {}
    for hand in sorted(member.hands, key=lambda h: h.attempt):
        latest[hand.assignment] = hand
    return latest


def expected_score(hand: Hand, catalog) -> float:
    if hand.scenario == TRUNCATED:
        return 0.0
    scenario = SCENARIOS[hand.scenario]
    if scenario["untouched"]:
        return 0.0
    spec = catalog.get(scenario["notebook"])
    return spec.points - sum(c.points for c in spec.checks if c.name in scenario["loses"])


def expected_scores(member: Member, catalog) -> dict[str, float]:
    """assignment slug -> score, for the latest attempt of each assignment."""
    return {catalog.get(NOTEBOOK[a]).slug: expected_score(h, catalog) for a, h in latest_hands(member).items()}


def expected_totals(members, catalog, *, key: str = "lms_id") -> dict[str, float]:
    """Student key -> total: Canvas knows students by id (``key='lms_id'``), Moodle by name."""
    return {getattr(m, key): sum(expected_scores(m, catalog).values()) for m in members}


def synthetic_class(n: int) -> tuple[Member, ...]:
    """n members; member i hands in the i-th scenario of each assignment, cycling."""
    by_assignment = {a: [name for name, s in SCENARIOS.items() if s["notebook"] == NOTEBOOK[a]]
                     for a in (INIT, GC, OPT)}
    members = []
    for i in range(n):
        hands = tuple(Hand(a, names[i % len(names)]) for a, names in by_assignment.items())
        members.append(Member(f"Student{i:03d} Synthetic", str(1000 + i), hands, section="AB"[i % 2]))
    return tuple(members)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("canvas", "moodle") or not argv[1].isdigit():
        print("usage: python tests/lms_class.py canvas|moodle N FOLDER", file=sys.stderr)
        return 2
    kind, n, folder = argv[0], int(argv[1]), Path(argv[2])
    members = synthetic_class(n)
    zips = (canvas_zips if kind == "canvas" else moodle_zips)(folder, members)
    roster_csv(folder / "roster.csv", members)
    for path in zips:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
