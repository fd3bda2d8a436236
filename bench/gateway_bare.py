"""The reference for bench/gateway.py: a bare FastAPI app whose submit route parses the body
and inserts one SQLite row (WAL, synchronous=NORMAL), and whose status route reads one row.

    python bench/gateway_bare.py --port 8100 --db /tmp/bare.db
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


def create_app(db_path: str) -> FastAPI:
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

    @app.post("/submit", status_code=202)
    async def submit(body: Submit) -> dict[str, str]:
        request_id = uuid.uuid4().hex
        conn().execute(
            "INSERT INTO jobs VALUES (?, 'QUEUED', ?)", (request_id, body.model_dump_json())
        )
        return {"id": request_id, "status": "QUEUED"}

    @app.get("/status/{request_id}")
    async def status(request_id: str) -> dict[str, str]:
        row = conn().execute("SELECT id, state FROM jobs WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"id": row[0], "status": row[1]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.db), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
