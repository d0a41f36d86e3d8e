"""Offline classification of model files and folders from their headers."""

from .folders import is_folder_model
from .hashes import HeaderHashes, autov2, is_autov2, matches_autov2
from .kinds import Classification, Method, ModelFormat, ModelType
from .probe import MODEL_SUFFIXES, Probe, is_model_file, probe_file, probe_folder

__all__ = ["MODEL_SUFFIXES", "Classification", "HeaderHashes", "Method", "ModelFormat", "ModelType", "Probe",
           "autov2", "is_autov2", "is_folder_model", "is_model_file", "matches_autov2", "probe_file",
           "probe_folder"]
