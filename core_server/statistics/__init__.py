"""Department statistics (科室统计): figures over the RIS, reporting, queueing and archive data
of a range of hospital days, with the exam list behind each row, and their Excel and PDF
exports. One figure shape (:mod:`.figures`) serves the page, the API and the files.

Figure modules register themselves on import; add a new one to the import list below.
"""

# Each figure module registers its figures when imported.
from core_server.statistics import (  # noqa: F401
    agreement,
    closedloop,
    discs,
    doctors,
    film,
    positive,
    quality,
    requests,
    revenue,
    turnaround,
    volume,
    workload,
)
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import DIMENSIONS, Filters
from core_server.statistics.service import Statistics

__all__ = [
    "DIMENSIONS",
    "Chart",
    "Column",
    "Figure",
    "Filters",
    "Statistics",
    "drill_condition",
    "figure",
    "ratio",
]
