"""Two `planbrief serve` workers (real processes) on one PostgreSQL and one data folder (issue 21).

Updates reach the workers through a small round-robin proxy, as a balancer would spread Telegram's
webhook posts; the fake Bot API server records what "Telegram" was told. Each scenario sends its steps
to chosen workers on purpose (preview on A, 收录 on B, …), then checks the one outcome a single
process would have produced. The database is stopped and started under the workers for /readyz.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.corpus.loader import read_manifest
from bot.digests.store import open_store, subscriptions
from tests.support import postgres as pg
from tests.support.botapi import BotApiServer
from tests.test_editor_desk import UNIQUE, plan_text

pytestmark = pytest.mark.skipif(pg.unavailable_reason() is not None, reason=str(pg.unavailable_reason()))

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-webhook-secret"
HOOK = "/tg/hook"
EDITOR, READER, ADMIN = 8101, 8201, 8301
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


class Postgres:
    """The test PostgreSQL, with stop() and start() so a test can take the database away."""

    def __init__(self):
        self.root = Path(__import__("tempfile").mkdtemp(prefix="planbrief-pg-"))
        self.data, self.port, self.bindir = self.root / "data", pg._free_port(), pg._bindir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.start()
        self.url = pg.create_database(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}")

    def _run(self, *cmd):
        subprocess.run(pg._as_server_user(list(cmd)), check=True, capture_output=True)

    def start(self):
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.root} -F", "start")

    def stop(self):
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self):
        if (self.data / "postmaster.pid").exists():
            subprocess.run(pg._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                               "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class Worker:
    """One `planbrief serve --workers 1` process on its own port."""

    def __init__(self, env: dict, name: str, log_dir: Path):
        self.env, self.name, self.port = env, name, pg._free_port()
        self.log = log_dir / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Worker:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Worker:
        env = {**self.env, "PLANBRIEF_WEBHOOK_PORT": str(self.port)}
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 90) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker {self.name} not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def metrics(self) -> dict[str, float]:
        values = {}
        for line in httpx.get(self.url + "/metrics", timeout=5).text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values


class Proxy:
    """Round robin over the workers, or to one chosen worker: what a balancer in front of them does."""

    def __init__(self, workers: list[Worker]):
        self.workers = workers
        self._next = itertools.cycle(range(len(workers)))
        self.sent: dict[str, int] = {}

    def post(self, update: dict, to: Worker | None = None) -> httpx.Response:
        target = to or self.workers[next(self._next)]
        response = httpx.post(target.url + HOOK, json=update, headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        kind = next(k for k in update if k != "update_id")
        self.sent[kind] = self.sent.get(kind, 0) + 1
        return response


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    db = Postgres()
    api = BotApiServer().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANBRIEF_", "TELEGRAM_"))}
    env.update({"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
                "PLANBRIEF_WEBHOOK_URL": "https://bot.example.org" + HOOK, "PLANBRIEF_WEBHOOK_SECRET": SECRET,
                "PLANBRIEF_WEBHOOK_LISTEN": "127.0.0.1", "PLANBRIEF_DATABASE_URL": db.url,
                "PLANBRIEF_DATA_DIR": str(root / "data"), "PLANBRIEF_SEEDS": str(root / "seeds"),
                "PLANBRIEF_EDITORS": str(EDITOR), "PLANBRIEF_ADMINS": str(ADMIN), "PLANBRIEF_RELOAD_SECONDS": "1",
                "PLANBRIEF_THROTTLE_BURST": "0"})
    a = Worker(env, "a", root).start()  # the first builds the index; the second opens it
    b = Worker(env, "b", root).start()
    try:
        yield {"api": api, "db": db, "a": a, "b": b, "proxy": Proxy([a, b]), "root": root, "env": env}
    finally:
        a.stop()
        b.stop()
        api.stop()
        db.close()


def wait_message(api, chat: int, before: int, timeout: float = 20):
    api.wait_for(lambda s: len(s.messages(chat)) > before, timeout=timeout, what=f"a message in {chat}")
    return api.messages(chat)[-1]


def test_the_webhook_is_set_once_and_refuses_posts_without_the_secret(cluster):
    api, a = cluster["api"], cluster["a"]
    assert len(api.calls("setWebhook")) == 1  # two workers started, one setWebhook
    update = api.user_message(READER, READER, "/help")
    assert httpx.post(a.url + HOOK, json=update, timeout=5).status_code == 403
    assert httpx.post(a.url + HOOK, json=update, headers={**HEADERS, "X-Telegram-Bot-Api-Secret-Token": "x"},
                      timeout=5).status_code == 403
    assert httpx.post(a.url + HOOK, content=b"{not json", headers=HEADERS, timeout=5).status_code == 400
    assert httpx.get(a.url + "/healthz", timeout=5).text == "ok"
    assert not api.messages(READER)  # a refused post never made the bot speak


def test_a_preview_made_on_a_is_published_once_by_b(cluster):
    api, a, b, proxy = cluster["api"], cluster["a"], cluster["b"], cluster["proxy"]
    before = len(api.messages(EDITOR))
    proxy.post(api.user_document(EDITOR, EDITOR, "南通2024要点.txt", plan_text().encode()), to=a)
    card = wait_message(api, EDITOR, before, timeout=60)
    assert "预览" in card.text, card.text
    publish = next(x["callback_data"] for x in card.buttons if x["text"] == "收录")
    proxy.post(api.callback(EDITOR, EDITOR, card.message_id, publish), to=b)
    api.wait_for(lambda s: "已收录" in s.message(EDITOR, card.message_id).text, timeout=60, what="published")
    # the same press again, now on A: the draft is gone everywhere, so it is stale, not a second plan
    answers = len(api.callback_answers())
    proxy.post(api.callback(EDITOR, EDITOR, card.message_id, publish), to=a)
    api.wait_for(lambda s: len(s.callback_answers()) > answers, timeout=20)
    manifest = read_manifest(cluster["root"] / "seeds")
    assert sum(1 for e in manifest if "南通" in e["city"]) == 1
    # A, which made the preview but did not publish, serves the new plan within its reload interval
    api.wait_for(lambda s: a.metrics().get("planbrief_corpus_plans") == len(manifest), timeout=20,
                 what="A reloaded")
    before = len(api.messages(READER))
    proxy.post(api.user_message(READER, READER, f"/topic {UNIQUE}"), to=a)
    assert UNIQUE in wait_message(api, READER, before).text


def test_subscribe_on_a_unsubscribe_on_b(cluster):
    api, a, b, proxy = cluster["api"], cluster["a"], cluster["b"], cluster["proxy"]
    chat = 8401
    before = len(api.messages(chat))
    proxy.post(api.user_message(chat, chat, "/subscribe daily 08:00 双减"), to=a)
    wait_message(api, chat, before)
    store = open_store(cluster["db"].url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(subscriptions.c.id, subscriptions.c.active)
                                .where(subscriptions.c.chat_id == chat)).all()
        assert [r.active for r in rows] == [True]
        before = len(api.messages(chat))
        proxy.post(api.user_message(chat, chat, f"/unsubscribe {rows[0].id}"), to=b)
        wait_message(api, chat, before)
        assert store.list_subscriptions(chat, include_inactive=False) == []
    finally:
        store.close()


def test_a_page_button_from_a_works_on_b_and_after_both_restart(cluster):
    api, a, b, proxy = cluster["api"], cluster["a"], cluster["b"], cluster["proxy"]
    chat = 8501
    before = len(api.messages(chat))
    proxy.post(api.user_message(chat, chat, "/topic " + "推进 " * 20 + "双减"), to=a)
    msg = wait_message(api, chat, before)
    data = [x["callback_data"] for x in msg.buttons if x.get("callback_data", "").startswith("t2|")]
    assert data, msg.buttons  # the server-side key form, which used to live in A's memory only
    proxy.post(api.callback(chat, chat, msg.message_id, data[0]), to=b)
    api.wait_for(lambda s: s.message(chat, msg.message_id).history, timeout=20, what="paged on B")
    paged = api.message(chat, msg.message_id).text
    assert "第 6–10 段" in paged, paged
    a.stop()
    b.stop()
    a.launch()
    b.launch().wait_ready()
    a.wait_ready()
    edits = len(api.message(chat, msg.message_id).history)
    back = next(x["callback_data"] for x in api.message(chat, msg.message_id).buttons if x["text"].startswith("«"))
    proxy.post(api.callback(chat, chat, msg.message_id, back), to=b)
    api.wait_for(lambda s: len(s.message(chat, msg.message_id).history) > edits, timeout=20, what="after restart")
    assert "第 1–5 段" in api.message(chat, msg.message_id).text


def test_an_edited_topic_on_b_revises_the_answer_a_sent(cluster):
    api, a, b, proxy = cluster["api"], cluster["a"], cluster["b"], cluster["proxy"]
    chat = 8601
    before = len(api.messages(chat))
    question = api.user_message(chat, chat, "/topic 双减")
    proxy.post(question, to=a)
    answer = wait_message(api, chat, before)
    proxy.post(api.edit_user_message(chat, question["message"]["message_id"], "/topic 课后服务"), to=b)
    api.wait_for(lambda s: "课后服务" in s.message(chat, answer.message_id).text, timeout=20, what="revised")
    assert len(api.messages(chat)) == before + 1  # revised in place, nothing new


def test_readyz_follows_the_database(cluster):
    a, db = cluster["a"], cluster["db"]
    assert httpx.get(a.url + "/readyz", timeout=5).status_code == 200
    db.stop()
    try:
        response = httpx.get(a.url + "/readyz", timeout=10)
        assert response.status_code == 503 and any("database" in p for p in response.json()["problems"])
        assert httpx.get(a.url + "/healthz", timeout=5).status_code == 200  # alive, just not ready
    finally:
        db.start()
    deadline = time.monotonic() + 20
    while httpx.get(a.url + "/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "not ready again after the database came back"
        time.sleep(0.3)


def test_metrics_count_what_was_sent(cluster):
    api, a, b, proxy = cluster["api"], cluster["a"], cluster["b"], cluster["proxy"]

    def total(kind: str) -> float:
        key = f'planbrief_updates_total{{kind="{kind}"}}'
        return sum(w.metrics().get(key, 0.0) for w in (a, b))

    start = {kind: total(kind) for kind in ("message", "inline_query")}
    chat = 8701
    for i in range(6):
        before = len(api.messages(chat))
        proxy.post(api.user_message(chat, chat, f"/topic 双减 {i}"))
        wait_message(api, chat, before)
    queries = []
    for q in ("双减", "课后", "无锡"):  # inline queries through the proxy as well
        update = api.inline_query(chat, q)
        queries.append(update["inline_query"]["id"])
        proxy.post(update)
    api.wait_for(lambda s: all(s.inline_answers(q) for q in queries), timeout=20, what="inline answers")
    assert total("message") - start["message"] == 6
    assert total("inline_query") - start["inline_query"] == 3
    text = httpx.get(a.url + "/metrics", timeout=5).text
    assert 'planbrief_answer_seconds_bucket{kind="message",le="+Inf"}' in text
    assert "planbrief_corpus_passages" in text and 'planbrief_deliveries{outcome="sent"}' in text
