"""`embodied jobs ...`: the job system through the REST bridge (the SDK): list, show, submit,
cancel, and follow a job's log with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from embodied_ai.sdk.commands import add_connection_options, run_with_client

if TYPE_CHECKING:
    from embodied_ai.sdk import Client

ENDED = {"completed", "failed", "cancelled"}


def add_commands(commands: argparse._SubParsersAction) -> None:
    jobs = commands.add_parser("jobs", help="the job system (pipelines and other long work) through the REST bridge")
    add_connection_options(jobs)
    sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = sub.add_parser("list", help="jobs, newest first")
    listing.add_argument("--status")
    listing.add_argument("--type")
    listing.add_argument("--limit", type=int, default=20)
    show = sub.add_parser("show", help="one job as JSON")
    show.add_argument("job_id", type=int)
    submit = sub.add_parser("submit", help="submit a job from a JSON or YAML file (seed 004's {pipeline_config} "
                                           "or {type, parameters}) and follow it")
    submit.add_argument("file", type=Path)
    submit.add_argument("--detach", action="store_true", help="print the job and return at once")
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id", type=int)
    watch = sub.add_parser("watch", help="follow a job: its log lines and a progress bar, until it ends")
    watch.add_argument("job_id", type=int)
    jobs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, _COMMANDS[args.jobs_command], f"jobs {args.jobs_command}",
                           (OSError, ValueError, yaml.YAMLError))


def _list(client: Client, args: argparse.Namespace) -> int:
    page = client.jobs.list(status=args.status, type=args.type, limit=args.limit)
    for job in page.jobs:
        print(f"{job.job_id:>6}  {job.type:<10} {job.status:<10} {job.progress.percentage:>5.1f} %  "
              f"{job.created_at}  {job.name or ''}")
    print(f"{len(page.jobs)} of {page.pagination.total}")
    return 0


def _show(client: Client, args: argparse.Namespace) -> int:
    print(json.dumps(client.jobs.get(args.job_id).model_dump(), indent=2))
    return 0


def _submit(client: Client, args: argparse.Namespace) -> int:
    body = yaml.safe_load(args.file.read_text(encoding="utf-8"))   # JSON is YAML too
    if not isinstance(body, dict):
        raise ValueError(f"{args.file}: a JSON or YAML object is expected")
    job = client.jobs.submit(**body)
    print(f"job {job.job_id} ({job.type}) {job.status}")
    return 0 if args.detach else watch(client, job.job_id)


def _cancel(client: Client, args: argparse.Namespace) -> int:
    job = client.jobs.cancel(args.job_id)
    print(f"job {job.job_id}: {job.status}{' (cancel requested)' if job.status not in ENDED else ''}")
    return 0


def _watch(client: Client, args: argparse.Namespace) -> int:
    return watch(client, args.job_id)


def watch(client: Client, job_id: int) -> int:
    """Print the job's log lines as they come under a progress bar; 0 if it completed, 1 otherwise."""
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc=f"job {job_id}", bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
              file=sys.stderr) as bar:
        checked = 0.0
        for line in client.logs.stream(job_id):
            tqdm.write(f"{line.timestamp} {line.level:<6} {line.agent or '-':<14} {line.message}")
            if time.monotonic() - checked > 0.5:   # the job's progress, at most twice a second
                checked = time.monotonic()
                bar.n = client.jobs.get(job_id).progress.percentage
                bar.refresh()
        job = client.jobs.get(job_id)
        bar.n = job.progress.percentage
        bar.set_postfix_str(job.status)
    if job.error:
        print(f"job {job_id} {job.status}: {job.error.message}", file=sys.stderr)
        for problem in job.error.problems:
            print(f"  - {problem}", file=sys.stderr)
    else:
        print(f"job {job_id} {job.status}: {json.dumps(job.result)}")
    return 0 if job.status == "completed" else 1


_COMMANDS = {"list": _list, "show": _show, "submit": _submit, "cancel": _cancel, "watch": _watch}
