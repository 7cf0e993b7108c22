"""Which tool calls wait for a person: upstream ml-intern's ``_needs_approval``, unchanged.

Tools with their own rule (MCP tools) go through :func:`call_needs_approval` instead.
"""

from __future__ import annotations

from typing import Any, Literal

from agent.config import AgentConfig

Approval = Literal["always", "never"]
"""A tool's own approval rule. The team rules file, when it exists, adds a third kind here."""

CPU_FLAVORS = frozenset({"cpu-basic", "cpu-upgrade", "cpu-performance", "cpu-xl"})
"""HF Jobs hardware flavors without an accelerator."""

SANDBOX_FREE_HARDWARE = "cpu-basic"
"""The sandbox hardware that starts without approval; any other waits for a person."""
SCRIPT_FILE = "script_file"
"""What an approval card's arguments add to a script read from a file (``sandbox:train.py``,
``hf://...``): that file, shown beside the text the approver reads."""
JOB_RUN_OPERATIONS = frozenset({"run", "uv", "scheduled run", "scheduled uv"})
REPO_FILES_WRITES = frozenset({"upload", "delete"})
REPO_GIT_DESTRUCTIVE = frozenset(
    {"delete_branch", "delete_tag", "merge_pr", "create_repo", "update_repo"}
)


def validate_tool_args(tool_args: dict[str, Any]) -> str | None:
    """Return an error message when a call's nested ``args`` is not a JSON object."""
    args = tool_args.get("args", {})
    if isinstance(args, str):
        return f"Tool call error: 'args' must be a JSON object, not a string. You passed: {args!r}"
    if args is not None and not isinstance(args, dict):
        return (
            f"Tool call error: 'args' must be a JSON object. You passed type: {type(args).__name__}"
        )
    return None


def job_flavor(tool_args: dict[str, Any]) -> str:
    """The hardware flavor of an ``hf_jobs`` call; it sits at the top level of the arguments."""
    return (
        tool_args.get("hardware_flavor")
        or tool_args.get("flavor")
        or tool_args.get("hardware")
        or "cpu-basic"
    )


def sandbox_hardware(tool_args: dict[str, Any]) -> str:
    """The hardware of a ``sandbox_create`` call."""
    return tool_args.get("hardware") or SANDBOX_FREE_HARDWARE


def needs_approval(tool_name: str, tool_args: dict[str, Any], config: AgentConfig) -> bool:
    """True when the call changes something shared or costs money."""
    if config.yolo_mode:
        return False
    if validate_tool_args(tool_args) is not None:
        return False  # the validation error is reported instead
    operation = tool_args.get("operation", "")
    if tool_name == "sandbox_create":
        return sandbox_hardware(tool_args) != SANDBOX_FREE_HARDWARE
    if tool_name == "hf_jobs":
        if operation not in JOB_RUN_OPERATIONS:
            return False
        return job_flavor(tool_args) not in CPU_FLAVORS or config.confirm_cpu_jobs
    if tool_name == "hf_private_repos":
        if operation == "upload_file":
            return not config.auto_file_upload
        return operation == "create_repo"
    if tool_name == "hf_repo_files":
        return operation in REPO_FILES_WRITES
    if tool_name == "hf_repo_git":
        return operation in REPO_GIT_DESTRUCTIVE
    return False


def call_needs_approval(
    rule: Approval | None, tool_name: str, tool_args: dict[str, Any], config: AgentConfig
) -> bool:
    """A tool's own rule when it has one, else the built-in policy; YOLO mode skips both."""
    if rule is None:
        return needs_approval(tool_name, tool_args, config)
    return rule == "always" and not config.yolo_mode


def describe_approval(tool_name: str, rule: Approval | None, config: AgentConfig) -> str:
    """What waits for a person, in a few words (for ``ml-intern-bot tools``)."""
    if config.yolo_mode:
        return "never (YOLO_MODE)"
    if rule is not None:
        return rule
    gpu_only = "" if config.confirm_cpu_jobs else " on GPU flavors"
    uploads = "" if config.auto_file_upload else ", upload_file"
    built_in = {
        "sandbox_create": f"hardware other than {SANDBOX_FREE_HARDWARE}",
        "hf_jobs": ", ".join(sorted(JOB_RUN_OPERATIONS)) + gpu_only,
        "hf_private_repos": "create_repo" + uploads,
        "hf_repo_files": ", ".join(sorted(REPO_FILES_WRITES)),
        "hf_repo_git": ", ".join(sorted(REPO_GIT_DESTRUCTIVE)),
    }
    return built_in.get(tool_name, "never")
