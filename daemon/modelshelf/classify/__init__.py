"""Offline classification of model files and folders from their headers."""

from .folders import is_folder_model
from .hashes import HeaderHashes
from .kinds import Classification, Method, ModelFormat, ModelType
from .probe import MODEL_SUFFIXES, Probe, is_model_file, probe_file, probe_folder

__all__ = ["MODEL_SUFFIXES", "Classification", "HeaderHashes", "Method", "ModelFormat", "ModelType", "Probe",
           "is_folder_model", "is_model_file", "probe_file",
           "probe_folder"]
