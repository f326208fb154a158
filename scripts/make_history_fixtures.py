"""Copy the real two-version studies the history tests use into tests/data/history/.

Run once by a developer: `python scripts/make_history_fixtures.py ../shared/data`.
Each study's older version goes to `v1/`, its newer one to `v2/`, byte for byte as the
shared archives hold them (legacy XML or API v2 JSON), so the tests need no shared data:
- NCT04524598: Recruiting → Completed, enrollment 410 (estimated) → 227 (actual), four
  primary outcomes added after the start date (flagged);
- NCT04542642: Recruiting → Completed, enrollment 130 (estimated) → 52 (actual), primary
  outcome unchanged (not flagged);
- NCT00498550: a primary outcome reworded and another removed after the start (flagged).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

# study -> ((archive, entry) of the older version, (archive, entry) of the newer one)
PAIRS = {
    "NCT04524598": (("ctgov-extra/AllPublicXML-extra.zip", "NCT0452xxxx/NCT04524598.xml"),
                    ("ctgov/ctg-studies.json.zip", "NCT04524598.json")),
    "NCT04542642": (("ctgov-extra/AllPublicXML-extra.zip", "NCT0454xxxx/NCT04542642.xml"),
                    ("ctgov/ctg-studies.json.zip", "NCT04542642.json")),
    "NCT00498550": (("ctgov-extra/AllPublicXML-extra.zip", "NCT0049xxxx/NCT00498550.xml"),
                    ("ctgov/AllPublicXML.zip", "NCT0049xxxx/NCT00498550.xml")),
}


def main(shared: Path, out: Path) -> None:
    for nct, versions in PAIRS.items():
        for folder, (archive, entry) in zip(("v1", "v2"), versions, strict=True):
            with zipfile.ZipFile(shared / archive) as zf:
                data = zf.read(entry)
            target = out / folder / f"{nct}{Path(entry).suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{target}: {len(data):,} bytes from {archive}!{entry}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    main(Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data"),
         root / "tests" / "data" / "history")
