"""Embodied AI runtime: the ROS-free core library.

Everything here is importable and testable without a ROS graph; the nodes in
``ros2_ws/src/embodied_ros`` are thin adapters over it.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # `from embodied_ai import Client` (the Robot API's SDK example) without making every node that
    # imports embodied_ai load httpx and the bridge's models.
    if name == "Client":
        from embodied_ai.sdk import Client

        return Client
    raise AttributeError(f"module 'embodied_ai' has no attribute {name!r}")
