"""kdlib.course: the course machinery around the science core, on one face.

Profiles and notebook parameters (``configure``), the run folder and the typed
records notebooks hand on through it, the notebook runner, sweeps, reports and the
shipped models (``pretrained/``).
It imports the core (``kdlib``); the core never imports it.
"""

from kdlib.course.config import DISTILLATION_SWEEPS, PROFILES, SETTINGS, Config, configure, profile_table
from kdlib.course.records import (Artifact, ClassifierResult, Classifiers, DiffusionResult, Evaluation, EvaluationRow,
                                  LatentRow, NotebookRun,
                                  RecordError, RulerRecord, RunDir, StudentRecord, Teacher, TemperaturePoint,
                                  Provenance, evaluation_rows, generator_of, run_teacher, student_record, teacher_name,
                                  trained_models)
from kdlib.course.report import OverSeeds, over_seeds, round_ratios, target_checks, target_rows
from kdlib.course.runner import course_table, study_time
from kdlib.course.shipped import (beside_shipped, classifier_teacher, flow_space, flow_teacher, generative_teacher, load_shipped, ruler_for, shipped_ruler,
                                  shipped_teacher)

__all__ = ["DISTILLATION_SWEEPS", "PROFILES", "SETTINGS", "Config", "configure", "profile_table", "Artifact", "ClassifierResult",
           "Classifiers", "DiffusionResult", "Evaluation", "LatentRow", "EvaluationRow", "NotebookRun", "RecordError", "RulerRecord", "RunDir",
           "StudentRecord", "Teacher", "TemperaturePoint", "evaluation_rows", "generator_of", "student_record", "target_checks",
           "target_rows", "course_table", "study_time", "trained_models", "load_shipped", "ruler_for", "shipped_ruler",
           "Provenance", "classifier_teacher", "generative_teacher", "run_teacher", "shipped_teacher",
           "teacher_name", "beside_shipped", "flow_space", "flow_teacher", "OverSeeds", "over_seeds", "round_ratios"]
