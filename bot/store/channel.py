"""The channel post and its comment thread: posts with their last shown tally, the one
prompt per post in the linked discussion group, readers' pending "record N %" offers, the
bot's membership per chat, and moving stored chat ids when a group becomes a supergroup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.store.db import Memo, columns, fetch_all, fetch_one, from_row, transaction, utcnow


@dataclass(frozen=True)
class ChannelPost:
    """A post the bot published in a channel.

    `shown_count` / `shown_median` are the tally the post currently shows (median in percent,
    None while hidden or when nobody has forecast); `shown_state` a signature of the rest of
    the question it shows (status, outcome, criteria); `active` is 0 once the post can no
    longer be edited (deleted, or the bot lost the channel). Times are aware UTC datetimes.
    """

    chat_id: int
    message_id: int
    question_id: int
    language: str
    posted_by: int | None
    shown_count: int
    shown_median: float | None
    active: int
    created_at: datetime
    updated_at: datetime
    shown_state: str = ""


@dataclass(frozen=True)
class DiscussionThread:
    """The comment thread of a channel post: `chat_id` is the discussion group, `thread_id`
    the id of the automatic forward there, `prompt_message_id` the bot's prompt (None while
    it is being sent); `created_at` an aware UTC datetime."""

    channel_chat_id: int
    channel_message_id: int
    chat_id: int
    thread_id: int
    question_id: int
    prompt_message_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ThreadOffer:
    """A reader's comment understood as `probability` % (1..99) with `reason`, waiting for
    the reader to press "record"; `used_at` is set once recorded (times aware UTC)."""

    id: int
    chat_id: int
    user_id: int
    question_id: int
    probability: int
    reason: str
    message_id: int | None
    used_at: datetime | None
    created_at: datetime


class ChannelRepo:
    """Reads and writes of channel posts, discussion threads, offers and chat membership."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        # (chat_id, message_id) of the active posts by question id, read once: every write
        # of channel_posts goes through this repository and drops it once committed
        self._active: Memo[dict[int, list[tuple[int, int]]]] = Memo()

    # -- posts --------------------------------------------------------------------------------

    async def add_post(
        self,
        chat_id: int,
        message_id: int,
        question_id: int,
        *,
        language: str,
        posted_by: int | None,
        shown_count: int,
        shown_median: float | None,
    ) -> ChannelPost:
        """Remember a published post and the tally it shows; returns it."""
        now = utcnow()
        async with transaction(self._conn):
            await self._conn.execute(
                "INSERT OR REPLACE INTO channel_posts (chat_id, message_id, question_id, language,"
                " posted_by, shown_count, shown_median, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chat_id, message_id, question_id, language, posted_by, shown_count, shown_median,
                 now, now),
            )  # fmt: skip
        self._posts_changed()
        post = await self.post(chat_id, message_id)
        assert post is not None
        return post

    async def post(self, chat_id: int, message_id: int) -> ChannelPost | None:
        """One post, or None if the bot did not publish it."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(ChannelPost)} FROM channel_posts"
            " WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return from_row(ChannelPost, row) if row else None

    async def active_posts(self) -> list[ChannelPost]:
        """The posts whose tally can still be edited, oldest first."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(ChannelPost)} FROM channel_posts"
            " WHERE active = 1 ORDER BY created_at",
        )
        return [from_row(ChannelPost, row) for row in rows]

    async def active_post_ids(self, question_id: int) -> list[tuple[int, int]]:
        """(chat_id, message_id) of the question's posts whose tally can still be edited,
        oldest first; from memory after the first call (no query per forecast)."""
        active = await self._active.get(self._active_by_question)
        return active.get(question_id, [])

    async def _active_by_question(self) -> dict[int, list[tuple[int, int]]]:
        active: dict[int, list[tuple[int, int]]] = {}
        for post in await self.active_posts():
            active.setdefault(post.question_id, []).append((post.chat_id, post.message_id))
        return active

    def _posts_changed(self) -> None:
        """After a committed write of channel_posts: the next read of the active posts
        queries again."""
        self._active.changed()

    async def set_shown(
        self,
        chat_id: int,
        message_id: int,
        count: int,
        median: float | None,
        state: str | None = None,
    ) -> None:
        """Record the tally the post now shows (count of forecasters, median % or None) and,
        when given, the signature of the question state it shows."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE channel_posts SET shown_count = ?, shown_median = ?,"
                " shown_state = COALESCE(?, shown_state), updated_at = ?"
                " WHERE chat_id = ? AND message_id = ?",
                (count, median, state, utcnow(), chat_id, message_id),
            )

    async def deactivate_post(self, chat_id: int, message_id: int) -> None:
        """Stop editing a post (deleted, or no longer editable)."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE channel_posts SET active = 0, updated_at = ? WHERE chat_id = ? AND"
                " message_id = ?",
                (utcnow(), chat_id, message_id),
            )
        self._posts_changed()

    # -- discussion threads -------------------------------------------------------------------

    async def claim_thread(
        self,
        post: ChannelPost,
        chat_id: int,
        thread_id: int,
    ) -> bool:
        """Reserve the one prompt of `post` in discussion group `chat_id`, thread `thread_id`.

        True when this call reserved it; False when the post (or the thread) already has
        one — across restarts too, since the reservation is a row keyed by the post.
        """
        async with (
            transaction(self._conn),
            self._conn.execute(
                "INSERT OR IGNORE INTO discussion_threads (channel_chat_id, channel_message_id,"
                " chat_id, thread_id, question_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (post.chat_id, post.message_id, chat_id, thread_id, post.question_id, utcnow()),
            ) as cur,
        ):
            claimed = cur.rowcount == 1
        return claimed

    async def set_prompt(self, chat_id: int, thread_id: int, prompt_message_id: int) -> None:
        """Store the id of the prompt sent in the thread."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE discussion_threads SET prompt_message_id = ? WHERE chat_id = ? AND"
                " thread_id = ?",
                (prompt_message_id, chat_id, thread_id),
            )

    async def release_thread(self, chat_id: int, thread_id: int) -> None:
        """Give a reservation back (the prompt could not be sent)."""
        async with transaction(self._conn):
            await self._conn.execute(
                "DELETE FROM discussion_threads WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id),
            )

    async def thread(self, chat_id: int, thread_id: int) -> DiscussionThread | None:
        """The comment thread `thread_id` of discussion group `chat_id`, if the bot prompted
        there."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(DiscussionThread)} FROM discussion_threads"
            " WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id),
        )
        return from_row(DiscussionThread, row) if row else None

    async def threads_of_post(self, chat_id: int, message_id: int) -> list[DiscussionThread]:
        """The prompts of a channel post (at most one)."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(DiscussionThread)} FROM discussion_threads"
            " WHERE channel_chat_id = ? AND channel_message_id = ?",
            (chat_id, message_id),
        )
        return [from_row(DiscussionThread, row) for row in rows]

    # -- offers -------------------------------------------------------------------------------

    async def add_offer(
        self, chat_id: int, user_id: int, question_id: int, probability: int, reason: str
    ) -> ThreadOffer:
        """Store a reader's parsed comment until they press "record"; returns it.

        Raises ValueError for a probability outside 1..99.
        """
        if not 1 <= probability <= 99:
            raise ValueError("probability must be 1..99 percent")
        async with (
            transaction(self._conn),
            self._conn.execute(
                "INSERT INTO thread_offers (chat_id, user_id, question_id, probability, reason,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, user_id, question_id, probability, reason, utcnow()),
            ) as cur,
        ):
            offer_id = cur.lastrowid
        assert offer_id is not None
        offer = await self.offer(offer_id)
        assert offer is not None
        return offer

    async def offer(self, offer_id: int) -> ThreadOffer | None:
        """One offer, or None (unknown, or deleted with the reader's data)."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(ThreadOffer)} FROM thread_offers WHERE id = ?",
            (offer_id,),
        )
        return from_row(ThreadOffer, row) if row else None

    async def set_offer_message(self, offer_id: int, message_id: int) -> None:
        """Store the id of the message carrying the offer's button."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE thread_offers SET message_id = ? WHERE id = ?", (message_id, offer_id)
            )

    async def use_offer(self, offer_id: int) -> bool:
        """Mark the offer recorded; False if it already was (a second press)."""
        async with (
            transaction(self._conn),
            self._conn.execute(
                "UPDATE thread_offers SET used_at = ? WHERE id = ? AND used_at IS NULL",
                (utcnow(), offer_id),
            ) as cur,
        ):
            used = cur.rowcount == 1
        return used

    # -- chats --------------------------------------------------------------------------------

    async def set_chat_status(self, chat_id: int, chat_type: str, status: str) -> None:
        """Record the bot's membership in a chat (member, administrator, left, kicked...).

        Leaving a channel (left/kicked) also stops the tally edits of its posts.
        """
        now = utcnow()
        async with transaction(self._conn):
            await self._conn.execute(
                "INSERT INTO bot_chats (chat_id, type, status, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET type = excluded.type,"
                " status = excluded.status, updated_at = excluded.updated_at",
                (chat_id, chat_type, status, now),
            )
            if status in ("left", "kicked"):
                await self._conn.execute(
                    "UPDATE channel_posts SET active = 0, updated_at = ? WHERE chat_id = ?",
                    (now, chat_id),
                )
        if status in ("left", "kicked"):
            self._posts_changed()

    async def chat_status(self, chat_id: int) -> str | None:
        """The bot's last known status in a chat, or None if never recorded."""
        row = await fetch_one(
            self._conn, "SELECT status FROM bot_chats WHERE chat_id = ?", (chat_id,)
        )
        return str(row[0]) if row else None

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything stored under the old chat id
        (thread prompts, offers, membership, and readers' pending prompts). Idempotent."""
        async with transaction(self._conn):
            for table in ("discussion_threads", "thread_offers"):
                await self._conn.execute(
                    f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
                )
            # a reader may already have a pending step in the new chat: that one wins
            await self._conn.execute(
                "UPDATE OR IGNORE pending_steps SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            await self._conn.execute("DELETE FROM pending_steps WHERE chat_id = ?", (old_chat_id,))
            await self._conn.execute(
                "INSERT OR IGNORE INTO bot_chats (chat_id, type, status, updated_at)"
                " SELECT ?, 'supergroup', status, ? FROM bot_chats WHERE chat_id = ?",
                (new_chat_id, utcnow(), old_chat_id),
            )
            await self._conn.execute(
                "UPDATE bot_chats SET status = 'migrated', updated_at = ? WHERE chat_id = ?",
                (utcnow(), old_chat_id),
            )
