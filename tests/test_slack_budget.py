"""The bot's Slack budget against Slack's own count (the stand-in's token bucket)."""

import asyncio

from adapters.slack.budget import Lane
from tests.standins.slack import TokenBucket

RATE, BURST = 20.0, 3.0
REFILLED = 2 * BURST / RATE  # long enough for either bucket to fill up again


def call(slack: TokenBucket) -> bool:
    """One call as Slack counts it: whether it went through."""
    if slack.wait() > 0:
        return False
    slack.take()
    return True


async def test_slots_held_while_the_lane_refills_never_go_out_past_slacks_burst():
    lane, slack = Lane(RATE, BURST), TokenBucket(RATE, BURST + 1)  # the bot keeps a margin
    holders = [f"thread {n}" for n in range(int(BURST))]
    assert all(lane.take_now(holder) for holder in holders)  # placeholders hold their edit

    await asyncio.sleep(REFILLED)  # Slack has not counted them yet: its bucket is full
    went = [call(slack) for holder in holders if lane.spend(holder)]
    while lane.take_now():  # and whatever else the lane lets go at once
        went.append(call(slack))

    assert went and all(went)  # not one call past Slack's burst (no 429)
    assert not any(lane.holds(holder) for holder in holders)


async def test_a_held_slot_is_spent_once_and_a_free_slot_is_not_held():
    lane = Lane(RATE, BURST)
    assert lane.take_now("a thread") and lane.holds("a thread")
    assert lane.spend("a thread") and not lane.spend("a thread")
    assert lane.take_now() and not lane.holds("")
