"""Adoption: the models already inside app installs brought into the library where they lie,
deduplicated, each app file replaced by a link in one rename, nothing lost at any instant."""

from .action import AdoptProgress, adopt, adopt_in_daemon, as_import_progress, targets
from .execute import FileResult, Outcome
from .plan import AdoptPlan, Decision, PlannedModel
from .recover import recover_adoptions
from .report import AdoptReport, lines, to_dict
from .scan import ScanResult, SkipReason, scan

__all__ = ["AdoptPlan", "AdoptProgress", "AdoptReport", "Decision", "FileResult", "Outcome", "PlannedModel",
           "ScanResult", "SkipReason", "adopt", "adopt_in_daemon", "as_import_progress", "lines",
           "recover_adoptions", "scan", "targets", "to_dict"]
