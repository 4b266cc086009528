"""Print the instructions of Dockerfiles as parsed by `dockerfile-parse`: {path: [[instruction, value]]}.

Run with the lint virtualenv's Python: `python dockerfile_json.py FILE...`.
"""

from __future__ import annotations

import io
import json
import sys

from dockerfile_parse import DockerfileParser


def main(paths: list[str]) -> None:
    found = {}
    for path in paths:
        with open(path, "rb") as handle:  # by file object: a path not named `Dockerfile` is taken for a folder
            parser = DockerfileParser(fileobj=io.BytesIO(handle.read()))
        found[path] = [[item["instruction"], item["value"]] for item in parser.structure]
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
