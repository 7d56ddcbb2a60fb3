"""Follow-up and pathology tracking (随访): exams marked for follow-up, the clinical and
pathology outcome, and whether imaging and pathology agree.

:class:`Followup` is the service (the web adapter and the HL7 adapter's ORU^R01 mapping call
it); the report keeps what it shows (pathology result, outcome, agreement), this domain's
tables (:mod:`.tables`) the mark, the clinical facts and every pathology result received."""

from core_server.followup.models import STATES, Case, PathologyIn, PathologyResult
from core_server.followup.service import Followup

__all__ = ["STATES", "Case", "Followup", "PathologyIn", "PathologyResult"]
