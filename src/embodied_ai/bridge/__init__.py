"""The REST bridge's core: a FastAPI app (the Robot API) over the graph's ports (``bridge.ports``).

ROS-free: the bridge node (``embodied_ros.rest_bridge``) implements the ports with rclpy and
serves the app with uvicorn. Entry point: ``embodied_ai.bridge.app.create_app``.
"""
