"""The speech nodes as an outside ROS client sees them: audio in, transcripts out, speak and
transcribe actions, and a spoken command that gets an honest reply while nothing moves.

The audio is made by piper in this process (tests/speech_corpus.py) and published on /audio
the way a microphone node would: 100 ms chunks with consistent stamps.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
from action_msgs.msg import GoalStatus
from embodied_interfaces.action import HandleCommand, Speak, Transcribe
from embodied_interfaces.msg import AudioData, CommandReply, Transcript
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

from embodied_ai.speech.audio import Audio, chunked, concatenate, decode_audio, silence, to_wav_bytes
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ros.kit.qos import AUDIO
from embodied_ros.speech_conversions import NS_PER_S, audio_msg, ns_to_time, time_to_ns
from tests.graph.ros_client import LATCHED_QOS
from tests.speech_corpus import assert_heard, make_synthesizer, speak

SPEECH_READY_TIMEOUT_S = 90.0
HANDLER_TIMEOUT_S = 90.0  # the experts node generates the reply: slow on a busy 2-core machine
SPEECH_TOPICS = {
    "/audio": "embodied_interfaces/msg/AudioData",
    "/transcript": "embodied_interfaces/msg/Transcript",
    "/speech_audio": "embodied_interfaces/msg/AudioData",
    "/speaking": "std_msgs/msg/Bool",
    "/command_reply": "embodied_interfaces/msg/CommandReply",
}
SPEECH_ACTIONS = ("/transcribe", "/speak", "/command")


@pytest.fixture(scope="module")
def synthesizer():
    return make_synthesizer()


@pytest.fixture(scope="module")
def speech(graph, client):
    """The asr and tts nodes have loaded their models."""
    graph.wait_for_output(r"\[asr\]: ready", SPEECH_READY_TIMEOUT_S)
    graph.wait_for_output(r"\[tts\]: ready", SPEECH_READY_TIMEOUT_S)
    client.wait_until(lambda: all(t in client.topics() for t in SPEECH_TOPICS), 20, "the speech topics")
    return client


def publish_as_microphone(client, audio: Audio, stamped: bool = True) -> tuple[int, int]:
    """Publish ``audio`` in 100 ms chunks with stamps 100 ms apart (or none: stamp 0, which a
    simple microphone driver may send); returns the (first, end) stream times in ns."""
    wait_until_quiet(client)
    publisher = client.publisher(AudioData, "/audio", AUDIO)
    client.wait_until(lambda: publisher.get_subscription_count() > 0, 10, "the asr node's audio subscription")
    start_ns = client.node.get_clock().now().nanoseconds
    at_ns = start_ns
    for chunk in chunked(audio, 0.1):
        publisher.publish(audio_msg(chunk, ns_to_time(at_ns if stamped else 0), frame_id="test_microphone"))
        at_ns += round(chunk.duration_s * NS_PER_S)
        time.sleep(0.02)  # faster than real time, as a replayed recording would be
    client.node.destroy_publisher(publisher)
    return start_ns, at_ns


def wait_until_quiet(client, timeout: float = 120.0) -> None:
    """The asr node does not listen while the robot speaks (a reply of an earlier test may still be
    being spoken), so audio is sent only once /speaking is false."""
    client.collect(Bool, "/speaking", timeout, LATCHED_QOS, until=lambda ms: bool(ms) and not ms[-1].data)
    assert not client.latest(Bool, "/speaking", qos=LATCHED_QOS).data, "the robot is still speaking"


def with_pauses(clip: Audio, before_s: float = 0.6, after_s: float = 1.2) -> Audio:
    return concatenate([silence(before_s, clip.sample_rate), clip, silence(after_s, clip.sample_rate)])


def run_patiently(client, action_type, name: str, goal, timeout: float = HANDLER_TIMEOUT_S):
    """An action call with room for a busy machine (the default goal-response wait is 10 s)."""
    handle = client.send_goal(action_type, name, goal, timeout=timeout)
    assert handle.accepted, f"{name} goal was not accepted"
    return client.result(handle, timeout)


def test_speech_topics_and_actions_have_the_documented_names_and_types(speech):
    topics = speech.topics()
    for name, msg_type in SPEECH_TOPICS.items():
        assert topics[name] == [msg_type], name
    services = speech.services()
    for action in SPEECH_ACTIONS:
        assert f"{action}/_action/send_goal" in services, action
    assert services["/push_to_talk"] == ["std_srvs/srv/SetBool"]


def test_audio_on_the_topic_comes_back_as_a_transcript(speech, synthesizer):
    text = "Move the left elbow to ninety degrees."
    # A 48 kHz stereo microphone: the node folds and resamples it.
    clip = with_pauses(speak(synthesizer, text)).resampled(48_000)
    stereo = Audio(np.stack([clip.samples, clip.samples], axis=1), 48_000)
    received: list[Transcript] = []
    subscription = speech.node.create_subscription(Transcript, "/transcript", received.append, 10)
    try:
        start_ns, end_ns = publish_as_microphone(speech, stereo)
        speech.wait_until(lambda: received, 30, "a transcript")
    finally:
        speech.node.destroy_subscription(subscription)
    transcript = received[0]
    assert normalize_command_text(text) == "move the left elbow to 90 degrees"
    assert_heard(transcript.normalized_text, "move the left elbow to 90 degrees", ["move", "left", "elbow", "90"])
    assert transcript.language == "en" and 0.3 < transcript.confidence <= 1.0
    assert transcript.header.frame_id == "test_microphone"
    # Utterance times are on the stream's clock: inside what was sent, after the lead-in silence.
    assert start_ns + 0.2 * NS_PER_S <= time_to_ns(transcript.start) < time_to_ns(transcript.end) <= end_ns


def test_transcribe_action_takes_file_bytes_and_paths(speech, synthesizer, tmp_path):
    clip = speak(synthesizer, "Open both grippers and wait two seconds.")
    said = "open both grippers and wait 2 seconds"
    feedback: list[Transcribe.Feedback] = []
    response = speech.run(Transcribe, "/transcribe", Transcribe.Goal(encoded_audio=to_wav_bytes(clip)), feedback)
    assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
    assert_heard(response.result.normalized_text, said, ["open", "grippers", "2", "seconds"])
    assert response.result.duration_s == pytest.approx(clip.duration_s, abs=0.01)
    assert feedback and feedback[-1].progress > 0 and response.result.segments

    ogg = tmp_path / "command.ogg"
    soundfile.write(ogg, clip.samples, clip.sample_rate, format="OGG")
    by_path = speech.run(Transcribe, "/transcribe", Transcribe.Goal(file_path=str(ogg)))
    assert by_path.status == GoalStatus.STATUS_SUCCEEDED
    assert_heard(by_path.result.normalized_text, said, ["open", "grippers", "2", "seconds"])


@pytest.mark.parametrize("goal, reason", [
    (Transcribe.Goal(), "give exactly one of"),
    (Transcribe.Goal(encoded_audio=b"this is not audio at all" * 40), "could not decode audio"),
    (Transcribe.Goal(file_path="/nonexistent/command.wav"), "no audio file"),
])
def test_bad_audio_is_aborted_with_a_clear_reason(speech, goal, reason):
    response = speech.run(Transcribe, "/transcribe", goal)
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == 3000 and reason in response.result.message


def test_silence_transcribes_to_nothing(speech):
    response = speech.run(Transcribe, "/transcribe", Transcribe.Goal(encoded_audio=to_wav_bytes(silence(2.0, 16_000))))
    assert response.status == GoalStatus.STATUS_SUCCEEDED
    assert response.result.text == "" and response.result.message == "no speech in the recording"


def test_speak_gives_feedback_per_sentence_and_a_wav_that_transcribes_back(speech):
    published: list[AudioData] = []
    subscription = speech.node.create_subscription(AudioData, "/speech_audio", published.append, 10)
    feedback: list[Speak.Feedback] = []
    try:
        response = speech.run(Speak, "/speak", Speak.Goal(text="Hello there. I turned my head by forty degrees."),
                              feedback)
        speech.wait_until(lambda: len(published) >= 2, 5, "two sentences on /speech_audio")
    finally:
        speech.node.destroy_subscription(subscription)
    assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
    assert [f.sentence for f in feedback] == ["Hello there.", "I turned my head by forty degrees."]
    assert [(f.sentence_index, f.sentence_count) for f in feedback] == [(0, 2), (1, 2)]
    assert response.result.sentences_spoken == 2
    wav = bytes(response.result.wav)
    assert soundfile.info(io.BytesIO(wav)).samplerate == published[0].sample_rate == 22_050
    assert decode_audio(wav).duration_s == pytest.approx(response.result.duration_s, abs=0.01)
    # Round trip through both nodes: what the tts node said, the asr node understands.
    heard = speech.run(Transcribe, "/transcribe", Transcribe.Goal(encoded_audio=wav))
    assert_heard(heard.result.normalized_text, "hello there i turned my head by 40 degrees",
                 ["turned", "head", "40", "degrees"])


def test_speak_can_be_canceled_between_sentences(speech):
    text = " ".join(f"This is sentence number {n} of a long speech." for n in range(1, 31))
    feedback: list[Speak.Feedback] = []
    handle = speech.send_goal(Speak, "/speak", Speak.Goal(text=text), feedback)
    speech.wait_until(lambda: feedback, 20, "the first sentence")
    handle.cancel_goal_async()
    response = speech.result(handle)
    assert response.status == GoalStatus.STATUS_CANCELED
    assert 1 <= response.result.sentences_spoken < 30 and "canceled" in response.result.message


@pytest.mark.parametrize("text, reason", [("!!! ??? ...", "no letters or digits"), ("x" * 10_000, "limit is 5000")])
def test_unspeakable_text_is_aborted_with_a_clear_reason(speech, text, reason):
    response = speech.run(Speak, "/speak", Speak.Goal(text=text))
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == 3000 and reason in response.result.message


def test_speech_without_the_wake_phrase_is_not_a_command(speech, synthesizer):
    replies: list[CommandReply] = []
    transcripts: list[Transcript] = []
    subscriptions = [speech.node.create_subscription(CommandReply, "/command_reply", replies.append, 10),
                     speech.node.create_subscription(Transcript, "/transcript", transcripts.append, 10)]
    try:
        publish_as_microphone(speech, with_pauses(speak(synthesizer, "Describe the scene in front of you.")))
        speech.wait_until(lambda: transcripts, 30, "the transcript")
        time.sleep(1.0)
    finally:
        for subscription in subscriptions:
            speech.node.destroy_subscription(subscription)
    assert replies == []   # heard, and not taken as a command
    assert_heard(transcripts[0].normalized_text, "describe the scene in front of you", ["scene", "front"])


def test_a_spoken_command_reaches_handle_command_and_the_reply_is_spoken(speech, synthesizer):
    """Wake phrase + command as audio -> transcript -> commander -> handle_command (the experts
    node, when it runs) -> a reply published and spoken. What the command does is the experts'."""
    replies: list[CommandReply] = []
    spoken: list[AudioData] = []
    subscriptions = [speech.node.create_subscription(CommandReply, "/command_reply", replies.append, 10),
                     speech.node.create_subscription(AudioData, "/speech_audio", spoken.append, 10)]
    try:
        command = with_pauses(speak(synthesizer, "Robot, describe the scene in front of you."))
        publish_as_microphone(speech, command, stamped=False)
        speech.wait_until(lambda: replies, HANDLER_TIMEOUT_S, "the commander's reply")
        speech.wait_until(lambda: spoken, HANDLER_TIMEOUT_S, "the reply spoken on /speech_audio")
    finally:
        for subscription in subscriptions:
            speech.node.destroy_subscription(subscription)
    reply = replies[0]
    heard = normalize_command_text(reply.heard)
    assert heard.split()[0] == "robot"   # the wake phrase, taken off the command
    assert_heard(heard, "robot describe the scene in front of you", ["robot", "scene", "front"])
    assert normalize_command_text(reply.command) == " ".join(heard.split()[1:])
    assert reply.reply
    handler_running = "/handle_command/_action/send_goal" in speech.services()
    assert ("no command handler" in reply.message) is not handler_running


@pytest.fixture(scope="module")
def lone_commander(speech, graph, tmp_path_factory):
    """A second commander, started as the launcher starts nodes, in namespace /lone, whose
    handle_command server does not exist, in push-to-talk mode and silent."""
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    log_path = tmp_path_factory.mktemp("lone_commander") / "commander.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "embodied_ros.commander", "--ros-args", "-r", "__ns:=/lone",
         "-p", "activation:=push_to_talk", "-p", "handler_action:=nobody_serves_this", "-p", "speak_replies:=false"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        speech.wait_until(lambda: "/lone/command/_action/send_goal" in speech.services(), 30, "the lone commander")
        yield speech
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        print(log_path.read_text(errors="replace")[-2000:])


def test_with_no_command_handler_the_reply_says_so_and_nothing_moves(lone_commander):
    client = lone_commander
    before = client.latest(JointState, "/joint_states")
    response = run_patiently(client, HandleCommand, "/lone/command",
                             HandleCommand.Goal(text="raise your right arm", source="text"))
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == 1001 and response.result.actions_json == "[]"
    assert "I heard: raise your right arm" in response.result.reply and "Nothing was moved" in response.result.reply
    after = client.latest(JointState, "/joint_states")
    assert np.allclose(after.position, before.position, atol=1e-3)


def test_push_to_talk_takes_only_what_was_said_while_the_button_was_held(lone_commander):
    client = lone_commander
    replies: list[CommandReply] = []
    subscription = client.node.create_subscription(CommandReply, "/lone/command_reply", replies.append, 10)
    publisher = client.publisher(Transcript, "/lone/transcript")
    client.wait_until(lambda: publisher.get_subscription_count() > 0, 10, "the lone commander's subscription")

    def say(text: str, start_ns: int, end_ns: int) -> None:
        publisher.publish(Transcript(text=text, normalized_text=normalize_command_text(text), language="en",
                                     start=ns_to_time(start_ns), end=ns_to_time(end_ns), confidence=0.9))

    try:
        now = client.node.get_clock().now().nanoseconds
        say("Open the left gripper.", now - 2 * NS_PER_S, now - NS_PER_S)  # before any press
        assert client.call(SetBool, "/lone/push_to_talk", SetBool.Request(data=True), timeout=30).success
        pressed = client.node.get_clock().now().nanoseconds
        released_response = client.call(SetBool, "/lone/push_to_talk", SetBool.Request(data=False), timeout=30)
        assert released_response.success and released_response.message == "released"
        # The transcript of what was said while held arrives after the release.
        say("Close the right gripper.", pressed - NS_PER_S // 10, pressed + NS_PER_S // 10)
        client.wait_until(lambda: replies, 20, "a reply to the push-to-talk command")
        time.sleep(0.5)
    finally:
        client.node.destroy_subscription(subscription)
        client.node.destroy_publisher(publisher)
    assert [r.command for r in replies] == ["Close the right gripper."]
    assert replies[0].error_code == 1001


def test_typed_commands_on_the_command_action_reach_the_handler(speech):
    response = run_patiently(speech, HandleCommand, "/command",
                             HandleCommand.Goal(text="what time is it", source="text"))
    assert response.result.reply
    assert response.status == (GoalStatus.STATUS_SUCCEEDED if response.result.success else GoalStatus.STATUS_ABORTED)
    handler_running = "/handle_command/_action/send_goal" in speech.services()
    assert ("no command handler" in response.result.message) is not handler_running
