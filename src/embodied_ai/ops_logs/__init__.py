"""Operations logs: every node's ``/rosout`` lines, stored in SQLite and queried by node, level and time
with cursor paging (seed 002's ``GET /ops/logs``)."""

from embodied_ai.ops_logs.models import LEVELS, OpsLogLine, from_ros_levels, level_name, service_of
from embodied_ai.ops_logs.store import MAX_PAGE, OpsLogStore, page_body

__all__ = ["LEVELS", "MAX_PAGE", "OpsLogLine", "OpsLogStore", "from_ros_levels", "level_name", "page_body",
           "service_of"]
