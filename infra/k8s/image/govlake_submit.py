"""spark-submit's main file for the govlake image: runs the ``govlake`` command with the driver's args.

A SparkApplication names a Python file (``pyFiles``), not a console script; this file is that
file. It looks the command up by its console-script name, so it follows the CLI wherever its
package lives. Locally: ``spark-submit infra/k8s/image/govlake_submit.py config``.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> None:
    (command,) = entry_points(group="console_scripts", name="govlake")
    sys.argv[0] = "govlake"
    sys.exit(command.load()())


if __name__ == "__main__":
    main()
