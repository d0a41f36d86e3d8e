"""Linking library models into app installs, and keeping those links healthy."""

from .apps import COMFYUI_MAPPING, AppInstall, discover_installs
from .health import HealthReport, Problem, apply_fixes, check_health
from .linker import Linker, LinkResult, LinkStatus
from .maintenance import execute_delete, plan_delete, relocate
from .registry import LinkKind, LinkRecord, LinkRegistry

__all__ = ["COMFYUI_MAPPING", "AppInstall", "HealthReport", "LinkKind", "LinkRecord", "LinkRegistry", "LinkResult",
           "LinkStatus", "Linker", "Problem", "apply_fixes", "check_health", "discover_installs",
           "execute_delete", "plan_delete", "relocate"]
