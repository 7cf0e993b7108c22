"""The ``hf_jobs`` tool: run, watch and manage Hugging Face Jobs through ``HfApi``."""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Mapping
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from huggingface_hub import HfApi
from huggingface_hub.utils import parse_hf_uri

from agent.policy import SCRIPT_FILE, job_flavor
from agent.sandbox.files import SANDBOX_PREFIX
from agent.sandbox.manager import Sandboxes
from agent.session import Session
from agent.tools.hardware import CostEstimator, describe_hardware
from agent.tools.hf_jobs_schema import DEFAULT_IMAGE, DESCRIPTION, UV_IMAGE, parameters
from agent.tools.hub_common import (
    REPO_TYPES,
    dict_arg,
    dispatch,
    int_arg,
    list_arg,
    optional_text,
    read_repo_text,
    take,
    text_arg,
)
from agent.tools.hub_errors import call_hub
from agent.tools.job_text import describe_scheduled, job_label, shorten, when
from agent.tools.job_watch import duration_of, job_logs, stage_of, watch_job
from agent.tools.registry import Tool, ToolContext, ToolError, ToolResult

ACTIVE_STAGES = ["SCHEDULING", "RUNNING"]
MIN_REDACTED_LENGTH = 4
HF_URI_PREFIX = "hf://"
INLINE_SCRIPT_PATH = "/tmp/job_script.py"
SHOWN_STATE_KEY = "hf_jobs_shown_scripts"
"""Session state: digest of the script each approval card showed, by tool call id."""
MAX_SHOWN = 20


class JobsTool:
    """Operations of ``hf_jobs``; secrets come by name from ``secrets``, prices from
    ``costs`` (the approval cards' estimator)."""

    def __init__(
        self,
        api: HfApi,
        *,
        sandboxes: Sandboxes,
        secrets: Mapping[str, str],
        poll_interval: float,
        costs: CostEstimator,
    ) -> None:
        self.api = api
        self.sandboxes = sandboxes
        self.secrets = dict(secrets)
        self.poll_interval = poll_interval
        self.costs = costs
        self.operations = {
            "run": partial(self._launch, uv=False, scheduled=False),
            "uv": partial(self._launch, uv=True, scheduled=False),
            "ps": self._ps,
            "logs": self._logs,
            "inspect": self._inspect,
            "cancel": self._cancel,
            "hardware": self._hardware,
            "scheduled run": partial(self._launch, uv=False, scheduled=True),
            "scheduled uv": partial(self._launch, uv=True, scheduled=True),
            "scheduled ps": self._scheduled_ps,
            "scheduled inspect": self._scheduled_inspect,
            "scheduled suspend": partial(self._scheduled_change, verb="suspend"),
            "scheduled resume": partial(self._scheduled_change, verb="resume"),
            "scheduled delete": partial(self._scheduled_change, verb="delete"),
        }

    # ── scripts and secrets ──────────────────────────────────────────────

    async def script_source(self, script: str, session: Session) -> str:
        """The script's text (or URL): ``sandbox:`` and ``hf://`` paths are read."""
        if not script.startswith(HF_URI_PREFIX):
            return await self.sandboxes.resolve_script(session, script)
        uri = parse_hf_uri(script, endpoint=self.api.endpoint)
        if uri.type not in REPO_TYPES or not uri.path_in_repo:
            raise ToolError(f"{script!r} must name a file in a model, dataset or Space repo.")
        return await read_repo_text(
            self.api, uri.id, uri.path_in_repo, repo_type=uri.type, revision=uri.revision
        )

    async def preview(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """The call as an approver should see it: the script's real text.

        A ``sandbox:`` or ``hf://`` script is read again when the job starts; the
        digest kept here lets that run refuse a script that changed after it was shown.
        """
        script = args.get("script")
        if not isinstance(script, str) or not script.strip():
            return args
        source = await self.script_source(script, ctx.session)
        if not script.startswith((SANDBOX_PREFIX, HF_URI_PREFIX)):
            return {**args, "script": source}
        if ctx.tool_call_id:
            shown = ctx.session.state.setdefault(SHOWN_STATE_KEY, {})
            shown[ctx.tool_call_id] = _digest(source)
            for old in list(shown)[:-MAX_SHOWN]:
                del shown[old]
        return {**args, "script": source, SCRIPT_FILE: script}  # where it was read from

    def _check_shown(self, session: Session, tool_call_id: str, script: str, source: str) -> None:
        """Refuse to run a referenced script that differs from the one an approver saw."""
        shown = session.state.get(SHOWN_STATE_KEY, {}).pop(tool_call_id, None)
        referenced = script.startswith((SANDBOX_PREFIX, HF_URI_PREFIX))  # not an edited text
        if shown is not None and referenced and shown != _digest(source):
            raise ToolError(
                f"{script} changed after it was shown for approval, so nothing was submitted. "
                "Call hf_jobs again so the new version can be reviewed."
            )

    def redact(self, text: str) -> str:
        """Hide every secret value the bot holds, whatever printed it."""
        for value in self.secrets.values():
            if len(value) >= MIN_REDACTED_LENGTH:
                text = text.replace(value, "***")
        return text

    def _secret_values(self, args: dict[str, Any]) -> dict[str, str]:
        names = list_arg(args, "secrets")
        missing = [name for name in names if name not in self.secrets]
        if missing:
            known = ", ".join(sorted(self.secrets)) or "none"
            raise ToolError(f"Unknown secret(s): {', '.join(missing)}. Available: {known}.")
        return {name: self.secrets[name] for name in names}

    async def _namespace(self, args: dict[str, Any]) -> str:
        namespace = optional_text(args, "namespace")
        if namespace:
            return namespace
        user = await call_hub(self.api.whoami, cache=True)
        return user["name"]

    # ── launching ────────────────────────────────────────────────────────

    async def _launch(
        self, args: dict[str, Any], ctx: ToolContext, *, uv: bool, scheduled: bool
    ) -> str:
        options: dict[str, Any] = {
            "env": dict_arg(args, "env") or None,
            "secrets": self._secret_values(args) or None,
            "flavor": job_flavor(args),
            "timeout": _timeout(args),
            "namespace": await self._namespace(args),
        }
        if scheduled:
            options["schedule"] = text_arg(args, "schedule")
        if uv:
            info = await self._submit_uv(args, ctx, options, scheduled)
        else:
            info = await self._submit_command(args, options, scheduled)
        secrets = f" Secrets: {', '.join(options['secrets'])}." if options["secrets"] else ""
        if scheduled:
            return f"Scheduled job created.{secrets}\n{describe_scheduled(info)}"
        self._watch(info.id, options["namespace"], ctx)
        return (
            f"Job {info.id} submitted on {info.flavor} (stage {stage_of(info)}).{secrets}\n"
            f"Page: {info.url}\n"
            "A live status line follows in the conversation; read output with "
            f"hf_jobs logs job_id={info.id}."
        )

    async def _submit_command(
        self, args: dict[str, Any], options: dict[str, Any], scheduled: bool
    ) -> Any:
        command = list_arg(args, "command")
        if not command:
            raise ToolError(
                "'command' (a list like ['python', 'x.py']) is required; "
                "for a Python script use operation 'uv'."
            )
        image = optional_text(args, "image") or DEFAULT_IMAGE
        launch = self.api.create_scheduled_job if scheduled else self.api.run_job
        return await call_hub(launch, image=image, command=command, **options)

    async def _submit_uv(
        self, args: dict[str, Any], ctx: ToolContext, options: dict[str, Any], scheduled: bool
    ) -> Any:
        script = text_arg(args, "script", strip=False)
        source = await self.script_source(script, ctx.session)
        self._check_shown(ctx.session, ctx.tool_call_id, script, source)
        uv_options = {
            "dependencies": list_arg(args, "dependencies"),
            "python": optional_text(args, "python"),
            "script_args": list_arg(args, "script_args"),
        }
        image = optional_text(args, "image")
        if source.startswith(("https://", "http://")):
            launch = self.api.create_scheduled_uv_job if scheduled else self.api.run_uv_job
            return await call_hub(launch, source, image=image, **uv_options, **options)
        launch = self.api.create_scheduled_job if scheduled else self.api.run_job
        return await call_hub(
            launch,
            image=image or UV_IMAGE,
            command=uv_command(source, **uv_options),
            name=script_name(script),
            **options,
        )

    # ── jobs ─────────────────────────────────────────────────────────────

    async def _ps(self, args: dict[str, Any], ctx: ToolContext) -> str:
        limit = int_arg(args, "limit", 20, 100)
        show_all = bool(args.get("all", False))
        jobs = await call_hub(
            take,
            self.api.list_jobs,
            limit,
            namespace=await self._namespace(args),
            status=None if show_all else ACTIVE_STAGES,
        )
        if not jobs:
            return (
                "No jobs."
                if show_all
                else "No queued or running jobs (all=true lists finished ones)."
            )
        return "\n".join(
            f"{job.id}  {stage_of(job)}  {job.flavor}  {duration_of(job)}  {job_label(job)}"
            for job in jobs
        )

    async def _logs(self, args: dict[str, Any], ctx: ToolContext) -> str:
        job_id = text_arg(args, "job_id")
        tail = int_arg(args, "tail", 50, 500)
        namespace = await self._namespace(args)
        job = await call_hub(self.api.inspect_job, job_id=job_id, namespace=namespace)
        lines = await call_hub(job_logs, self.api, job_id, namespace, tail)
        header = f"Job {job_id} is {stage_of(job)}; last {len(lines)} log lines:"
        return (
            "\n".join([header, *lines])
            if lines
            else f"Job {job_id} is {stage_of(job)}; no logs yet."
        )

    async def _inspect(self, args: dict[str, Any], ctx: ToolContext) -> str:
        job = await call_hub(
            self.api.inspect_job,
            job_id=text_arg(args, "job_id"),
            namespace=await self._namespace(args),
        )
        rows = {
            "id": job.id,
            "stage": stage_of(job) + (f" ({job.status.message})" if job.status.message else ""),
            "hardware": job.flavor,
            "image": job.docker_image or job.space_id,
            "command": shorten(" ".join(job.command or [])),
            "name": (job.labels or {}).get("name"),
            "created": when(job.created_at),
            "duration": duration_of(job),
            "secrets": ", ".join(job.secrets or {}) or None,
            "env": ", ".join(job.environment or {}) or None,
            "page": job.url,
        }
        return "\n".join(f"{key}: {value}" for key, value in rows.items() if value)

    async def _cancel(self, args: dict[str, Any], ctx: ToolContext) -> str:
        job_id = text_arg(args, "job_id")
        await call_hub(self.api.cancel_job, job_id=job_id, namespace=await self._namespace(args))
        return f"Cancellation of job {job_id} requested."

    async def _hardware(self, args: dict[str, Any], ctx: ToolContext) -> str:
        """The flavors and their prices, read from the Hub again (list prices if it fails)."""
        await self.costs.load(self.api)
        flavor = optional_text(args, "hardware_flavor")
        return describe_hardware(self.costs, flavor, args.get("timeout"))

    # ── scheduled jobs ───────────────────────────────────────────────────

    async def _scheduled_ps(self, args: dict[str, Any], ctx: ToolContext) -> str:
        limit = int_arg(args, "limit", 20, 100)
        jobs = await call_hub(self.api.list_scheduled_jobs, namespace=await self._namespace(args))
        if not jobs:
            return "No scheduled jobs."
        lines = [describe_scheduled(job, one_line=True) for job in jobs[:limit]]
        if len(jobs) > limit:
            lines.append(f"... and {len(jobs) - limit} more")
        return "\n".join(lines)

    async def _scheduled_inspect(self, args: dict[str, Any], ctx: ToolContext) -> str:
        job = await call_hub(
            self.api.inspect_scheduled_job,
            scheduled_job_id=text_arg(args, "scheduled_job_id"),
            namespace=await self._namespace(args),
        )
        return describe_scheduled(job)

    async def _scheduled_change(self, args: dict[str, Any], ctx: ToolContext, *, verb: str) -> str:
        scheduled_job_id = text_arg(args, "scheduled_job_id")
        change = getattr(self.api, f"{verb}_scheduled_job")
        await call_hub(
            change, scheduled_job_id=scheduled_job_id, namespace=await self._namespace(args)
        )
        return f"Scheduled job {scheduled_job_id}: {verb}d."

    # ── the tool ─────────────────────────────────────────────────────────

    def _watch(self, job_id: str, namespace: str, ctx: ToolContext) -> None:
        """Keep the job's status line updated until it ends, in the background."""
        watch = watch_job(
            self.api, job_id, namespace, ctx.notify, interval=self.poll_interval, redact=self.redact
        )
        ctx.spawn(watch)

    async def _resume(self, work: dict[str, Any], ctx: ToolContext) -> None:
        """After a restart: watch a job the bot was watching before."""
        self._watch(work["job_id"], work["namespace"], ctx)

    def tool(self) -> Tool:
        inner = dispatch("hf_jobs", self.operations)

        async def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
            try:
                result = await inner(args, ctx)
            except ToolError as exc:
                raise ToolError(self.redact(str(exc))) from None
            output = result.output if isinstance(result, ToolResult) else result
            return ToolResult(self.redact(output))

        return Tool(
            name="hf_jobs",
            description=DESCRIPTION,
            parameters=parameters(self.operations),
            handler=handle,
            script_field="script",
            preview=self.preview,
            resume=self._resume,
            read_operations=frozenset({"hardware"}),
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def uv_command(
    script: str, *, dependencies: list[str], python: str | None, script_args: list[str]
) -> list[str]:
    """A shell command that writes the inline script to a file and runs it with ``uv run``."""
    encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
    uv = ["uv", "run"]
    for dependency in dependencies:
        uv += ["--with", dependency]
    if python:
        uv += ["--python", python]
    uv += [INLINE_SCRIPT_PATH, *script_args]
    shell = f"printf %s {encoded} | base64 -d > {INLINE_SCRIPT_PATH} && exec {shlex.join(uv)}"
    return ["/bin/sh", "-c", shell]


def script_name(script: str) -> str:
    """A job name from where the script came from: the file's stem, or 'inline-script'."""
    if not script.startswith((SANDBOX_PREFIX, HF_URI_PREFIX)):
        return "inline-script"
    stem = PurePosixPath(script.split(":", 1)[1]).stem
    return re.sub(r"[^A-Za-z0-9_-]", "-", stem) or "script"


def _timeout(args: dict[str, Any]) -> str | None:
    """'30m', '4h' or a number of seconds."""
    value = args.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    return optional_text(args, "timeout")
