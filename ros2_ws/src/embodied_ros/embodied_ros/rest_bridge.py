"""REST bridge node: seed 000's HTTP API, SSE, WebSocket and the operator dashboard over the
live graph (FastAPI app in embodied_ai.bridge; its RobotGraph port is bridge_graph.RosGraph).

uvicorn runs in the main thread and owns SIGINT/SIGTERM (so the launcher's SIGINT drains open
requests); the rclpy executor spins in a thread. Binding beyond loopback is refused while no
API key exists (`embodied keys create`). The log line "serving on http://HOST:PORT" gives the
port actually bound (port 0 picks a free one, as the tests do).

Parameters: host (127.0.0.1), port (8000), state_dir ("" = $EMBODIED_STATE_DIR or
~/.local/state/embodied), anonymous_rate_limit, max_upload_mb, cors_origins ([] = CORS off),
dashboard, cameras, hardware_event_hz, camera_event_hz.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from pathlib import Path

import rclpy
import uvicorn
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.paths import state_dir as default_state_dir
from embodied_ai.bridge.settings import BridgeSettings, UnsafeBind, check_bind
from embodied_ros.bridge_graph import RosGraph


class RestBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__("rest_bridge")
        defaults = BridgeSettings(state_dir=Path("."))
        self.declare_parameter("host", defaults.host)
        self.declare_parameter("port", defaults.port)
        self.declare_parameter("state_dir", "")
        self.declare_parameter("anonymous_rate_limit", defaults.anonymous_rate_limit)
        self.declare_parameter("max_upload_mb", defaults.max_upload_bytes / 2**20)
        self.declare_parameter("cors_origins", [""])  # a string array; [""] or [] = CORS off
        self.declare_parameter("dashboard", defaults.dashboard)
        self.declare_parameter("cameras", defaults.cameras)
        self.declare_parameter("hardware_event_hz", defaults.hardware_event_hz)
        self.declare_parameter("camera_event_hz", defaults.camera_event_hz)

    def settings(self) -> BridgeSettings:
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        state_dir = value("state_dir")
        return BridgeSettings(
            host=value("host"), port=value("port"),
            state_dir=Path(state_dir).expanduser() if state_dir else default_state_dir(),
            anonymous_rate_limit=value("anonymous_rate_limit"),
            max_upload_bytes=int(float(value("max_upload_mb")) * 2**20),
            cors_origins=[o for o in value("cors_origins") if o],
            dashboard=value("dashboard"), cameras=list(value("cameras")),
            hardware_event_hz=value("hardware_event_hz"), camera_event_hz=value("camera_event_hz"))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # from here connections queue until uvicorn accepts them
    return sock


def main(args: list[str] | None = None) -> None:
    # uvicorn, not rclpy, handles SIGINT/SIGTERM: it stops serving, then we stop ROS.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = RestBridgeNode()
    log = node.get_logger()
    # Every callback only stores a message or completes a future: one thread is enough, and
    # it costs far less per message than a MultiThreadedExecutor at 200 Hz of joint_states.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, name="ros_executor", daemon=True)
    code = 0
    try:
        settings = node.settings()
        keys = ApiKeyStore.in_state_dir(settings.state_dir)
        check_bind(settings.host, keys.has_active_keys())
        graph = RosGraph(node, settings.cameras)
        spinner.start()
        sock = bind(settings.host, settings.port)
        host, port = sock.getsockname()[:2]
        auth = "API keys required" if keys.has_active_keys() else "no API key configured: loopback only, anonymous"
        log.info(f"serving on http://{host}:{port} ({auth}; keys in {keys.path})")
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        server = uvicorn.Server(uvicorn.Config(create_app(graph, settings, keys), log_level="info",
                                               access_log=False, ws_ping_interval=20))
        server.run(sockets=[sock])
    except (UnsafeBind, ValueError, OSError) as exc:
        log.fatal(str(exc))
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=2.0)
        if spinner.is_alive():
            spinner.join(timeout=2.0)  # exiting with it still in rclpy aborts the process
        node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
