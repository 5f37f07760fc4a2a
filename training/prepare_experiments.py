"""Turns a JSON file describing a group of experiments into one run_experiment command per experiment.

The file holds `{"experiment_group": "<name>", "experiments": [<config>, ...]}`. Each command tags its config with
the group (W&B groups the runs by it) and lets the GPU manager pick a GPU, so the commands can run side by side:

    python training/prepare_experiments.py training/experiments/sample.json | parallel -j 2
"""

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def experiment_commands(group: dict[str, Any]) -> list[str]:
    """One shell command per experiment of `group`, each config checked as run_experiment would check it."""
    from training.run_experiment import parse_config

    name, experiments = group.get("experiment_group"), group.get("experiments")
    if not isinstance(name, str) or not isinstance(experiments, list) or not experiments:
        raise ValueError('Expected {"experiment_group": "<name>", "experiments": [<config>, ...]}')
    commands = []
    for index, experiment in enumerate(experiments):
        config = {**experiment, "experiment_group": name}
        try:
            parse_config(json.dumps(config))
        except ValueError as e:
            raise ValueError(f"Experiment {index} of {name!r}: {e}") from e
        commands.append(f"python training/run_experiment.py --gpu=-1 {shlex.quote(json.dumps(config))}")
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments_filename", type=Path, help="JSON file of an experiment group")
    args = parser.parse_args(argv)
    try:
        commands = experiment_commands(json.loads(args.experiments_filename.read_text()))
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        parser.error(str(e))
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
