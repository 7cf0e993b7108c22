"""How a dataset's data reads: its features as short types, cells cut for showing, and
which TRL training format its columns show (with the trainer that takes it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CHAT_COLUMNS = ("messages", "conversations", "conversation", "chat")
MAX_CELL_CHARS = 300


def training_format(features: Mapping[str, Any]) -> str:
    """One sentence: the format of ``features`` (column → datasets feature) and its trainer."""
    columns = set(features)
    chat = next((c for c in CHAT_COLUMNS if c in columns and is_chat(features[c])), None)
    if {"chosen", "rejected"} <= columns:
        style = "conversational " if is_chat(features["chosen"]) else ""
        prompt = "with 'prompt' " if "prompt" in columns else "implicit prompt "
        return (
            f"{style}preference pairs ({prompt}+ 'chosen'/'rejected'): DPOTrainer "
            "(also RewardTrainer, ORPOTrainer, CPOTrainer)."
        )
    if {"prompt", "completion", "label"} <= columns:
        return (
            "unpaired preference ('prompt', 'completion', boolean 'label'): KTOTrainer "
            "(BCOTrainer)."
        )
    if {"prompt", "completion"} <= columns:
        style = "conversational " if is_chat(features["prompt"]) else ""
        return f"{style}prompt-completion: SFTTrainer (loss on the completion only by default)."
    if chat:
        return (
            f"conversational language modeling ('{chat}': a list of role/content messages): "
            "SFTTrainer with the model's chat template."
        )
    if "prompt" in columns:
        return (
            "prompt-only: GRPOTrainer or RLOOTrainer (online methods: completions are "
            "generated and scored by reward functions)."
        )
    if "text" in columns:
        return "plain text (language modeling): SFTTrainer with dataset_text_field='text'."
    return (
        "no TRL format recognised (columns: "
        f"{', '.join(sorted(columns)) or 'none'}): map them first, e.g. to 'messages', "
        "'prompt'/'completion' or 'prompt'/'chosen'/'rejected'."
    )


def is_chat(feature: Any) -> bool:
    """A list of ``{role, content}`` structs, in either datasets feature spelling."""
    if isinstance(feature, dict) and feature.get("_type") in ("List", "Sequence"):
        feature = feature.get("feature")
        return isinstance(feature, dict) and {"role", "content"} <= set(feature)
    if isinstance(feature, list) and feature:
        return isinstance(feature[0], dict) and {"role", "content"} <= set(feature[0])
    return False


def feature_type(feature: Any) -> str:
    """A datasets feature as a short type: ``string``, ``list[{role: string, ...}]``, ``class``."""
    if isinstance(feature, list):
        return f"list[{feature_type(feature[0]) if feature else '?'}]"
    if not isinstance(feature, dict):
        return "?"
    kind = feature.get("_type")
    if kind == "Value":
        return str(feature.get("dtype", "?"))
    if kind == "ClassLabel":
        names = feature.get("names") or []
        shown = ", ".join(map(str, names[:6])) + (", …" if len(names) > 6 else "")
        return f"class[{shown}]"
    if kind in ("List", "Sequence", "LargeList"):
        return f"list[{feature_type(feature.get('feature'))}]"
    if kind is None:
        inner = ", ".join(f"{k}: {feature_type(v)}" for k, v in feature.items())
        return "{" + inner + "}"
    return str(kind)


def cut_cell(value: Any, limit: int = MAX_CELL_CHARS) -> Any:
    """A row's cell as is, or its text cut to ``limit`` characters with an ellipsis."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return value
    return text[:limit] + "…"
