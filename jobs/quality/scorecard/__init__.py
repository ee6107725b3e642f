"""The quality officers' scorecard: GB/T 36344-2018 indicators per prefecture x department.

:func:`build_scorecard` scores the lake, appends the run to ``quality/scorecard/history`` (Delta: the
trend) and writes ``quality/scorecard/index.html`` and ``quality/scorecard/scorecard.png``.
"""

from jobs.quality.scorecard.build import ScorecardResult, build_scorecard, report_paths

__all__ = ["ScorecardResult", "build_scorecard", "report_paths"]
