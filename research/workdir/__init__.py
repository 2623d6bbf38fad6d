"""The run folder: one writer at a time, and only saved work it can vouch for.

A run folder holds `config.json` (the resolved config), `manifest.json` (for
every saved chunk: its members' seeds, the checksum of its file and the
fingerprint of what produced it), `chunks/` and the result files. Rules:

* A process writes a folder only while it holds the folder's lock (`.lock`,
  an OS file lock held for the whole run); a second launch is refused, naming
  the holder's PID.
* A non-empty folder that holds no run (neither `config.json` nor
  `manifest.json`) is never written into.
* A resume uses a saved chunk only if the manifest lists it with the same
  checksum, the same seeds and the fingerprint of the current config, data
  and code. Anything else is named in one line, moved to `chunks/rejected/`
  (never deleted) and computed again.
* A run is finished when every result file of its plan exists (`Plan.files`:
  the shared ones, its task's, its study's and its report); one missing is
  rebuilt from the chunks, under the lock, by the next launch of the same command.
"""

from research.workdir.folder import RunFolder, check_disk  # noqa: F401
from research.workdir.state import (  # noqa: F401
    DISPLAY_FIELDS, FINAL_FILES, LOCK_FILE, MANIFEST_FILE, Inspection, State, check_unlocked,
    check_writable, inspect)
