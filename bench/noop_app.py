"""The FastAPI no-op peer of the HTTP benchmark: the cost of FastAPI and uvicorn alone."""

from fastapi import FastAPI

app = FastAPI()


@app.post("/noop")
async def noop() -> dict:
    return {"ok": True}
