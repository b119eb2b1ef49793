"""ROS 2 nodes of the embodied AI runtime; each is a thin adapter over embodied_ai."""
