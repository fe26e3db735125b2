"""Uploads one file to a tus server with tuspy, as a user's script would.

    python3 tuspy_upload.py ENDPOINT FILE NAME CHUNK STORAGE [--kill-at N] [--token T] [--checksum]

ENDPOINT: the folder URL to create the upload at; NAME: its filename;
CHUNK: bytes per PATCH; STORAGE: tuspy's URL store (a JSON file), so a
second run resumes the upload the first left. With --kill-at N the
process kills itself (SIGKILL) once N bytes are on the server; with
--checksum, each PATCH carries tuspy's Upload-Checksum. Prints the
upload's URL on success.
"""

import os
import signal
import sys

from tusclient import client
from tusclient.storage.filestorage import FileStorage


def main():
    args = sys.argv[1:]
    checksum = "--checksum" in args
    if checksum:
        args.remove("--checksum")
    kill_at = None
    token = None
    while "--kill-at" in args or "--token" in args:
        for flag in ("--kill-at", "--token"):
            if flag in args:
                at = args.index(flag)
                value = args[at + 1]
                del args[at : at + 2]
                if flag == "--kill-at":
                    kill_at = int(value)
                else:
                    token = value
    endpoint, path, name, chunk, storage = args
    headers = {"Authorization": "Bearer " + token} if token else {}
    tus = client.TusClient(endpoint, headers=headers)
    uploader = tus.uploader(
        path,
        chunk_size=int(chunk),
        metadata={"filename": name},
        store_url=True,
        url_storage=FileStorage(storage),
        upload_checksum=checksum,
    )
    if kill_at is not None:
        uploader.upload(stop_at=kill_at)
        os.kill(os.getpid(), signal.SIGKILL)
    uploader.upload()
    print(uploader.url)


if __name__ == "__main__":
    main()
