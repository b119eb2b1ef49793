"""The node kit: what every node of this package does the same way, written once.

- ``goals``: an action server accepts goals while it serves (``accept_while``) and ends a goal
  (success, refusal, cancel) with an error code of the Robot API (embodied_ai.errors.ErrorCode).
- ``goal_client``: send a goal, stream its feedback, wait with a timeout, cancel on timeout;
  one blocking form for worker threads and one asyncio form for the REST bridge.
- ``services``: a Trigger-like service answered with success and a message or the reason.
- ``detections``: the one codec of embodied_interfaces/Detection2DArray.
- ``parameters``: ROS parameters declared from the core library's config models (type,
  default, range and description in a ParameterDescriptor).
- ``lifecycle``: a lifecycle node that configures and activates itself (``autostart``);
  ``endpoints``: what it created while configuring, destroyed together at cleanup.
- ``latest``: the newest message of a fast topic, taken on demand (no executor wake-ups).
- ``spin``: spinning and clean shutdown, and a node's own threads (``Workers``: a failed one
  ends the node with exit status 1 for the launcher to restart it).
- ``action_client``, ``qos``: a thread-safe action client, the QoS profiles.
"""
