"""kdlib.course: what the notebooks call around the science core, on one face.

Profiles and notebook parameters (``configure``), the run folder and the typed records notebooks hand on through it,
the shipped models (``pretrained/``) and the lessons' own table and times. The command line's runner, sweeps and
reports (``kdlib.course.runner``, ``.sweep``, ``.report``, ``.cli``) are not imported here, so a notebook's
``from kdlib import course`` loads no papermill, Dask or YAML. It imports the core (``kdlib``); the core never
imports it. ``over_seeds``, ``target_checks``, ``generator_of`` and ``flow_space`` are the core's
(``kdlib.targets``, ``kdlib.evaluate``, ``kdlib.diffusion``), named here too for the notebooks that call them so.
"""

from kdlib.course.config import DISTILLATION_SWEEPS, PROFILES, SETTINGS, Config, configure, profile_table
from kdlib.course.lessons import course_table, study_time
from kdlib.course.records import (Artifact, ClassifierResult, Classifiers, DiffusionResult, Evaluation, EvaluationRow,
                                  LatentRow, NotebookRun, Provenance, RecordError, RulerRecord, RunDir, StudentRecord,
                                  Teacher, TemperaturePoint, evaluation_rows, run_teacher, student_record, teacher_name,
                                  trained_models)
from kdlib.course.shipped import (beside_shipped, classifier_teacher, flow_teacher, generative_teacher, load_shipped,
                                  ruler_for, shipped_ruler, shipped_teacher)
from kdlib.diffusion import flow_space
from kdlib.evaluate import generator_of
from kdlib.targets import OverSeeds, over_seeds, round_ratios, target_checks, target_rows

__all__ = ["DISTILLATION_SWEEPS", "PROFILES", "SETTINGS", "Config", "configure", "profile_table", "Artifact",
           "ClassifierResult", "Classifiers", "DiffusionResult", "Evaluation", "LatentRow", "EvaluationRow",
           "NotebookRun", "RecordError", "RulerRecord", "RunDir", "StudentRecord", "Teacher", "TemperaturePoint",
           "evaluation_rows", "generator_of", "student_record", "target_checks", "target_rows", "course_table",
           "study_time", "trained_models", "load_shipped", "ruler_for", "shipped_ruler", "Provenance",
           "classifier_teacher", "generative_teacher", "run_teacher", "shipped_teacher", "teacher_name",
           "beside_shipped", "flow_space", "flow_teacher", "OverSeeds", "over_seeds", "round_ratios"]
