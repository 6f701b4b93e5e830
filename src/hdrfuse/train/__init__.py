"""Training: YAML config -> task (model + samples + losses) -> checkpoints; CPU/GPU, DDP."""

from .checkpoint import load_weights, read_metadata, save_weights
from .tasks import TASKS, get_task
from .trainer import load_config, train

__all__ = ["TASKS", "get_task", "load_config", "load_weights", "read_metadata", "save_weights", "train"]
