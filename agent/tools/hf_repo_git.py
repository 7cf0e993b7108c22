"""``hf_repo_git``: branches, tags, pull requests, repo creation and settings."""

from __future__ import annotations

from typing import Any

from huggingface_hub import HfApi

from agent.tools.hf_repos import CREATE_REPO_PARAMS, create_repo
from agent.tools.hub_common import (
    REPO_ID,
    REPO_TYPE,
    REVISION,
    dispatch,
    int_arg,
    limit_schema,
    operation_schema,
    optional_text,
    repo_type_arg,
    take,
    text_arg,
)
from agent.tools.hub_errors import call_hub
from agent.tools.registry import Tool, ToolContext, ToolError

GATED_CHOICES = {"auto": "auto", "manual": "manual", "off": False}
PR_STATUSES = ("open", "closed", "merged", "draft", "all")


class RepoGitTool:
    """Git-level operations on a repo."""

    def __init__(self, api: HfApi) -> None:
        self.api = api
        self.operations = {
            "list_refs": self._list_refs,
            "create_branch": self._create_branch,
            "delete_branch": self._delete_branch,
            "create_tag": self._create_tag,
            "delete_tag": self._delete_tag,
            "list_prs": self._list_prs,
            "create_pr": self._create_pr,
            "merge_pr": self._merge_pr,
            "create_repo": self._create_repo,
            "update_repo": self._update_repo,
        }

    async def _list_refs(self, args: dict[str, Any], ctx: ToolContext) -> str:
        refs = await call_hub(
            self.api.list_repo_refs,
            text_arg(args, "repo_id"),
            repo_type=repo_type_arg(args),
            include_pull_requests=True,
        )
        groups = {
            "branches": refs.branches,
            "tags": refs.tags,
            "pull requests": refs.pull_requests or [],
        }
        return "\n".join(
            f"{title}: " + (", ".join(f"{r.name} ({r.target_commit[:8]})" for r in items) or "none")
            for title, items in groups.items()
        )

    async def _create_branch(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, branch = text_arg(args, "repo_id"), text_arg(args, "branch")
        await call_hub(
            self.api.create_branch,
            repo_id,
            branch=branch,
            revision=optional_text(args, "revision"),
            repo_type=repo_type_arg(args),
        )
        return f"Created branch {branch} in {repo_id}."

    async def _delete_branch(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, branch = text_arg(args, "repo_id"), text_arg(args, "branch")
        await call_hub(
            self.api.delete_branch, repo_id, branch=branch, repo_type=repo_type_arg(args)
        )
        return f"Deleted branch {branch} of {repo_id}."

    async def _create_tag(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, tag = text_arg(args, "repo_id"), text_arg(args, "tag")
        await call_hub(
            self.api.create_tag,
            repo_id,
            tag=tag,
            tag_message=optional_text(args, "message"),
            revision=optional_text(args, "revision"),
            repo_type=repo_type_arg(args),
        )
        return f"Created tag {tag} in {repo_id}."

    async def _delete_tag(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, tag = text_arg(args, "repo_id"), text_arg(args, "tag")
        await call_hub(self.api.delete_tag, repo_id, tag=tag, repo_type=repo_type_arg(args))
        return f"Deleted tag {tag} of {repo_id}."

    async def _list_prs(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        status = text_arg(args, "status", "open")
        if status not in PR_STATUSES:
            raise ToolError(f"status must be one of {', '.join(PR_STATUSES)}.")
        prs = await call_hub(
            take,
            self.api.get_repo_discussions,
            int_arg(args, "limit", 20, 100),
            repo_id=repo_id,
            discussion_type="pull_request",
            discussion_status=status,
            repo_type=repo_type_arg(args),
        )
        if not prs:
            return f"No {'' if status == 'all' else status + ' '}pull requests on {repo_id}."
        return "\n".join(
            f"#{pr.num} [{pr.status}] {pr.title} (by {pr.author}, ref {pr.git_reference})"
            for pr in prs
        )

    async def _create_pr(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        pr = await call_hub(
            self.api.create_pull_request,
            repo_id,
            text_arg(args, "title"),
            description=optional_text(args, "description"),
            repo_type=repo_type_arg(args),
        )
        return (
            f"Opened pull request #{pr.num} on {repo_id}: {pr.url}\n"
            f"Add commits to it with hf_repo_files upload revision='{pr.git_reference}'."
        )

    async def _merge_pr(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        number = int_arg(args, "pr_number", None, 10**9)
        await call_hub(
            self.api.merge_pull_request,
            repo_id,
            number,
            comment=optional_text(args, "message"),
            repo_type=repo_type_arg(args),
        )
        return f"Merged pull request #{number} into {repo_id}."

    async def _create_repo(self, args: dict[str, Any], ctx: ToolContext) -> str:
        return await create_repo(self.api, args, private=bool(args.get("private", False)))

    async def _update_repo(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id = text_arg(args, "repo_id")
        changes: dict[str, Any] = {}
        if args.get("private") is not None:
            changes["private"] = bool(args["private"])
        if args.get("gated") is not None:
            if args["gated"] not in GATED_CHOICES:
                raise ToolError(f"gated must be one of {', '.join(GATED_CHOICES)}.")
            changes["gated"] = GATED_CHOICES[args["gated"]]
        if not changes:
            raise ToolError("update_repo needs 'private' and/or 'gated'.")
        await call_hub(
            self.api.update_repo_settings, repo_id, repo_type=repo_type_arg(args), **changes
        )
        shown = ", ".join(f"{key}={value}" for key, value in changes.items())
        return f"Updated {repo_id}: {shown}."

    def tool(self) -> Tool:
        return Tool(
            name="hf_repo_git",
            description=(
                "Git operations on a Hub repo: list_refs; create_branch/delete_branch; "
                "create_tag/delete_tag; list_prs/create_pr/merge_pr; create_repo; update_repo "
                "(visibility, gating). Deleting, merging, creating repos and changing settings "
                "wait for a person's approval."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "operation": operation_schema(self.operations, "What to do."),
                    "repo_id": REPO_ID,
                    "repo_type": REPO_TYPE,
                    "branch": {"type": "string", "description": "Branch name."},
                    "tag": {"type": "string", "description": "Tag name."},
                    "revision": {
                        **REVISION,
                        "description": "create_branch/create_tag: where it starts. Default: main.",
                    },
                    "message": {"type": "string", "description": "Tag message or merge comment."},
                    "title": {"type": "string", "description": "create_pr: the title."},
                    "description": {"type": "string", "description": "create_pr: the body."},
                    "pr_number": {"type": "integer", "description": "merge_pr: the PR number."},
                    "status": {
                        "type": "string",
                        "enum": list(PR_STATUSES),
                        "description": "list_prs: which PRs (default open).",
                    },
                    "limit": limit_schema(20, 100),
                    "private": {
                        "type": "boolean",
                        "description": "create_repo/update_repo: private visibility.",
                    },
                    "gated": {
                        "type": "string",
                        "enum": list(GATED_CHOICES),
                        "description": "update_repo: access requests (auto, manual or off).",
                    },
                    **CREATE_REPO_PARAMS,
                },
                "required": ["operation", "repo_id"],
            },
            handler=dispatch("hf_repo_git", self.operations),
        )
