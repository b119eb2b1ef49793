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
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import rclpy
from embodied_interfaces.action import HandleCommand, Speak
from embodied_interfaces.msg import CommandReply as CommandReplyMsg
from embodied_interfaces.msg import Transcript
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import SetBool

from embodied_ai.errors import ErrorCode
from embodied_ai.speech.commander import (
    DEFAULT_WAKE_PHRASES, ActivationMode, Command, CommandReply, PushToTalkGate, WakePhraseGate,
    handler_missing_reply)
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.qos import STATE
from embodied_ros.speech_conversions import NS_PER_S, time_to_ns
from embodied_ros.kit.spin import spin_until_shutdown


def _wait(future: Any, timeout_s: float) -> bool:
    """Block this (non-executor) thread until ``future`` is done or ``timeout_s`` passes."""
    done = threading.Event()
    future.add_done_callback(lambda _future: done.set())
    return done.wait(timeout_s)


class HandleCommandClient:
    """The CommandHandler that hands commands to the ``handle_command`` action server."""

    def __init__(self, node: Node, action_name: str, server_wait_s: float, timeout_s: float) -> None:
        self._client = ThreadSafeActionClient(node, HandleCommand, action_name, callback_group=ReentrantCallbackGroup())
        self._name, self._server_wait_s, self._timeout_s = action_name, server_wait_s, timeout_s

    def handle(self, command: Command) -> CommandReply:
        if not self._client.wait_for_server(timeout_sec=self._server_wait_s):
            return handler_missing_reply(command, f"no '{self._name}' action server is running (the experts node)")
        goal = HandleCommand.Goal(text=command.text, normalized_text=command.normalized_text, source=command.source)
        sent = self._client.send_goal_async(goal)
        if not _wait(sent, self._timeout_s) or not sent.result().accepted:
            return handler_missing_reply(command, f"'{self._name}' did not accept the command")
        finished = sent.result().get_result_async()
        if not _wait(finished, self._timeout_s):
            sent.result().cancel_goal_async()
            return CommandReply(False, "Sorry, that took too long, so I stopped.", int(ErrorCode.TIMEOUT),
                                f"'{self._name}' gave no result within {self._timeout_s:.0f} s")
        r = finished.result().result
        return CommandReply(r.success, r.reply, r.error_code, r.message, r.actions_json or "[]", r.expert)


class CommanderNode(Node):
    def __init__(self) -> None:
        super().__init__("commander")
        self.declare_parameter("activation", ActivationMode.WAKE_PHRASE.value)
        self.declare_parameter("wake_phrases", list(DEFAULT_WAKE_PHRASES))
        self.declare_parameter("follow_up_s", 5.0)
        self.declare_parameter("handler_action", "handle_command")
        self.declare_parameter("handler_wait_s", 1.0)
        self.declare_parameter("handler_timeout_s", 60.0)
        self.declare_parameter("speak_replies", True)
        self._activation = ActivationMode(self.get_parameter("activation").value)
        self._wake = WakePhraseGate(list(self.get_parameter("wake_phrases").value),
                                    float(self.get_parameter("follow_up_s").value))
        self._push_to_talk = PushToTalkGate()
        self._gate_lock = threading.Lock()
        self._speak_replies = bool(self.get_parameter("speak_replies").value)
        self._handler = HandleCommandClient(
            self, str(self.get_parameter("handler_action").value), float(self.get_parameter("handler_wait_s").value),
            float(self.get_parameter("handler_timeout_s").value))
        self._speak = ThreadSafeActionClient(self, Speak, "speak", callback_group=ReentrantCallbackGroup())
        self._replies = self.create_publisher(CommandReplyMsg, "command_reply", STATE)
        gates = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Transcript, "transcript", self._on_transcript, STATE, callback_group=gates)
        self.create_service(SetBool, "push_to_talk", self._on_push_to_talk, callback_group=gates)
        self._action = ActionServer(
            self, HandleCommand, "command", self._execute_command, callback_group=ReentrantCallbackGroup(),
            goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _goal: CancelResponse.REJECT)
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
            result.error_code, result.message = int(ErrorCode.INFERENCE_FAILED), "the command has no words"
            goal_handle.abort()
            return result
        reply = self._run(command)
        result.success, result.reply, result.error_code = reply.success, reply.reply, int(reply.error_code)
        result.message, result.actions_json, result.expert = reply.message, reply.actions_json, reply.expert
        if reply.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return result

    def shutdown(self) -> None:
        self._commands.put(None)
        self._worker.join(timeout=5.0)
        self._action.destroy()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = CommanderNode()
    spin_until_shutdown(node, threads=3, before_destroy=node.shutdown)


if __name__ == "__main__":
    main()
