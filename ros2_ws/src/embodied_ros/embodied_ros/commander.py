"""Commander node: transcripts addressed to the robot become commands for the experts.

Activation (parameter ``activation``): ``wake_phrase`` (a transcript that starts with one of
``wake_phrases``, or follows one said alone within ``follow_up_s``) or ``push_to_talk`` (an
utterance that overlaps a time the ``push_to_talk`` service held the button down). Typed
text on the ``command`` action needs no activation.

A command goes to the ``handle_command`` action (embodied_interfaces/HandleCommand), which
the experts node serves (issue 5): it decides what the words mean, validates and carries out
the robot actions, and answers with a reply. This node only speaks that reply (``speak``
action of the tts node) and reports it. While no ``handle_command`` server is running, the
reply says so and nothing moves; this node never moves the robot itself.

Endpoints (relative names):
  subscribes transcript (embodied_interfaces/Transcript)
  publishes  command_reply (embodied_interfaces/CommandReply, one per command)
  services   push_to_talk (std_srvs/SetBool: true = button down)
  actions    command (HandleCommand: typed text -> reply, spoken too)
  clients    handle_command (HandleCommand), speak (Speak)
Parameters: embodied_ai.speech.config.CommanderNodeConfig (``ros2 param describe commander <name>``).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from embodied_interfaces.action import HandleCommand, Speak
from embodied_interfaces.msg import CommandReply as CommandReplyMsg
from embodied_interfaces.msg import Transcript
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import SetBool

from embodied_ai.errors import ErrorCode, GraphTimeout, GraphUnavailable
from embodied_ai.speech.commander import (
    ActivationMode,
    Command,
    CommandReply,
    PushToTalkGate,
    WakePhraseGate,
    handler_missing_reply,
)
from embodied_ai.speech.config import CommanderNodeConfig
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.goal_client import Endpoint, run_goal
from embodied_ros.kit.goals import Ending, accept_goal, finish, refuse, reject_cancel
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import STATE
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.speech_conversions import NS_PER_S, time_to_ns


class HandleCommandClient:
    """The CommandHandler that hands commands to the ``handle_command`` action server."""

    def __init__(self, node: Node, action_name: str, server_wait_s: float, timeout_s: float) -> None:
        self._client = ThreadSafeActionClient(node, HandleCommand, action_name, callback_group=ReentrantCallbackGroup())
        self._endpoint = Endpoint(action_name, ErrorCode.EXPERT_NOT_READY,
                                  "the experts node is not running or not active", server_wait_s)
        self._timeout_s = timeout_s

    def handle(self, command: Command) -> CommandReply:
        goal = HandleCommand.Goal(text=command.text, normalized_text=command.normalized_text, source=command.source)
        try:
            result = run_goal(self._client, goal, self._endpoint, self._timeout_s)
        except GraphUnavailable as exc:  # no server, or one that refused the goal (not active)
            return handler_missing_reply(command, str(exc))
        except GraphTimeout:  # run_goal cancelled the goal
            return CommandReply(False, "Sorry, that took too long, so I stopped.", int(ErrorCode.TIMEOUT),
                                f"'{self._endpoint.name}' gave no result within {self._timeout_s:.0f} s")
        return CommandReply(result.success, result.reply, result.error_code, result.message,
                            result.actions_json or "[]", result.expert)


class CommanderNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("commander", **node_options)
        config = declare_parameters(self, CommanderNodeConfig)
        self._activation = config.activation
        self._wake = WakePhraseGate(config.wake_phrases, config.follow_up_s)
        self._push_to_talk = PushToTalkGate()
        self._gate_lock = threading.Lock()
        self._speak_replies = config.speak_replies
        self._handler = HandleCommandClient(self, config.handler_action, config.handler_wait_s,
                                            config.handler_timeout_s)
        self._speak = ThreadSafeActionClient(self, Speak, "speak", callback_group=ReentrantCallbackGroup())
        self._replies = self.create_publisher(CommandReplyMsg, "command_reply", STATE)
        gates = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Transcript, "transcript", self._on_transcript, STATE, callback_group=gates)
        self.create_service(SetBool, "push_to_talk", self._on_push_to_talk, callback_group=gates)
        self._action = ActionServer(self, HandleCommand, "command", self._execute_command,
                                    callback_group=ReentrantCallbackGroup(), goal_callback=accept_goal,
                                    cancel_callback=reject_cancel)
        # Spoken commands are handled one at a time, in the order they were said.
        self._commands: queue.Queue[Command | None] = queue.Queue()
        self._worker = threading.Thread(target=self._handle_spoken_commands, name="commander", daemon=True)
        self._worker.start()
        self.get_logger().info(f"ready: activation {self._activation.value}, wake phrases {self._wake.wake_phrases}")

    # -- activation ---------------------------------------------------------------------
    def _on_transcript(self, msg: Transcript) -> None:
        normalized = msg.normalized_text or normalize_command_text(msg.text)
        with self._gate_lock:
            if self._activation is ActivationMode.PUSH_TO_TALK:
                activation = self._push_to_talk.check(msg.text, normalized, time_to_ns(msg.start) / NS_PER_S,
                                                      time_to_ns(msg.end) / NS_PER_S)
            else:
                activation = self._wake.check(msg.text, normalized)
        if activation.listening:
            self.get_logger().info(f"wake phrase heard; the next {self._wake.follow_up_s:.0f} s are a command")
        elif activation.command is None:
            self.get_logger().debug(f"ignored '{msg.text}': {activation.reason}")
        else:
            self._commands.put(activation.command)

    def _on_push_to_talk(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        now = self.get_clock().now().nanoseconds / NS_PER_S
        with self._gate_lock:
            (self._push_to_talk.press if request.data else self._push_to_talk.release)(now)
        response.success = self._activation is ActivationMode.PUSH_TO_TALK
        response.message = ("talking" if request.data else "released") if response.success else \
            f"activation is '{self._activation.value}'; push_to_talk has no effect"
        return response

    # -- handing commands on ------------------------------------------------------------
    def _handle_spoken_commands(self) -> None:
        while (command := self._commands.get()) is not None:
            try:
                self._run(command)
            except Exception as exc:  # one bad command must not end spoken commands for good
                self.get_logger().error(f"command '{command.text}' failed: {exc!r}")

    def _run(self, command: Command) -> CommandReply:
        self.get_logger().info(f"command ({command.source}): '{command.text}'")
        reply = self._handler.handle(command)
        message = CommandReplyMsg(heard=command.heard, command=command.text, success=reply.success,
                                  reply=reply.reply, error_code=int(reply.error_code), message=reply.message)
        message.header.stamp = self.get_clock().now().to_msg()
        self._replies.publish(message)
        # rclpy refuses one call site logging at two severities, hence two calls.
        summary = f"reply: '{reply.reply}' ({reply.error_code}: {reply.message})"
        if reply.success:
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        if self._speak_replies and reply.reply:
            self._say(reply.reply)
        return reply

    def _say(self, text: str) -> None:
        if not self._speak.server_is_ready():
            self.get_logger().warning("no tts node (speak action); the reply is not spoken")
            return
        self._speak.send_goal_async(Speak.Goal(text=text, play=True))

    def _execute_command(self, goal_handle: ServerGoalHandle) -> HandleCommand.Result:
        request = goal_handle.request
        command = Command(request.text, request.text,
                          request.normalized_text or normalize_command_text(request.text), request.source or "text")
        result = HandleCommand.Result()
        if not command.normalized_text:
            return refuse(goal_handle, result, ErrorCode.INFERENCE_FAILED, "the command has no words")
        reply = self._run(command)
        result.reply, result.actions_json, result.expert = reply.reply, reply.actions_json, reply.expert
        return finish(goal_handle, result, Ending.SUCCEEDED if reply.success else Ending.ABORTED, reply.error_code,
                      reply.message)

    def shutdown(self) -> None:
        self._commands.put(None)
        self._worker.join(timeout=5.0)
        self._action.destroy()


def component(**node_options: Any) -> Component:
    node = CommanderNode(**node_options)
    return Component(node, threads=3, stop=node.shutdown)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
