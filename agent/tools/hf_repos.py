"""``hf_repo_files`` (list, read, upload, delete) and ``hf_private_repos`` (create, upload)."""

from __future__ import annotations

from typing import Any

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.hf_api import RepoFolder

from agent.sandbox.manager import Sandboxes
from agent.session import Session
from agent.tools.hub_common import (
    REPO_ID,
    REPO_TYPE,
    REVISION,
    dispatch,
    human_size,
    int_arg,
    limit_schema,
    list_arg,
    operation_schema,
    optional_text,
    read_repo_text,
    repo_type_arg,
    repo_url,
    take,
    text_arg,
)
from agent.tools.hub_errors import call_hub
from agent.tools.registry import Tool, ToolContext, ToolError

SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
MAX_LINES = 2000

FILE_CONTENT = {
    "content": {"type": "string", "description": "The file's text."},
    "sandbox_file": {
        "type": "string",
        "description": "Instead of content: a file of this conversation's sandbox.",
    },
}
COMMIT_MESSAGE = {"type": "string", "description": "Commit message (a default is used if empty)."}
CREATE_REPO_PARAMS = {
    "space_sdk": {
        "type": "string",
        "enum": list(SPACE_SDKS),
        "description": "Spaces only: the SDK (required when repo_type is space).",
    },
}


async def file_data(entry: dict[str, Any], session: Session, sandboxes: Sandboxes) -> bytes:
    """The bytes to upload for ``{content}`` or ``{sandbox_file}`` (read from the session's
    sandbox, wherever it runs)."""
    content, sandbox_file = entry.get("content"), entry.get("sandbox_file")
    if (content is None) == (sandbox_file is None):
        raise ToolError("Give each file either 'content' or 'sandbox_file'.")
    if sandbox_file is not None:
        return (await sandboxes.read_text(session, str(sandbox_file))).encode("utf-8")
    if not isinstance(content, str):
        raise ToolError("'content' must be a string.")
    return content.encode("utf-8")


async def create_repo(api: HfApi, args: dict[str, Any], *, private: bool) -> str:
    """Create a repo (never overwrites an existing one); returns a one-line result."""
    repo_id = text_arg(args, "repo_id")
    repo_type = repo_type_arg(args)
    space_sdk = optional_text(args, "space_sdk")
    if repo_type == "space" and space_sdk not in SPACE_SDKS:
        raise ToolError(f"Creating a Space needs space_sdk: one of {', '.join(SPACE_SDKS)}.")
    url = await call_hub(
        api.create_repo, repo_id, repo_type=repo_type, private=private, space_sdk=space_sdk
    )
    visibility = "private" if private else "public"
    return f"Created {visibility} {repo_type} repo {repo_id}: {url}"


class RepoFilesTool:
    """Files of models, datasets and Spaces."""

    def __init__(self, api: HfApi, sandboxes: Sandboxes) -> None:
        self.api = api
        self.sandboxes = sandboxes
        self.operations = {
            "list": self._list,
            "read": self._read,
            "upload": self._upload,
            "delete": self._delete,
        }

    async def _list(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, repo_type = text_arg(args, "repo_id"), repo_type_arg(args)
        limit = int_arg(args, "limit", 100, 500)
        entries = await call_hub(
            take,
            self.api.list_repo_tree,
            limit + 1,
            repo_id=repo_id,
            path_in_repo=optional_text(args, "path"),
            recursive=bool(args.get("recursive", False)),
            revision=optional_text(args, "revision"),
            repo_type=repo_type,
        )
        if not entries:
            return f"No files in {repo_type} {repo_id} at that path."
        lines = [
            f"{e.path}/" if isinstance(e, RepoFolder) else f"{e.path}  {human_size(e.size)}"
            for e in entries[:limit]
        ]
        if len(entries) > limit:
            lines.append("... more entries (raise limit, or list a subfolder with path)")
        return "\n".join(lines)

    async def _read(self, args: dict[str, Any], ctx: ToolContext) -> str:
        path = text_arg(args, "path")
        text = await read_repo_text(
            self.api,
            text_arg(args, "repo_id"),
            path,
            repo_type=repo_type_arg(args),
            revision=optional_text(args, "revision"),
        )
        lines = text.splitlines()
        start = int_arg(args, "start_line", 1, max(len(lines), 1))
        count = int_arg(args, "max_lines", 500, MAX_LINES)
        window = lines[start - 1 : start - 1 + count]
        end = start - 1 + len(window)
        header = f"{path}: lines {start}-{end} of {len(lines)}"
        return "\n".join([header, *window])

    async def _upload(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, repo_type = text_arg(args, "repo_id"), repo_type_arg(args)
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise ToolError("'files' must be a non-empty list of {path_in_repo, content}.")
        operations = []
        for entry in files:
            if not isinstance(entry, dict):
                raise ToolError("Each item of 'files' must be an object.")
            data = await file_data(entry, ctx.session, self.sandboxes)
            path_in_repo = text_arg(entry, "path_in_repo")
            operations.append(CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data))
        paths = [op.path_in_repo for op in operations]
        message = optional_text(args, "commit_message") or f"Upload {', '.join(paths)}"
        return await self._commit(args, repo_id, repo_type, operations, message, paths, "uploaded")

    async def _delete(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, repo_type = text_arg(args, "repo_id"), repo_type_arg(args)
        paths = list_arg(args, "paths")
        if not paths:
            raise ToolError("'paths' must list the files (or folders ending in '/') to delete.")
        operations = [CommitOperationDelete(path_in_repo=path) for path in paths]
        message = optional_text(args, "commit_message") or f"Delete {', '.join(paths)}"
        return await self._commit(args, repo_id, repo_type, operations, message, paths, "deleted")

    async def _commit(
        self,
        args: dict[str, Any],
        repo_id: str,
        repo_type: str,
        operations: list[Any],
        message: str,
        paths: list[str],
        verb: str,
    ) -> str:
        """One atomic commit: either every path changes, or none does, and the result says so."""
        try:
            info = await call_hub(
                self.api.create_commit,
                repo_id,
                operations,
                commit_message=message,
                repo_type=repo_type,
                revision=optional_text(args, "revision"),
                create_pr=bool(args.get("create_pr", False)),
            )
        except ToolError as exc:
            raise ToolError(
                f"{exc} Nothing was {verb}: the change is a single commit, so none of "
                f"{', '.join(paths)} landed in {repo_id}."
            ) from None
        link = f"Pull request: {info.pr_url}" if info.pr_url else f"Commit: {info.commit_url}"
        return f"{verb.capitalize()} {len(paths)} file(s) in {repo_id}: {', '.join(paths)}.\n{link}"

    def tool(self) -> Tool:
        return Tool(
            name="hf_repo_files",
            description=(
                "Files of a Hub repo (model, dataset or Space): list, read (text, size-limited), "
                "upload (text or a sandbox file; one atomic commit) and delete. Upload and delete "
                "wait for a person's approval. Use revision for a branch or 'refs/pr/N', or "
                "create_pr to propose the change as a pull request."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "operation": operation_schema(self.operations, "What to do."),
                    "repo_id": REPO_ID,
                    "repo_type": REPO_TYPE,
                    "revision": REVISION,
                    "path": {
                        "type": "string",
                        "description": "list: a folder (default: root). read: the file.",
                    },
                    "recursive": {"type": "boolean", "description": "list: include subfolders."},
                    "limit": limit_schema(100, 500),
                    "start_line": {"type": "integer", "description": "read: first line (1-based)."},
                    "max_lines": {
                        "type": "integer",
                        "description": f"read: how many lines (default 500, at most {MAX_LINES}).",
                    },
                    "files": {
                        "type": "array",
                        "description": "upload: the files to add or replace.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "path_in_repo": {"type": "string", "description": "Target path."},
                                **FILE_CONTENT,
                            },
                            "required": ["path_in_repo"],
                        },
                    },
                    "paths": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "delete: files, or folders ending in '/'.",
                    },
                    "commit_message": COMMIT_MESSAGE,
                    "create_pr": {
                        "type": "boolean",
                        "description": "upload/delete: open a pull request instead of committing.",
                    },
                },
                "required": ["operation", "repo_id"],
            },
            handler=dispatch("hf_repo_files", self.operations),
            read_operations=frozenset({"list", "read"}),
        )


class PrivateReposTool:
    """Private repos for results: create one, upload files to it."""

    def __init__(self, api: HfApi, sandboxes: Sandboxes, *, auto_file_upload: bool) -> None:
        self.api = api
        self.sandboxes = sandboxes
        self.auto_file_upload = auto_file_upload
        self.operations = {"create_repo": self._create_repo, "upload_file": self._upload_file}

    async def _create_repo(self, args: dict[str, Any], ctx: ToolContext) -> str:
        return await create_repo(self.api, args, private=True)

    async def _upload_file(self, args: dict[str, Any], ctx: ToolContext) -> str:
        repo_id, repo_type = text_arg(args, "repo_id"), repo_type_arg(args)
        path_in_repo = text_arg(args, "path_in_repo")
        data = await file_data(args, ctx.session, self.sandboxes)
        info = await call_hub(self.api.repo_info, repo_id, repo_type=repo_type)
        if not info.private:
            raise ToolError(
                f"{repo_id} is public; hf_private_repos only uploads to private repos. "
                "Use hf_repo_files upload for public ones."
            )
        commit = await call_hub(
            self.api.upload_file,
            path_or_fileobj=data,
            path_in_repo=path_in_repo,
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=optional_text(args, "commit_message") or f"Upload {path_in_repo}",
        )
        return (
            f"Uploaded {path_in_repo} ({human_size(len(data))}) to private {repo_type} {repo_id}: "
            f"{repo_url(self.api, repo_id, repo_type)}\nCommit: {commit.commit_url}"
        )

    def tool(self) -> Tool:
        approval = (
            "Uploads run without asking."
            if self.auto_file_upload
            else "Uploads wait for a person's approval."
        )
        return Tool(
            name="hf_private_repos",
            description=(
                "Keep results in private Hub repos: create_repo makes a private model, dataset "
                "or Space (needs approval); upload_file adds one file (text or a sandbox file) "
                f"to a private repo. {approval}"
            ),
            parameters={
                "type": "object",
                "properties": {
                    "operation": operation_schema(self.operations, "What to do."),
                    "repo_id": REPO_ID,
                    "repo_type": REPO_TYPE,
                    **CREATE_REPO_PARAMS,
                    "path_in_repo": {"type": "string", "description": "upload_file: target path."},
                    **FILE_CONTENT,
                    "commit_message": COMMIT_MESSAGE,
                },
                "required": ["operation", "repo_id"],
            },
            handler=dispatch("hf_private_repos", self.operations),
        )
