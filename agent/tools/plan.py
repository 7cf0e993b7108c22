"""The plan tool: a short to-do list the agent keeps for multi-step work."""

from __future__ import annotations

from typing import Any

from agent.tools.registry import Tool, ToolContext, ToolError

STATUSES = ("pending", "in_progress", "done")
MARKS = {"pending": "[ ]", "in_progress": "[~]", "done": "[x]"}


def render_plan(items: list[dict[str, str]]) -> str:
    if not items:
        return "The plan is empty."
    return "\n".join(f"{MARKS[i['status']]} {n}. {i['task']}" for n, i in enumerate(items, 1))


async def _plan(args: dict[str, Any], ctx: ToolContext) -> str:
    items = args.get("items")
    if items is None:
        return render_plan(ctx.session.state.get("plan", []))
    if not isinstance(items, list):
        raise ToolError("'items' must be a list of {task, status} objects.")
    plan = []
    for item in items:
        if not isinstance(item, dict) or not str(item.get("task", "")).strip():
            raise ToolError("each item needs a non-empty 'task'.")
        status = item.get("status", "pending")
        if status not in STATUSES:
            raise ToolError(f"status must be one of {', '.join(STATUSES)}, not {status!r}.")
        plan.append({"task": str(item["task"]).strip(), "status": status})
    ctx.session.state["plan"] = plan
    return render_plan(plan)


PLAN_TOOL = Tool(
    name="plan",
    description=(
        "Keep a short plan for multi-step work. Call with 'items' to replace the whole plan "
        "(mark progress by updating statuses); call without arguments to read it."
    ),
    parameters={
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "description": "The full plan, in order.",
                "items": {
                    "type": "object",
                    "properties": {
                        "task": {"type": "string"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                    },
                    "required": ["task"],
                },
            }
        },
    },
    handler=_plan,
)
