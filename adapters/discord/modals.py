"""The Reject (reason) and Edit script modals.

A Discord modal holds five components: an Edit script modal has four text
inputs of at most 4000 characters and a file upload. A longer script is split
at line ends across inputs (joined back exactly, the separators kept aside),
and past four inputs across several modals: submitting one offers a button to
open the next, and only the last submission approves the call. A file uploaded
in any of them replaces the whole script instead and approves the call at once,
if it is text within the size cap (:func:`bot.approvals.scripts.uploaded_script`);
else the uploader is told why and the call still waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.approvals.scripts import NotAScript, join_script, split_script, uploaded_script

INPUT_CHARS = 4000
INPUTS_PER_MODAL = 4
"""Text inputs per Edit script modal; the fifth component is the file upload."""
UPLOAD_LABEL = "…or upload the script as a file"
UPLOAD_HINT = "A text file; it replaces the whole script and approves the call."
REASON_CHARS = 1000
MODAL_TIMEOUT = 3600.0
"""An unsubmitted modal is forgotten after this long."""

Decide = Callable[..., Awaitable[None]]
"""``decide(interaction, approval_id, n, approved=…, feedback=…, edited_script=…)``."""


def _suffix(n: int | None) -> str:
    return "all" if n is None else str(n)


class RejectModal(discord.ui.Modal):
    """Asks an optional reason; submitting rejects call ``n`` (None: every call left)."""

    def __init__(self, decide: Decide, approval_id: str, n: int | None, what: str) -> None:
        super().__init__(
            title="Reject",
            custom_id=f"mib:reject:{approval_id}:{_suffix(n)}",
            timeout=MODAL_TIMEOUT,
        )
        self.decide = decide
        self.approval_id = approval_id
        self.n = n
        self.reason = discord.ui.TextInput(
            label=f"Why reject {what}? (optional)"[:45],
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=REASON_CHARS,
            custom_id="reason",
        )
        self.add_item(self.reason)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        reason = self.reason.value.strip() or None
        await self.decide(interaction, self.approval_id, self.n, approved=False, feedback=reason)


class ScriptEdit:
    """One person's edit of one call's script, over as many modals as it needs."""

    def __init__(self, decide: Decide, approval_id: str, n: int, script: str) -> None:
        self.decide = decide
        self.approval_id = approval_id
        self.n = n
        self.parts, self.joins = split_script(script, INPUT_CHARS)

    @property
    def pages(self) -> int:
        return -(-len(self.parts) // INPUTS_PER_MODAL)

    def modal(self, page: int = 0) -> EditModal:
        return EditModal(self, page)

    def script(self) -> str:
        return join_script(self.parts, self.joins)


class EditModal(discord.ui.Modal):
    """One page (up to five parts) of a :class:`ScriptEdit`."""

    def __init__(self, edit: ScriptEdit, page: int) -> None:
        title = "Edit script" if edit.pages == 1 else f"Edit script ({page + 1} of {edit.pages})"
        super().__init__(
            title=title,
            custom_id=f"mib:edit:{edit.approval_id}:{edit.n}:{page}",
            timeout=MODAL_TIMEOUT,
        )
        self.edit = edit
        self.page = page
        first = page * INPUTS_PER_MODAL
        self.inputs: dict[int, discord.ui.TextInput[Any]] = {}
        for i in range(first, min(first + INPUTS_PER_MODAL, len(edit.parts))):
            label = (
                "Script" if len(edit.parts) == 1 else f"Script, part {i + 1} of {len(edit.parts)}"
            )
            self.inputs[i] = discord.ui.TextInput(
                label=label,
                style=discord.TextStyle.paragraph,
                default=edit.parts[i] or None,
                required=False,
                max_length=INPUT_CHARS,
                custom_id=f"part{i}",
            )
            self.add_item(self.inputs[i])
        self.upload = discord.ui.FileUpload(custom_id="file", required=False, max_values=1)
        self.add_item(
            discord.ui.Label(text=UPLOAD_LABEL, description=UPLOAD_HINT, component=self.upload)
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if self.upload.values:
            await self._uploaded(interaction, self.upload.values[0])
            return
        for i, field in self.inputs.items():
            self.edit.parts[i] = field.value
        if self.page + 1 < self.edit.pages:
            await interaction.response.send_message(
                f"Saved page {self.page + 1} of {self.edit.pages} of the script. "
                "Continue to the next page; the last one approves the call.",
                view=ContinueView(self.edit, self.page + 1),
                ephemeral=True,
            )
            return
        await self.edit.decide(
            interaction,
            self.edit.approval_id,
            self.edit.n,
            approved=True,
            edited_script=self.edit.script(),
        )

    async def _uploaded(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """The uploaded file is the script: approve with it, or say why it can't be."""
        await interaction.response.defer()
        try:
            script = await uploaded_script(file.filename, file.size, file.read)
        except (NotAScript, discord.HTTPException) as exc:
            text = (
                str(exc) if isinstance(exc, NotAScript) else f"I couldn't read `{file.filename}`."
            )
            await interaction.followup.send(f"{text} The call still waits.", ephemeral=True)
            return
        await self.edit.decide(
            interaction, self.edit.approval_id, self.edit.n, approved=True, edited_script=script
        )


class ContinueView(discord.ui.View):
    """The button between two pages of a long script (a modal can't open a modal)."""

    def __init__(self, edit: ScriptEdit, page: int) -> None:
        super().__init__(timeout=MODAL_TIMEOUT)
        self.edit = edit
        self.page = page
        self.next.label = f"Edit page {page + 1} of {edit.pages}"

    @discord.ui.button(label="Next page", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(self.edit.modal(self.page))
