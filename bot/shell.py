"""`python -m bot shell`: talk to the real bot offline, through the Bot API emulator.

Each input line is sent as the current user in the current chat; the bot's answers are
printed as plain text with numbered inline buttons. Lines starting with ':' are console
commands (see HELP). Nothing reaches Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.emulator import ApiCall, Emulator
from bot.emulator.render import keyboard_lines, message_body, nth_button

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.config import Settings

JSONDict = dict[str, Any]

DEFAULT_USER_ID = 1001
DEFAULT_USER_NAME = "Reader"
DEFAULT_GROUP_ID = -1001000000001
DISCUSSION_ID = -1001000000003  # the channel's linked discussion group
CHANNEL_ID = -1001000000002  # the emulated channel when CHANNEL_ID is an @username
FILES_DIR = Path("shell-files")
INDENT = "     "

HELP = """\
Type text or /commands: they are sent as the current user in the current chat.
You start as user 1001 ("Reader") in a private chat; ADMIN_IDS=1001 makes that user an admin.
Bot answers show as `bot> ...`; inline buttons are numbered [1] [2] ...
  :press N [MSG]    press button N of the bot's latest message with buttons (or message MSG)
  :reply TEXT       reply to the bot's latest message (answers ForceReply prompts in groups)
  :user ID [NAME] [LANG]  become another user (created on first use)
  :lang ru|en       change the current user's Telegram language
  :chat private     talk in the private chat with the current user
  :chat group [ID]  talk in a group (the bot is added on first visit)
  :chat channel     look at the channel (CHANNEL_ID) after /post: press its buttons
  :comments         the latest channel post arrives in its discussion group, as Telegram
                    forwards it; you are then in that group, in the post's comment thread
  :inline QUERY     send an inline query (@bot QUERY)
  :wait [SECONDS]   let background jobs run, then show what the bot sent (default 1)
  :help             this text
  :quit             leave (so does end of input / Ctrl-D)
To send a text that starts with ':', double it: '::-)' sends ':-)'.
Files and photos the bot sends are saved under the files folder; their paths are printed."""

# calls that change nothing visible, or that the console shows elsewhere
_SILENT = {"sendChatAction", "getChatMember", "getChat", "getChatAdministrators", "getFile"}


async def run_shell(
    settings: Settings, stdin: TextIO, stdout: TextIO, files_dir: Path | None = None
) -> int:
    """Run the console until `:quit` or end of input; returns the exit code (0).

    The real application (bot.app.build_application) runs on an Emulator, without the rate
    limiter so answers come at once; post_init (store, dataset, commands) and the job queue
    run as in production. Files the bot sends are written to `files_dir` (./shell-files).
    """
    from bot.app import build_application, running

    emu = Emulator()
    app = build_application(settings, emu.request, rate_limit=False)
    interactive = stdin.isatty()
    console = Console(emu, app, stdout, files_dir or FILES_DIR, settings, interactive)
    async with running(app):
        console.flush(show=False)  # start-up calls (setMyCommands...) are not news
        console.banner()
        async for line in _read_lines(stdin, console.prompt if interactive else None):
            if not await console.handle(line):
                break
        else:
            if interactive:
                console.say("")  # end of input: leave the terminal on a fresh line
        console.flush()
    return 0


async def _read_lines(stdin: TextIO, prompt: Callable[[], None] | None) -> AsyncIterator[str]:
    """Input lines without their newline. On a terminal a daemon thread reads, so the event
    loop (job queue) keeps running while the user types; pipes and files are read directly."""
    if prompt is None:
        for line in iter(stdin.readline, ""):
            yield line.rstrip("\r\n")
            await asyncio.sleep(0)
        return
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            with contextlib.suppress(RuntimeError):  # the loop is gone after :quit
                loop.call_soon_threadsafe(lines.put_nowait, line)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="shell-input", daemon=True).start()
    while True:
        prompt()
        received = await lines.get()
        if received is None:
            return
        yield received.rstrip("\r\n")


class Console:
    """The console's state (who speaks where) and the rendering of the bot's calls."""

    def __init__(
        self,
        emu: Emulator,
        app: Application[Any, Any, Any, Any, Any, Any],
        out: TextIO,
        files_dir: Path,
        settings: Settings,
        interactive: bool,
    ) -> None:
        self.emu = emu
        self.app = app
        self.out = out
        self.files_dir = files_dir
        self.language = settings.default_language
        self.interactive = interactive
        self.user = emu.user(DEFAULT_USER_ID, DEFAULT_USER_NAME, language_code=self.language)
        self.chat = emu.private_chat(self.user)
        self._shown = -1  # seq of the last call rendered
        self._commands: dict[str, Callable[[str], Awaitable[None]]] = {
            "help": self._help,
            "press": self._press,
            "p": self._press,
            "reply": self._reply,
            "user": self._switch_user,
            "lang": self._lang,
            "chat": self._switch_chat,
            "comments": self._comments,
            "inline": self._inline,
            "wait": self._wait,
        }
        _known_recipients(emu, settings)

    # -- input -------------------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one input line; False when the console should stop."""
        text = line.strip()
        if not text:
            return True
        if not self.interactive:
            self.say(f"> {text}")  # a transcript shows what each answer answers
        if text.startswith("::"):
            text = text[1:]
        elif text.startswith(":"):
            return await self._command(text[1:])
        await self.send(self.emu.message(self.user, self.chat, text))
        return True

    async def _command(self, text: str) -> bool:
        name, _, rest = text.partition(" ")
        if name in ("quit", "q", "exit"):
            return False
        command = self._commands.get(name)
        if command is None:
            self.say(f"(unknown command :{name}; :help lists them)")
        else:
            await command(rest.strip())
        return True

    async def send(self, update: JSONDict) -> None:
        """Let the bot handle an update and print what it did."""
        await self.emu.process(self.app, update)
        self.flush()

    # -- console commands --------------------------------------------------------------------

    async def _help(self, rest: str) -> None:
        self.say(HELP)

    async def _press(self, rest: str) -> None:
        args = rest.split()
        if not args or not args[0].isdigit():
            self.say("(usage: :press N [MESSAGE_ID])")
            return
        message = self._message_with_buttons(int(args[1]) if len(args) > 1 else None)
        if message is None:
            self.say("(no bot message with buttons here)")
            return
        try:
            button = nth_button(message.get("reply_markup"), int(args[0]))
        except IndexError as exc:
            self.say(f"({exc})")
            return
        if "callback_data" in button:
            await self.send(self.emu.callback(self.user, message, button["callback_data"]))
        elif "url" in button:
            self.say(f"(opens {button['url']})")
        else:
            self.say("(this kind of button is not emulated)")

    async def _reply(self, rest: str) -> None:
        try:
            target = self.emu.last_sent(self.chat["id"])
        except LookupError:
            self.say("(the bot has not written here yet)")
            return
        if not rest:
            self.say("(usage: :reply TEXT)")
            return
        await self.send(self.emu.message(self.user, self.chat, rest, reply_to=target))

    async def _switch_user(self, rest: str) -> None:
        args = rest.split()
        if not args or not args[0].lstrip("-").isdigit():
            self.say("(usage: :user ID [NAME] [LANG])")
            return
        user_id = int(args[0])
        known = self.emu.users.get(user_id, {})
        name = args[1] if len(args) > 1 else known.get("first_name", f"User{user_id}")
        lang = args[2] if len(args) > 2 else known.get("language_code", self.language)
        self.user = self.emu.user(user_id, name, language_code=lang)
        if self.chat["type"] == "private":
            self.chat = self.emu.private_chat(self.user)
        self.say(f"(you are {self.describe_user()} in {self.describe_chat()})")

    async def _lang(self, rest: str) -> None:
        if rest not in ("ru", "en"):
            self.say("(usage: :lang ru|en)")
            return
        user = self.user
        self.user = self.emu.user(
            user["id"], user["first_name"], language_code=rest, username=user.get("username")
        )
        self.say(f"(you are {self.describe_user()})")

    async def _switch_chat(self, rest: str) -> None:
        args = rest.split()
        if args[:1] == ["private"]:
            self.chat = self.emu.private_chat(self.user)
        elif args[:1] == ["group"] and (len(args) == 1 or args[1].lstrip("-").isdigit()):
            await self._enter_group(int(args[1]) if len(args) > 1 else DEFAULT_GROUP_ID)
        elif args[:1] == ["channel"]:
            channel = self._channel()
            if channel is None:
                self.say("(no channel: start the console with CHANNEL_ID=@name set)")
                return
            self.chat = channel
        else:
            self.say("(usage: :chat private | :chat group [ID] | :chat channel)")
            return
        self.say(f"(now in {self.describe_chat()})")

    async def _enter_group(self, chat_id: int) -> None:
        """Switch to a supergroup; on the first visit the current user adds the bot."""
        first_visit = chat_id not in self.emu.chats
        self.chat = self.emu.group(chat_id, f"Group {abs(chat_id) % 10000}", supergroup=True)
        if first_visit:
            await self.send(self.emu.my_chat_member(self.chat, self.user, "member", "left"))

    def _channel(self) -> JSONDict | None:
        """The emulated channel of CHANNEL_ID, if one is configured."""
        channels = [c.chat for c in self.emu.chats.values() if c.chat.get("type") == "channel"]
        return channels[0] if channels else None

    async def _comments(self, rest: str) -> None:
        """Telegram forwards each channel post into the linked discussion group, where the
        post's comments are a thread: simulate that for the bot's latest post."""
        channel = self._channel()
        try:
            post = self.emu.last_sent(channel["id"]) if channel else None
        except LookupError:
            post = None
        if channel is None or post is None:
            self.say("(nothing to comment on: /post something to the channel first)")
            return
        group = self.emu.group(DISCUSSION_ID, "Comments", supergroup=True)
        forward = self.emu.message(
            None, group, post.get("text", ""), sender_chat=channel, is_automatic_forward=True,
            forward_origin_chat=channel, forward_origin_message_id=post["message_id"],
        )  # fmt: skip
        self.chat = group
        self.say(
            f"(now in {self.describe_chat()}, under the channel post; :reply answers the bot)"
        )
        await self.send(forward)

    async def _inline(self, rest: str) -> None:
        await self.send(self.emu.inline_query(self.user, rest))

    async def _wait(self, rest: str) -> None:
        try:
            seconds = float(rest or 1)
        except ValueError:
            self.say("(usage: :wait [SECONDS])")
            return
        await asyncio.sleep(seconds)
        self.flush()

    # -- output ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Print a line (or several) and flush, so pipes see it at once."""
        self.out.write(text + "\n")
        self.out.flush()

    def banner(self) -> None:
        """The greeting on a terminal (nothing when reading a pipe or file)."""
        if self.interactive:
            self.say(
                f"Offline console of @{self.emu.bot_user['username']}: nothing reaches "
                f"Telegram.\nYou are {self.describe_user()} in {self.describe_chat()}. "
                ":help lists commands, :quit or Ctrl-D leaves."
            )

    def prompt(self) -> None:
        """The input prompt: who speaks where."""
        self.out.write(f"{self.user['first_name']}@{self._chat_label()}> ")
        self.out.flush()

    def describe_user(self) -> str:
        """`Reader (id 1001, ru)`."""
        user = self.user
        return f"{user['first_name']} (id {user['id']}, {user.get('language_code', '-')})"

    def describe_chat(self) -> str:
        """`the private chat` or `group -100... (Group 1)`."""
        if self.chat["type"] == "private":
            return "the private chat"
        return f"group {self.chat['id']} ({self.chat.get('title', '')})"

    def _chat_label(self) -> str:
        return "private" if self.chat["type"] == "private" else str(self.chat["id"])

    def flush(self, show: bool = True) -> None:
        """Print every call the bot made since the last flush (unless `show` is False)."""
        for call in [call for call in self.emu.calls if call.seq > self._shown]:
            self._shown = call.seq
            if show:
                self._render(call)

    def _render(self, call: ApiCall) -> None:
        if call.error is not None:
            self.say(f"!! {call.method} failed: {call.error}")
        elif call.method in ("sendMessage", "sendPhoto", "sendDocument"):
            self._show_message(call.result, call.params, "")
        elif call.method.startswith("editMessage") and isinstance(call.result, dict):
            self._show_message(call.result, call.params, f" (edited #{call.result['message_id']})")
        elif call.method == "answerCallbackQuery" and call.params.get("text"):
            kind = "alert" if call.params.get("show_alert") else "toast"
            self.say(f"bot ({kind})> {call.params['text']}")
        elif call.method in ("deleteMessage", "deleteMessages"):
            ids = call.params.get("message_ids") or [call.params.get("message_id")]
            self.say(f"bot> (deleted message {', '.join(f'#{i}' for i in ids)})")
        elif call.method == "answerInlineQuery":
            titles = [str(r.get("title", r.get("id"))) for r in call.params.get("results", [])]
            self.say(f"bot (inline)> {len(titles)} result(s): {'; '.join(titles)}")

    def _show_message(self, message: JSONDict, params: JSONDict, note: str) -> None:
        """A bot message: header, text, buttons, prompts, saved files."""
        where = ""
        if message["chat"]["id"] != self.chat["id"]:
            chat = message["chat"]
            where = f" -> {chat.get('title') or chat.get('first_name', '')} ({chat['id']})"
        lines = message_body(message).split("\n")
        extra = [f"  {line}" for line in keyboard_lines(message.get("reply_markup"))]
        markup = params.get("reply_markup") or {}
        if markup.get("force_reply"):
            extra.append("(asks for an answer: type it, or :reply TEXT in a group)")
        for row in markup.get("keyboard", []):
            labels = [b["text"] if isinstance(b, dict) else str(b) for b in row]
            extra.append("(keyboard) " + " | ".join(labels))
        saved = self._save_file(message)
        if saved is not None:
            extra.append(f"(file saved: {saved})")
        self.say(f"bot{where}{note}> {lines[0]}")
        for line in lines[1:] + extra:
            self.say(INDENT + line)

    def _save_file(self, message: JSONDict) -> Path | None:
        """Write a sent document or photo (largest size) to the files folder."""
        if "document" in message:
            file_id = message["document"]["file_id"]
            name = Path(message["document"].get("file_name") or "document").name
        elif "photo" in message:
            file_id = message["photo"][-1]["file_id"]
            name = "photo" + _image_extension(self.emu.files[file_id].data)
        else:
            return None
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / f"{abs(message['chat']['id'])}-{message['message_id']}-{name}"
        path.write_bytes(self.emu.files[file_id].data)
        return path

    def _message_with_buttons(self, message_id: int | None) -> JSONDict | None:
        """The bot message to press a button on: `message_id`, else the latest with buttons."""
        for message in reversed(self.emu.chat_messages(self.chat["id"])):
            if message_id is not None and message["message_id"] != message_id:
                continue
            if self.emu.is_bot_message(message) and message.get("reply_markup"):
                return message
        return None


def _image_extension(data: bytes) -> str:
    """The file extension a picture's first bytes announce (.jpg when unknown)."""
    for magic, extension in ((b"\x89PNG", ".png"), (b"GIF8", ".gif"), (b"RIFF", ".webp")):
        if data.startswith(magic):
            return extension
    return ".jpg"


def _known_recipients(emu: Emulator, settings: Settings) -> None:
    """Admins have started the bot and the configured channel exists, as in production."""
    for admin_id in settings.admin_ids:
        if admin_id not in emu.users:
            emu.user(admin_id, f"Admin{admin_id}", language_code=settings.default_language)
    channel = settings.channel_id
    if channel:
        if channel.startswith("@"):
            emu.channel(CHANNEL_ID, "Channel", username=channel[1:])
        elif channel.lstrip("-").isdigit():
            emu.channel(int(channel), "Channel")
