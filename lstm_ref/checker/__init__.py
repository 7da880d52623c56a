"""The checker: validate an implementation against the golden vectors.

- :func:`check` runs an implementation (a callable following a layout's contract)
  on a suite; :func:`check_results` judges outputs computed elsewhere.
- The verdict uses a per-element bound from a running error analysis along the exact
  trajectory, for a compute profile (:data:`PROFILES`); docs/tolerances.md.
- On failure, named mistakes are tested and reported in :attr:`Report.diagnoses`.
"""

from lstm_ref.checker.profiles import PROFILES, Profile, profile_for
from lstm_ref.checker.report import CaseReport, OutputReport, Report
from lstm_ref.checker.run import check, check_results

__all__ = [
    "PROFILES",
    "CaseReport",
    "OutputReport",
    "Profile",
    "Report",
    "check",
    "check_results",
    "profile_for",
]
