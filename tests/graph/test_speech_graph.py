"""The speech nodes as an outside ROS client sees them: audio in, transcripts out, speak and
transcribe actions, and a spoken command that gets an honest reply while nothing moves.

The audio is made by piper in this process (tests/speech_corpus.py) and published on /audio
the way a microphone node would: 100 ms chunks with consistent stamps.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile
from action_msgs.msg import GoalStatus
from embodied_interfaces.action import HandleCommand, Speak, Transcribe
from embodied_interfaces.msg import AudioData, CommandReply, Transcript
from sensor_msgs.msg import JointState

from embodied_ai.speech.audio import Audio, chunked, concatenate, decode_audio, silence, to_wav_bytes
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ros.qos import AUDIO
from embodied_ros.speech_conversions import NS_PER_S, audio_msg, ns_to_time, time_to_ns
from tests.speech_corpus import make_synthesizer, speak

SPEECH_READY_TIMEOUT_S = 90.0
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


def publish_as_microphone(client, audio: Audio) -> tuple[int, int]:
    """Publish ``audio`` in 100 ms chunks with stamps 100 ms apart; returns (first, end) stamps in ns."""
    publisher = client.publisher(AudioData, "/audio", AUDIO)
    client.wait_until(lambda: publisher.get_subscription_count() > 0, 10, "the asr node's audio subscription")
    start_ns = client.node.get_clock().now().nanoseconds
    at_ns = start_ns
    for chunk in chunked(audio, 0.1):
        publisher.publish(audio_msg(chunk, ns_to_time(at_ns), frame_id="test_microphone"))
        at_ns += round(chunk.duration_s * NS_PER_S)
        time.sleep(0.02)  # faster than real time, as a replayed recording would be
    client.node.destroy_publisher(publisher)
    return start_ns, at_ns


def with_pauses(clip: Audio, before_s: float = 0.6, after_s: float = 1.2) -> Audio:
    return concatenate([silence(before_s, clip.sample_rate), clip, silence(after_s, clip.sample_rate)])


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
    assert transcript.normalized_text == normalize_command_text(text) == "move the left elbow to 90 degrees"
    assert transcript.language == "en" and 0.3 < transcript.confidence <= 1.0
    assert transcript.header.frame_id == "test_microphone"
    # Utterance times are on the stream's clock: inside what was sent, after the lead-in silence.
    assert start_ns + 0.2 * NS_PER_S <= time_to_ns(transcript.start) < time_to_ns(transcript.end) <= end_ns


def test_transcribe_action_takes_file_bytes_and_paths(speech, synthesizer, tmp_path):
    clip = speak(synthesizer, "Open both grippers and wait two seconds.")
    feedback: list[Transcribe.Feedback] = []
    response = speech.run(Transcribe, "/transcribe", Transcribe.Goal(encoded_audio=to_wav_bytes(clip)), feedback)
    assert response.status == GoalStatus.STATUS_SUCCEEDED, response.result.message
    assert response.result.normalized_text == "open both grippers and wait 2 seconds"
    assert response.result.duration_s == pytest.approx(clip.duration_s, abs=0.01)
    assert feedback and feedback[-1].progress > 0 and response.result.segments

    ogg = tmp_path / "command.ogg"
    soundfile.write(ogg, clip.samples, clip.sample_rate, format="OGG")
    by_path = speech.run(Transcribe, "/transcribe", Transcribe.Goal(file_path=str(ogg)))
    assert by_path.status == GoalStatus.STATUS_SUCCEEDED
    assert by_path.result.normalized_text == "open both grippers and wait 2 seconds"


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
    assert heard.result.normalized_text == "hello there i turned my head by 40 degrees"


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


def test_a_spoken_command_gets_an_honest_reply_and_nothing_moves(speech, synthesizer):
    before = speech.latest(JointState, "/joint_states")
    replies: list[CommandReply] = []
    spoken: list[AudioData] = []
    subscriptions = [speech.node.create_subscription(CommandReply, "/command_reply", replies.append, 10),
                     speech.node.create_subscription(AudioData, "/speech_audio", spoken.append, 10)]
    try:
        publish_as_microphone(speech, with_pauses(speak(synthesizer, "Robot, raise your right arm by thirty degrees.")))
        speech.wait_until(lambda: replies, 30, "the commander's reply")
        speech.wait_until(lambda: spoken, 20, "the reply spoken on /speech_audio")
    finally:
        for subscription in subscriptions:
            speech.node.destroy_subscription(subscription)
    reply = replies[0]
    assert normalize_command_text(reply.command) == "raise your right arm by 30 degrees"
    assert not reply.success and reply.error_code == 1001
    assert "Nothing was moved" in reply.reply and "handle_command" in reply.message
    after = speech.latest(JointState, "/joint_states")
    assert np.allclose(after.position, before.position, atol=1e-3)


def test_typed_commands_on_the_command_action_get_the_same_answer(speech):
    response = speech.run(HandleCommand, "/command", HandleCommand.Goal(text="open the left gripper", source="text"))
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == 1001 and response.result.actions_json == "[]"
    assert "I heard: open the left gripper" in response.result.reply
