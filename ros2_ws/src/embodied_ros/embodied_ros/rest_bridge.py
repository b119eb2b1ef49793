"""REST bridge node: the Robot API's HTTP API, SSE, WebSocket and the operator dashboard over the
live graph (the FastAPI app of embodied_ai.bridge over the ports of embodied_ros.bridge).

uvicorn runs in the main thread and owns SIGINT/SIGTERM (so the launcher's SIGINT drains open
requests); the rclpy executor spins in a thread. Binding beyond loopback is refused while no
API key exists (`embodied keys create`). The log line "serving on http://HOST:PORT" gives the
port actually bound (port 0 picks a free one, as the tests do).

Parameters: those of embodied_ai.bridge.settings.RestBridgeConfig (host, port, state_dir,
anonymous_rate_limit, max_upload_mb, cors_origins, dashboard, cameras, hardware_event_hz,
camera_event_hz) and, as ``timeouts.<name>``, those of BridgeTimeouts (how long a request waits
for the graph, seconds); `ros2 param describe` says what each one means.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

import rclpy
import uvicorn
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.settings import BridgeTimeouts, RestBridgeConfig, UnsafeBind, check_bind
from embodied_ai.bridge.users import UserStore
from embodied_ai.paths import state_dir as default_state_dir
from embodied_ros.bridge import ros_ports
from embodied_ros.kit.parameters import declare_parameters


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets it knows are TCP. Without it a
    # response's body waits for the client's delayed ACK behind its headers (~40 ms a request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # from here connections queue until uvicorn accepts them
    return sock


def serve(node: Node, spinner: threading.Thread) -> None:
    """Read the parameters, make the ports, start the executor's thread and serve until SIGINT."""
    log = node.get_logger()
    settings = declare_parameters(node, RestBridgeConfig).settings(default_state_dir())
    timeouts = declare_parameters(node, BridgeTimeouts, prefix="timeouts")
    keys = ApiKeyStore.in_state_dir(settings.state_dir)
    credentials = keys.has_active_keys() or UserStore.in_state_dir(settings.state_dir).has_users()
    check_bind(settings.host, credentials)
    ports = ros_ports(node, settings.cameras, timeouts)
    spinner.start()
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    auth = "API keys or tokens required" if credentials else "no API key or user: loopback only, anonymous"
    log.info(f"serving on http://{host}:{port} ({auth}; keys in {keys.path})")
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    server = uvicorn.Server(uvicorn.Config(create_app(ports, settings, keys), log_level="info", access_log=False,
                                           ws_ping_interval=20))
    server.run(sockets=[sock])


def main(args: list[str] | None = None) -> None:
    # uvicorn, not rclpy, handles SIGINT/SIGTERM: it stops serving, then we stop ROS.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = Node("rest_bridge")
    # Every callback only stores a message or completes a future: one thread is enough, and
    # it costs far less per message than a MultiThreadedExecutor at 200 Hz of joint_states.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, name="ros_executor", daemon=True)
    code = 0
    try:
        serve(node, spinner)
    except (UnsafeBind, ValueError, OSError) as exc:  # ValueError: a parameter out of its range
        node.get_logger().fatal(str(exc))
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
