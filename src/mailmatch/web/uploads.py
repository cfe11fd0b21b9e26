"""File uploads: refuse a body over the limit before reading a byte of it, then read the file.

The check is on ``Content-Length``: the server (uvicorn, h11) never passes on more bytes than
it declares, so a request within the limit cannot grow past it, and a request without one
(chunked) is refused with 411. It runs as a dependency declared before the one that reads the
form (``FormUser`` reads it for the CSRF field), and routes that take an upload declare no
``File()`` parameter, which FastAPI would read before any dependency runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import UploadFile

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024


def upload_size(request: Request) -> int:
    """The declared size of the request body, refused when over the limit or unknown."""
    raw = request.headers.get("content-length", "")
    if not raw.isdigit():
        raise HTTPException(411, detail="send the upload with a Content-Length header")
    size = int(raw)
    if size > MAX_UPLOAD_BYTES:
        raise HTTPException(
            413,
            detail=(
                f"the upload is {size / 1024 / 1024:.1f} MB; files up to {MAX_UPLOAD_MB} MB are "
                "accepted: split the export into smaller files and upload each"
            ),
        )
    return size


UploadSize = Annotated[int, Depends(upload_size)]


async def uploaded_file(request: Request, field: str = "file") -> tuple[str, bytes]:
    """The name and bytes of the form's file field (one file, a few small fields)."""
    form = await request.form(max_files=1, max_fields=10)
    value: Any = form.get(field)
    if not isinstance(value, UploadFile):
        raise HTTPException(422, detail=f"choose a file to upload (form field {field!r})")
    return value.filename or "", await value.read()


def upload_body(description: str, *fields: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an upload route (it reads the form itself, see above)."""
    properties: dict[str, Any] = {
        "file": {"type": "string", "format": "binary", "description": description}
    }
    properties.update({name: {"type": "string"} for name in fields})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"], "properties": properties}
                }
            },
        }
    }
