"""kdlib: the small library behind the kd-imagegen course (one concept per module)."""

from kdlib.batches import Batches
from kdlib.config import PROFILES, SETTINGS, Config, configure, seed_everything
from kdlib.data import DATASETS, DataError, DataNotFoundError, load
from kdlib.plots import image_grid
from kdlib.progress import progress
from kdlib.runs import CheckpointError, RunDir, load_checkpoint, load_weights, save_checkpoint

__all__ = [
    "Batches", "PROFILES", "SETTINGS", "Config", "configure", "seed_everything",
    "DATASETS", "DataError", "DataNotFoundError", "load", "image_grid", "progress",
    "CheckpointError", "RunDir", "load_checkpoint", "load_weights", "save_checkpoint",
]
