"""Linking library models into app installs (through each app kind's adapter in modelshelf.apps),
and keeping those entries healthy."""

from ..apps.base import AppInstall, LinkKind, LinkRecord
from ..apps.comfyui import COMFYUI_MAPPING
from .apps import discover_installs
from .health import HealthReport, Problem, apply_fixes, check_health
from .linker import Linker, LinkResult, LinkStatus
from .maintenance import execute_delete, plan_delete, relocate
from .registry import LinkRegistry

__all__ = ["COMFYUI_MAPPING", "AppInstall", "HealthReport", "LinkKind", "LinkRecord", "LinkRegistry", "LinkResult",
           "LinkStatus", "Linker", "Problem", "apply_fixes", "check_health", "discover_installs",
           "execute_delete", "plan_delete", "relocate"]
