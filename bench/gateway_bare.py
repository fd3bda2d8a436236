"""The references for bench/gateway.py: a bare FastAPI app whose submit route parses the body
and inserts one SQLite row (WAL, synchronous=NORMAL), and whose status route reads one row.

By default the routes are `async def` and run their statement on the event loop (the least a
route can do, but one slow statement holds every request); with `--off-loop` they are plain
`def` routes, which FastAPI runs on its thread pool: the rule fluxserve follows.

    python bench/gateway_bare.py --port 8100 --db /tmp/bare.db [--off-loop]
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import uuid

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel


class Submit(BaseModel):
    prompt: str
    num_inference_steps: int | None = None
    image_size: str = "landscape_4_3"
    seed: int | None = None


def create_app(db_path: str, *, off_loop: bool = False) -> FastAPI:
    app = FastAPI()
    local = threading.local()

    def conn() -> sqlite3.Connection:
        found: sqlite3.Connection | None = getattr(local, "conn", None)
        if found is None:
            found = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
            found.execute("PRAGMA journal_mode=WAL")
            found.execute("PRAGMA synchronous=NORMAL")
            found.execute("PRAGMA busy_timeout=30000")
            local.conn = found
        return found

    conn().execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, state TEXT, body TEXT)")

    def submit(body: Submit) -> dict[str, str]:
        request_id = uuid.uuid4().hex
        conn().execute(
            "INSERT INTO jobs VALUES (?, 'QUEUED', ?)", (request_id, body.model_dump_json())
        )
        return {"id": request_id, "status": "QUEUED"}

    def status(request_id: str) -> dict[str, str]:
        row = conn().execute("SELECT id, state FROM jobs WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"id": row[0], "status": row[1]}

    if off_loop:
        app.post("/submit", status_code=202)(submit)
        app.get("/status/{request_id}")(status)
    else:

        @app.post("/submit", status_code=202)
        async def submit_on_loop(body: Submit) -> dict[str, str]:
            return submit(body)

        @app.get("/status/{request_id}")
        async def status_on_loop(request_id: str) -> dict[str, str]:
            return status(request_id)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--off-loop", action="store_true", help="plain def routes (thread pool)")
    args = parser.parse_args()
    app = create_app(args.db, off_loop=args.off_loop)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
